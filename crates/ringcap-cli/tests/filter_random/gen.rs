//! A seeded generator of random pcap-filter expressions over the whole grammar, as trees that
//! print to text and shrink (each shrink step gives smaller trees to try).
//!
//! Written from pcap-filter(7) and libpcap's grammar, independently of ringcap's parser, so the
//! test does not inherit the parser's idea of the language.

/// xorshift64*: small, seedable, the same sequence everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `pct` percent.
    pub fn pct(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// How a number is written: every base the scanner reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Dec,
    Hex,
    HexUpper,
    Oct,
}

fn num_text(n: u32, base: Base) -> String {
    match base {
        Base::Dec => n.to_string(),
        Base::Hex => format!("0x{n:x}"),
        Base::HexUpper => format!("0X{n:X}"),
        Base::Oct if n == 0 => "0".into(),
        Base::Oct => format!("0{n:o}"),
    }
}

/// An arithmetic expression (the operands of a relation).
#[derive(Clone, Debug)]
pub enum Arith {
    Num(u32, Base),
    /// A name the scanner turns into a number (tcpflags, tcp-syn, icmp-echo, ...).
    Named(&'static str),
    Len,
    /// `proto[index]` or `proto[index:size]`
    Load(&'static str, Box<Arith>, Option<u32>),
    /// left, operator, right, written with spaces around the operator
    Bin(Box<Arith>, &'static str, Box<Arith>, bool),
    Neg(Box<Arith>),
    Paren(Box<Arith>),
}

/// A filter expression.
#[derive(Clone, Debug)]
pub enum Node {
    /// Terms joined by `and`/`or` (same precedence, left to right).
    Chain(Vec<Node>, Vec<&'static str>),
    Not(&'static str, Box<Node>),
    Paren(Box<Node>),
    /// A primitive that is one piece of text (`tcp`, `vlan 10`, `ip multicast`).
    Atom(String),
    /// `[proto] [dir] [kind] value`: a qualified primitive whose qualifiers a following bare
    /// value inherits.
    Qual {
        proto: &'static str,
        dir: &'static str,
        kind: &'static str,
        value: String,
    },
    /// A value after `and`/`or` with the qualifiers of the term before (`port 80 or 443`).
    Bare(String),
    Rel(Arith, &'static str, Arith),
}

impl Arith {
    pub fn text(&self) -> String {
        match self {
            Arith::Num(n, b) => num_text(*n, *b),
            Arith::Named(s) => s.to_string(),
            Arith::Len => "len".into(),
            Arith::Load(p, i, None) => format!("{p}[{}]", i.text()),
            Arith::Load(p, i, Some(s)) => format!("{p}[{}:{s}]", i.text()),
            Arith::Bin(a, op, b, true) => format!("{} {op} {}", a.text(), b.text()),
            Arith::Bin(a, op, b, false) => format!("{}{op}{}", a.text(), b.text()),
            Arith::Neg(a) => format!("-{}", a.text()),
            Arith::Paren(a) => format!("({})", a.text()),
        }
    }

    fn size(&self) -> usize {
        match self {
            Arith::Num(..) | Arith::Named(_) | Arith::Len => 1,
            Arith::Load(_, i, _) => 1 + i.size(),
            Arith::Bin(a, _, b, _) => 1 + a.size() + b.size(),
            Arith::Neg(a) | Arith::Paren(a) => 1 + a.size(),
        }
    }

    /// Smaller versions, the biggest cuts first.
    fn shrink(&self) -> Vec<Arith> {
        let mut v = Vec::new();
        match self {
            Arith::Num(n, b) => {
                if *n > 1 {
                    v.push(Arith::Num(0, Base::Dec));
                    v.push(Arith::Num(1, Base::Dec));
                    v.push(Arith::Num(n / 2, Base::Dec));
                }
                if *b != Base::Dec {
                    v.push(Arith::Num(*n, Base::Dec));
                }
            }
            Arith::Named(_) | Arith::Len => v.push(Arith::Num(0, Base::Dec)),
            Arith::Load(p, i, s) => {
                v.push(Arith::Num(0, Base::Dec));
                if s.is_some() {
                    v.push(Arith::Load(p, i.clone(), None));
                }
                for i2 in i.shrink() {
                    v.push(Arith::Load(p, Box::new(i2), *s));
                }
            }
            Arith::Bin(a, op, b, sp) => {
                v.push((**a).clone());
                v.push((**b).clone());
                for a2 in a.shrink() {
                    v.push(Arith::Bin(Box::new(a2), op, b.clone(), *sp));
                }
                for b2 in b.shrink() {
                    v.push(Arith::Bin(a.clone(), op, Box::new(b2), *sp));
                }
            }
            Arith::Neg(a) | Arith::Paren(a) => {
                v.push((**a).clone());
                for a2 in a.shrink() {
                    v.push(match self {
                        Arith::Neg(_) => Arith::Neg(Box::new(a2)),
                        _ => Arith::Paren(Box::new(a2)),
                    });
                }
            }
        }
        v
    }
}

impl Node {
    pub fn text(&self) -> String {
        match self {
            Node::Chain(terms, ops) => {
                let mut s = terms[0].text();
                for (t, op) in terms[1..].iter().zip(ops) {
                    s.push_str(&format!(" {op} {}", t.text()));
                }
                s
            }
            Node::Not(w, n) => format!("{w} {}", n.text()),
            Node::Paren(n) => format!("({})", n.text()),
            Node::Atom(s) | Node::Bare(s) => s.clone(),
            Node::Qual {
                proto,
                dir,
                kind,
                value,
            } => [*proto, *dir, *kind, value.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            Node::Rel(a, op, b) => format!("{} {op} {}", a.text(), b.text()),
        }
    }

    /// A measure of size: shrinking only ever goes down in it.
    pub fn size(&self) -> usize {
        match self {
            Node::Chain(t, _) => t.iter().map(Node::size).sum::<usize>() + t.len() - 1,
            Node::Not(_, n) | Node::Paren(n) => 1 + n.size(),
            Node::Atom(_) | Node::Bare(_) => 1,
            Node::Qual {
                proto, dir, kind, ..
            } => 1 + [proto, dir, kind].iter().filter(|s| !s.is_empty()).count(),
            Node::Rel(a, _, b) => 1 + a.size() + b.size(),
        }
    }

    /// Smaller expressions, the biggest cuts first.
    pub fn shrink(&self) -> Vec<Node> {
        let mut v = Vec::new();
        match self {
            Node::Chain(terms, ops) => {
                for t in terms {
                    v.push(t.clone());
                }
                if terms.len() > 2 {
                    for i in 0..terms.len() {
                        let mut t = terms.clone();
                        let mut o = ops.clone();
                        t.remove(i);
                        o.remove(i.saturating_sub(1).min(o.len() - 1));
                        v.push(Node::Chain(t, o));
                    }
                }
                for i in 0..terms.len() {
                    for t2 in terms[i].shrink() {
                        let mut t = terms.clone();
                        t[i] = t2;
                        v.push(Node::Chain(t, ops.clone()));
                    }
                }
            }
            Node::Not(w, n) => {
                v.push((**n).clone());
                v.extend(n.shrink().into_iter().map(|n2| Node::Not(w, Box::new(n2))));
            }
            Node::Paren(n) => {
                v.push((**n).clone());
                v.extend(n.shrink().into_iter().map(|n2| Node::Paren(Box::new(n2))));
            }
            Node::Atom(_) | Node::Bare(_) => {}
            Node::Qual {
                proto,
                dir,
                kind,
                value,
            } => {
                let q = |p: &'static str, d: &'static str, k: &'static str| Node::Qual {
                    proto: p,
                    dir: d,
                    kind: k,
                    value: value.clone(),
                };
                if !proto.is_empty() {
                    v.push(q("", dir, kind));
                }
                if !dir.is_empty() {
                    v.push(q(proto, "", kind));
                }
                if !kind.is_empty() {
                    v.push(q(proto, dir, ""));
                }
            }
            Node::Rel(a, op, b) => {
                for a2 in a.shrink() {
                    v.push(Node::Rel(a2, op, b.clone()));
                }
                for b2 in b.shrink() {
                    v.push(Node::Rel(a.clone(), op, b2));
                }
            }
        }
        v.retain(|n| n.size() < self.size() || n.text().len() < self.text().len());
        v
    }
}

// ---- the pools values come from: what the test packets carry, and values around them ----------

const V4_HOSTS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "192.168.1.10",
    "1.2.3.4",
    "224.0.0.1",
    "239.1.2.3",
    "255.255.255.255",
    "0.0.0.0",
];
const V4_NETS: &[&str] = &[
    "10",
    "10.0",
    "10.0.0",
    "192.168",
    "192.168.1",
    "1.2.3",
    "224",
    "10.0.0.0/8",
    "10.0.0.0/24",
    "10.0.0.0/31",
    "192.168.0.0/16",
    "1.2.3.0/24",
    "224.0.0.0/4",
    "0.0.0.0/0",
    "10.0.0.1/32",
    "10.0.0.1/8",
    "10.0.0.0 mask 255.0.0.0",
    "192.168.1.0 mask 255.255.255.0",
    "10.0.0.0 mask 255.255.0.0",
    "10 mask 255.0.0.0",
    "10.0/16",
    "192.168/16",
];
const V6_HOSTS: &[&str] = &[
    "2001:db8::1",
    "2001:db8::2",
    "fe80::1",
    "ff02::1",
    "ff02::1:ff00:1",
    "::1",
    "::",
    "2001:DB8:0:0:0:0:0:1",
    "::ffff:10.0.0.1",
];
const V6_NETS: &[&str] = &[
    "2001:db8::/32",
    "2001:db8::/64",
    "fe80::/10",
    "ff00::/8",
    "::/0",
    "2001:db8::1/128",
    "2001:db8::1/64",
    "::1/127",
];
const MACS: &[&str] = &[
    "00:11:22:33:44:55",
    "66:77:88:99:aa:bb",
    "ff:ff:ff:ff:ff:ff",
    "01:00:5e:00:00:01",
    "33:33:00:00:00:01",
    "00-11-22-33-44-55",
    "6677.8899.aabb",
    "0:11:22:33:44:55",
    "66.77.88.99.aa.bb",
    "001122334455",
    "66778899AABB",
];
const PORTS: &[u32] = &[
    80, 443, 22, 53, 123, 5353, 67, 68, 2905, 8080, 20, 21, 1023, 1025, 40000, 40005, 51000, 546,
    547, 9, 7, 1, 0, 5000, 5001, 30000, 33434, 65535, 65536, 70000,
];
const SERVICES: &[&str] = &[
    "http",
    "domain",
    "ssh",
    "ftp",
    "ftp-data",
    "ntp",
    "https",
    "bootps",
    "bootpc",
    "telnet",
    "smtp",
    "tftp",
    "nosuchservice",
];
const RANGES: &[&str] = &[
    "20-22",
    "1000-2000",
    "30000-40000",
    "40000-40010",
    "440-450",
    "80",
    "80-80",
    "443-80",
    "ftp-data-ftp",
    "0-65535",
    "10-",
    "domain-http",
    "53-domain",
];
const IP_PROTOS: &[u32] = &[
    0, 1, 2, 6, 17, 41, 43, 44, 50, 51, 58, 59, 60, 132, 255, 256,
];
const IP_PROTO_NAMES: &[&str] = &[
    "\\tcp",
    "\\udp",
    "\\icmp",
    "\\igmp",
    "\\sctp",
    "\\ah",
    "\\esp",
    "\\ipv6-icmp",
    "\\ipv6-frag",
    "\\icmp6",
    "\\nosuchproto",
    // the host's /etc/protocols: aliases, case, a number over 255
    "\\HOPOPT",
    "\\IPv6-ICMP",
    "\\gre",
    "\\IPSEC-ESP",
    "\\Udp",
    "\\mptcp",
];
const ETHER_PROTOS: &[u32] = &[
    0x800, 0x86dd, 0x806, 0x8035, 0x88cc, 100, 0x26, 0x9000, 0x8100, 0x88a8, 0x8847, 1500, 1501,
    0x64, 0x42, 0,
];
const ETHER_PROTO_NAMES: &[&str] = &[
    "\\ip",
    "\\ip6",
    "\\arp",
    "\\rarp",
    "\\loopback",
    "\\ipx",
    "\\atalk",
    "\\aarp",
    "\\decnet",
    "\\lat",
    "\\sca",
    "\\mopdl",
    "\\moprc",
    "\\iso",
    "\\stp",
    "\\netbeui",
    "\\vlan",
];
const LOAD_PROTOS: &[&str] = &[
    "ether", "link", "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "igmp", "sctp",
    "ether", "ip", "tcp", "udp", "ip6", "icmp", "pim", "vrrp", "carp", "igrp", "ah", "esp",
    "atalk", "decnet", "sca", "lat", "moprc", "mopdl", "ppp", "slip", "fddi", "tr", "wlan",
];
/// Protocols on their own: every one whose test ringcap generates (libpcap's OSI, ES-IS, IS-IS
/// and CLNP tests, and PPPoE, Geneve, LLC, ATM, pflog, SS7 and 802.11 primitives, are not
/// supported by ringcap and not generated).
const ABBREVS: &[&str] = &[
    "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp", "tcp", "udp", "ip",
    "ip6", "ah", "esp", "pim", "vrrp", "carp", "igrp", "atalk", "aarp", "decnet", "lat", "sca",
    "mopdl", "moprc", "iso", "stp", "ipx", "netbeui",
];
const NAMED: &[&str] = &[
    "tcpflags",
    "tcp-fin",
    "tcp-syn",
    "tcp-rst",
    "tcp-push",
    "tcp-ack",
    "tcp-urg",
    "tcp-ece",
    "tcp-cwr",
    "icmptype",
    "icmpcode",
    "icmp-echo",
    "icmp-echoreply",
    "icmp-unreach",
    "icmp-timxceed",
    "icmp6type",
    "icmp6code",
    "icmp6-echo",
    "icmp6-echoreply",
    "icmp6-neighborsolicit",
    "icmp6-routeradvert",
];
const SMALL: &[u32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 16, 17, 20, 22, 24, 26, 30, 31, 32, 33, 36, 40,
    44, 54, 58, 64, 80, 100, 128, 255, 256, 443, 1024, 1500,
];
const MASKS: &[u32] = &[
    0xf, 0xf0, 0xff, 0x1fff, 0x2000, 0x4000, 0xffff, 0xff00, 0xfff, 0x0fff, 0xffffffff, 0x80000000,
    0x7fffffff, 0xfffffff0, 0x40, 0x60, 0x12, 0x3f,
];
const DIRS: &[&str] = &[
    "",
    "",
    "",
    "src",
    "dst",
    "src or dst",
    "src and dst",
    "dst or src",
    "dst and src",
];

pub struct Gen {
    rng: Rng,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
        }
    }

    fn num(&mut self, n: u32) -> Arith {
        let b = match self.rng.below(20) {
            0..=10 => Base::Dec,
            11..=15 => Base::Hex,
            16 => Base::HexUpper,
            _ => Base::Oct,
        };
        Arith::Num(n, b)
    }

    fn num_text(&mut self, n: u32) -> String {
        self.num(n).text()
    }

    /// One expression.
    pub fn expr(&mut self) -> Node {
        self.chain(0)
    }

    fn chain(&mut self, depth: usize) -> Node {
        let n = match self.rng.below(100) {
            0..=44 => 1,
            45..=74 => 2,
            75..=91 => 3,
            _ => 4,
        };
        let mut terms = vec![self.term(depth)];
        let mut ops = Vec::new();
        for _ in 1..n {
            ops.push(self.rng.pick(&["and", "or", "and", "or", "&&", "||"]));
            let prev = terms.last().unwrap().clone();
            let bare = match prev {
                Node::Qual { .. } | Node::Bare(_) if self.rng.pct(40) => self.bare(&terms),
                _ => None,
            };
            terms.push(bare.unwrap_or_else(|| self.term(depth)));
        }
        if terms.len() == 1 {
            terms.pop().unwrap()
        } else {
            Node::Chain(terms, ops)
        }
    }

    /// A value with the qualifiers of the last qualified term before it.
    fn bare(&mut self, terms: &[Node]) -> Option<Node> {
        let (proto, kind) = terms.iter().rev().find_map(|t| match t {
            Node::Qual { proto, kind, .. } => Some((*proto, *kind)),
            _ => None,
        })?;
        let one = |g: &mut Gen| g.value(proto, kind);
        let v = match self.rng.below(10) {
            0 => format!("not {}", one(self)),
            1 => format!("({} or {})", one(self), one(self)),
            2 => format!("({} and {})", one(self), one(self)),
            _ => one(self),
        };
        Some(Node::Bare(v))
    }

    fn term(&mut self, depth: usize) -> Node {
        let r = self.rng.below(100);
        if depth < 4 && r < 10 {
            let w = self.rng.pick(&["not", "not", "!"]);
            return Node::Not(w, Box::new(self.term(depth + 1)));
        }
        if depth < 4 && r < 20 {
            return Node::Paren(Box::new(self.chain(depth + 1)));
        }
        self.primitive()
    }

    fn primitive(&mut self) -> Node {
        match self.rng.below(100) {
            0..=10 => Node::Atom(self.rng.pick(ABBREVS).into()),
            11..=27 => self.host(),
            28..=33 => self.net(),
            34..=44 => self.port(),
            45..=49 => self.proto(),
            50..=52 => {
                let v = if self.rng.pct(25) {
                    self.rng.pick(ETHER_PROTO_NAMES).to_string()
                } else {
                    let n = self.rng.pick(ETHER_PROTOS);
                    self.num_text(n)
                };
                let p = self
                    .rng
                    .pick(&["ether", "ether", "link", "slip", "tr", "wlan"]);
                Node::Qual {
                    proto: p,
                    dir: "",
                    kind: "proto",
                    value: v,
                }
            }
            53..=56 => {
                let p = self
                    .rng
                    .pick(&["", "", "ether", "ip", "ip6", "link", "arp"]);
                let w = self.rng.pick(&["broadcast", "multicast"]);
                Node::Atom(if p.is_empty() {
                    w.into()
                } else {
                    format!("{p} {w}")
                })
            }
            57..=58 => {
                let w = self.rng.pick(&["less", "greater"]);
                let n = self.rng.below(160) as u32 + 20;
                let n = self.num_text(n);
                Node::Atom(format!("{w} {n}"))
            }
            59 => {
                // `byte N op V` on the link-layer header (not `&` and `|`: see ringcap's docs)
                let off = self.rng.below(40) as u32;
                let v = self.rng.pick(SMALL);
                let (off, v) = (self.num_text(off), self.num_text(v));
                let op = self.rng.pick(&["=", "==", "<", ">"]);
                Node::Atom(format!("byte {off} {op} {v}"))
            }
            60 => Node::Atom(self.rng.pick(&["inbound", "outbound"]).into()),
            61 => {
                let n = self.rng.pick(&[0u32, 1, 2, 3, 7]);
                let n = self.num_text(n);
                Node::Atom(format!("ifindex {n}"))
            }
            62..=69 => self.vlan_mpls(),
            70..=71 => Node::Atom(
                self.rng
                    .pick(&[
                        "gateway 10.0.0.1",
                        "ip[0:3] = 1",
                        "tcp[0] & 1",
                        "ether host 10.0.0.1",
                        "ip6 host 10.0.0.1",
                        "port 80 and",
                        "host",
                        "ip[",
                        "1 = 1",
                        "len = len",
                    ])
                    .into(),
            ),
            _ => self.relation(),
        }
    }

    fn host(&mut self) -> Node {
        let proto = self.rng.pick(&[
            "", "", "", "ip", "ip6", "arp", "rarp", "ether", "link", "tcp", "fddi", "ppp",
        ]);
        let dir = if self.rng.pct(3) {
            self.rng.pick(&["addr1", "ra", "ta"])
        } else {
            self.rng.pick(DIRS)
        };
        let kind = if dir.is_empty() || self.rng.pct(60) {
            "host"
        } else {
            ""
        };
        let value = self.value(proto, "host");
        Node::Qual {
            proto,
            dir,
            kind,
            value,
        }
    }

    fn net(&mut self) -> Node {
        let proto = self.rng.pick(&["", "", "ip", "ip6", "arp", "rarp"]);
        let dir = self.rng.pick(DIRS);
        let value = self.value(proto, "net");
        Node::Qual {
            proto,
            dir,
            kind: "net",
            value,
        }
    }

    fn port(&mut self) -> Node {
        let proto = self.rng.pick(&["", "", "tcp", "udp", "sctp", "ip"]);
        let dir = self.rng.pick(DIRS);
        let kind = self.rng.pick(&["port", "port", "port", "portrange"]);
        let value = self.value(proto, kind);
        Node::Qual {
            proto,
            dir,
            kind,
            value,
        }
    }

    fn proto(&mut self) -> Node {
        let chain = self.rng.pct(30);
        let proto = if chain {
            self.rng.pick(&["", "ip", "ip6", "ip6"])
        } else {
            self.rng.pick(&["", "ip", "ip6", "ip", "ip6", "tcp"])
        };
        let kind = if chain { "protochain" } else { "proto" };
        let value = self.value(proto, kind);
        Node::Qual {
            proto,
            dir: "",
            kind,
            value,
        }
    }

    /// A value for the qualifiers: an address of the family they name, a port, a protocol.
    fn value(&mut self, proto: &str, kind: &str) -> String {
        match kind {
            "port" => {
                if self.rng.pct(20) {
                    self.rng.pick(SERVICES).into()
                } else {
                    let p = self.rng.pick(PORTS);
                    self.num_text(p)
                }
            }
            "portrange" => {
                if self.rng.pct(20) {
                    let p = self.rng.pick(PORTS).min(65535);
                    p.to_string()
                } else {
                    self.rng.pick(RANGES).into()
                }
            }
            "proto" | "protochain" => {
                if self.rng.pct(30) {
                    self.rng.pick(IP_PROTO_NAMES).into()
                } else {
                    let p = self.rng.pick(IP_PROTOS);
                    self.num_text(p)
                }
            }
            "net" => {
                if proto == "ip6" || (proto.is_empty() && self.rng.pct(25)) {
                    self.rng.pick(V6_NETS).into()
                } else {
                    self.rng.pick(V4_NETS).into()
                }
            }
            _ => match proto {
                "ether" | "link" | "fddi" | "ppp" => self.rng.pick(MACS).into(),
                "ip6" => self.rng.pick(V6_HOSTS).into(),
                _ => match self.rng.below(10) {
                    0 => self.rng.pick(V6_HOSTS).into(),
                    1 => {
                        let h = self
                            .rng
                            .pick(&[0x0a00_0001u32, 0x0a00_0002, 0x0102_0304, 7]);
                        self.num_text(h)
                    }
                    2 if proto.is_empty() => self.rng.pick(MACS).into(),
                    _ => self.rng.pick(V4_HOSTS).into(),
                },
            },
        }
    }

    fn vlan_mpls(&mut self) -> Node {
        let vlan = self.rng.pct(60);
        let w = if vlan { "vlan" } else { "mpls" };
        if self.rng.pct(35) {
            return Node::Atom(w.into());
        }
        let n = if vlan {
            self.rng.pick(&[10u32, 20, 30, 100, 200, 4095, 0, 1, 5000])
        } else {
            self.rng.pick(&[100u32, 200, 7, 0, 1, 1048575, 1048576])
        };
        let n = self.num_text(n);
        Node::Atom(format!("{w} {n}"))
    }

    fn relation(&mut self) -> Node {
        let op = self
            .rng
            .pick(&[">", ">=", "<", "<=", "=", "==", "!=", "=", "!="]);
        let a = self.arith(0, true);
        let b = if self.rng.pct(70) {
            self.leaf()
        } else {
            self.arith(1, false)
        };
        if self.rng.pct(15) {
            Node::Rel(b, op, a)
        } else {
            Node::Rel(a, op, b)
        }
    }

    fn leaf(&mut self) -> Arith {
        match self.rng.below(20) {
            0..=9 => {
                let n = self.rng.pick(SMALL);
                self.num(n)
            }
            10..=13 => {
                let n = self.rng.pick(MASKS);
                self.num(n)
            }
            14..=15 => Arith::Named(self.rng.pick(NAMED)),
            16 => {
                if self.rng.pct(80) {
                    Arith::Len
                } else {
                    Arith::Named("length")
                }
            }
            17 => {
                let n = self.rng.next() as u32;
                self.num(n)
            }
            _ => {
                let n = self.rng.below(256) as u32;
                self.num(n)
            }
        }
    }

    fn load(&mut self, depth: usize) -> Arith {
        let p = self.rng.pick(LOAD_PROTOS);
        let idx = if depth < 2 && self.rng.pct(15) {
            self.arith(depth + 1, true)
        } else if self.rng.pct(10) {
            Arith::Named(self.rng.pick(NAMED))
        } else {
            let n = self.rng.below(48) as u32;
            self.num(n)
        };
        let size = match self.rng.below(20) {
            0..=7 => None,
            8..=11 => Some(1),
            12..=16 => Some(2),
            17..=18 => Some(4),
            _ => Some(self.rng.pick(&[0, 3, 8])),
        };
        Arith::Load(p, Box::new(idx), size)
    }

    fn arith(&mut self, depth: usize, want_load: bool) -> Arith {
        let r = self.rng.below(100);
        if want_load && r < 45 {
            return self.load(depth);
        }
        if depth >= 3 || r < 55 {
            return if self.rng.pct(50) {
                self.load(depth.max(1))
            } else {
                self.leaf()
            };
        }
        match r {
            55..=87 => {
                let op = self.rng.pick(&[
                    "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "&", "+", "-",
                ]);
                let a = self.arith(depth + 1, true);
                let b = if self.rng.pct(65) {
                    self.leaf()
                } else {
                    self.arith(depth + 1, false)
                };
                Arith::Bin(Box::new(a), op, Box::new(b), !self.rng.pct(10))
            }
            88..=93 => Arith::Neg(Box::new(self.arith(depth + 1, true))),
            _ => Arith::Paren(Box::new(self.arith(depth + 1, true))),
        }
    }
}
