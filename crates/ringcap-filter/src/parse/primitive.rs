//! Primitives: the qualifier heads (`[proto] [dir] [kind]`), the keyword primitives (`vlan`,
//! `less`, `inbound`, ...), and the values that follow qualifiers.

use super::{Parser, Quals, R};
use crate::ast::*;
use crate::lexer::Tok;

/// Every word libpcap's scanner makes a keyword (so it is never a name without `\`), with
/// [`UNSUPPORTED`]'s.
const KEYWORDS: &[&str] = &[
    "dst",
    "src",
    "link",
    "ether",
    "ppp",
    "slip",
    "fddi",
    "tr",
    "wlan",
    "arp",
    "rarp",
    "ip",
    "sctp",
    "tcp",
    "udp",
    "icmp",
    "igmp",
    "igrp",
    "pim",
    "vrrp",
    "carp",
    "radio",
    "ip6",
    "icmp6",
    "ah",
    "esp",
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
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "clnp",
    "stp",
    "ipx",
    "netbeui",
    "host",
    "net",
    "mask",
    "port",
    "portrange",
    "proto",
    "protochain",
    "gateway",
    "address1",
    "addr1",
    "address2",
    "addr2",
    "address3",
    "addr3",
    "address4",
    "addr4",
    "ra",
    "ta",
    "less",
    "greater",
    "byte",
    "broadcast",
    "multicast",
    "and",
    "or",
    "not",
    "len",
    "length",
    "inbound",
    "outbound",
    "ifindex",
    "vlan",
    "mpls",
];

/// Keywords that start primitives ringcap does not compile (PPPoE, Geneve, LLC, ATM, pflog,
/// SS7 MTP, 802.11 frame types).
const UNSUPPORTED: &[&str] = &[
    "pppoed",
    "pppoes",
    "geneve",
    "lane",
    "llc",
    "metac",
    "bcc",
    "oam",
    "oamf4",
    "oamf4ec",
    "oamf4sc",
    "sc",
    "ilmic",
    "vpi",
    "vci",
    "connectmsg",
    "metaconnect",
    "on",
    "ifname",
    "rset",
    "ruleset",
    "rnr",
    "rulenum",
    "srnr",
    "subrulenum",
    "reason",
    "action",
    "fisu",
    "lssu",
    "lsu",
    "msu",
    "hfisu",
    "hlssu",
    "hmsu",
    "sio",
    "opc",
    "dpc",
    "sls",
    "hsio",
    "hopc",
    "hdpc",
    "hsls",
    "type",
    "subtype",
    "direction",
    "dir",
];

pub(super) fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s) || UNSUPPORTED.contains(&s)
}

/// libpcap's `pname`.
pub(super) fn pname(s: &str) -> Option<Proto> {
    Some(match s {
        "link" | "ether" | "ppp" | "slip" | "fddi" | "tr" | "wlan" => Proto::Link,
        "ip" => Proto::Ip,
        "ip6" => Proto::Ip6,
        "arp" => Proto::Arp,
        "rarp" => Proto::Rarp,
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        "icmp" => Proto::Icmp,
        "icmp6" => Proto::Icmp6,
        "igmp" => Proto::Igmp,
        "igrp" => Proto::Igrp,
        "pim" => Proto::Pim,
        "vrrp" => Proto::Vrrp,
        "carp" => Proto::Carp,
        "ah" => Proto::Ah,
        "esp" => Proto::Esp,
        "atalk" | "aarp" | "decnet" | "lat" | "sca" | "moprc" | "mopdl" | "iso" | "esis"
        | "es-is" | "isis" | "is-is" | "l1" | "l2" | "iih" | "lsp" | "snp" | "csnp" | "psnp"
        | "clnp" | "stp" | "ipx" | "netbeui" | "radio" => {
            Proto::Other(KEYWORDS.iter().find(|k| **k == s).copied().unwrap_or("?"))
        }
        _ => return None,
    })
}

