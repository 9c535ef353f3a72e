use std::collections::HashMap;

use super::*;
use crate::key::VLAN_NONE;

fn v4_record() -> FlowRecord {
    let mut key = FlowKey {
        kind: Kind::V4,
        proto: 6,
        src_port: 40000,
        dst_port: 80,
        vlan: 100,
        ethertype: 0x0800,
        ..FlowKey::default()
    };
    key.src[..4].copy_from_slice(&[10, 0, 0, 1]);
    key.dst[..4].copy_from_slice(&[10, 0, 0, 2]);
    FlowRecord {
        key,
        packets: 5,
        octets: 400,
        l2_octets: 490,
        first_ns: 1_700_000_000_123_456_789,
        last_ns: 1_700_000_001_000_000_000,
        tcp_flags: 0x1b,
        end: EndReason::EndOfFlow,
    }
}

fn icmp6_record() -> FlowRecord {
    let mut key = FlowKey {
        kind: Kind::V6,
        proto: 58,
        dst_port: 128 << 8,
        vlan: VLAN_NONE,
        ethertype: 0x86dd,
        ..FlowKey::default()
    };
    key.src = "fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
    key.dst = "fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets();
    FlowRecord {
        key,
        packets: 1,
        octets: 104,
        l2_octets: 118,
        first_ns: 1_700_000_000_000_000_000,
        last_ns: 1_700_000_000_000_000_000,
        tcp_flags: 0,
        end: EndReason::Idle,
    }
}

/// A decoder written from RFC 7011 / RFC 3954 for these tests: every data record as a map from
/// IE id to its bytes, with the id of its template.
type Decoded = Vec<(u16, HashMap<u16, Vec<u8>>)>;

fn decode(msg: &[u8], templates: &mut HashMap<u16, Vec<(u16, u16)>>) -> Decoded {
    let v9 = msg[1] == 9;
    let mut at = if v9 { 20 } else { 16 };
    if !v9 {
        assert_eq!(u16::from_be_bytes([msg[2], msg[3]]) as usize, msg.len());
    }
    let (tset, oset) = if v9 { (0, 1) } else { (2, 3) };
    let mut out = Vec::new();
    while at + 4 <= msg.len() {
        let id = u16::from_be_bytes([msg[at], msg[at + 1]]);
        let len = u16::from_be_bytes([msg[at + 2], msg[at + 3]]) as usize;
        assert!(len >= 4 && at + len <= msg.len(), "set {id} length {len}");
        let body = &msg[at + 4..at + len];
        let rd = |p: usize| u16::from_be_bytes([body[p], body[p + 1]]);
        let mut p = 0;
        if id == tset || id == oset {
            while p + 4 <= body.len() {
                let tid = rd(p);
                if tid == 0 {
                    break; // v9 padding
                }
                let (count, hdr) = if id == tset {
                    (rd(p + 2) as usize, 4)
                } else if v9 {
                    (((rd(p + 2) + rd(p + 4)) / 4) as usize, 6)
                } else {
                    (rd(p + 2) as usize, 6)
                };
                p += hdr;
                let fields = (0..count)
                    .map(|i| (rd(p + 4 * i), rd(p + 4 * i + 2)))
                    .collect();
                p += 4 * count;
                templates.insert(tid, fields);
            }
        } else {
            let t = templates.get(&id).expect("data before its template");
            let rec_len: usize = t.iter().map(|f| f.1 as usize).sum();
            while p + rec_len <= body.len() {
                let mut m = HashMap::new();
                for &(ie, l) in t {
                    m.insert(ie, body[p..p + l as usize].to_vec());
                    p += l as usize;
                }
                out.push((id, m));
            }
            assert!(
                body.len() - p < 4,
                "{} bytes left in set {id}",
                body.len() - p
            );
        }
        at += len;
    }
    assert_eq!(at, msg.len());
    out
}

fn num(b: &[u8]) -> u64 {
    b.iter().fold(0, |a, &x| a << 8 | x as u64)
}

