//! Fuzzing the lexer, parser and code generator: random token soups, random bytes and mutations
//! of valid expressions, a fixed count with a fixed seed (reproducible). Nothing may panic, and
//! every program that compiles must be well formed (jumps inside the program, ends in `ret`) and
//! must run on random packets without panicking.

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

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "host",
    "net",
    "port",
    "portrange",
    "proto",
    "protochain",
    "src",
    "dst",
    "and",
    "or",
    "not",
    "ether",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "igmp",
    "vlan",
    "mpls",
    "less",
    "greater",
    "len",
    "broadcast",
    "multicast",
    "inbound",
    "outbound",
    "mask",
    "gateway",
    "link",
    "(",
    ")",
    "[",
    "]",
    ":",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "<<",
    ">>",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "&&",
    "||",
    "0",
    "1",
    "2",
    "4",
    "80",
    "65535",
    "65536",
    "4096",
    "0x10",
    "0xffffffff",
    "0x100000000",
    "017",
    "10.0.0.1",
    "10.0.0.0/8",
    "10.0",
    "255.255.255.0",
    "::1",
    "2001:db8::/32",
    "fe80::1/129",
    "00:11:22:33:44:55",
    "0011.2233.4455",
    "tcpflags",
    "tcp-syn",
    "icmp-echo",
    "icmptype",
    "icmp6type",
    "\\tcp",
    "\\ip",
    "http",
    "domain",
    "ftp-data-ftp",
    "20-30",
    "foo.example",
    "1.2.3.4.5",
    "999.1.1.1",
    ":::",
    "\\",
    "@",
    "\"",
    "ip[0]",
    "tcp[13:2]",
    "ether[ip[0]:4]",
];

const SEEDS: &[&str] = &[
    "tcp port 80 and host 10.0.0.1",
    "vlan 10 and vlan 20 and udp port 53",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "ip6 net 2001:db8::/32 or arp",
    "not (src net 10.0.0.0/8 and dst portrange 1000-2000)",
    "mpls 100 and mpls and ip",
    "ether src 00:11:22:33:44:55 or ether broadcast",
    "icmp[icmptype] = icmp-echo",
    "ip[2:2] - ((ip[0] & 0xf) << 2) > 40",
    "less 100 or greater 1000 and len != 60",
];

fn check(expr: &str, rng: &mut Rng, pkts: &[Vec<u8>]) -> bool {
    let links = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Raw,
        LinkType::Null,
        LinkType::Ipv4,
        LinkType::Ipv6,
    ];
    let link = links[rng.below(links.len())];
    let target = if rng.below(2) == 0 {
        Target::File
    } else {
        Target::LinuxLive
    };
    let mut ok = false;
    for optimize in [true, false] {
        match compile(expr, link, 65535, target, optimize) {
            Ok(p) => {
                ok = true;
                well_formed(&p, expr);
                for pkt in pkts {
                    let _ = p.matches(pkt, pkt.len() as u32);
                }
            }
            Err(e) => {
                let _ = e.render(expr);
            }
        }
    }
    ok
}

fn well_formed(p: &Program, expr: &str) {
    let n = p.insns.len();
    assert!(n > 0 && n <= 4096, "{expr:?}: bad length {n}");
    let last = p.insns[n - 1];
    assert_eq!(last.code & 0x07, 0x06, "{expr:?}: does not end in ret");
    for (pc, i) in p.insns.iter().enumerate() {
        if i.code & 0x07 == 0x05 {
            let far = if i.code & 0xf0 == 0 {
                i.k as usize
            } else {
                i.jt.max(i.jf) as usize
            };
            assert!(
                pc + 1 + far < n,
                "{expr:?}: jump out of the program at {pc}"
            );
        }
    }
}

#[test]
fn fuzz_lexer_parser_codegen() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut pkts = Vec::new();
    for _ in 0..8 {
        let len = rng.below(90);
        pkts.push((0..len).map(|_| rng.next() as u8).collect::<Vec<u8>>());
    }
    let (mut tried, mut compiled) = (0usize, 0usize);
    // 1. token soups
    for _ in 0..60_000 {
        let n = 1 + rng.below(10);
        let e: Vec<&str> = (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        let sep = if rng.below(4) == 0 { "" } else { " " };
        let expr = e.join(sep);
        compiled += check(&expr, &mut rng, &pkts) as usize;
        tried += 1;
    }
    // 2. random bytes (printable and not)
    for _ in 0..20_000 {
        let n = rng.below(40);
        let bytes: Vec<u8> = (0..n)
            .map(|_| {
                if rng.below(3) == 0 {
                    rng.next() as u8
                } else {
                    32 + rng.below(95) as u8
                }
            })
            .collect();
        let expr = String::from_utf8_lossy(&bytes).into_owned();
        compiled += check(&expr, &mut rng, &pkts) as usize;
        tried += 1;
    }
    // 3. mutations of valid expressions: delete, duplicate, swap or insert characters/words
    for _ in 0..40_000 {
        let mut s: Vec<char> = SEEDS[rng.below(SEEDS.len())].chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(s.len() + 1);
            match rng.below(4) {
                0 if at < s.len() => {
                    s.remove(at);
                }
                1 => {
                    let w = WORDS[rng.below(WORDS.len())];
                    for (k, c) in format!(" {w} ").chars().enumerate() {
                        s.insert((at + k).min(s.len()), c);
                    }
                }
                2 if at + 1 < s.len() => s.swap(at, at + 1),
                _ => s.insert(at.min(s.len()), (33 + rng.below(94) as u8) as char),
            }
        }
        let expr: String = s.into_iter().collect();
        compiled += check(&expr, &mut rng, &pkts) as usize;
        tried += 1;
    }
    eprintln!("fuzz: {tried} inputs, {compiled} compiled, no panic");
    assert_eq!(tried, 120_000);
}
