//! The summary and the dissector against Wireshark: a pcap of frames covering every header the
//! crate reads (VLAN/QinQ, IPv4 options and fragments, IPv6 extension headers, AH, GRE, MPLS,
//! ICMP errors, SCTP, LLC, ARP, TCP options, frames cut by the snap length) is decoded by
//! tshark, and each field it reports must be what `summarize` and `dissect` read.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

use ringcap_netlab::tools::{have, stdout_of, tmpdir};
use ringcap_wire::{
    dissect, ethertype, ip_proto, summarize, Addrs, Ipv4Packet, Ipv6Packet, Layer, Link, TcpOption,
    TcpPacket, UdpPacket,
};

const MACS: [u8; 12] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];

fn eth(types: &[u16], payload: &[u8]) -> Vec<u8> {
    let mut f = MACS.to_vec();
    for (i, t) in types.iter().enumerate() {
        f.extend_from_slice(&t.to_be_bytes());
        if i + 1 < types.len() {
            f.extend_from_slice(&((100 * (i as u16 + 1)) | 0x2000).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

fn ipv4(proto: u8, options: &[u8], frag: (bool, u16), payload: &[u8]) -> Vec<u8> {
    let hl = 20 + options.len();
    let mut p = vec![0u8; hl + payload.len()];
    let mut ip = Ipv4Packet::new_unchecked(&mut p[..]);
    ip.set_header_len(hl);
    ip.set_total_len((hl + payload.len()) as u16);
    ip.set_ident(0x1234);
    ip.set_frag(false, frag.0, frag.1);
    ip.set_ttl(57);
    ip.set_protocol(proto);
    ip.set_src_addr(Ipv4Addr::new(192, 0, 2, 1));
    ip.set_dst_addr(Ipv4Addr::new(198, 51, 100, 7));
    p[20..hl].copy_from_slice(options);
    p[hl..].copy_from_slice(payload);
    Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
    p
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40 + payload.len()];
    let mut ip = Ipv6Packet::new_unchecked(&mut p[..]);
    ip.set_version_tc_flow(0, 0xbeef);
    ip.set_payload_len(payload.len() as u16);
    ip.set_next_header(next);
    ip.set_hop_limit(33);
    ip.set_src_addr(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    ip.set_dst_addr(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    p[40..].copy_from_slice(payload);
    p
}

fn tcp(flags: u16, options: &[u8]) -> Vec<u8> {
    let hl = 20 + options.len();
    let mut t = vec![0u8; hl + 3];
    let mut v = TcpPacket::new_unchecked(&mut t[..]);
    v.set_src_port(40000);
    v.set_dst_port(443);
    v.set_seq_number(0x0102_0304);
    v.set_ack_number(0x0a0b_0c0d);
    v.set_header_len_flags(hl, flags);
    v.set_window_len(502);
    t[20..hl].copy_from_slice(options);
    t
}

fn udp(sp: u16, dp: u16) -> Vec<u8> {
    let mut u = vec![0u8; 12];
    let mut v = UdpPacket::new_unchecked(&mut u[..]);
    v.set_src_port(sp);
    v.set_dst_port(dp);
    v.set_len(12);
    u
}

/// The frames, each with its captured length (shorter than the frame when cut).
fn frames() -> Vec<(Vec<u8>, usize)> {
    let opts = [
        2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7, // MSS SACKOK TS NOP WS
    ];
    let sack = [1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0]; // NOP NOP SACK(1 block)
    let mut icmp_err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp_err.extend_from_slice(&ipv4(ip_proto::UDP, &[], (false, 0), &udp(53, 33434)));
    let sctp = [0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 1, 0, 0, 0, 0];
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9).octets());
    let mut hbh_rt_frag = vec![ip_proto::ROUTING, 0, 1, 4, 0, 0, 0, 0];
    hbh_rt_frag.extend_from_slice(&[ip_proto::FRAGMENT, 2, 0, 0, 0, 0, 0, 0]);
    hbh_rt_frag.extend_from_slice(&[0; 16]);
    hbh_rt_frag.extend_from_slice(&[ip_proto::TCP, 0, 0x00, 0x01, 0, 0, 0, 5]);
    hbh_rt_frag.extend_from_slice(&tcp(0x012, &opts));
    let mut frag6 = vec![ip_proto::UDP, 0, 0x05, 0xa8, 0, 0, 0, 6];
    frag6.extend_from_slice(&[0x55; 16]);
    let mut ah_dst = vec![ip_proto::DSTOPTS, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    ah_dst.extend_from_slice(&[0; 12]);
    ah_dst.extend_from_slice(&[ip_proto::UDP, 0, 1, 4, 0, 0, 0, 0]);
    ah_dst.extend_from_slice(&udp(500, 4500));
    let mut gre = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 42];
    gre.extend_from_slice(&ipv4(ip_proto::UDP, &[], (false, 0), &udp(4789, 4789)));
    let mut mpls = vec![0, 0x01, 0x00, 0x40, 0x00, 0x3e, 0x81, 0x3f];
    mpls.extend_from_slice(&ipv4(ip_proto::TCP, &[], (false, 0), &tcp(0x010, &sack)));
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 2, 10, 0, 0, 2]);
    let syn = eth(
        &[ethertype::IPV4],
        &ipv4(ip_proto::TCP, &[], (true, 0), &tcp(0x002, &opts)),
    );
    let all = |f: Vec<u8>| {
        let n = f.len();
        (f, n)
    };
    vec![
        all(syn.clone()),
        (syn.clone(), 40),
        (syn.clone(), 20),
        all(eth(
            &[0x88a8, 0x8100, 0x0800],
            &ipv4(ip_proto::UDP, &[], (false, 0), &udp(5353, 53)),
        )),
        all(eth(
            &[0x9100, 0x86dd],
            &ipv6(ip_proto::TCP, &tcp(0x0c2, &opts)),
        )),
        all(eth(
            &[0x0800],
            &ipv4(ip_proto::UDP, &[1, 1, 1, 0], (false, 0), &udp(67, 68)),
        )),
        all(eth(
            &[0x0800],
            &ipv4(ip_proto::UDP, &[], (true, 0), &udp(1000, 2000)),
        )),
        all(eth(
            &[0x0800],
            &ipv4(ip_proto::UDP, &[], (false, 1480), &[0x77; 16]),
        )),
        all(eth(
            &[0x0800],
            &ipv4(ip_proto::ICMP, &[], (false, 0), &icmp_err),
        )),
        all(eth(
            &[0x0800],
            &ipv4(ip_proto::SCTP, &[], (false, 0), &sctp),
        )),
        all(eth(&[0x0800], &ipv4(ip_proto::GRE, &[], (false, 0), &gre))),
        all(eth(
            &[0x0800],
            &ipv4(ip_proto::AH, &[], (false, 0), &ah_dst[..24]),
        )),
        all(eth(&[0x86dd], &ipv6(ip_proto::ICMPV6, &ns))),
        all(eth(&[0x86dd], &ipv6(ip_proto::HOPOPT, &hbh_rt_frag))),
        all(eth(&[0x86dd], &ipv6(ip_proto::FRAGMENT, &frag6))),
        all(eth(&[0x86dd], &ipv6(ip_proto::AH, &ah_dst))),
        all(eth(&[0x8847], &mpls)),
        all(eth(&[0x0806], &arp)),
        all(eth(&[0x0026], &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0])),
    ]
}

