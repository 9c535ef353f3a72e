//! Qualified values: hosts and networks (IPv4, IPv6, Ethernet), ports and port ranges, `proto`
//! and `protochain` (libpcap's gen_ncode, gen_mcode, gen_mcode6, gen_ecode, gen_scode and what
//! they call), with libpcap's checks in libpcap's order.

use super::link::{ETHERTYPE_ARP, ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_REVARP};
use super::{cmp, err, Codegen, R};
use crate::ast::{AddrKind, Dir, Proto, Qualified, Span};
use crate::bpf::*;
use crate::cond::{Chain, Cond, HostSet, PortSet};
use crate::{names, LinkType};
use std::rc::Rc;

/// The transport protocol a port test covers; `None` is libpcap's PROTO_UNDEF (all three).
type Transport = Option<u32>;
const TCP: u32 = 6;
const UDP: u32 = 17;
const SCTP: u32 = 132;

fn dir_code(dir: Dir) -> u8 {
    match dir {
        Dir::Src => 0,
        Dir::Dst => 1,
        _ => 2,
    }
}

fn wlan_dir_err(q: &str, what: &str, span: Span) -> crate::CompileError {
    err(
        format!("'{q}' is not a valid qualifier for {what} other than 802.11 MAC addresses"),
        span,
    )
}

