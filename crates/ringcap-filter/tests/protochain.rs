//! `protochain`: the unrolled walk's verdicts (libpcap's, within the bound of 8 extension
//! headers), the shape the kernel requires of the programs (forward jumps that stay inside, at
//! most 255 for conditional ones), and the optimizer keeping the walk intact.

use ringcap_filter::bpf::*;
use ringcap_filter::{LinkType, Program, Target};

/// The compiler with a fixed table of service names (tests must not depend on the host).
fn compile(
    expr: &str,
    link: LinkType,
    snaplen: u32,
    target: Target,
    optimize: bool,
) -> Result<Program, ringcap_filter::CompileError> {
    let services = ringcap_filter::Services::well_known();
    let opts = ringcap_filter::Options {
        snaplen,
        target,
        optimize,
        ..ringcap_filter::Options::new(link, &services)
    };
    ringcap_filter::compile(expr, &opts)
}

const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn ipv6(nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[nh, 64]);
    v.extend_from_slice(&A6);
    v.extend_from_slice(&B6);
    v.extend_from_slice(payload);
    v
}

fn ipv4(proto: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    let ihl = (20 + opts.len()) / 4;
    let mut v = vec![0x40 | ihl as u8, 0];
    v.extend_from_slice(&((20 + opts.len() + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    v
}

/// An extension header with the (len + 1) * 8 layout.
fn ext(nh: u8, len: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![nh, len, 1, 4];
    v.resize((len as usize + 1) * 8, 0);
    v.extend_from_slice(rest);
    v
}

fn ah(nh: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![nh, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 7];
    v.extend_from_slice(&[0xa5; 12]);
    v.extend_from_slice(rest);
    v
}

/// `n` destination options headers, then `nh` and `rest`: (first type, bytes).
fn chain(n: usize, nh: u8, rest: &[u8]) -> (u8, Vec<u8>) {
    let mut v = rest.to_vec();
    let mut next = nh;
    for _ in 0..n {
        v = ext(next, 0, &v);
        next = 60;
    }
    (next, v)
}

const TCP: [u8; 20] = [
    0, 1, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0xff, 0xff, 0, 0, 0, 0,
];
const UDP: [u8; 8] = [0, 1, 0, 53, 0, 8, 0, 0];

fn both(expr: &str, link: LinkType) -> [Program; 2] {
    [true, false].map(|o| {
        compile(expr, link, 65535, Target::File, o).unwrap_or_else(|e| panic!("{expr}: {e}"))
    })
}

fn check(link: LinkType, pkt: &[u8], wirelen: usize, cases: &[(&str, bool)]) {
    for (expr, want) in cases {
        for (p, o) in both(expr, link).iter().zip(["optimized", "unoptimized"]) {
            assert_eq!(
                p.matches(pkt, wirelen as u32),
                *want,
                "{expr:?} ({o}) on {pkt:02x?}"
            );
        }
    }
}

#[test]
fn ipv6_walk_follows_extension_headers() {
    let l = LinkType::Raw;
    let p = ipv6(6, &TCP);
    check(
        l,
        &p,
        p.len(),
        &[("ip6 protochain 6", true), ("ip6 protochain 17", false)],
    );
    let p = ipv6(0, &ext(60, 0, &ext(6, 1, &TCP)));
    check(
        l,
        &p,
        p.len(),
        &[
            ("ip6 protochain 6", true),
            ("ip6 protochain \\tcp", true),
            ("ip6 protochain 0", true),
            ("ip6 protochain 60", true),
            ("ip6 protochain 43", false),
            ("protochain 17", false),
            ("ip protochain 6", false),
            ("protochain 6", true),
        ],
    );
    // routing, fragment, AH, then ICMPv6
    let p = ipv6(43, &ext(44, 0, &ext(51, 0, &ah(58, &[128, 0, 0, 0]))));
    for v in [43, 44, 51, 58] {
        check(l, &p, p.len(), &[(&format!("ip6 protochain {v}"), true)]);
    }
    check(l, &p, p.len(), &[("ip6 protochain 60", false)]);
    // no next header
    let p = ipv6(59, &[]);
    check(
        l,
        &p,
        p.len(),
        &[("ip6 protochain 59", true), ("ip6 protochain 6", false)],
    );
}

#[test]
fn ah_is_stepped_over_as_libpcap_does() {
    // libpcap continues after AH at (len + 2) * 4 from the network header, not from the AH
    // header: after AH then destination options, it reads inside the IPv6 addresses.
    let l = LinkType::Raw;
    let p = ipv6(51, &ah(60, &ext(6, 0, &TCP)));
    check(
        l,
        &p,
        p.len(),
        &[
            ("ip6 protochain 51", true),
            ("ip6 protochain 60", true),
            ("ip6 protochain 6", false),
            // the byte 24 (the first of the destination address) is taken for a header type
            ("ip6 protochain 0x20", true),
        ],
    );
    // AH directly before the upper layer is fine, IPv4 too
    let p = ipv6(51, &ah(6, &TCP));
    check(l, &p, p.len(), &[("ip6 protochain 6", true)]);
    let p = ipv4(51, &[], &ah(6, &TCP));
    check(
        l,
        &p,
        p.len(),
        &[
            ("ip protochain 6", true),
            ("ip protochain 51", true),
            ("protochain 6", true),
            ("ip protochain 17", false),
            ("ip6 protochain 6", false),
        ],
    );
    let p = ipv4(51, &[0x94, 4, 0, 0], &ah(17, &UDP));
    check(
        l,
        &p,
        p.len(),
        &[("ip protochain 17", true), ("ip protochain 6", false)],
    );
    // IPv4 follows only AH
    let p = ipv4(0, &[], &ext(6, 0, &TCP));
    check(
        l,
        &p,
        p.len(),
        &[("ip protochain 0", true), ("ip protochain 6", false)],
    );
}

#[test]
fn the_walk_follows_eight_headers_and_no_more() {
    let l = LinkType::Raw;
    for n in 0..=12 {
        let (t, c) = chain(n, 6, &TCP);
        let p = ipv6(t, &c);
        let found = n <= 8;
        check(
            l,
            &p,
            p.len(),
            &[
                ("ip6 protochain 6", found),
                ("not ip6 protochain 6", !found),
                ("ip6 protochain 17", false),
            ],
        );
        if n > 0 {
            check(l, &p, p.len(), &[("ip6 protochain 60", true)]);
        }
    }
}

#[test]
fn a_chain_cut_short_rejects_the_packet() {
    // as libpcap: a load beyond the captured bytes ends the program with "reject", so the
    // packet is dropped whatever the expression around the walk says
    let l = LinkType::Raw;
    let (t, c) = chain(3, 6, &TCP);
    let full = ipv6(t, &c);
    for cut in [40, 41, 48, 49, 57] {
        check(
            l,
            &full[..cut],
            full.len(),
            &[
                ("ip6 protochain 6", false),
                ("not ip6 protochain 6", false),
                ("ip6 protochain 17 or ip6", false),
            ],
        );
    }
    // found before the cut: accepted
    check(l, &full[..41], full.len(), &[("ip6 protochain 60", true)]);
    check(l, &full[..64], full.len(), &[("ip6 protochain 6", true)]);
}

/// What the kernel's checker demands of a classic program: it ends in a return, every jump
/// lands inside the program (forward only), scratch indexes are below 16.
fn assert_kernel_shape(expr: &str, p: &Program) {
    let n = p.insns.len();
    assert!(n > 0 && n <= 4096, "{expr}: {n} instructions");
    assert_eq!(class(p.insns[n - 1].code), RET, "{expr}: ends in ret");
    for (pc, i) in p.insns.iter().enumerate() {
        match class(i.code) {
            JMP if op(i.code) == JA => {
                assert!((i.k as usize) < n - pc - 1, "{expr}: ja at {pc}")
            }
            JMP => assert!(
                (i.jt as usize) < n - pc - 1 && (i.jf as usize) < n - pc - 1,
                "{expr}: jump at {pc}"
            ),
            ST | STX => assert!(i.k < 16, "{expr}: st at {pc}"),
            LD | LDX if mode(i.code) == MEM => assert!(i.k < 16, "{expr}: ld M at {pc}"),
            _ => {}
        }
    }
}

const EXPRS: &[&str] = &[
    "ip6 protochain 6",
    "ip protochain 17",
    "protochain 51",
    "protochain 6 and tcp port 80",
    "tcp or ip6 protochain 58",
    "not protochain 44",
    "ip6 protochain 60 and ip6 protochain 6 and ip protochain 51",
    "protochain 44 or 17 or 58",
    "protochain 6 or protochain 17 or protochain 58 or protochain 44",
];

#[test]
fn programs_have_the_shape_the_kernel_accepts() {
    let links = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::Null,
    ];
    for link in links {
        for expr in EXPRS {
            for (opt, target) in [
                (true, Target::File),
                (false, Target::File),
                (true, Target::LinuxLive),
            ] {
                match compile(expr, link, 65535, target, opt) {
                    Ok(p) => assert_kernel_shape(expr, &p),
                    Err(e) => panic!("{expr} {link:?}: {e}"),
                }
            }
        }
    }
    for expr in [
        "vlan and protochain 6",
        "vlan 10 and vlan and ip6 protochain 17",
        "mpls and ip6 protochain 17",
        "mpls 1 and mpls and protochain 51",
    ] {
        for target in [Target::File, Target::LinuxLive] {
            let p = compile(expr, LinkType::Ethernet, 65535, target, true).unwrap();
            assert_kernel_shape(expr, &p);
        }
    }
    // long expressions reach through `ja` stubs and copies of the returns
    let p = compile(EXPRS[8], LinkType::Ethernet, 65535, Target::File, true).unwrap();
    assert!(p.insns.len() > 256);
    assert!(p.insns.iter().any(|i| i.code == JMP | JA));
}

/// A small deterministic generator (xorshift) for packet variations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn optimized_walks_agree_with_unoptimized_and_with_their_parts() {
    // packets: chains with every header type and random bytes flipped or cut
    let mut base = Vec::new();
    for n in 0..10 {
        let (t, c) = chain(n, [6u8, 17, 58, 51][n % 4], &TCP);
        base.push(ipv6(t, &c));
    }
    base.push(ipv6(
        0,
        &ext(43, 0, &ext(44, 0, &ext(51, 0, &ah(60, &ext(17, 0, &UDP))))),
    ));
    base.push(ipv6(44, &ext(6, 0, &TCP)));
    base.push(ipv4(51, &[], &ah(51, &ah(6, &TCP))));
    base.push(ipv4(6, &[], &TCP));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pkts = base.clone();
    for _ in 0..600 {
        let mut p = base[(rng.next() % base.len() as u64) as usize].clone();
        for _ in 0..1 + rng.next() % 3 {
            let i = (rng.next() % p.len() as u64) as usize;
            let vals = [0u8, 6, 17, 43, 44, 51, 58, 59, 60, 1, 2, 0xff];
            p[i] = vals[(rng.next() % vals.len() as u64) as usize];
        }
        if rng.next().is_multiple_of(4) {
            let cut = (rng.next() % p.len() as u64) as usize;
            p.truncate(cut);
        }
        pkts.push(p);
    }
    let link = LinkType::Raw;
    let single = |e: &str| both(e, link);
    for expr in EXPRS {
        let [o, u] = single(expr);
        for p in &pkts {
            assert_eq!(
                o.matches(p, p.len() as u32),
                u.matches(p, p.len() as u32),
                "{expr:?} on {p:02x?}"
            );
        }
    }
    // a long `or` of walks (with stubs) is the `or` of the single walks
    let [all, _] = single("protochain 44 or 17 or 58");
    let parts = ["protochain 44", "protochain 17", "protochain 58"].map(|e| single(e)[0].clone());
    for p in &pkts {
        let want = parts.iter().any(|q| q.matches(p, p.len() as u32));
        assert_eq!(all.matches(p, p.len() as u32), want, "{p:02x?}");
    }
}

#[test]
fn protochain_errors_as_libpcap() {
    let err = |e: &str| {
        compile(e, LinkType::Ethernet, 65535, Target::File, true)
            .unwrap_err()
            .message
    };
    assert_eq!(
        err("tcp protochain 6"),
        "bad protocol applied for 'protochain'"
    );
    assert_eq!(
        err("ether protochain 6"),
        "bad protocol applied for 'protochain'"
    );
    assert!(err("protochain tcp").starts_with("syntax error"));
    assert!(err("src protochain 6").starts_with("syntax error"));
    assert_eq!(err("protochain \\nosuch"), "unknown ip proto 'nosuch'");
    assert_eq!(err("gateway 10.0.0.1"), "'gateway' requires a name");
    // libpcap does not optimize expressions with protochain, so it never reports that they
    // reject everything: `ip6 protochain` on an IPv4-only link compiles, and rejects (its
    // unoptimized code still runs the loads before it finds that: the program may keep them,
    // but has no way to accept)
    for (e, link) in [
        ("ip6 protochain 6", LinkType::Ipv4),
        ("ip protochain 6", LinkType::Ipv6),
        ("tcp and udp and protochain 6", LinkType::Ethernet),
    ] {
        let p = compile(e, link, 65535, Target::File, true).unwrap();
        assert!(
            p.insns.iter().all(|i| i.code != RET | K || i.k == 0),
            "{e}: {}",
            p.dump_d()
        );
    }
    assert!(compile("tcp and udp", LinkType::Ethernet, 65535, Target::File, true).is_err());
}

/// Where ringcap's optimizer would lay two unrolled walks out with a conditional jump past 255
/// instructions, the unoptimized program (libpcap's answer too: it leaves protochain
/// unoptimized) is used, not a refusal; tcpdump compiles this expression (found by the random
/// differential test's long run, seed 0x170105).
#[test]
fn a_walk_too_long_to_optimize_compiles_unoptimized() {
    let expr = "protochain \\ah and 0x100";
    let [opt, unopt] = both(expr, LinkType::Ipv6);
    assert_kernel_shape(expr, &opt);
    assert_eq!(opt, unopt);
}
