//! Parser and code generator. A recursive-descent parser over libpcap's grammar that generates
//! code as it goes, in source order, as libpcap's parser actions do (this matters: `vlan` and
//! `mpls` move the offsets of everything generated after them).
//!
//! Precedence as libpcap: `not` binds tightest, `and` and `or` have the same precedence and
//! associate to the left. A bare address or number after `and`/`or` takes the qualifiers of the
//! term before it (`host a or b`, `port 80 or 443`).

use crate::bpf::*;
use crate::lexer::{lex, Tok, Token};
use crate::names;
use crate::opt::{Chain, Cond, HostSet, PortSet};
use crate::{CompileError, Insn, LinkType, Target};
use std::rc::Rc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proto {
    Default,
    Link,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Icmp,
    Icmp6,
    Igmp,
    Sctp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Default => "default",
            Proto::Link => "link",
            Proto::Ip => "ip",
            Proto::Ip6 => "ip6",
            Proto::Arp => "arp",
            Proto::Rarp => "rarp",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmp6 => "icmp6",
            Proto::Igmp => "igmp",
            Proto::Sctp => "sctp",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    Default,
    Src,
    Dst,
    Or,
    And,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Addr {
    Default,
    Host,
    Net,
    Port,
    Portrange,
    Proto,
    Protochain,
    Gateway,
}

#[derive(Clone, Copy, Debug)]
struct Q {
    proto: Proto,
    dir: Dir,
    addr: Addr,
    err: bool,
}

const QERR: Q = Q {
    proto: Proto::Default,
    dir: Dir::Default,
    addr: Addr::Default,
    err: true,
};

/// Offsets that `vlan` and `mpls` move for the rest of the expression.
#[derive(Clone, Debug)]
struct LinkState {
    off_lt: u32,
    off_nl: u32,
    mpls_depth: u32,
    live_vlan_done: bool,
}

type R<T> = Result<T, CompileError>;

fn ld(sz: u16, off: u32) -> Insn {
    Insn {
        code: LD | sz | ABS,
        jt: 0,
        jf: 0,
        k: off,
    }
}
fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
fn cmp(sz: u16, off: u32, jop: u16, k: u32) -> Cond {
    Cond::test(vec![ld(sz, off)], jop | K, k)
}
fn mcmp(sz: u16, off: u32, mask: u32, k: u32) -> Cond {
    let full = match sz {
        W => 0xffff_ffff,
        H => 0xffff,
        _ => 0xff,
    };
    if mask == 0 {
        // nothing to compare: libpcap's optimizer drops the load too
        Cond::Const(k == 0)
    } else if mask == full {
        cmp(sz, off, JEQ, k)
    } else {
        Cond::test(
            vec![ld(sz, off), stmt(ALU | AND | K, mask)],
            JEQ | K,
            k & mask,
        )
    }
}
fn any_of(v: impl IntoIterator<Item = Cond>) -> Cond {
    v.into_iter().fold(Cond::Const(false), |a, c| a.or(c))
}

/// An arithmetic value: statements that leave it in A, and the conditions its loads need.
#[derive(Clone)]
enum Ar {
    Const(u32),
    Dyn { stmts: Vec<Insn>, checks: Cond },
}

impl Ar {
    fn parts(self) -> (Vec<Insn>, Cond) {
        match self {
            Ar::Const(k) => (vec![stmt(LD | IMM, k)], Cond::Const(true)),
            Ar::Dyn { stmts, checks } => (stmts, checks),
        }
    }
}

struct P {
    toks: Vec<Token>,
    pos: usize,
    link: LinkType,
    target: Target,
    st: LinkState,
    scratch: u32,
}

pub fn parse(expr: &str, link: LinkType, target: Target) -> R<Cond> {
    let toks = lex(expr)?;
    let (off_lt, off_nl) = match link {
        LinkType::Ethernet => (12, 14),
        LinkType::LinuxSll => (14, 16),
        LinkType::LinuxSll2 => (0, 20),
        LinkType::Null => (0, 4),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => (0, 0),
    };
    let mut p = P {
        toks,
        pos: 0,
        link,
        target,
        st: LinkState {
            off_lt,
            off_nl,
            mpls_depth: 0,
            live_vlan_done: false,
        },
        scratch: 0,
    };
    if p.at_end() {
        return Ok(Cond::Const(true));
    }
    let (c, _) = p.expr(QERR)?;
    if !p.at_end() {
        return Err(p.syntax("expected 'and', 'or' or the end of the expression"));
    }
    Ok(c)
}

/// `a or b`, merging two port tests with the same prerequisites and direction into one.
fn or(a: Cond, b: Cond) -> Cond {
    match (a, b) {
        (Cond::Ports(mut x), Cond::Ports(y)) if x.key == y.key => {
            x.ranges.extend(y.ranges);
            Cond::Ports(x)
        }
        (Cond::Hosts(mut x), Cond::Hosts(y)) if x.key == y.key => {
            x.values.extend(y.values);
            Cond::Hosts(x)
        }
        (a, b) => a.or(b),
    }
}

const PNAMES: &[(&str, Proto)] = &[
    ("ether", Proto::Link),
    ("link", Proto::Link),
    ("ip", Proto::Ip),
    ("ip6", Proto::Ip6),
    ("arp", Proto::Arp),
    ("rarp", Proto::Rarp),
    ("tcp", Proto::Tcp),
    ("udp", Proto::Udp),
    ("icmp", Proto::Icmp),
    ("icmp6", Proto::Icmp6),
    ("igmp", Proto::Igmp),
    ("sctp", Proto::Sctp),
];

const UNSUPPORTED_KW: &[&str] = &[
    "fddi",
    "tr",
    "wlan",
    "atalk",
    "aarp",
    "decnet",
    "lat",
    "sca",
    "moprc",
    "mopdl",
    "iso",
    "esis",
    "es-is",
    "isis",
    "is-is",
    "clnp",
    "stp",
    "ipx",
    "netbeui",
    "pim",
    "vrrp",
    "carp",
    "igrp",
    "ah",
    "esp",
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "pppoed",
    "pppoes",
    "geneve",
    "radio",
    "llc",
    "type",
    "subtype",
    "dir",
    "ra",
    "ta",
    "addr1",
    "addr2",
    "addr3",
    "addr4",
    "atm",
    "lane",
    "oamf4",
    "oamf4ec",
    "oamf4sc",
    "oam",
    "metac",
    "bcc",
    "sc",
    "ilmic",
    "metaconnect",
    "connectmsg",
    "vpi",
    "vci",
    "sio",
    "opc",
    "dpc",
    "sls",
    "hsio",
    "hopc",
    "hdpc",
    "hsls",
    "fisu",
    "lssu",
    "msu",
    "hfisu",
    "hlssu",
    "hmsu",
    "on",
    "ifname",
    "rnr",
    "rulenum",
    "reason",
    "rset",
    "ruleset",
    "srnr",
    "subrulenum",
    "action",
    "iptv6",
];

const KEYWORDS: &[&str] = &[
    "host",
    "net",
    "port",
    "portrange",
    "proto",
    "protochain",
    "gateway",
    "src",
    "dst",
    "not",
    "and",
    "or",
    "less",
    "greater",
    "len",
    "inbound",
    "outbound",
    "vlan",
    "mpls",
    "broadcast",
    "multicast",
    "mask",
];

impl P {
    fn tok(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn tok_at(&self, i: usize) -> &Tok {
        &self.toks[(self.pos + i).min(self.toks.len() - 1)].tok
    }
    fn at_end(&self) -> bool {
        matches!(self.tok(), Tok::End)
    }
    fn off(&self) -> usize {
        self.toks[self.pos].off
    }
    fn is_kw_at(&self, i: usize, kw: &str) -> bool {
        matches!(self.tok_at(i), Tok::Id(s) if s == kw)
    }
    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }
    fn is_p(&self, p: &str) -> bool {
        matches!(self.tok(), Tok::Punct(q) if *q == p)
    }
    fn is_p_at(&self, i: usize, p: &str) -> bool {
        matches!(self.tok_at(i), Tok::Punct(q) if *q == p)
    }
    fn err_at(&self, msg: impl Into<String>, off: usize) -> CompileError {
        CompileError {
            message: msg.into(),
            offset: Some(off),
        }
    }
    fn syntax(&self, what: &str) -> CompileError {
        let t = &self.toks[self.pos];
        let found = if matches!(t.tok, Tok::End) {
            "end of expression".to_string()
        } else {
            format!("'{}'", t.text)
        };
        self.err_at(format!("syntax error at {found}: {what}"), t.off)
    }
    fn unsupported(&self, what: &str, off: usize) -> CompileError {
        self.err_at(format!("{what} is not supported yet"), off)
    }
    fn is_and(&self) -> bool {
        self.is_kw("and") || self.is_p("&&")
    }
    fn is_or(&self) -> bool {
        self.is_kw("or") || self.is_p("||")
    }
    fn is_not(&self) -> bool {
        self.is_kw("not") || self.is_p("!")
    }
    fn pname_at(&self, i: usize) -> Option<Proto> {
        match self.tok_at(i) {
            Tok::Id(s) => PNAMES.iter().find(|(n, _)| n == s).map(|(_, p)| *p),
            _ => None,
        }
    }
    fn expect_p(&mut self, p: &str) -> R<()> {
        if self.is_p(p) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax(&format!("expected '{p}'")))
        }
    }

    // ---- grammar -------------------------------------------------------------------------

    fn expr(&mut self, q0: Q) -> R<(Cond, Q)> {
        let (mut c, mut q) = self.term(q0)?;
        while let Some(and) = self.take_and_or() {
            let (r, rq) = self.term_or_id(q)?;
            c = if and { c.and(r) } else { or(c, r) };
            q = rq;
        }
        Ok((c, q))
    }

    /// Takes an `and`/`&&` (true) or `or`/`||` (false) if one comes next.
    fn take_and_or(&mut self) -> Option<bool> {
        let and = if self.is_and() {
            true
        } else if self.is_or() {
            false
        } else {
            return None;
        };
        self.pos += 1;
        Some(and)
    }

    /// After `and`/`or`: a bare id takes the previous qualifiers, else a full term.
    fn term_or_id(&mut self, q: Q) -> R<(Cond, Q)> {
        let id_like = match self.tok() {
            Tok::V4(..) | Tok::V6(_) | Tok::Mac(_) | Tok::Esc(_) => true,
            Tok::Id(s) => {
                !KEYWORDS.contains(&s.as_str())
                    && !PNAMES.iter().any(|(n, _)| n == s)
                    && !UNSUPPORTED_KW.contains(&s.as_str())
            }
            Tok::Num(_) => !self.is_arith_follow(1),
            Tok::Punct("(") => {
                let save = (self.pos, self.st.clone());
                match self.id(q) {
                    Ok(r) => return Ok(r),
                    Err(_) => {
                        self.pos = save.0;
                        self.st = save.1;
                        false
                    }
                }
            }
            _ => false,
        };
        if id_like {
            self.id(q)
        } else {
            self.term(q)
        }
    }

    fn is_arith_follow(&self, i: usize) -> bool {
        matches!(self.tok_at(i), Tok::Punct(p) if matches!(*p, "+" | "-" | "*" | "/" | "%" | "&" | "|" | "^" | "<<" | ">>" | "=" | "==" | "!=" | "<" | "<=" | ">" | ">="))
    }

    /// `id`: a name, address or number with the inherited qualifiers, or `( id and|or id ... )`.
    fn id(&mut self, q: Q) -> R<(Cond, Q)> {
        if self.is_p("(") {
            self.pos += 1;
            let (mut c, _) = self.id(q)?;
            while let Some(and) = self.take_and_or() {
                let (r, _) = self.id(q)?;
                c = if and { c.and(r) } else { or(c, r) };
            }
            self.expect_p(")")?;
            return Ok((c, q));
        }
        if q.err {
            return Err(self.syntax(
                "a bare address or number needs a qualifier (host, net, port...) before it",
            ));
        }
        let c = self.nid(q)?;
        Ok((c, q))
    }

    fn term(&mut self, q0: Q) -> R<(Cond, Q)> {
        if self.is_not() {
            self.pos += 1;
            let (c, q) = self.term(q0)?;
            return Ok((c.not(), q));
        }
        if self.is_p("(") {
            let save = (self.pos, self.st.clone());
            self.pos += 1;
            let first = self.expr(q0).and_then(|r| self.expect_p(")").map(|_| r));
            match first {
                Ok((c, _)) => return Ok((c, q0)),
                Err(e1) => {
                    let far1 = self.pos;
                    self.pos = save.0;
                    self.st = save.1.clone();
                    match self.relation() {
                        Ok(c) => return Ok((c, QERR)),
                        Err(e2) => {
                            let far2 = self.pos;
                            self.pos = save.0;
                            self.st = save.1;
                            return Err(if far2 > far1 { e2 } else { e1 });
                        }
                    }
                }
            }
        }
        let start = self.off();
        match self.tok().clone() {
            Tok::Num(_) => return Ok((self.relation()?, QERR)),
            Tok::Punct("-") => return Ok((self.relation()?, QERR)),
            Tok::Id(s) => {
                let s = s.as_str();
                match s {
                    "len" => return Ok((self.relation()?, QERR)),
                    "less" | "greater" => {
                        self.pos += 1;
                        let n = self.pnum()?;
                        let t = Cond::test(
                            vec![stmt(LD | W | LEN, 0)],
                            if s == "less" { JGT } else { JGE },
                            n,
                        );
                        return Ok((if s == "less" { t.not() } else { t }, QERR));
                    }
                    "inbound" | "outbound" => {
                        self.pos += 1;
                        return Ok((self.direction(s == "outbound", start)?, QERR));
                    }
                    "vlan" => {
                        self.pos += 1;
                        let n = if matches!(self.tok(), Tok::Num(_)) {
                            Some(self.pnum()?)
                        } else {
                            None
                        };
                        return Ok((self.vlan(n, start)?, QERR));
                    }
                    "mpls" => {
                        self.pos += 1;
                        let n = if matches!(self.tok(), Tok::Num(_)) {
                            Some(self.pnum()?)
                        } else {
                            None
                        };
                        return Ok((self.mpls(n, start)?, QERR));
                    }
                    _ if UNSUPPORTED_KW.contains(&s) => {
                        return Err(self.unsupported(&format!("'{s}'"), start));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        // head: [pname] [dqual] [aqual | proto | protochain | broadcast | multicast]
        let pq = self.pname_at(0);
        if pq.is_some() && self.is_p_at(1, "[") {
            return Ok((self.relation()?, QERR));
        }
        let mut q = Q {
            proto: pq.unwrap_or(Proto::Default),
            dir: Dir::Default,
            addr: Addr::Default,
            err: false,
        };
        if pq.is_some() {
            self.pos += 1;
        }
        let mut have_dq = false;
        if self.is_kw("src") || self.is_kw("dst") {
            let first_src = self.is_kw("src");
            have_dq = true;
            self.pos += 1;
            let other = if first_src { "dst" } else { "src" };
            if (self.is_kw("or") || self.is_kw("and")) && self.is_kw_at(1, other) {
                q.dir = if self.is_kw("or") { Dir::Or } else { Dir::And };
                self.pos += 2;
            } else {
                q.dir = if first_src { Dir::Src } else { Dir::Dst };
            }
        }
        let aq = match self.tok() {
            Tok::Id(s) => match s.as_str() {
                "host" => Some(Addr::Host),
                "net" => Some(Addr::Net),
                "port" => Some(Addr::Port),
                "portrange" => Some(Addr::Portrange),
                "gateway" => Some(Addr::Gateway),
                "proto" if !have_dq => Some(Addr::Proto),
                "protochain" if !have_dq => Some(Addr::Protochain),
                _ => None,
            },
            _ => None,
        };
        if let Some(a) = aq {
            q.addr = a;
            self.pos += 1;
        } else if !have_dq && (self.is_kw("broadcast") || self.is_kw("multicast")) {
            let bc = self.is_kw("broadcast");
            self.pos += 1;
            let c = if bc {
                self.broadcast(q.proto, start)?
            } else {
                self.multicast(q.proto, start)?
            };
            return Ok((c, QERR));
        } else if !have_dq {
            if let Some(p) = pq {
                return Ok((self.proto_abbrev(p, start)?, QERR));
            }
            return Err(
                self.syntax("expected a primitive (host, net, port, ip, tcp, ...), 'not' or '('")
            );
        }
        if q.addr == Addr::Gateway {
            return Err(self.unsupported("'gateway'", start));
        }
        self.id(q)
    }

    fn pnum(&mut self) -> R<u32> {
        match *self.tok() {
            Tok::Num(n) => {
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.syntax("expected a number")),
        }
    }

    // ---- ids -----------------------------------------------------------------------------

    fn nid(&mut self, q: Q) -> R<Cond> {
        let off = self.off();
        let tok = self.tok().clone();
        let text = self.toks[self.pos].text.clone();
        self.pos += 1;
        match tok {
            Tok::Num(n) => self.ncode(None, n, 32, q, off),
            Tok::V4(v, bits) => {
                if self.is_p("/") {
                    self.pos += 1;
                    let len = self.pnum()?;
                    if len > 32 {
                        return Err(self.err_at(format!("mask length must be <= 32: {len}"), off));
                    }
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    self.mcode(v << (32 - bits), mask, q, off, &format!("{text}/{len}"))
                } else if self.is_kw("mask") {
                    self.pos += 1;
                    let m = match *self.tok() {
                        Tok::V4(m, 32) => m,
                        _ => return Err(self.syntax("expected a dotted netmask")),
                    };
                    self.pos += 1;
                    self.mcode(v << (32 - bits), m, q, off, &text)
                } else {
                    self.ncode(Some(&text), v, bits, q, off)
                }
            }
            Tok::V6(a) => {
                let mut len = 128;
                if self.is_p("/") {
                    self.pos += 1;
                    len = self.pnum()?;
                    if len > 128 {
                        return Err(self.err_at(format!("mask length must be <= 128: {len}"), off));
                    }
                }
                let mut mask = [0u8; 16];
                for (i, m) in mask.iter_mut().enumerate() {
                    let bits = (len as i32 - 8 * i as i32).clamp(0, 8);
                    *m = (0xff00u16 >> bits) as u8;
                }
                if a.iter().zip(mask).any(|(x, m)| x & !m != 0) {
                    return Err(
                        self.err_at(format!("non-network bits set in \"{text}/{len}\""), off)
                    );
                }
                match q.addr {
                    Addr::Default | Addr::Host | Addr::Net => {}
                    _ => return Err(self.err_at("illegal qualifier for an IPv6 address", off)),
                }
                if len < 128 && q.addr == Addr::Host {
                    return Err(self.err_at("mask syntax for networks only", off));
                }
                self.host6(a, mask, q, off)
            }
            Tok::Mac(m) => {
                if q.proto != Proto::Link || !matches!(q.addr, Addr::Default | Addr::Host) {
                    return Err(self.err_at("ethernet address used in non-ether expression", off));
                }
                self.ehost(m, q.dir, off)
            }
            Tok::Id(s)
                if KEYWORDS.contains(&s.as_str())
                    || PNAMES.iter().any(|(n, _)| *n == s)
                    || UNSUPPORTED_KW.contains(&s.as_str()) =>
            {
                // libpcap's lexer makes these keywords, never names: `proto tcp` is a syntax
                // error there (`proto \tcp` is the name)
                self.pos -= 1;
                Err(self.syntax("a keyword cannot be used as a name here (escape it: \\name)"))
            }
            Tok::Id(s) | Tok::Esc(s) => self.scode(&s, q, off),
            _ => {
                self.pos -= 1;
                Err(self.syntax("expected an address, number or name"))
            }
        }
    }

    fn ncode(&mut self, s: Option<&str>, v: u32, vlen: u32, q: Q, off: usize) -> R<Cond> {
        let dir = q.dir;
        match q.addr {
            Addr::Default | Addr::Host | Addr::Net => {
                if q.proto == Proto::Link {
                    return Err(self.err_at("illegal link layer address", off));
                }
                let (mut v, mut mask) = (v, u32::MAX);
                if s.is_none() && q.addr == Addr::Net {
                    while v != 0 && v & 0xff00_0000 == 0 {
                        v <<= 8;
                        mask <<= 8;
                    }
                } else if vlen < 32 {
                    v <<= 32 - vlen;
                    mask <<= 32 - vlen;
                }
                self.host(v, mask, q.proto, dir, off)
            }
            Addr::Port => {
                if v > 65535 {
                    return Err(self.err_at(format!("illegal port number {v} > 65535"), off));
                }
                self.port(v, v, q.proto, dir, off)
            }
            Addr::Portrange => {
                if v > 65535 {
                    return Err(self.err_at(format!("illegal port number {v} > 65535"), off));
                }
                self.port(v, v, q.proto, dir, off)
            }
            Addr::Proto => {
                if dir != Dir::Default {
                    return Err(self.err_at("'src'/'dst' cannot qualify 'proto'", off));
                }
                self.proto_num(v, q.proto, off)
            }
            Addr::Protochain => self.protochain(v, q.proto, off),
            Addr::Gateway => Err(self.unsupported("'gateway'", off)),
        }
    }

    fn mcode(&mut self, v: u32, mask: u32, q: Q, off: usize, text: &str) -> R<Cond> {
        if v & !mask != 0 {
            return Err(self.err_at(format!("non-network bits set in \"{text}\""), off));
        }
        match q.addr {
            Addr::Default | Addr::Net => self.host(v, mask, q.proto, q.dir, off),
            _ => Err(self.err_at("mask syntax for networks only", off)),
        }
    }

    fn scode(&mut self, name: &str, q: Q, off: usize) -> R<Cond> {
        match q.addr {
            Addr::Default | Addr::Host => {
                if q.proto == Proto::Link {
                    Err(self.unsupported(&format!("ethernet host names ('{name}')"), off))
                } else {
                    Err(self.err_at(
                        format!("host names ('{name}') are not supported yet: use an address"),
                        off,
                    ))
                }
            }
            Addr::Net => Err(self.err_at(
                format!("network names ('{name}') are not supported yet: use an address"),
                off,
            )),
            Addr::Port => {
                let (p, proto) = self.service(name, q.proto).ok_or_else(|| {
                    self.err_at(format!("unknown {} port '{name}'", q.proto.name()), off)
                })?;
                self.port(p, p, proto, q.dir, off)
            }
            Addr::Portrange => {
                let (lo, hi) = self
                    .port_range(name)
                    .ok_or_else(|| self.err_at(format!("illegal port range '{name}'"), off))?;
                self.port(lo, hi, q.proto, q.dir, off)
            }
            Addr::Proto => {
                if q.dir != Dir::Default {
                    return Err(self.err_at("'src'/'dst' cannot qualify 'proto'", off));
                }
                let v = match q.proto {
                    Proto::Link => names::ether_proto(name),
                    Proto::Default | Proto::Ip | Proto::Ip6 => names::ip_proto(name),
                    _ => None,
                };
                let v = v.ok_or_else(|| {
                    self.err_at(format!("unknown {} proto '{name}'", q.proto.name()), off)
                })?;
                self.proto_num(v, q.proto, off)
            }
            Addr::Protochain => {
                let v = names::ip_proto(name)
                    .ok_or_else(|| self.err_at(format!("unknown ip proto '{name}'"), off))?;
                self.protochain(v, q.proto, off)
            }
            Addr::Gateway => Err(self.unsupported("'gateway'", off)),
        }
    }

    /// `[ip|ip6] protochain N`: the IPv4 walk or'ed with the IPv6 walk for the bare form, in
    /// libpcap's order (see [`Chain`] for the walk and its bound).
    fn protochain(&self, v: u32, p: Proto, off: usize) -> R<Cond> {
        let walk = |v6: bool| -> R<Cond> {
            let chain = Cond::Chain(Rc::new(Chain {
                v6,
                nl: self.st.off_nl,
                proto: v,
            }));
            Ok(self
                .linktype(if v6 { 0x86dd } else { 0x0800 }, off)?
                .and(chain))
        };
        match p {
            Proto::Ip => walk(false),
            Proto::Ip6 => walk(true),
            Proto::Default => Ok(walk(false)?.or(walk(true)?)),
            _ => Err(self.err_at("bad protocol applied for 'protochain'", off)),
        }
    }

    /// A service name as libpcap resolves it: the port, and the protocol it narrows `port` to
    /// (a name known for TCP and UDP alike keeps every transport).
    fn service(&self, name: &str, proto: Proto) -> Option<(u32, Proto)> {
        let (tcp, udp) = (names::service(name, "tcp"), names::service(name, "udp"));
        match proto {
            Proto::Tcp => tcp.map(|p| (p, Proto::Tcp)),
            Proto::Udp => udp.map(|p| (p, Proto::Udp)),
            Proto::Sctp => names::service(name, "sctp")
                .or(tcp)
                .or(udp)
                .map(|p| (p, Proto::Sctp)),
            _ => match (tcp, udp) {
                (Some(t), Some(u)) if t == u => Some((t, proto)),
                (Some(t), None) => Some((t, Proto::Tcp)),
                (None, Some(u)) => Some((u, Proto::Udp)),
                _ => None,
            },
        }
    }

    fn port_range(&self, name: &str) -> Option<(u32, u32)> {
        let one = |s: &str| -> Option<u32> {
            match crate::lexer::parse_num(s) {
                Some(Ok(n)) if n <= 65535 => Some(n),
                Some(_) => None,
                None => self.service(s, Proto::Default).map(|p| p.0),
            }
        };
        let (a, b) = name.split_once('-')?;
        let (a, b) = (one(a)?, one(b)?);
        Some(if a <= b { (a, b) } else { (b, a) })
    }

    // ---- link layer ----------------------------------------------------------------------

    fn linktype(&self, et: u32, off: usize) -> R<Cond> {
        let nl = self.st.off_nl;
        if self.st.mpls_depth > 0 {
            let bos = mcmp(B, nl - 2, 0x01, 0x01);
            return match et {
                0x0800 => Ok(bos.and(mcmp(B, nl, 0xf0, 0x40))),
                0x86dd => Ok(bos.and(mcmp(B, nl, 0xf0, 0x60))),
                _ => Err(self.err_at("only ip and ip6 are supported inside mpls", off)),
            };
        }
        Ok(match self.link {
            LinkType::Ethernet => {
                let o = self.st.off_lt;
                if et <= 1500 {
                    cmp(H, o, JGT, 1500).not().and(cmp(B, o + 2, JEQ, et))
                } else {
                    cmp(H, o, JEQ, et)
                }
            }
            LinkType::LinuxSll => {
                if et <= 1500 {
                    // an 802.2 LLC frame (protocol LINUX_SLL_P_802_2) with that DSAP
                    cmp(H, self.st.off_lt, JEQ, 4).and(cmp(B, self.st.off_nl, JEQ, et))
                } else {
                    cmp(H, self.st.off_lt, JEQ, et)
                }
            }
            LinkType::LinuxSll2 => cmp(H, self.st.off_lt, JEQ, et),
            LinkType::Raw => match et {
                0x0800 => mcmp(B, 0, 0xf0, 0x40),
                0x86dd => mcmp(B, 0, 0xf0, 0x60),
                _ => Cond::Const(false),
            },
            LinkType::Ipv4 => Cond::Const(et == 0x0800),
            LinkType::Ipv6 => Cond::Const(et == 0x86dd),
            LinkType::Null => match et {
                0x0800 => cmp(W, 0, JEQ, 2u32.to_be()),
                0x86dd => any_of([24u32, 28, 30].map(|af| cmp(W, 0, JEQ, af.to_be()))),
                _ => Cond::Const(false),
            },
        })
    }

    fn ipv4(&self, off: usize) -> R<Cond> {
        self.linktype(0x0800, off)
    }
    fn ipv6(&self, off: usize) -> R<Cond> {
        self.linktype(0x86dd, off)
    }
    fn v4_proto(&self, p: u32, off: usize) -> R<Cond> {
        Ok(self.ipv4(off)?.and(cmp(B, self.st.off_nl + 9, JEQ, p)))
    }
    fn v6_proto(&self, p: u32, off: usize) -> R<Cond> {
        let nl = self.st.off_nl;
        let direct = cmp(B, nl + 6, JEQ, p);
        let frag = cmp(B, nl + 6, JEQ, 44).and(cmp(B, nl + 40, JEQ, p));
        Ok(self.ipv6(off)?.and(direct.or(frag)))
    }
    fn nofrag(&self) -> Cond {
        cmp(H, self.st.off_nl + 6, JSET, 0x1fff).not()
    }

    fn proto_abbrev(&self, p: Proto, off: usize) -> R<Cond> {
        match p {
            Proto::Link => Err(self.err_at("'ether'/'link' needs a qualifier (host, src, dst, proto, broadcast, multicast) or [ ]", off)),
            Proto::Ip => self.ipv4(off),
            Proto::Ip6 => self.ipv6(off),
            Proto::Arp => self.linktype(0x0806, off),
            Proto::Rarp => self.linktype(0x8035, off),
            Proto::Tcp => Ok(self.v4_proto(6, off)?.or(self.v6_proto(6, off)?)),
            Proto::Udp => Ok(self.v4_proto(17, off)?.or(self.v6_proto(17, off)?)),
            Proto::Sctp => Ok(self.v4_proto(132, off)?.or(self.v6_proto(132, off)?)),
            Proto::Icmp => self.v4_proto(1, off),
            Proto::Igmp => self.v4_proto(2, off),
            Proto::Icmp6 => self.v6_proto(58, off),
            Proto::Default => Err(self.syntax("expected a protocol")),
        }
    }

    fn proto_num(&self, v: u32, p: Proto, off: usize) -> R<Cond> {
        match p {
            Proto::Link => self.linktype(v, off),
            Proto::Default => Ok(self.v4_proto(v, off)?.or(self.v6_proto(v, off)?)),
            Proto::Ip => self.v4_proto(v, off),
            Proto::Ip6 => self.v6_proto(v, off),
            _ => Err(self.err_at(format!("'{}' cannot qualify 'proto'", p.name()), off)),
        }
    }

    fn dirs(&self, dir: Dir, src_off: u32, dst_off: u32, f: impl Fn(u32) -> Cond) -> Cond {
        match dir {
            Dir::Src => f(src_off),
            Dir::Dst => f(dst_off),
            Dir::Default | Dir::Or => f(src_off).or(f(dst_off)),
            Dir::And => f(src_off).and(f(dst_off)),
        }
    }

    fn host(&self, v: u32, mask: u32, proto: Proto, dir: Dir, off: usize) -> R<Cond> {
        let nl = self.st.off_nl;
        if dir != Dir::And {
            let mut parts = Vec::new();
            if matches!(proto, Proto::Default | Proto::Ip) {
                parts.push((self.ipv4(off)?, nl + 12, nl + 16));
            }
            if (proto == Proto::Default && self.st.mpls_depth == 0) || proto == Proto::Arp {
                parts.push((self.linktype(0x0806, off)?, nl + 14, nl + 24));
            }
            if (proto == Proto::Default && self.st.mpls_depth == 0) || proto == Proto::Rarp {
                parts.push((self.linktype(0x8035, off)?, nl + 14, nl + 24));
            }
            if parts.is_empty() {
                return Err(self.err_at(
                    format!("'{}' modifier applied to ip host", proto.name()),
                    off,
                ));
            }
            let d = match dir {
                Dir::Src => 0,
                Dir::Dst => 1,
                _ => 2,
            };
            let pk = match proto {
                Proto::Ip => 1,
                Proto::Arp => 2,
                Proto::Rarp => 3,
                _ => 0,
            };
            return Ok(Cond::Hosts(Box::new(HostSet {
                parts,
                dir: d,
                values: vec![(v, mask)],
                key: (pk, d, nl, self.st.off_lt, self.st.mpls_depth),
            })));
        }
        let ip = |s: &Self| -> R<Cond> {
            Ok(s.ipv4(off)?
                .and(s.dirs(dir, nl + 12, nl + 16, |o| mcmp(W, o, mask, v))))
        };
        let arp = |s: &Self, et: u32| -> R<Cond> {
            Ok(s.linktype(et, off)?
                .and(s.dirs(dir, nl + 14, nl + 24, |o| mcmp(W, o, mask, v))))
        };
        match proto {
            Proto::Default => {
                let mut c = ip(self)?;
                if self.st.mpls_depth == 0 {
                    c = c.or(arp(self, 0x0806)?).or(arp(self, 0x8035)?);
                }
                Ok(c)
            }
            Proto::Ip => ip(self),
            Proto::Arp => arp(self, 0x0806),
            Proto::Rarp => arp(self, 0x8035),
            p => Err(self.err_at(format!("'{}' modifier applied to ip host", p.name()), off)),
        }
    }

    fn host6(&self, a: [u8; 16], m: [u8; 16], q: Q, off: usize) -> R<Cond> {
        if !matches!(q.proto, Proto::Default | Proto::Ip6) {
            return Err(self.err_at(
                format!("'{}' modifier applied to ip6 host", q.proto.name()),
                off,
            ));
        }
        let nl = self.st.off_nl;
        let word = |b: &[u8; 16], i: usize| {
            u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        };
        let f = |o: u32| {
            let mut c = Cond::Const(true);
            for i in (0..4).rev() {
                let mw = word(&m, i);
                if mw != 0 {
                    c = c.and(mcmp(W, o + 4 * i as u32, mw, word(&a, i)));
                }
            }
            c
        };
        Ok(self.ipv6(off)?.and(self.dirs(q.dir, nl + 8, nl + 24, f)))
    }

    fn ehost(&self, m: [u8; 6], dir: Dir, off: usize) -> R<Cond> {
        if self.link != LinkType::Ethernet {
            return Err(self.unsupported("'ether host' on this link type", off));
        }
        let lo = u32::from_be_bytes([m[2], m[3], m[4], m[5]]);
        let hi = u16::from_be_bytes([m[0], m[1]]) as u32;
        Ok(self.dirs(dir, 6, 0, |o| {
            cmp(W, o + 2, JEQ, lo).and(cmp(H, o, JEQ, hi))
        }))
    }

    fn port(&mut self, lo: u32, hi: u32, proto: Proto, dir: Dir, off: usize) -> R<Cond> {
        let ps: &[u32] = match proto {
            Proto::Default => &[132, 6, 17],
            Proto::Tcp => &[6],
            Proto::Udp => &[17],
            Proto::Sctp => &[132],
            p => return Err(self.err_at(format!("'{}' cannot qualify 'port'", p.name()), off)),
        };
        let nl = self.st.off_nl;
        if dir != Dir::And {
            let pkey = match proto {
                Proto::Tcp => 1,
                Proto::Udp => 2,
                Proto::Sctp => 3,
                _ => 0,
            };
            let d = match dir {
                Dir::Src => 0,
                Dir::Dst => 1,
                _ => 2,
            };
            return Ok(Cond::Ports(Box::new(PortSet {
                v6_pre: self
                    .ipv6(off)?
                    .and(any_of(ps.iter().map(|p| cmp(B, nl + 6, JEQ, *p)))),
                v4_pre: self
                    .ipv4(off)?
                    .and(any_of(ps.iter().map(|p| cmp(B, nl + 9, JEQ, *p))))
                    .and(self.nofrag()),
                nl,
                dir: d,
                ranges: vec![(lo, hi)],
                key: (pkey, d, nl, self.st.off_lt, self.st.mpls_depth),
            })));
        }
        let range = |stmts: Vec<Insn>| {
            if lo == hi {
                Cond::test(stmts, JEQ | K, lo)
            } else {
                Cond::test(stmts.clone(), JGE | K, lo).and(Cond::test(stmts, JGT | K, hi).not())
            }
        };
        let v4 = self
            .ipv4(off)?
            .and(any_of(ps.iter().map(|p| cmp(B, nl + 9, JEQ, *p))))
            .and(self.nofrag())
            .and(self.dirs(dir, 0, 2, |o| {
                range(vec![stmt(LDX | B | MSH, nl), stmt(LD | H | IND, nl + o)])
            }));
        let v6 = self
            .ipv6(off)?
            .and(any_of(ps.iter().map(|p| cmp(B, nl + 6, JEQ, *p))))
            .and(self.dirs(dir, 0, 2, |o| range(vec![ld(H, nl + 40 + o)])));
        // IPv6 first, as libpcap lays it out
        Ok(v6.or(v4))
    }

    fn broadcast(&self, p: Proto, off: usize) -> R<Cond> {
        match p {
            Proto::Default | Proto::Link => {
                if self.link != LinkType::Ethernet {
                    return Err(self.err_at("not a broadcast link", off));
                }
                Ok(cmp(W, 2, JEQ, 0xffff_ffff).and(cmp(H, 0, JEQ, 0xffff)))
            }
            Proto::Ip => {
                let o = self.st.off_nl + 16;
                Ok(self
                    .ipv4(off)?
                    .and(cmp(W, o, JEQ, 0).or(cmp(W, o, JEQ, 0xffff_ffff))))
            }
            _ => Err(self.err_at("only link-layer/IP broadcast filters supported", off)),
        }
    }

    fn multicast(&self, p: Proto, off: usize) -> R<Cond> {
        match p {
            Proto::Default | Proto::Link => {
                if self.link != LinkType::Ethernet {
                    return Err(self.err_at("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel", off));
                }
                Ok(cmp(B, 0, JSET, 1))
            }
            Proto::Ip => Ok(self.ipv4(off)?.and(cmp(B, self.st.off_nl + 16, JGE, 224))),
            Proto::Ip6 => Ok(self.ipv6(off)?.and(cmp(B, self.st.off_nl + 24, JEQ, 255))),
            _ => Err(self.err_at("only IP multicast filters supported on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel", off)),
        }
    }

    fn direction(&self, outbound: bool, off: usize) -> R<Cond> {
        let c = match (self.link, self.target) {
            (LinkType::LinuxSll, _) => cmp(H, 0, JEQ, 4),
            (LinkType::LinuxSll2, _) => cmp(B, 10, JEQ, 4),
            (LinkType::Ethernet, Target::LinuxLive) => cmp(H, SKF_AD_OFF + SKF_AD_PKTTYPE, JEQ, 4),
            (LinkType::Ethernet, Target::File) => {
                return Err(self.err_at(
                    "inbound/outbound not supported on Ethernet when reading savefiles",
                    off,
                ))
            }
            _ => return Err(self.err_at("inbound/outbound not supported on this link type", off)),
        };
        Ok(if outbound { c } else { c.not() })
    }

    fn vlan(&mut self, id: Option<u32>, off: usize) -> R<Cond> {
        if self.link != LinkType::Ethernet {
            return Err(self.err_at("no VLAN support for this link type", off));
        }
        if let Some(n) = id {
            if n > 4095 {
                return Err(self.err_at(format!("VLAN tag {n} greater than maximum 4095"), off));
            }
        }
        if self.target == Target::LinuxLive
            && !self.st.live_vlan_done
            && self.st.mpls_depth == 0
            && self.st.off_lt == 12
        {
            // The kernel took the outer tag out of the bytes: test its metadata, shift nothing.
            self.st.live_vlan_done = true;
            let mut c = cmp(B, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT, JEQ, 1);
            if let Some(n) = id {
                c = c.and(mcmp(H, SKF_AD_OFF + SKF_AD_VLAN_TAG, 0x0fff, n));
            }
            return Ok(c);
        }
        let o = self.st.off_lt;
        let mut c = any_of([0x8100u32, 0x88a8, 0x9100].map(|t| cmp(H, o, JEQ, t)));
        if let Some(n) = id {
            c = c.and(mcmp(H, o + 2, 0x0fff, n));
        }
        self.st.off_lt += 4;
        self.st.off_nl += 4;
        Ok(c)
    }

    fn mpls(&mut self, label: Option<u32>, off: usize) -> R<Cond> {
        if self.link != LinkType::Ethernet {
            return Err(self.err_at("no MPLS support for this link type", off));
        }
        if let Some(l) = label {
            if l > 0xfffff {
                return Err(
                    self.err_at(format!("MPLS label {l} greater than maximum 1048575"), off)
                );
            }
        }
        let nl = self.st.off_nl;
        let mut c = if self.st.mpls_depth > 0 {
            mcmp(B, nl - 2, 0x01, 0)
        } else {
            cmp(H, self.st.off_lt, JEQ, 0x8847)
        };
        if let Some(l) = label {
            c = c.and(mcmp(W, nl, 0xffff_f000, l << 12));
        }
        self.st.off_nl += 4;
        self.st.mpls_depth += 1;
        Ok(c)
    }

    // ---- arithmetic ----------------------------------------------------------------------

    fn relation(&mut self) -> R<Cond> {
        self.scratch = 0;
        let a = self.arth(0)?;
        let off = self.off();
        let (jop, neg) = match self.tok() {
            Tok::Punct(">") => (JGT, false),
            Tok::Punct(">=") => (JGE, false),
            Tok::Punct("<") => (JGE, true),
            Tok::Punct("<=") => (JGT, true),
            Tok::Punct("=") | Tok::Punct("==") => (JEQ, false),
            Tok::Punct("!=") => (JEQ, true),
            _ => return Err(self.syntax("expected a relation (=, !=, <, <=, >, >=)")),
        };
        self.pos += 1;
        let b = self.arth(0)?;
        let _ = off;
        let t = match (&a, &b) {
            (Ar::Const(x), Ar::Const(y)) => {
                let r = match jop {
                    JGT => x > y,
                    JGE => x >= y,
                    _ => x == y,
                };
                return Ok(Cond::Const(r != neg));
            }
            _ => {
                let (bs, bc) = b.clone().parts();
                match b {
                    Ar::Const(k) => {
                        let (as_, ac) = a.parts();
                        ac.and(bc)
                            .and(Self::neg_if(Cond::test(as_, jop | K, k), neg))
                    }
                    _ => {
                        let slot = self.slot()?;
                        let (as_, ac) = a.parts();
                        let mut st = bs;
                        st.push(stmt(ST, slot));
                        st.extend(as_);
                        st.push(stmt(LDX | MEM, slot));
                        ac.and(bc)
                            .and(Self::neg_if(Cond::test(st, jop | X, 0), neg))
                    }
                }
            }
        };
        Ok(t)
    }

    fn neg_if(c: Cond, n: bool) -> Cond {
        if n {
            c.not()
        } else {
            c
        }
    }

    fn slot(&mut self) -> R<u32> {
        if self.scratch >= 16 {
            return Err(self.err_at("expression too complex: out of scratch memory", self.off()));
        }
        self.scratch += 1;
        Ok(self.scratch - 1)
    }

    fn binop_prec(&self) -> Option<(u8, u16)> {
        Some(match self.tok() {
            Tok::Punct("|") => (1, OR),
            Tok::Punct("^") => (2, XOR),
            Tok::Punct("&") => (3, AND),
            Tok::Punct("<<") => (4, LSH),
            Tok::Punct(">>") => (4, RSH),
            Tok::Punct("+") => (5, ADD),
            Tok::Punct("-") => (5, SUB),
            Tok::Punct("*") => (6, MUL),
            Tok::Punct("/") => (6, DIV),
            Tok::Punct("%") => (6, MOD),
            _ => return None,
        })
    }

    fn arth(&mut self, min: u8) -> R<Ar> {
        let mut a = self.arth_unary()?;
        while let Some((prec, op)) = self.binop_prec() {
            if prec < min {
                break;
            }
            let off = self.off();
            self.pos += 1;
            let b = self.arth(prec + 1)?;
            a = self.binop(op, a, b, off)?;
        }
        Ok(a)
    }

    fn binop(&mut self, op: u16, a: Ar, b: Ar, off: usize) -> R<Ar> {
        if let Ar::Const(k) = b {
            if k == 0 && (op == DIV || op == MOD) {
                return Err(self.err_at(
                    if op == DIV {
                        "division by zero"
                    } else {
                        "modulus by zero"
                    },
                    off,
                ));
            }
            if k > 31 && (op == LSH || op == RSH) {
                return Err(self.err_at("shift by more than 31 bits", off));
            }
        }
        if let (Ar::Const(x), Ar::Const(y)) = (&a, &b) {
            let (x, y) = (*x, *y);
            return Ok(Ar::Const(match op {
                ADD => x.wrapping_add(y),
                SUB => x.wrapping_sub(y),
                MUL => x.wrapping_mul(y),
                DIV => x / y,
                MOD => x % y,
                AND => x & y,
                OR => x | y,
                XOR => x ^ y,
                LSH => x << y,
                _ => x >> y,
            }));
        }
        let (as_, ac) = a.parts();
        match b {
            Ar::Const(k) => {
                let mut st = as_;
                st.push(stmt(ALU | op | K, k));
                Ok(Ar::Dyn {
                    stmts: st,
                    checks: ac,
                })
            }
            b => {
                let (bs, bc) = b.parts();
                let slot = self.slot()?;
                let mut st = bs;
                st.push(stmt(ST, slot));
                st.extend(as_);
                st.push(stmt(LDX | MEM, slot));
                st.push(stmt(ALU | op | X, 0));
                Ok(Ar::Dyn {
                    stmts: st,
                    checks: ac.and(bc),
                })
            }
        }
    }

    fn arth_unary(&mut self) -> R<Ar> {
        if self.is_p("-") {
            self.pos += 1;
            let a = self.arth_unary()?;
            return Ok(match a {
                Ar::Const(k) => Ar::Const(k.wrapping_neg()),
                a => {
                    let (mut st, c) = a.parts();
                    st.push(stmt(ALU | NEG, 0));
                    Ar::Dyn {
                        stmts: st,
                        checks: c,
                    }
                }
            });
        }
        if self.is_p("(") {
            self.pos += 1;
            let a = self.arth(0)?;
            self.expect_p(")")?;
            return Ok(a);
        }
        if let Tok::Num(n) = *self.tok() {
            self.pos += 1;
            return Ok(Ar::Const(n));
        }
        if self.is_kw("len") {
            self.pos += 1;
            return Ok(Ar::Dyn {
                stmts: vec![stmt(LD | W | LEN, 0)],
                checks: Cond::Const(true),
            });
        }
        if let Some(p) = self.pname_at(0) {
            if self.is_p_at(1, "[") {
                let off = self.off();
                self.pos += 2;
                let idx = self.arth(0)?;
                let mut size = 1;
                if self.is_p(":") {
                    self.pos += 1;
                    size = self.pnum()?;
                }
                self.expect_p("]")?;
                return self.load(p, idx, size, off);
            }
        }
        Err(self.syntax("expected a number, 'len', a byte access like ip[0] or '('"))
    }

    fn load(&mut self, p: Proto, idx: Ar, size: u32, off: usize) -> R<Ar> {
        let sz = match size {
            1 => B,
            2 => H,
            4 => W,
            _ => return Err(self.err_at("data size must be 1, 2, or 4", off)),
        };
        let nl = self.st.off_nl;
        // (check, fixed base, or the IPv4 header length plus the network offset)
        let (check, base, iphl) = match p {
            // from the start of the link-layer header, whatever it is (as libpcap)
            Proto::Link => (Cond::Const(true), 0, false),
            Proto::Ip => (self.ipv4(off)?, nl, false),
            Proto::Ip6 => (self.ipv6(off)?, nl, false),
            Proto::Arp => (self.linktype(0x0806, off)?, nl, false),
            Proto::Rarp => (self.linktype(0x8035, off)?, nl, false),
            Proto::Tcp | Proto::Udp | Proto::Sctp | Proto::Icmp | Proto::Igmp => {
                let n = match p {
                    Proto::Tcp => 6,
                    Proto::Udp => 17,
                    Proto::Sctp => 132,
                    Proto::Icmp => 1,
                    _ => 2,
                };
                (self.v4_proto(n, off)?.and(self.nofrag()), nl, true)
            }
            Proto::Icmp6 => (self.ipv6(off)?.and(cmp(B, nl + 6, JEQ, 58)), nl + 40, false),
            Proto::Default => return Err(self.syntax("expected a protocol before '['")),
        };
        let (stmts, ichk) = match idx {
            Ar::Const(k) => {
                if iphl {
                    (
                        vec![
                            stmt(LDX | B | MSH, nl),
                            stmt(LD | sz | IND, base.wrapping_add(k)),
                        ],
                        Cond::Const(true),
                    )
                } else {
                    (vec![ld(sz, base.wrapping_add(k))], Cond::Const(true))
                }
            }
            Ar::Dyn { stmts, checks } => {
                let mut st = stmts;
                if iphl {
                    let slot = self.slot()?;
                    st.push(stmt(ST, slot));
                    st.push(stmt(LDX | B | MSH, nl));
                    st.push(stmt(LD | MEM, slot));
                    st.push(stmt(ALU | ADD | X, 0));
                }
                st.push(stmt(MISC | TAX, 0));
                st.push(stmt(LD | sz | IND, base));
                (st, checks)
            }
        };
        Ok(Ar::Dyn {
            stmts,
            checks: check.and(ichk),
        })
    }
}
