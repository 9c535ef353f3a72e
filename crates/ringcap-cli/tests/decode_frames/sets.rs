//! The test files' frames, by link type.

use super::*;

fn v4(proto: u8) -> V4 {
    V4::new(proto)
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const URG: u8 = 0x20;

/// TCP options of a Linux SYN: mss 1460, sackOK, TS, nop, wscale 7.
fn syn_opts(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut o = vec![2, 4, 0x05, 0xb4, 4, 2, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o.extend_from_slice(&[1, 3, 3, 7]);
    o
}

fn ts_opts(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o
}

/// Two TCP connections over IPv4 and one over IPv6, interleaved, from SYN to FIN, with
/// data, SACK, urgent data, a window probe, a reset with text, and a reused 4-tuple.
pub fn tcp_conversations() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let c = |isn: u32| isn;
    let (ca, sa) = (c(1_000_000), c(3_000_000_000));
    let (cb, sb) = (c(4_294_967_000), c(77));
    let e4 = |v: V4, t: &[u8]| eth(B, A, 0x0800, &v.build(t, true));
    let e4r = |v: V4, t: &[u8]| eth(A, B, 0x0800, &v.rev().build(t, true));
    // Connection A: 10.0.0.1.40000 -> 10.0.0.2.5555
    out.push(e4(
        v4(6),
        &tcp(40000, 5555, ca, 0, SYN, &syn_opts(1, 0), &[]),
    ));
    out.push(e4r(
        v4(6),
        &tcp(5555, 40000, sa, ca + 1, SYN | ACK, &syn_opts(9, 1), &[]),
    ));
    // Connection B (sequence numbers that wrap): 10.0.0.1.60000 -> 10.0.0.2.7777
    out.push(e4(
        v4(6),
        &tcp(60000, 7777, cb, 0, SYN, &[2, 4, 5, 0xb4], &[]),
    ));
    out.push(e4(
        v4(6),
        &tcp(40000, 5555, ca + 1, sa + 1, ACK, &ts_opts(2, 9), &[]),
    ));
    out.push(e4r(
        v4(6),
        &tcp(
            7777,
            60000,
            sb,
            cb.wrapping_add(1),
            SYN | ACK,
            &[2, 4, 5, 0xb4],
            &[],
        ),
    ));
    out.push(e4(
        v4(6),
        &tcp(
            40000,
            5555,
            ca + 1,
            sa + 1,
            PSH | ACK,
            &ts_opts(3, 9),
            b"hello\n",
        ),
    ));
    out.push(e4(
        v4(6),
        &tcp(
            60000,
            7777,
            cb.wrapping_add(1),
            sb + 1,
            PSH | ACK,
            &[],
            &[b'x'; 500],
        ),
    ));
    // A SACK block for data past a hole, relative to the peer's sequence numbers.
    let mut sack = vec![1, 1, 5, 10];
    sack.extend_from_slice(&(ca + 1001).to_be_bytes());
    sack.extend_from_slice(&(ca + 2001).to_be_bytes());
    out.push(e4r(
        v4(6),
        &tcp(5555, 40000, sa + 1, ca + 7, ACK, &sack, &[]),
    ));
    let mut urg = tcp(40000, 5555, ca + 7, sa + 1, PSH | ACK | URG, &[], b"!");
    urg[18..20].copy_from_slice(&1u16.to_be_bytes());
    out.push(e4(v4(6), &urg));
    out.push(e4r(
        v4(6),
        &tcp(7777, 60000, sb + 1, cb.wrapping_add(501), ACK, &[], &[]),
    ));
    // Zero window, ECN flags, then FINs.
    let mut zw = tcp(5555, 40000, sa + 1, ca + 8, ACK | 0x40 | 0x80, &[], &[]);
    zw[14..16].fill(0);
    out.push(e4r(v4(6), &zw));
    out.push(e4(
        v4(6),
        &tcp(40000, 5555, ca + 8, sa + 1, FIN | ACK, &ts_opts(4, 10), &[]),
    ));
    out.push(e4r(
        v4(6),
        &tcp(5555, 40000, sa + 1, ca + 9, FIN | ACK, &ts_opts(11, 4), &[]),
    ));
    out.push(e4(
        v4(6),
        &tcp(40000, 5555, ca + 9, sa + 2, ACK, &ts_opts(5, 11), &[]),
    ));
    // A reset with a reason in its payload (tcpdump -v prints it).
    out.push(e4r(
        v4(6),
        &tcp(
            7777,
            60000,
            sb + 1,
            cb.wrapping_add(501),
            RST | ACK,
            &[],
            b"closing: bye\x01",
        ),
    ));
    // The same 4-tuple again: a new SYN starts a new reference.
    out.push(e4(
        v4(6),
        &tcp(40000, 5555, 42, 0, SYN, &syn_opts(20, 0), &[]),
    ));
    out.push(e4r(
        v4(6),
        &tcp(5555, 40000, 4242, 43, SYN | ACK, &syn_opts(21, 20), &[]),
    ));
    out.push(e4(v4(6), &tcp(40000, 5555, 43, 4243, ACK, &[], b"again")));
    // IPv6: fd00::1.40000 -> fd00::2.443 (sport > dport: the reverse collating order).
    let (a6, b6) = (v6("fd00::1"), v6("fd00::2"));
    let t6 = |src, dst, t: Vec<u8>| eth(B, A, 0x86dd, &ipv6(src, dst, 6, &[], Some((6, 16)), &t));
    out.push(t6(a6, b6, tcp(40000, 443, 7, 0, SYN, &syn_opts(1, 0), &[])));
    out.push(t6(
        b6,
        a6,
        tcp(443, 40000, 900, 8, SYN | ACK, &syn_opts(2, 1), &[]),
    ));
    out.push(t6(
        a6,
        b6,
        tcp(40000, 443, 8, 901, ACK | PSH, &ts_opts(3, 2), b"GET"),
    ));
    out.push(t6(
        b6,
        a6,
        tcp(443, 40000, 901, 11, ACK, &ts_opts(4, 3), &[]),
    ));
    // Odd options: md5 signature, user timeout, fast open cookie, unknown, eol, bad length.
    let mut md5 = vec![19, 18];
    md5.extend_from_slice(&[0xab; 16]);
    md5.extend_from_slice(&[1, 1]);
    out.push(e4(v4(6), &tcp(1000, 2000, 5, 0, SYN, &md5, &[])));
    out.push(e4(
        v4(6),
        &tcp(
            1000,
            2000,
            5,
            0,
            SYN,
            &[28, 4, 0x81, 0x2c, 34, 2, 1, 0],
            &[],
        ),
    ));
    out.push(e4(
        v4(6),
        &tcp(
            1000,
            2000,
            5,
            0,
            SYN,
            &[34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1],
            &[],
        ),
    ));
    out.push(e4(
        v4(6),
        &tcp(1000, 2000, 5, 0, SYN, &[99, 4, 0xde, 0xad], &[]),
    ));
    out.push(e4(v4(6), &tcp(1000, 2000, 5, 0, SYN, &[1, 0, 0, 0], &[])));
    out.push(e4(
        v4(6),
        &tcp(1000, 2000, 5, 0, SYN, &[2, 9, 5, 0xb4], &[]),
    ));
    out.push(e4(
        v4(6),
        &tcp(1000, 2000, 5, 0, SYN, &[3, 3, 14, 1, 5, 3, 0, 0], &[]),
    ));
    // A bad checksum and no flags at all.
    let mut bad = v4(6).build(&tcp(1000, 2000, 5, 0, 0, &[], &[]), true);
    bad[36] ^= 0xff;
    out.push(eth(B, A, 0x0800, &bad));
    out
}

/// One of each ICMP message tcpdump names, errors quoting a UDP or TCP datagram.
pub fn icmp_messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let quoted_udp = v4(17).build(&udp(40000, 9999, b"ping"), true);
    let quoted_tcp = v4(6).build(&tcp(40000, 80, 1, 0, SYN, &[], &[]), true);
    let quoted_icmp = v4(1).build(&icmp(8, 0, [0, 1, 0, 1], &[0; 8]), true);
    let err = |t: u8, code: u8, rest: [u8; 4], q: &[u8]| {
        let mut v = v4(1).rev();
        v.tos = 0xc0;
        eth(A, B, 0x0800, &v.build(&icmp(t, code, rest, q), true))
    };
    for code in 0..=16 {
        let q = if code == 3 { &quoted_udp } else { &quoted_icmp };
        out.push(err(3, code, [0, 0, 0, 0], q));
    }
    out.push(err(3, 3, [0; 4], &quoted_tcp[..28]));
    out.push(err(3, 4, [0, 0, 0x05, 0xdc], &quoted_icmp));
    out.push(err(11, 0, [0; 4], &quoted_udp));
    out.push(err(11, 1, [0; 4], &quoted_icmp));
    out.push(err(11, 7, [0; 4], &quoted_icmp));
    out.push(err(12, 0, [20, 0, 0, 0], &quoted_icmp));
    out.push(err(12, 2, [0; 4], &quoted_icmp));
    for code in 0..=4 {
        out.push(err(5, code, [10, 0, 0, 254], &quoted_icmp));
    }
    out.push(err(4, 0, [0; 4], &quoted_icmp));
    let msg = |t: u8, code: u8, rest: [u8; 4], data: &[u8]| {
        eth(B, A, 0x0800, &v4(1).build(&icmp(t, code, rest, data), true))
    };
    out.push(msg(8, 0, [0x12, 0x34, 0, 7], &[0x5a; 56]));
    out.push(msg(0, 0, [0x12, 0x34, 0, 7], &[0x5a; 56]));
    out.push(msg(13, 0, [0, 9, 0, 1], &[0; 12]));
    let mut ts = Vec::new();
    for v in [3_723_004u32, 86_399_999, 1] {
        ts.extend_from_slice(&v.to_be_bytes());
    }
    out.push(msg(14, 0, [0, 9, 0, 1], &ts));
    out.push(msg(17, 0, [0, 1, 0, 1], &[0; 4]));
    out.push(msg(18, 0, [0, 1, 0, 1], &[255, 255, 255, 0]));
    out.push(msg(10, 0, [0; 4], &[]));
    out.push(msg(15, 0, [0; 4], &[]));
    out.push(msg(16, 0, [0; 4], &[]));
    let mut ra = Vec::new();
    ra.extend_from_slice(&[10, 0, 0, 1, 0, 0, 0, 5, 10, 0, 0, 9, 0, 0, 0, 0]);
    out.push(msg(9, 0, [2, 2, 0x07, 0x08], &ra));
    out.push(msg(9, 0, [1, 3, 0, 30], &ra));
    out.push(msg(42, 0, [0; 4], &[1, 2, 3]));
    // A bad checksum (tcpdump -v names the right one).
    let mut bad = v4(1).build(&icmp(8, 0, [0, 1, 0, 2], &[0; 8]), true);
    bad[22] ^= 0x0f;
    out.push(eth(B, A, 0x0800, &bad));
    out
}