fn write_pcap(path: &Path, frames: &[(Vec<u8>, usize)]) {
    let mut b = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        if w == 0x0004_0002 {
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&4u16.to_le_bytes());
        } else {
            b.extend_from_slice(&w.to_le_bytes());
        }
    }
    for (i, (f, cap)) in frames.iter().enumerate() {
        for w in [1_700_000_000 + i as u32, 0, *cap as u32, f.len() as u32] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&f[..*cap]);
    }
    std::fs::write(path, b).unwrap();
}

const FIELDS: &[&str] = &[
    "eth.src",
    "eth.dst",
    "eth.type",
    "eth.len",
    "ieee8021ad.id",
    "vlan.id",
    "vlan.etype",
    "ip.src",
    "ip.dst",
    "ip.len",
    "ip.ttl",
    "ip.proto",
    "ip.frag_offset",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.plen",
    "ipv6.hlim",
    "ipv6.nxt",
    "ipv6.hopopts.nxt",
    "ipv6.routing.nxt",
    "ipv6.fraghdr.nxt",
    "ipv6.dstopts.nxt",
    "ah.next_header",
    "ipv6.fraghdr.offset",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "udp.srcport",
    "udp.dstport",
    "sctp.srcport",
    "sctp.dstport",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
    "tcp.option_kind",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.timestamp.tsval",
    "tcp.options.sack_le",
    "tcp.options.sack_re",
    "mpls.label",
    "gre.proto",
];