#[test]
fn ipfix_header_template_and_record_bytes() {
    let mut e = Encoder::new(Protocol::Ipfix, 7, 1472, 0);
    e.start(1_700_000_002_000);
    assert!(e.add_record(&v4_record()));
    let msg = e.finish().to_vec();
    // Header: version 10, length, export time, sequence 0, domain 7.
    assert_eq!(
        &msg[..16],
        &[0, 10, 0, 80, 0x65, 0x53, 0xf1, 0x02, 0, 0, 0, 0, 0, 0, 0, 7]
    );
    // One data set for template 256 with one 60-byte record.
    assert_eq!(&msg[16..20], &[1, 0, 0, 64]);
    let rec = &msg[20..];
    assert_eq!(&rec[..8], &[10, 0, 0, 1, 10, 0, 0, 2]);
    assert_eq!(&rec[8..13], &[0x9c, 0x40, 0, 80, 6]); // ports 40000, 80; TCP
    assert_eq!(&rec[13..15], &[0, 0x1b]); // tcpControlBits
    assert_eq!(&rec[15..17], &[0, 0]); // not ICMP
    assert_eq!(&rec[17..19], &[0, 100]); // vlanId
    assert_eq!(num(&rec[19..27]), 400);
    assert_eq!(num(&rec[27..35]), 5);
    assert_eq!(num(&rec[35..43]), 490);
    assert_eq!(num(&rec[43..51]), 1_700_000_000_123);
    assert_eq!(num(&rec[51..59]), 1_700_000_001_000);
    assert_eq!(rec[59], 3);
    // The next message's sequence number counts the one data record.
    e.start(0);
    assert_eq!(&e.finish()[8..12], &[0, 0, 0, 1]);
}

#[test]
fn templates_describe_what_the_records_carry() {
    for proto in [Protocol::Ipfix, Protocol::NetflowV9] {
        let mut e = Encoder::new(proto, 1, 1472, 1_699_000_000_000);
        e.start(1_700_000_002_000);
        e.add_templates(true);
        let st = ExporterStats {
            messages: 3,
            records: 40,
            kernel_drops: 17,
            not_sent_records: 2,
            records_by_reason: [1, 2, 3, 4, 30],
            filter: Some((100, 60)),
            ..Default::default()
        };
        assert!(e.add_stats(&st));
        assert!(e.add_record(&v4_record()));
        assert!(e.add_record(&icmp6_record()));
        let msg = e.finish().to_vec();
        let mut t = HashMap::new();
        let recs = decode(&msg, &mut t);
        let flows: Vec<_> = recs.iter().filter(|r| r.0 < TEMPLATE_STATS).collect();
        assert_eq!(flows.len(), 2, "{proto}");
        let v4 = &flows[0].1;
        assert_eq!(v4[&SOURCE_IPV4_ADDRESS], [10, 0, 0, 1]);
        assert_eq!(num(&v4[&PACKET_DELTA_COUNT]), 5);
        assert_eq!(num(&v4[&TCP_CONTROL_BITS]), 0x1b);
        assert_eq!(num(&v4[&FLOW_END_REASON]), 3);
        let v6 = &flows[1].1;
        let icmp = if proto == Protocol::Ipfix {
            ICMP_TYPE_CODE_IPV6
        } else {
            ICMP_TYPE_CODE_IPV4
        };
        assert_eq!(num(&v6[&icmp]), 128 << 8);
        assert_eq!(num(&v6[&DESTINATION_TRANSPORT_PORT]), 128 << 8);
        assert_eq!(num(&v6[&VLAN_ID]), 0);
        let stats = recs.iter().find(|r| r.0 == TEMPLATE_STATS).unwrap();
        assert_eq!(num(&stats.1[&IGNORED_PACKET_TOTAL_COUNT]), 17);
        assert_eq!(num(&stats.1[&NOT_SENT_FLOW_TOTAL_COUNT]), 2);
        if proto == Protocol::Ipfix {
            let evicted = recs
                .iter()
                .find(|r| r.0 == TEMPLATE_REASONS && r.1[&FLOW_END_REASON] == [5])
                .unwrap();
            assert_eq!(num(&evicted.1[&EXPORTED_FLOW_RECORD_TOTAL_COUNT]), 30);
            let f = recs.iter().find(|r| r.0 == TEMPLATE_FILTER).unwrap();
            assert_eq!(num(&f.1[&SELECTOR_ID_TOTAL_PKTS_SELECTED]), 60);
        } else {
            // v9: count = 3 templates + 1 options template + 1 options record + 2 flows;
            // sysUptime from the boot time; every FlowSet 4-byte aligned.
            assert_eq!(&msg[2..4], &[0, 7]);
            assert_eq!(num(&msg[4..8]), 1_000_002_000);
        }
    }
}

#[test]
fn messages_stay_within_the_size_and_keep_every_record() {
    for proto in [Protocol::Ipfix, Protocol::NetflowV9] {
        let mut e = Encoder::new(proto, 1, 1400, 0);
        let mut t = HashMap::new();
        let mut decoded = 0;
        let mut sent = 0;
        e.start(0);
        e.add_templates(false);
        for i in 0..500u64 {
            let mut r = if i.is_multiple_of(3) {
                icmp6_record()
            } else {
                v4_record()
            };
            r.packets = i;
            if !e.add_record(&r) {
                let msg = e.finish();
                assert!(msg.len() <= 1400);
                decoded += decode(msg, &mut t).len();
                e.start(0);
                assert!(e.add_record(&r));
            }
            sent += 1;
        }
        decoded += decode(e.finish(), &mut t).len();
        assert_eq!(decoded, sent, "{proto}");
    }
}