fn wlan_dir(s: &str) -> Option<&'static str> {
    Some(match s {
        "addr1" | "address1" => "addr1",
        "addr2" | "address2" => "addr2",
        "addr3" | "address3" => "addr3",
        "addr4" | "address4" => "addr4",
        "ra" => "ra",
        "ta" => "ta",
        _ => return None,
    })
}

/// A value with its qualifiers.
pub(super) fn qualified(q: Quals, value: Value, implied: bool, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Qualified(Qualified {
            proto: q.proto,
            dir: q.dir,
            kind: q.kind,
            value,
            value_span: span,
            implied,
        }),
        span,
    }
}

impl Parser {
    fn simple(&self, kind: ExprKind, start: Span) -> (Expr, Option<Quals>) {
        (
            Expr {
                kind,
                span: self.since(start),
            },
            None,
        )
    }

    fn num(&mut self) -> R<u32> {
        match *self.tok() {
            Tok::Num(n) => {
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.syntax("expected a number")),
        }
    }

    /// A primitive (libpcap's `rterm` other than a parenthesized expression).
    pub(super) fn primitive(&mut self) -> R<(Expr, Option<Quals>)> {
        let start = self.span();
        if matches!(self.tok(), Tok::Num(_) | Tok::Punct("-")) {
            return Ok((self.relation()?, None));
        }
        let word = self.word().map(str::to_string);
        if let Some(w) = word.as_deref() {
            if let Some(r) = self.keyword_primitive(w, start)? {
                return Ok(r);
            }
            if pname(w).is_some() && matches!(self.tok_at(1), Tok::Punct("[")) {
                return Ok((self.relation()?, None));
            }
        }
        self.qualified_primitive(start)
    }

    /// The primitives that start with their own keyword.
    fn keyword_primitive(&mut self, w: &str, start: Span) -> R<Option<(Expr, Option<Quals>)>> {
        let kind = match w {
            "len" | "length" => return Ok(Some((self.relation()?, None))),
            "less" | "greater" => {
                self.pos += 1;
                let n = self.num()?;
                if w == "less" {
                    ExprKind::Less(n)
                } else {
                    ExprKind::Greater(n)
                }
            }
            "byte" => {
                self.pos += 1;
                let offset = self.num()?;
                let op = match self.tok() {
                    Tok::Punct("=") | Tok::Punct("==") => ByteOp::Eq,
                    Tok::Punct("<") => ByteOp::Lt,
                    Tok::Punct(">") => ByteOp::Gt,
                    Tok::Punct("&") => ByteOp::And,
                    Tok::Punct("|") => ByteOp::Or,
                    _ => return Err(self.syntax("expected one of = < > & |")),
                };
                self.pos += 1;
                let value = self.num()?;
                ExprKind::Byte { offset, op, value }
            }
            "inbound" => {
                self.pos += 1;
                ExprKind::Inbound
            }
            "outbound" => {
                self.pos += 1;
                ExprKind::Outbound
            }
            "ifindex" => {
                self.pos += 1;
                ExprKind::Ifindex(self.num()?)
            }
            "vlan" | "mpls" => {
                self.pos += 1;
                let n = if matches!(self.tok(), Tok::Num(_) | Tok::Punct("(")) {
                    Some(self.pnum()?.0)
                } else {
                    None
                };
                if w == "vlan" {
                    ExprKind::Vlan(n)
                } else {
                    ExprKind::Mpls(n)
                }
            }
            _ if UNSUPPORTED.contains(&w) => {
                return Err(self.err(format!("'{w}' is not supported"), start));
            }
            _ => return Ok(None),
        };
        Ok(Some(self.simple(kind, start)))
    }