/// tshark's view of each frame: field name → all its values, in order.
fn tshark(path: &Path) -> Vec<HashMap<&'static str, Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args([
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-o",
        "tcp.relative_sequence_numbers:FALSE",
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    stdout_of(&mut cmd)
        .lines()
        .map(|line| {
            FIELDS
                .iter()
                .zip(line.split('\t'))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, v.split(',').map(str::to_string).collect()))
                .collect()
        })
        .collect()
}

fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// The summary tshark's fields imply.
fn expected(t: &HashMap<&str, Vec<String>>) -> ringcap_wire::Summary {
    let first = |k: &str| t.get(k).map(|v| v[0].as_str());
    let n = |k: &str| first(k).map(num).unwrap_or(0);
    let mac = |k: &str| {
        first(k).map_or([0; 6], |m| {
            let b: Vec<u8> = m
                .split(':')
                .map(|x| u8::from_str_radix(x, 16).unwrap())
                .collect();
            b.try_into().unwrap()
        })
    };
    let mut s = ringcap_wire::Summary {
        src_mac: mac("eth.src"),
        dst_mac: mac("eth.dst"),
        // Wireshark names an 802.1ad (0x88a8) outer tag apart from 802.1Q ones.
        vlan: first("ieee8021ad.id")
            .or(first("vlan.id"))
            .map(|v| num(v) as u16),
        ethertype: match (t.get("vlan.etype"), first("eth.type"), first("eth.len")) {
            (Some(v), _, _) => num(v.last().unwrap()) as u16,
            (None, Some(e), _) => num(e) as u16,
            (None, None, l) => l.map_or(0, num) as u16,
        },
        ..Default::default()
    };
    // The summary reads IP only right after the Ethernet header and its VLAN tags (tshark
    // also decodes it under MPLS).
    let ip = matches!(s.ethertype, ethertype::IPV4 | ethertype::IPV6);
    // A header cut short: tshark (like the summary) reports the fields the bytes still hold.
    if ip && t.contains_key("ip.len") {
        if let (Some(a), Some(b)) = (first("ip.src"), first("ip.dst")) {
            s.addrs = Addrs::V4 {
                src: a.parse::<Ipv4Addr>().unwrap().octets(),
                dst: b.parse::<Ipv4Addr>().unwrap().octets(),
            };
        }
        s.l3_len = n("ip.len") as u32;
        s.ttl = n("ip.ttl") as u8;
        s.proto = n("ip.proto") as u8;
        s.fragment = n("ip.frag_offset") != 0;
    } else if ip && t.contains_key("ipv6.plen") {
        if let (Some(a), Some(b)) = (first("ipv6.src"), first("ipv6.dst")) {
            s.addrs = Addrs::V6 {
                src: a.parse::<Ipv6Addr>().unwrap().octets(),
                dst: b.parse::<Ipv6Addr>().unwrap().octets(),
            };
        }
        s.l3_len = n("ipv6.plen") as u32 + 40;
        s.ttl = n("ipv6.hlim") as u8;
        // Follow the chain of extension headers the way tshark reports it.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut proto = n("ipv6.nxt") as u8;
        loop {
            let k = match proto {
                ip_proto::HOPOPT => "ipv6.hopopts.nxt",
                ip_proto::ROUTING => "ipv6.routing.nxt",
                ip_proto::FRAGMENT => "ipv6.fraghdr.nxt",
                ip_proto::DSTOPTS => "ipv6.dstopts.nxt",
                ip_proto::AH => "ah.next_header",
                _ => break,
            };
            let i = seen.entry(k).or_default();
            let Some(v) = t.get(k).and_then(|v| v.get(*i)) else {
                break;
            };
            *i += 1;
            proto = num(v) as u8;
        }
        s.proto = proto;
        s.fragment = n("ipv6.fraghdr.offset") != 0;
    }
    if !s.fragment {
        let ports = |a: &str, b: &str| (n(a) as u16, n(b) as u16);
        (s.src_port, s.dst_port) = match s.proto {
            ip_proto::TCP => ports("tcp.srcport", "tcp.dstport"),
            ip_proto::UDP => ports("udp.srcport", "udp.dstport"),
            ip_proto::SCTP => ports("sctp.srcport", "sctp.dstport"),
            ip_proto::ICMP => (0, (n("icmp.type") << 8 | n("icmp.code")) as u16),
            ip_proto::ICMPV6 => (0, (n("icmpv6.type") << 8 | n("icmpv6.code")) as u16),
            _ => (0, 0),
        };
        if s.proto == ip_proto::TCP {
            s.tcp_flags = n("tcp.flags") as u8;
        }
    }
    s
}