impl Codegen<'_> {
    /// A number, or a dotted IPv4 address without mask, with qualifiers (gen_ncode).
    pub(super) fn ncode(
        &mut self,
        q: &Qualified,
        v: u32,
        bits: u32,
        is_number: bool,
        span: Span,
    ) -> R<Cond> {
        let proto = q.proto;
        match q.kind {
            AddrKind::Default | AddrKind::Host | AddrKind::Net => {
                if proto == Some(Proto::Link) {
                    return Err(err("illegal link layer address", span));
                }
                let (mut v, mut mask) = (v, u32::MAX);
                if is_number && q.kind == AddrKind::Net {
                    // `net 10`: the number's significant bytes are the network
                    while v != 0 && v & 0xff00_0000 == 0 {
                        v <<= 8;
                        mask <<= 8;
                    }
                } else if bits < 32 {
                    v <<= 32 - bits;
                    mask <<= 32 - bits;
                }
                self.host(v, mask, proto, q.dir, q.kind == AddrKind::Net, span)
            }
            AddrKind::Port | AddrKind::Portrange => {
                let range = q.kind == AddrKind::Portrange;
                let t = self.port_qualifier(proto, range, span)?;
                if v > 65535 {
                    return Err(err(format!("illegal port number {v} > 65535"), span));
                }
                self.ports(v, v, t, q.dir, span)
            }
            AddrKind::Gateway => Err(err("'gateway' requires a name", span)),
            AddrKind::Proto => self.proto_num(v, proto, q.dir, span),
            AddrKind::Protochain => self.protochain(v, proto, span),
        }
    }

    /// `a.b.c.d/len` or `a.b.c.d mask m.m.m.m` (gen_mcode); `n` already shifted to 32 bits.
    pub(super) fn mcode(
        &mut self,
        q: &Qualified,
        n: u32,
        mask: Option<u32>,
        len: u32,
        span: Span,
    ) -> R<Cond> {
        let m = match mask {
            Some(m) => m,
            None if len > 32 => return Err(err("mask length must be <= 32", span)),
            None if len == 0 => 0,
            None => u32::MAX << (32 - len),
        };
        if n & !m != 0 {
            return Err(err("non-network bits set in the address", span));
        }
        match q.kind {
            AddrKind::Net => self.host(n, m, q.proto, q.dir, true, span),
            _ => Err(err("Mask syntax for networks only", span)),
        }
    }

    /// An IPv6 address or network (gen_mcode6).
    pub(super) fn mcode6(&mut self, q: &Qualified, a: &[u8; 16], len: u32, span: Span) -> R<Cond> {
        if len > 128 {
            return Err(err("mask length must be <= 128", span));
        }
        let mut mask = [0u8; 16];
        for (i, m) in mask.iter_mut().enumerate() {
            let bits = (len as i64 - 8 * i as i64).clamp(0, 8);
            *m = (0xff00u16 >> bits) as u8;
        }
        if a.iter().zip(mask).any(|(x, m)| x & !m != 0) {
            return Err(err("non-network bits set in the address", span));
        }
        match q.kind {
            AddrKind::Default | AddrKind::Host if len != 128 => {
                Err(err("Mask syntax for networks only", span))
            }
            AddrKind::Default | AddrKind::Host | AddrKind::Net => {
                self.host6(a, &mask, q.proto, q.dir, span)
            }
            _ => Err(err("invalid qualifier against IPv6 address", span)),
        }
    }

    /// An Ethernet address (gen_ecode).
    pub(super) fn ecode(&mut self, q: &Qualified, m: &[u8; 6], span: Span) -> R<Cond> {
        if !matches!(q.kind, AddrKind::Host | AddrKind::Default) || q.proto != Some(Proto::Link) {
            return Err(err("ethernet address used in non-ether expression", span));
        }
        if self.link != LinkType::Ethernet {
            return Err(err(
                "ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel",
                span,
            ));
        }
        self.ehost(m, q.dir, span)
    }

    /// A name (gen_scode): a service, a port range, a protocol. Host and network names would
    /// need the resolver, which a pure compiler does not call.
    pub(super) fn scode(&mut self, q: &Qualified, name: &str, span: Span) -> R<Cond> {
        let proto = q.proto;
        match q.kind {
            AddrKind::Net => Err(err(
                format!("network names ('{name}') are not supported: use an address"),
                span,
            )),
            AddrKind::Default | AddrKind::Host => Err(err(
                format!("host names ('{name}') are not supported: use an address"),
                span,
            )),
            AddrKind::Port => {
                let t = self.port_qualifier(proto, false, span)?;
                let (port, real) = self
                    .service(name)
                    .ok_or_else(|| err(format!("unknown port '{name}'"), span))?;
                let t = narrow(t, real, name, "port", span)?;
                self.ports(port, port, t, q.dir, span)
            }
            AddrKind::Portrange => {
                let t = self.port_qualifier(proto, true, span)?;
                let (lo, hi, real) = self
                    .service_range(name)
                    .ok_or_else(|| err(format!("unknown port in range '{name}'"), span))?;
                let t = narrow(t, real, name, "port in range", span)?;
                for p in [lo, hi] {
                    if p > 65535 {
                        return Err(err(format!("illegal port number {p} > 65535"), span));
                    }
                }
                self.ports(lo, hi, t, q.dir, span)
            }
            AddrKind::Gateway => Err(err("'gateway' is not supported", span)),
            AddrKind::Proto | AddrKind::Protochain => {
                let v = match proto {
                    None | Some(Proto::Ip) | Some(Proto::Ip6) => names::ip_proto(name)
                        .ok_or_else(|| err(format!("unknown ip proto '{name}'"), span))?,
                    Some(Proto::Link) => names::ether_proto(name)
                        .or_else(|| names::llc_proto(name))
                        .ok_or_else(|| err(format!("unknown ether proto '{name}'"), span))?,
                    _ => return Err(err(format!("unknown protocol: {name}"), span)),
                };
                if q.kind == AddrKind::Proto {
                    self.proto_num(v, proto, q.dir, span)
                } else {
                    self.protochain(v, proto, span)
                }
            }
        }
    }

    /// The transport a `port`/`portrange` qualifier selects.
    fn port_qualifier(&self, proto: Option<Proto>, range: bool, span: Span) -> R<Transport> {
        match proto {
            None => Ok(None),
            Some(Proto::Tcp) => Ok(Some(TCP)),
            Some(Proto::Udp) => Ok(Some(UDP)),
            Some(Proto::Sctp) => Ok(Some(SCTP)),
            Some(_) => Err(err(
                format!(
                    "illegal qualifier of '{}'",
                    if range { "portrange" } else { "port" }
                ),
                span,
            )),
        }
    }

    /// A service name as libpcap's pcap_nametoport looks it up: for TCP and for UDP; a name
    /// known for both with the same port covers every transport.
    fn service(&self, name: &str) -> Option<(u32, Transport)> {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            // the resolver reads a numeric service as the port
            return name.parse().ok().map(|p| (p, None));
        }
        let (tcp, udp) = (
            self.services.port(name, "tcp"),
            self.services.port(name, "udp"),
        );
        match (tcp, udp) {
            (Some(t), Some(u)) if t == u => Some((t, None)),
            (Some(t), _) => Some((t, Some(TCP))),
            (None, Some(u)) => Some((u, Some(UDP))),
            (None, None) => None,
        }
    }

    /// `A-B` as pcap_nametoportrange reads it: two decimal numbers, else two names (or
    /// numbers) around the first `-`.
    fn service_range(&self, name: &str) -> Option<(u32, u32, Transport)> {
        if let Some((a, b)) = scan_two_numbers(name) {
            return Some((a, b, None));
        }
        let (a, b) = name.split_once('-')?;
        let (pa, ta) = self.service(a)?;
        let (pb, tb) = self.service(b)?;
        let t = if ta == tb { tb } else { None };
        Some((pa.min(pb), pa.max(pb), t))
    }

    /// `host`/`net` on IPv4 (gen_host): IP, and ARP and RARP when no protocol is given.
    fn host(
        &mut self,
        v: u32,
        mask: u32,
        proto: Option<Proto>,
        dir: Dir,
        net: bool,
        span: Span,
    ) -> R<Cond> {
        let what = if net { "net" } else { "host" };
        let nl = self.st.off_nl;
        let mut parts = Vec::new();
        let (ip, arp, rarp) = match proto {
            None => (true, self.st.mpls_depth == 0, self.st.mpls_depth == 0),
            Some(Proto::Ip) => (true, false, false),
            Some(Proto::Arp) => (false, true, false),
            Some(Proto::Rarp) => (false, false, true),
            Some(Proto::Link) => {
                return Err(err(format!("link-layer modifier applied to {what}"), span))
            }
            Some(Proto::Ip6) => return Err(err("'ip6' modifier applied to ip host", span)),
            Some(p) => {
                return Err(err(
                    format!("'{}' modifier applied to {what}", p.name()),
                    span,
                ))
            }
        };
        if let Dir::Wlan(q) = dir {
            return Err(wlan_dir_err(q, "addresses", span));
        }
        if ip {
            parts.push((self.ipv4(span)?, nl + 12, nl + 16));
        }
        if arp {
            parts.push((self.linktype(ETHERTYPE_ARP, span)?, nl + 14, nl + 24));
        }
        if rarp {
            parts.push((self.linktype(ETHERTYPE_REVARP, span)?, nl + 14, nl + 24));
        }
        if dir != Dir::SrcAndDst && self.folding {
            let pk = match proto {
                Some(Proto::Ip) => 1,
                Some(Proto::Arp) => 2,
                Some(Proto::Rarp) => 3,
                _ => 0,
            };
            let d = dir_code(dir);
            return Ok(Cond::Hosts(Box::new(HostSet {
                parts,
                dir: d,
                values: vec![(v, mask)],
                key: (pk, d, nl, self.st.off_lt, self.st.mpls_depth),
            })));
        }
        let mut c = Cond::Const(false);
        for (pre, so, d) in parts {
            let field = |o: u32| self.mcmp(W, o, mask, v);
            let f = match dir {
                Dir::Src => field(so),
                Dir::Dst => field(d),
                Dir::SrcAndDst => field(so).and(field(d)),
                _ => field(so).or(field(d)),
            };
            c = c.or(pre.and(f));
        }
        Ok(c)
    }

    /// `host`/`net` on IPv6 (gen_host6): the address words from the first, after the type.
    fn host6(
        &mut self,
        a: &[u8; 16],
        m: &[u8; 16],
        proto: Option<Proto>,
        dir: Dir,
        span: Span,
    ) -> R<Cond> {
        match proto {
            None | Some(Proto::Ip6) => {}
            Some(Proto::Link) => return Err(err("link-layer modifier applied to ip6 host", span)),
            Some(p) => {
                return Err(err(
                    format!("'{}' modifier applied to ip6 host", p.name()),
                    span,
                ))
            }
        }
        if let Dir::Wlan(q) = dir {
            return Err(wlan_dir_err(q, "addresses", span));
        }
        let nl = self.st.off_nl;
        let word = |b: &[u8; 16], i: usize| {
            u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        };
        let at = |o: u32| -> R<Cond> {
            let mut c = self.ipv6(span)?;
            for i in 0..4 {
                c = c.and(self.mcmp(W, o + 4 * i as u32, word(m, i), word(a, i)));
            }
            Ok(c)
        };
        Ok(match dir {
            Dir::Src => at(nl + 8)?,
            Dir::Dst => at(nl + 24)?,
            Dir::SrcAndDst => at(nl + 8)?.and(at(nl + 24)?),
            _ => at(nl + 8)?.or(at(nl + 24)?),
        })
    }

    /// `port`/`portrange` for IPv6, then IPv4 (gen_port6 or gen_port, libpcap's order).
    fn ports(&mut self, lo: u32, hi: u32, t: Transport, dir: Dir, span: Span) -> R<Cond> {
        if let Dir::Wlan(q) = dir {
            return Err(err(
                format!("'{q}' is not a valid qualifier for ports"),
                span,
            ));
        }
        let ps: &[u32] = match t {
            None => &[SCTP, TCP, UDP],
            Some(TCP) => &[TCP],
            Some(UDP) => &[UDP],
            Some(_) => &[SCTP],
        };
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let nl = self.st.off_nl;
        let v6_pre = self
            .ipv6(span)?
            .and(Cond::any_of(ps.iter().map(|p| cmp(B, nl + 6, JEQ, *p))));
        let v4_pre = self
            .ipv4(span)?
            .and(Cond::any_of(ps.iter().map(|p| cmp(B, nl + 9, JEQ, *p))))
            .and(self.nofrag());
        let d = dir_code(dir);
        let set = PortSet {
            v6_pre,
            v4_pre,
            nl,
            dir: d,
            ranges: vec![(lo, hi)],
            key: (
                t.map_or(0, |p| p as u8),
                d,
                nl,
                self.st.off_lt,
                self.st.mpls_depth,
            ),
        };
        if dir != Dir::SrcAndDst {
            return Ok(Cond::Ports(Box::new(set)));
        }
        let range = |stmts: Vec<crate::Insn>| {
            if lo == hi {
                Cond::test(stmts, JEQ | K, lo)
            } else {
                Cond::test(stmts.clone(), JGE | K, lo).and(Cond::test(stmts, JGT | K, hi).not())
            }
        };
        let both = |f: &dyn Fn(u32) -> Cond| f(0).and(f(2));
        let v4 = set.v4_pre.clone().and(both(&|o| {
            range(vec![
                crate::cond::ins(LDX | B | MSH, nl),
                crate::cond::ins(LD | H | IND, nl + o),
            ])
        }));
        let v6 = set
            .v6_pre
            .clone()
            .and(both(&|o| range(vec![super::ld(H, nl + 40 + o)])));
        Ok(v6.or(v4))
    }

    /// `[proto] proto N` (gen_proto).
    fn proto_num(&self, v: u32, p: Option<Proto>, dir: Dir, span: Span) -> R<Cond> {
        if dir != Dir::Default {
            return Err(err("direction applied to 'proto'", span));
        }
        match p {
            None => Ok(self.v4_proto(v, span)?.or(self.v6_proto(v, span)?)),
            Some(Proto::Link) => self.linktype(v, span),
            Some(Proto::Ip) => self.v4_proto(v, span),
            Some(Proto::Ip6) => self.v6_proto(v, span),
            Some(p) => Err(err(format!("'{} proto' is bogus", p.name()), span)),
        }
    }

    /// `[ip|ip6] protochain N`: the IPv4 walk or'ed with the IPv6 walk for the bare form, in
    /// libpcap's order (see [`Chain`] for the walk and its bound).
    fn protochain(&self, v: u32, p: Option<Proto>, span: Span) -> R<Cond> {
        let walk = |v6: bool| -> R<Cond> {
            let chain = Cond::Chain(Rc::new(Chain {
                v6,
                nl: self.st.off_nl,
                proto: v,
            }));
            let et = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IP };
            Ok(self.linktype(et, span)?.and(chain))
        };
        match p {
            Some(Proto::Ip) => walk(false),
            Some(Proto::Ip6) => walk(true),
            None => Ok(walk(false)?.or(walk(true)?)),
            _ => Err(err("bad protocol applied for 'protochain'", span)),
        }
    }
}

/// The transport of a named port narrowed by the qualifier, with libpcap's errors for a name
/// that belongs to another transport.
fn narrow(q: Transport, real: Transport, name: &str, what: &str, span: Span) -> R<Transport> {
    let tname = |t: u32| match t {
        TCP => "tcp",
        UDP => "udp",
        _ => "sctp",
    };
    match (q, real) {
        (None, r) => Ok(r),
        (Some(want), Some(got)) if want != got => {
            Err(err(format!("{what} '{name}' is {}", tname(got)), span))
        }
        (Some(want), _) => Ok(Some(want)),
    }
}

/// `sscanf(s, "%d-%d")` succeeding: two decimal numbers around a `-`, anything after.
fn scan_two_numbers(s: &str) -> Option<(u32, u32)> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n1 = digits(s);
    if n1 == 0 || s.as_bytes().get(n1) != Some(&b'-') {
        return None;
    }
    let rest = &s[n1 + 1..];
    let n2 = digits(rest);
    if n2 == 0 {
        return None;
    }
    Some((s[..n1].parse().ok()?, rest[..n2].parse().ok()?))
}
