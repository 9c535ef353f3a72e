//! Mangled packets through every decoder: valid packets of several kinds, then random bytes
//! overwritten and random cuts. Every view, walk and option iterator must refuse or clamp, never
//! index out of range (run in debug builds too, where arithmetic overflow panics).

use ringcap_wire::{dissect, Layer, Link};

const MACS: [u8; 12] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        proto,
        0,
        0,
    ];
    p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn mangled_packets_never_panic() {
    // Valid packets of several kinds, then random bytes overwritten and random cuts: every
    // view, walk and option iterator must refuse or clamp, never index out of range.
    let tcp = [
        0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x02, 0, 0, 0, 0, 0, 0,
    ];
    let mut seeds: Vec<(Link, Vec<u8>)> = Vec::new();
    let mut t = tcp.to_vec();
    t.extend_from_slice(&[2, 4, 5, 0xb4, 1, 3, 3, 7, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    t.resize(32, 0);
    seeds.push((Link::Ipv4, ipv4(6, &t)));
    let mut e = Vec::from(MACS);
    e.extend_from_slice(&[0x81, 0x00, 0, 1, 0x88, 0x47, 0, 1, 1, 64]);
    e.extend_from_slice(&ipv4(
        47,
        &[0x30, 0x81, 0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
    ));
    seeds.push((Link::Ethernet, e));
    let mut v6 = vec![0x60, 0, 0, 0, 0, 48, 0, 64];
    v6.extend_from_slice(&[0; 32]);
    v6.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0, 44, 0, 0, 0, 0, 0, 0, 0]);
    v6.extend_from_slice(&[51, 0, 0, 0, 0, 0, 0, 1, 58, 2, 0, 0, 0, 0, 0, 0]);
    v6.extend_from_slice(&[0; 8]);
    v6.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
    seeds.push((Link::Raw, v6));
    let mut llc = Vec::from(MACS);
    llc.extend_from_slice(&[
        0, 40, 0xaa, 0xaa, 3, 0, 0, 0, 0x88, 0xcc, 2, 7, 4, 0, 0, 0, 0, 0, 0,
    ]);
    seeds.push((Link::Ethernet, llc));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut layers = 0usize;
    for _ in 0..20_000 {
        let (link, seed) = &seeds[(next() % seeds.len() as u64) as usize];
        let mut b = seed.clone();
        for _ in 0..(next() % 6) {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        b.truncate((next() % (b.len() as u64 + 1)) as usize);
        for l in [*link, Link::Ethernet, Link::LinuxSll, Link::Null] {
            let _ = ringcap_wire::summarize(&b);
            let _ = ringcap_wire::summarize_ip(&b);
            for layer in dissect(l, &b) {
                layers += 1;
                match layer {
                    Layer::Tcp(t) => layers += t.option_iter().count() + t.payload().len(),
                    Layer::Ipv6(p) => layers += p.ext_headers().count(),
                    Layer::Icmpv6(i) => layers += i.nd_options().count() + i.data().len(),
                    Layer::Lldp(p) => layers += ringcap_wire::LldpTlvs::new(p).count(),
                    Layer::Arp(a) => layers += a.target_proto_addr().len(),
                    Layer::Llc { pdu, .. } => layers += pdu.payload().len(),
                    Layer::Gre(g) => layers += g.payload().len(),
                    _ => {}
                }
            }
        }
    }
    assert!(layers > 100_000, "the walks went deep: {layers}");
}