#[test]
fn summary_and_dissection_agree_with_tshark() {
    if !have("tshark") {
        return;
    }
    let dir = tmpdir("wire-vs-tshark");
    let path = dir.join("frames.pcap");
    let frames = frames();
    write_pcap(&path, &frames);
    let seen = tshark(&path);
    assert_eq!(seen.len(), frames.len());
    for (i, ((f, cap), t)) in frames.iter().zip(&seen).enumerate() {
        let bytes = &f[..*cap];
        assert_eq!(summarize(bytes), expected(t), "frame {i}: tshark {t:?}");
        dissection_agrees(i, bytes, t);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// TCP options, MPLS labels and GRE payload types as the dissector reads them.
fn dissection_agrees(i: usize, bytes: &[u8], t: &HashMap<&str, Vec<String>>) {
    let vals = |k: &str| -> Vec<u64> {
        t.get(k)
            .map_or(vec![], |v| v.iter().map(|x| num(x)).collect())
    };
    let (mut kinds, mut mss, mut ws, mut tsval, mut sack) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut labels, mut gre) = (vec![], vec![]);
    for layer in dissect(Link::Ethernet, bytes) {
        match layer {
            Layer::Tcp(tcp) if kinds.is_empty() => {
                let mut raw = tcp.options();
                while let Some((&k, rest)) = raw.split_first() {
                    kinds.push(u64::from(k));
                    let step = if k <= 1 { 1 } else { usize::from(rest[0]) };
                    raw = &raw[step.min(raw.len())..];
                    if k == 0 {
                        break;
                    }
                }
                for o in tcp.option_iter() {
                    match o.unwrap() {
                        TcpOption::MaxSegmentSize(v) => mss.push(u64::from(v)),
                        TcpOption::WindowScale(v) => ws.push(u64::from(v)),
                        TcpOption::Timestamp { tsval: v, .. } => tsval.push(u64::from(v)),
                        TcpOption::Sack(d) => sack.extend(ringcap_wire::tcp::sack_blocks(d)),
                        _ => {}
                    }
                }
            }
            Layer::Mpls(m) => labels.push(u64::from(m.label())),
            Layer::Gre(g) => gre.push(u64::from(g.protocol())),
            _ => {}
        }
    }
    assert_eq!(kinds, vals("tcp.option_kind"), "frame {i} option kinds");
    assert_eq!(mss, vals("tcp.options.mss_val"), "frame {i} mss");
    assert_eq!(ws, vals("tcp.options.wscale.shift"), "frame {i} wscale");
    assert_eq!(
        tsval,
        vals("tcp.options.timestamp.tsval"),
        "frame {i} tsval"
    );
    let (le, re): (Vec<u64>, Vec<u64>) = sack
        .iter()
        .map(|&(a, b)| (u64::from(a), u64::from(b)))
        .unzip();
    assert_eq!(
        (le, re),
        (vals("tcp.options.sack_le"), vals("tcp.options.sack_re")),
        "frame {i} sack"
    );
    assert_eq!(labels, vals("mpls.label"), "frame {i} mpls");
    assert_eq!(gre, vals("gre.proto"), "frame {i} gre");
}