/// The record as its template describes it, field by field from [`flow_fields`] (how the
/// encoder wrote records before it wrote them at fixed offsets).
fn by_template(r: &FlowRecord, proto: Protocol) -> Vec<u8> {
    let k = &r.key;
    let mut b = Vec::new();
    for (ie, len) in flow_fields(proto, k.kind) {
        let l = len as usize;
        match ie {
            SOURCE_IPV4_ADDRESS | SOURCE_IPV6_ADDRESS | SOURCE_MAC_ADDRESS => {
                b.extend_from_slice(&k.src[..l])
            }
            DESTINATION_IPV4_ADDRESS | DESTINATION_IPV6_ADDRESS | DESTINATION_MAC_ADDRESS => {
                b.extend_from_slice(&k.dst[..l])
            }
            ETHERNET_TYPE => b.extend_from_slice(&k.ethertype.to_be_bytes()),
            SOURCE_TRANSPORT_PORT => b.extend_from_slice(&k.src_port.to_be_bytes()),
            DESTINATION_TRANSPORT_PORT => b.extend_from_slice(&k.dst_port.to_be_bytes()),
            PROTOCOL_IDENTIFIER => b.push(k.proto),
            TCP_CONTROL_BITS if l == 1 => b.push(r.tcp_flags),
            TCP_CONTROL_BITS => b.extend_from_slice(&(r.tcp_flags as u16).to_be_bytes()),
            ICMP_TYPE_CODE_IPV4 | ICMP_TYPE_CODE_IPV6 => {
                let v = if k.is_icmp() { k.dst_port } else { 0 };
                b.extend_from_slice(&v.to_be_bytes())
            }
            VLAN_ID => {
                let v = if k.has_vlan() { k.vlan } else { 0 };
                b.extend_from_slice(&v.to_be_bytes())
            }
            OCTET_DELTA_COUNT => b.extend_from_slice(&r.octets.to_be_bytes()),
            PACKET_DELTA_COUNT => b.extend_from_slice(&r.packets.to_be_bytes()),
            LAYER2_OCTET_DELTA_COUNT => b.extend_from_slice(&r.l2_octets.to_be_bytes()),
            FLOW_START_MILLISECONDS => b.extend_from_slice(&(r.first_ns / 1_000_000).to_be_bytes()),
            FLOW_END_MILLISECONDS => b.extend_from_slice(&(r.last_ns / 1_000_000).to_be_bytes()),
            FLOW_END_REASON => b.push(r.end as u8),
            _ => panic!("no value for IE {ie}"),
        }
    }
    b
}

/// The fixed-offset records are byte for byte what their templates say, for every kind and
/// both protocols, over many records (ICMP and not, with and without a VLAN, every end
/// reason, every flag byte).
#[test]
fn fixed_records_follow_their_templates() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let kinds = [Kind::V4, Kind::V6, Kind::L2];
    let protos = [
        (6u8, 0x0800u16),
        (17, 0x0800),
        (1, 0x0800),
        (58, 0x86dd),
        (0, 0x88cc),
    ];
    for i in 0..3000 {
        let kind = kinds[i % 3];
        let (proto, ethertype) = protos[(next() % 5) as usize];
        let mut key = FlowKey {
            kind,
            proto,
            ethertype,
            src_port: next() as u16,
            dst_port: next() as u16,
            vlan: if next() % 2 == 0 {
                VLAN_NONE
            } else {
                next() as u16 & 0x0fff
            },
            ..FlowKey::default()
        };
        for b in key.src.iter_mut().chain(key.dst.iter_mut()) {
            *b = next() as u8;
        }
        let r = FlowRecord {
            key,
            packets: next() >> (next() % 64),
            octets: next() >> (next() % 64),
            l2_octets: next() >> (next() % 64),
            first_ns: next() >> 1,
            last_ns: next() >> 1,
            tcp_flags: next() as u8,
            end: EndReason::ALL[(next() % 5) as usize],
        };
        for proto in [Protocol::Ipfix, Protocol::NetflowV9] {
            let mut out = [0u8; MAX_RECORD];
            let n = fixed_record(&r, proto == Protocol::NetflowV9, &mut out);
            assert_eq!(out[..n], by_template(&r, proto)[..], "{proto} {r:?}");
        }
    }
}