    /// `head id`, `pname`, `[pname] broadcast|multicast`, with
    /// `head: pqual dqual aqual | pqual dqual | pqual aqual | pqual proto|protochain|gateway`.
    fn qualified_primitive(&mut self, start: Span) -> R<(Expr, Option<Quals>)> {
        let proto = self.word().and_then(pname);
        if proto.is_some() {
            self.pos += 1;
        }
        let dir = self.dqual();
        let kind = match self.word() {
            Some("host") => Some(AddrKind::Host),
            Some("net") => Some(AddrKind::Net),
            Some("port") => Some(AddrKind::Port),
            Some("portrange") => Some(AddrKind::Portrange),
            Some("proto") if dir.is_none() => Some(AddrKind::Proto),
            Some("protochain") if dir.is_none() => Some(AddrKind::Protochain),
            Some("gateway") if dir.is_none() => Some(AddrKind::Gateway),
            _ => None,
        };
        if kind.is_some() {
            self.pos += 1;
        }
        if dir.is_some() || kind.is_some() {
            let q = Quals {
                proto,
                dir: dir.unwrap_or(Dir::Default),
                kind: kind.unwrap_or(AddrKind::Default),
            };
            let e = self.id(q, false)?;
            let span = self.since(start);
            return Ok((Expr { span, ..e }, Some(q)));
        }
        match self.word() {
            Some("broadcast") => {
                self.pos += 1;
                Ok(self.simple(ExprKind::Broadcast(proto), start))
            }
            Some("multicast") => {
                self.pos += 1;
                Ok(self.simple(ExprKind::Multicast(proto), start))
            }
            _ => match proto {
                Some(p) => Ok(self.simple(ExprKind::Protocol(p), start)),
                None if matches!(self.tok(), Tok::V4(..) | Tok::V6(_) | Tok::Mac(_)) => Err(self
                    .syntax(
                        "a bare address needs a qualifier (host, net, ether host, ...) before it",
                    )),
                None => Err(self
                    .syntax("expected a primitive (host, net, port, ip, tcp, ...), 'not' or '('")),
            },
        }
    }

    /// `dqual`: `src`, `dst`, `src or dst`, `src and dst` (either order), 802.11 qualifiers.
    fn dqual(&mut self) -> Option<Dir> {
        let w = self.word()?;
        if let Some(d) = wlan_dir(w) {
            self.pos += 1;
            return Some(Dir::Wlan(d));
        }
        if w != "src" && w != "dst" {
            return None;
        }
        let other = if w == "src" { "dst" } else { "src" };
        let single = if w == "src" { Dir::Src } else { Dir::Dst };
        self.pos += 1;
        let both = match self.bool_op() {
            Some(op) if matches!(self.tok_at(1), Tok::Id(s) if s == other) => op,
            _ => return Some(single),
        };
        self.pos += 2;
        Some(match both {
            BoolOp::Or => Dir::SrcOrDst,
            BoolOp::And => Dir::SrcAndDst,
        })
    }

    /// A value after qualifiers (libpcap's `nid` without `not`).
    pub(super) fn value(&mut self) -> R<Value> {
        let tok = self.tok().clone();
        self.pos += 1;
        Ok(match tok {
            Tok::V4(addr, bits) => {
                if self.is_punct("/") {
                    self.pos += 1;
                    let len = self.num()?;
                    Value::Ipv4Prefix { addr, bits, len }
                } else if self.is_word("mask") {
                    self.pos += 1;
                    let (mask, mask_bits) = match *self.tok() {
                        Tok::V4(m, b) => (m, b),
                        _ => return Err(self.syntax("expected a dotted netmask")),
                    };
                    self.pos += 1;
                    Value::Ipv4Mask {
                        addr,
                        bits,
                        mask,
                        mask_bits,
                    }
                } else {
                    Value::Ipv4 { addr, bits }
                }
            }
            Tok::V6(addr) => {
                let mut len = 128;
                if self.is_punct("/") {
                    self.pos += 1;
                    len = self.num()?;
                }
                Value::Ipv6 { addr, len }
            }
            Tok::Mac(m) => Value::Mac(m),
            Tok::Num(n) => Value::Number(n),
            Tok::Esc(s) => Value::Name(s),
            Tok::Id(s) if !is_keyword(&s) => Value::Name(s),
            Tok::Id(_) => {
                self.pos -= 1;
                return Err(
                    self.syntax("a keyword cannot be used as a name here (escape it: \\name)")
                );
            }
            _ => {
                self.pos -= 1;
                return Err(self.syntax("expected an address, number or name"));
            }
        })
    }
}