/// IPv4 header forms: options, fragments, bad checksums and lengths, tunnels, AH.
pub fn ipv4_forms() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let e = |p: Vec<u8>| eth(B, A, 0x0800, &p);
    let u = udp(12345, 23456, b"0123456789");
    // Options: NOP, record route, router alert, timestamps, EOL.
    let mut rr = v4(17);
    rr.options = vec![1, 7, 11, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0];
    rr.options.resize(16, 0);
    out.push(e(rr.build(&u, true)));
    let mut ra = v4(253);
    ra.options = vec![148, 4, 0, 0];
    out.push(e(ra.build(&[0x16, 0, 0, 0, 224, 0, 0, 251], false)));
    let mut ts = v4(17);
    ts.options = vec![68, 12, 9, 0, 0, 0, 0, 1, 0, 0, 0, 2];
    out.push(e(ts.build(&u, true)));
    let mut tsa = v4(17);
    tsa.options = vec![68, 12, 5, 0x11, 10, 0, 0, 1, 0, 0, 0, 9];
    out.push(e(tsa.build(&u, true)));
    let mut lsrr = v4(17);
    lsrr.options = vec![131, 11, 4, 10, 0, 0, 9, 10, 0, 0, 8, 0];
    out.push(e(lsrr.build(&u, true)));
    let mut junk = v4(17);
    junk.options = vec![1, 25, 6, 0xaa, 0, 0, 0, 0];
    out.push(e(junk.build(&u, true)));
    // ToS/ECN, a TTL of zero, the reserved flag, a bad header checksum.
    for (tos, ttl, frag, bad) in [
        (0x10u8, 64u8, 0x4000u16, false),
        (0x01, 1, 0, false),
        (0x02, 0, 0x8000, false),
        (0x03, 255, 0xc000, true),
    ] {
        let mut h = v4(17);
        (h.tos, h.ttl, h.frag, h.bad_sum) = (tos, ttl, frag, bad);
        out.push(e(h.build(&u, true)));
    }
    // Fragments: first (MF), middle, last; of UDP and ICMP.
    let big = udp(5000, 6000, &[7; 100]);
    for (frag, part) in [
        (0x2000u16, &big[..48]),
        (0x2006, &big[48..96]),
        (0x000c, &big[96..]),
    ] {
        let mut h = v4(17);
        h.frag = frag;
        h.id = 0x4242;
        out.push(e(h.build(part, false)));
    }
    let mut f1 = v4(1);
    f1.frag = 0x2000;
    out.push(e(f1.build(&icmp(8, 0, [0, 1, 0, 1], &[0; 16]), false)));
    // Lengths: total below the header, total above what was sent, header length 16.
    let mut short = v4(17);
    short.total = Some(12);
    out.push(e(short.build(&u, true)));
    let mut long = v4(17);
    long.total = Some(200);
    out.push(e(long.build(&u, true)));
    let mut p = v4(17).build(&u, true);
    p[0] = 0x44;
    out.push(e(p));
    let mut p = v4(17).build(&u, true);
    p[0] = 0x55;
    out.push(e(p));
    // UDP: no checksum, a length longer and shorter than the IP payload.
    let mut nosum = v4(17).build(&u, false);
    nosum[26..28].fill(0);
    out.push(e(nosum));
    let mut ul = u.clone();
    ul[4..6].copy_from_slice(&40u16.to_be_bytes());
    out.push(e(v4(17).build(&ul, true)));
    let mut us = u.clone();
    us[4..6].copy_from_slice(&4u16.to_be_bytes());
    out.push(e(v4(17).build(&us, true)));
    out.push(e(v4(17).build(&u[..6], false)));
    // Tunnels: IP in IP, IPv6 in IPv4, AH, protocols without a printer.
    out.push(e(v4(4).build(&v4(17).rev().build(&u, true), false)));
    let six = ipv6(v6("fd00::1"), v6("fd00::2"), 17, &[], Some((17, 6)), &u);
    out.push(e(v4(41).build(&six, false)));
    let mut ah = vec![17, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 3];
    ah.extend_from_slice(&[0xcc; 12]);
    ah.extend_from_slice(&u);
    out.push(e(v4(51).build(&ah, false)));
    out.push(e(v4(253).build(&[1, 2, 3, 4], false)));
    out.push(e(v4(59).build(&[], false)));
    out.push(e(v4(58).build(&[128, 0, 0, 0], false)));
    out
}

/// IPv6: extension headers, fragments, the forms of its header.
pub fn ipv6_forms() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let (a, b) = (v6("2001:db8::1"), v6("2001:db8:0:1::2"));
    let e = |p: Vec<u8>| eth(B, A, 0x86dd, &p);
    let u = udp(15353, 40000, b"abc");
    // Traffic class and flow label.
    out.push(e(ipv6_with(
        0x6b8a_bcde,
        1,
        a,
        b,
        17,
        &[],
        Some((17, 6)),
        &u,
    )));
    // Hop-by-hop (router alert + PadN), destination options (Pad1s + unknown), routing
    // type 0 with two addresses, then a fragment header, then UDP.
    let mut ext = vec![60, 0, 5, 2, 0, 0, 1, 0];
    ext.extend_from_slice(&[43, 0, 0, 0, 0xfe, 1, 0xaa, 0]);
    ext.extend_from_slice(&[44, 4, 0, 1, 0, 0, 0, 0]);
    ext.extend_from_slice(&v6("fd00::9"));
    ext.extend_from_slice(&v6("fd00::8"));
    ext.extend_from_slice(&[17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
    out.push(e(ipv6(a, b, 0, &ext, None, &u)));
    // Fragments: first and later.
    let big = udp(1000, 2000, &[9; 64]);
    let mut f0 = vec![17, 0, 0x00, 0x01, 0, 0, 0x12, 0x34];
    f0.extend_from_slice(&big[..32]);
    out.push(e(ipv6(a, b, 44, &f0, None, &[])));
    let mut f1 = vec![17, 0, 0x00, 0x20, 0, 0, 0x12, 0x34];
    f1.extend_from_slice(&big[32..]);
    out.push(e(ipv6(a, b, 44, &f1, None, &[])));
    // A segment routing header (type 4), a home address option, a jumbogram claim.
    let mut srh = vec![59, 4, 4, 1, 1, 0, 0, 7];
    srh.extend_from_slice(&v6("fd00::a"));
    srh.extend_from_slice(&v6("fd00::b"));
    out.push(e(ipv6(a, b, 43, &srh, None, &[])));
    let mut hao = vec![59, 2, 0xc9, 16];
    hao.extend_from_slice(&v6("2001:db8::99"));
    hao.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
    out.push(e(ipv6(a, b, 60, &hao, None, &[])));
    let mut jumbo = ipv6(a, b, 0, &[59, 0, 0xc2, 4, 0, 1, 0, 0], None, &[]);
    jumbo[4..6].fill(0);
    out.push(e(jumbo));
    // No next header; an unknown protocol; a wrong version; TCP in a routing header.
    out.push(e(ipv6(a, b, 59, &[], None, &[])));
    out.push(e(ipv6(a, b, 253, &[], None, &[1, 2, 3])));
    let mut bad = ipv6(a, b, 59, &[], None, &[]);
    bad[0] = 0x70;
    out.push(e(bad));
    let mut rt = vec![6, 2, 0, 1, 0, 0, 0, 0];
    rt.extend_from_slice(&v6("fd00::77"));
    out.push(e(ipv6(
        a,
        b,
        43,
        &rt,
        None,
        &tcp(1, 2, 3, 4, ACK, &[], &[]),
    )));
    // Payload length beyond the capture; IPv4 in IPv6.
    let mut long = ipv6(a, b, 17, &[], Some((17, 6)), &u);
    long[5] += 20;
    out.push(e(long));
    out.push(e(ipv6(a, b, 4, &[], None, &V4::new(17).build(&u, true))));
    out
}

/// ICMPv6: echo, errors, neighbor discovery with options, MLD.
pub fn icmp6_messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let (a, b) = (v6("fe80::1"), v6("fe80::2"));
    let m = |src, dst, body: Vec<u8>| {
        eth(
            B,
            A,
            0x86dd,
            &ipv6_with(0x6000_0000, 255, src, dst, 58, &[], Some((58, 2)), &body),
        )
    };
    out.push(m(a, b, icmp(128, 0, [0, 7, 0, 1], &[1; 32])));
    out.push(m(b, a, icmp(129, 0, [0, 7, 0, 1], &[1; 32])));
    // Errors quoting a UDP packet.
    let q = ipv6(
        v6("fd00::1"),
        v6("fd00::2"),
        17,
        &[],
        Some((17, 6)),
        &udp(4000, 53, b"q"),
    );
    let qt = ipv6(
        v6("fd00::1"),
        v6("fd00::2"),
        6,
        &[],
        None,
        &tcp(4000, 22, 1, 0, SYN, &[], &[]),
    );
    for code in 0..=5 {
        out.push(m(b, a, icmp(1, code, [0; 4], &q)));
    }
    out.push(m(b, a, icmp(1, 4, [0; 4], &qt)));
    out.push(m(b, a, icmp(2, 0, [0, 0, 0x05, 0x00], &q)));
    out.push(m(b, a, icmp(3, 0, [0; 4], &q)));
    out.push(m(b, a, icmp(3, 1, [0; 4], &q)));
    for code in 0..=4 {
        out.push(m(b, a, icmp(4, code, [0, 0, 0, 6], &q)));
    }
    // Neighbor discovery.
    let lla = |t: u8, mac: [u8; 6]| {
        let mut o = vec![t, 1];
        o.extend_from_slice(&mac);
        o
    };
    let mut ns = v6("fe80::2").to_vec();
    ns.extend_from_slice(&lla(1, A));
    out.push(m(a, v6("ff02::1:ff00:2"), icmp(135, 0, [0; 4], &ns)));
    let mut na = v6("fe80::2").to_vec();
    na.extend_from_slice(&lla(2, B));
    out.push(m(b, a, icmp(136, 0, [0xe0, 0, 0, 0], &na)));
    out.push(m(b, a, icmp(136, 0, [0, 0, 0, 0], &v6("fe80::2"))));
    out.push(m(a, v6("ff02::2"), icmp(133, 0, [0; 4], &lla(1, A))));
    let mut ra = vec![0, 0, 0x07, 0x08, 0, 0, 0x03, 0xe8];
    ra.extend_from_slice(&lla(1, B));
    ra.extend_from_slice(&[5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
    let mut pi = vec![3, 4, 64, 0xc0];
    pi.extend_from_slice(&86400u32.to_be_bytes());
    pi.extend_from_slice(&u32::MAX.to_be_bytes());
    pi.extend_from_slice(&[0; 4]);
    pi.extend_from_slice(&v6("2001:db8:1::"));
    ra.extend_from_slice(&pi);
    let mut rdnss = vec![25, 3, 0, 0, 0, 0, 0x0e, 0x10];
    rdnss.extend_from_slice(&v6("2001:db8::53"));
    ra.extend_from_slice(&rdnss);
    ra.extend_from_slice(&[24, 2, 48, 0x08, 0, 0, 0x0e, 0x10]);
    ra.extend_from_slice(&v6("2001:db8:2::")[..8]);
    ra.extend_from_slice(&[7, 1, 0, 0, 0, 0, 0x27, 0x10]);
    ra.extend_from_slice(&[99, 1, 1, 2, 3, 4, 5, 6]);
    out.push(m(
        b,
        v6("ff02::1"),
        icmp(134, 0, [64, 0xc8, 0x07, 0x08], &ra),
    ));
    let mut rd = v6("fe80::3").to_vec();
    rd.extend_from_slice(&v6("2001:db8::7"));
    rd.extend_from_slice(&lla(2, B));
    out.push(m(b, a, icmp(137, 0, [0; 4], &rd)));
    // MLD: v1 query, report, done; v2 query with a source; v2 report with records.
    out.push(m(
        a,
        v6("ff02::1"),
        icmp(130, 0, [0x27, 0x10, 0, 0], &[0; 16]),
    ));
    out.push(m(a, v6("ff02::fb"), icmp(131, 0, [0; 4], &v6("ff02::fb"))));
    out.push(m(a, v6("ff02::2"), icmp(132, 0, [0; 4], &v6("ff02::fb"))));
    let mut q2 = v6("ff02::fb").to_vec();
    q2.extend_from_slice(&[0x0a, 125, 0, 1]);
    q2.extend_from_slice(&v6("fe80::9"));
    out.push(m(a, v6("ff02::1"), icmp(130, 0, [0x80, 0x10, 0, 0], &q2)));
    let mut r2 = Vec::new();
    for (t, g, srcs) in [(4u8, "ff02::fb", 0u16), (1, "ff05::1:3", 1)] {
        r2.extend_from_slice(&[t, 0]);
        r2.extend_from_slice(&srcs.to_be_bytes());
        r2.extend_from_slice(&v6(g));
        for _ in 0..srcs {
            r2.extend_from_slice(&v6("2001:db8::5"));
        }
    }
    out.push(m(a, v6("ff02::16"), icmp(143, 0, [0, 0, 0, 2], &r2)));
    // Types without a decoder here or there; a bad checksum.
    out.push(m(a, b, icmp(200, 0, [0; 4], &[1, 2, 3, 4])));
    out.push(m(a, b, icmp(144, 0, [0x12, 0x34, 0, 0], &[])));
    let mut bad = m(a, b, icmp(128, 0, [0, 1, 0, 1], &[]));
    let n = bad.len();
    bad[n - 6] ^= 0x55;
    out.push(bad);
    out
}

/// Link-level forms on Ethernet: VLAN and QinQ tags, MPLS, GRE, ARP, 802.3/LLC, STP,
/// LLDP, and EtherTypes without a printer.
pub fn link_forms() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let u = V4::new(17).build(&udp(4000, 4001, b"vlan"), true);
    let who = arp(1, 0x0800, 1, &A, &IP_A, &[0; 6], &IP_B);
    // Tags: 802.1Q with priority and DEI, QinQ, 0x9100, a tag around ARP and 802.3.
    out.push(eth_tagged(&[(0x8100, 0x2064)], 0x0800, &u));
    out.push(eth_tagged(&[(0x8100, 0xf001)], 0x0800, &u));
    out.push(eth_tagged(
        &[(0x88a8, 0x00c8), (0x8100, 0x0064)],
        0x0800,
        &u,
    ));
    out.push(eth_tagged(
        &[(0x9100, 0x0005), (0x8100, 0x0006)],
        0x86dd,
        &ipv6(v6("fd00::1"), v6("fd00::2"), 59, &[], None, &[]),
    ));
    out.push(eth_tagged(&[(0x8100, 0x000a)], 0x0806, &who));
    let mut llc = eth_tagged(&[(0x8100, 0x000b)], 0x0026, &[0x42, 0x42, 0x03]);
    llc.extend_from_slice(&bpdu(0, 0, 0x01));
    out.push(llc);
    // ARP: request with a known target, reply, RARP, InARP, not Ethernet/IPv4, bad op.
    out.push(eth_pad(BCAST, A, 0x0806, &who));
    out.push(eth_pad(
        BCAST,
        A,
        0x0806,
        &arp(1, 0x0800, 1, &A, &IP_A, &B, &IP_B),
    ));
    out.push(eth_pad(
        A,
        B,
        0x0806,
        &arp(1, 0x0800, 2, &B, &IP_B, &A, &IP_A),
    ));
    out.push(eth_pad(
        BCAST,
        A,
        0x8035,
        &arp(1, 0x0800, 3, &A, &[0; 4], &A, &[0; 4]),
    ));
    out.push(eth_pad(
        A,
        B,
        0x8035,
        &arp(1, 0x0800, 4, &B, &IP_B, &A, &IP_A),
    ));
    out.push(eth_pad(
        A,
        B,
        0x0806,
        &arp(1, 0x0800, 9, &B, &IP_B, &A, &IP_A),
    ));
    out.push(eth_pad(
        A,
        B,
        0x0806,
        &arp(6, 0x86dd, 1, &B, &[1; 16], &A, &[2; 16]),
    ));
    out.push(eth_pad(
        A,
        B,
        0x0806,
        &arp(1, 0x0800, 77, &B, &IP_B, &A, &IP_A),
    ));
    // MPLS: one label over IPv4, two over IPv6, explicit null, a payload of no IP version.
    let l = |v: &[[u8; 4]], p: &[u8]| {
        let mut m: Vec<u8> = v.iter().flatten().copied().collect();
        m.extend_from_slice(p);
        eth(B, A, 0x8847, &m)
    };
    out.push(l(&[label(16, 0, true, 64)], &u));
    let six = ipv6(
        v6("fd00::1"),
        v6("fd00::2"),
        17,
        &[],
        Some((17, 6)),
        &udp(1, 2, b"x"),
    );
    out.push(l(
        &[label(1000, 5, false, 255), label(17, 1, true, 63)],
        &six,
    ));
    out.push(l(&[label(3, 0, false, 1), label(0, 0, true, 1)], &u));
    out.push(l(&[label(2, 0, true, 1)], &six));
    out.push(l(&[label(55, 0, true, 9)], &[0x11; 20]));
    out.push(eth(
        B,
        A,
        0x8848,
        &[label(1, 0, true, 2).as_slice(), &u].concat(),
    ));
    // GRE: IPv4 with key and sequence number, bridged Ethernet carrying ARP, IPv6,
    // MPLS, checksum present, version 1 (PPTP), an unknown protocol.
    let gre = |flags: u16, proto: u16, extra: &[u8], inner: &[u8]| {
        let mut g = flags.to_be_bytes().to_vec();
        g.extend_from_slice(&proto.to_be_bytes());
        g.extend_from_slice(extra);
        g.extend_from_slice(inner);
        let mut h = V4::new(47);
        h.src = [192, 168, 0, 1];
        h.dst = [192, 168, 0, 2];
        eth(B, A, 0x0800, &h.build(&g, false))
    };
    out.push(gre(0x3000, 0x0800, &[0, 0, 0, 42, 0, 0, 0, 7], &u));
    out.push(gre(0, 0x6558, &[], &eth_pad(BCAST, A, 0x0806, &who)));
    out.push(gre(0, 0x86dd, &[], &six));
    out.push(gre(
        0,
        0x8847,
        &[],
        &[label(20, 0, true, 64).as_slice(), &u].concat(),
    ));
    out.push(gre(0x8000, 0x0800, &[0xab, 0xcd, 0, 0], &u));
    out.push(gre(0x2001, 0x880b, &[0, 4, 0, 9], &[]));
    out.push(gre(0, 0x1234, &[], &[1, 2, 3]));
    out.push(gre(0x0002, 0x0800, &[], &u));
    // 802.3 with LLC: STP (config, topology change, RSTP with flags), SNAP carrying IPv4
    // and an unknown OUI, IP over LLC, unknown SAPs (UI, XID, test, I and S frames).
    let stp_dst = [0x01, 0x80, 0xc2, 0, 0, 0];
    out.push(dot3(
        stp_dst,
        &[&[0x42u8, 0x42, 0x03][..], &bpdu(0, 0, 0x81)].concat(),
    ));
    out.push(dot3(stp_dst, &[0x42, 0x42, 0x03, 0, 0, 0, 0x80]));
    out.push(dot3(
        stp_dst,
        &[&[0x42u8, 0x42, 0x03][..], &bpdu(2, 2, 0x7e)].concat(),
    ));
    out.push(dot3(
        stp_dst,
        &[&[0x42u8, 0x42, 0x03][..], &bpdu(2, 2, 0x3c)].concat(),
    ));
    out.push(dot3(stp_dst, &[0x42, 0x42, 0x03, 0, 1, 0, 0]));
    out.push(dot3(stp_dst, &[0x42, 0x42, 0x03, 0, 0, 9, 0]));
    out.push(dot3(stp_dst, &[0x42, 0x42, 0x03, 0, 0]));
    let mut snap = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
    snap.extend_from_slice(&u);
    out.push(dot3(B, &snap));
    out.push(dot3(B, &[0xaa, 0xaa, 0x03, 0x00, 0x00, 0xf8, 0x08, 0x06]));
    out.push(dot3(
        B,
        &[0xaa, 0xaa, 0x03, 0x00, 0x12, 0x34, 0x00, 0x07, 1, 2],
    ));
    let mut ipllc = vec![0x06, 0x06, 0x03];
    ipllc.extend_from_slice(&u);
    out.push(dot3(B, &ipllc));
    out.push(dot3(B, &[0x10, 0x10, 0x03, 1, 2, 3]));
    out.push(dot3(B, &[0x10, 0x21, 0x13, 1, 2, 3]));
    out.push(dot3(B, &[0x04, 0x05, 0xbf, 0x81, 0x01, 0x02]));
    out.push(dot3(B, &[0x04, 0x04, 0xaf]));
    out.push(dot3(B, &[0x04, 0x04, 0xe3, 9]));
    out.push(dot3(B, &[0x04, 0x04, 0x0a, 0x13, 9]));
    out.push(dot3(B, &[0x04, 0x04, 0x05, 0x13]));
    out.push(dot3(B, &[0x04, 0x04, 0x09, 0x12]));
    out.push(dot3(B, &[0xf0, 0xf0, 0x0d, 0x12]));
    // An 802.3 length beyond the frame, and past the padding.
    out.push(eth(B, A, 0x0100, &[0x10, 0x10, 0x03, 1]));
    // LLDP: chassis (MAC), port (name), TTL, port description, system name and
    // description, end (organisation TLVs are not spelled out); and one with a local chassis id only.
    let mut lldp = tlv(1, &[&[4u8][..], &A].concat());
    lldp.extend(tlv(2, b"\x05eth0"));
    lldp.extend(tlv(3, &120u16.to_be_bytes()));
    lldp.extend(tlv(4, b"uplink"));
    lldp.extend(tlv(5, b"switch1"));
    lldp.extend(tlv(6, b"ringcap test \x01\xe9"));
    lldp.extend(tlv(0, &[]));
    out.push(eth([0x01, 0x80, 0xc2, 0, 0, 0x0e], A, 0x88cc, &lldp));
    let mut l2 = tlv(1, b"\x07box");
    l2.extend(tlv(2, &[&[3u8][..], &B].concat()));
    l2.extend(tlv(3, &[0, 0]));
    l2.extend(tlv(0, &[]));
    out.push(eth_pad([0x01, 0x80, 0xc2, 0, 0, 0x0e], A, 0x88cc, &l2));
    // EtherTypes without a printer here (tcpdump knows the names of some).
    out.push(eth_pad(B, A, 0x88b5, b"local experimental"));
    out.push(eth_pad(B, A, 0x1234, &[]));
    out
}

/// Raw IP bodies to wrap in other link layers: an IPv4 UDP, an IPv6 ICMPv6 echo, TCP.
pub fn ip_bodies() -> Vec<Vec<u8>> {
    let (a, b) = (v6("fd00::1"), v6("fd00::2"));
    vec![
        V4::new(17).build(&udp(4000, 4001, b"raw"), true),
        ipv6(
            a,
            b,
            58,
            &[],
            Some((58, 2)),
            &icmp(128, 0, [0, 1, 0, 1], &[0; 8]),
        ),
        V4::new(6).build(&tcp(1, 2, 3, 4, ACK | PSH, &[], b"data"), true),
    ]
}

/// Linux cooked (SLL) frames: packet types, an address of other lengths, a VLAN tag,
/// 802.2 LLC, an unknown protocol.
pub fn sll() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let hdr = |pkttype: u16, halen: u16, proto: u16| {
        let mut h = pkttype.to_be_bytes().to_vec();
        h.extend_from_slice(&1u16.to_be_bytes());
        h.extend_from_slice(&halen.to_be_bytes());
        h.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
        h.extend_from_slice(&proto.to_be_bytes());
        h
    };
    for (i, body) in ip_bodies().into_iter().enumerate() {
        let proto = if body[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
        for t in [0u16, 4] {
            out.push([hdr(t + i as u16 % 2, 6, proto), body.clone()].concat());
        }
    }
    out.push([hdr(2, 4, 0x0800), ip_bodies()[0].clone()].concat());
    out.push(
        [
            hdr(3, 6, 0x8100),
            vec![0x20, 0x05, 0x08, 0x00],
            ip_bodies()[0].clone(),
        ]
        .concat(),
    );
    out.push(
        [
            hdr(0, 6, 0x0806),
            arp(1, 0x0800, 1, &A, &IP_A, &[0; 6], &IP_B),
        ]
        .concat(),
    );
    out.push([hdr(0, 6, 0x0004), vec![0x42, 0x42, 0x03], bpdu(0, 0, 0)].concat());
    out.push([hdr(0, 6, 0x0004), vec![0x04, 0x04, 0x03, 9]].concat());
    out.push([hdr(0, 6, 0x9999), vec![1, 2, 3]].concat());
    out.push([hdr(0, 6, 0x0300), vec![1, 2, 3]].concat());
    out
}

/// Linux cooked v2 (SLL2, `-i any`): interface 1 (`lo`, named by tcpdump on this host)
/// and an index no interface has.
pub fn sll2() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let hdr = |proto: u16, ifindex: u32, pkttype: u8| {
        let mut h = proto.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&ifindex.to_be_bytes());
        h.extend_from_slice(&1u16.to_be_bytes());
        h.push(pkttype);
        h.push(6);
        h.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
        h
    };
    for body in ip_bodies() {
        let proto = if body[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
        out.push([hdr(proto, 1, 0), body.clone()].concat());
        out.push([hdr(proto, 999_999, 4), body].concat());
    }
    out.push(
        [
            hdr(0x0806, 1, 1),
            arp(1, 0x0800, 1, &A, &IP_A, &[0; 6], &IP_B),
        ]
        .concat(),
    );
    out.push(
        [
            hdr(0x8100, 1, 2),
            vec![0x00, 0x07, 0x86, 0xdd],
            ip_bodies()[1].clone(),
        ]
        .concat(),
    );
    out.push([hdr(0x88b5, 1, 3), vec![9, 9]].concat());
    out
}

/// BSD loopback (NULL: host order, LOOP: network order) headers over IP bodies, and
/// families without a printer.
pub fn null(network_order: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let fam = |f: u32| {
        if network_order {
            f.to_be_bytes().to_vec()
        } else {
            f.to_le_bytes().to_vec()
        }
    };
    let bodies = ip_bodies();
    out.push([fam(2), bodies[0].clone()].concat());
    for f in [24, 28, 30] {
        out.push([fam(f), bodies[1].clone()].concat());
    }
    out.push([fam(2), bodies[2].clone()].concat());
    out.push([fam(10), bodies[1].clone()].concat());
    if !network_order {
        // The other byte order (a file written on a big-endian host).
        out.push([2u32.to_be_bytes().to_vec(), bodies[0].clone()].concat());
    }
    out
}

/// Raw IP: both versions, and a first nibble of neither.
pub fn raw() -> Vec<Vec<u8>> {
    let mut out = ip_bodies();
    out.push(vec![0x50, 0, 0, 0]);
    out.push(vec![0x45]);
    out
}
