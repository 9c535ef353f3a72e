//! Qualified values: hosts and networks (IPv4, IPv6, Ethernet), ports and port ranges, `proto`
//! and `protochain` (libpcap's gen_ncode, gen_mcode, gen_mcode6, gen_ecode, gen_scode and what
//! they call), with libpcap's checks in libpcap's order.

use super::link::{ETHERTYPE_ARP, ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_REVARP};
use super::{cmp, err, Codegen, R};
use crate::ast::{AddrKind, Dir, Proto, Qualified, Span};
use crate::bpf::*;
use crate::cond::{ins, Chain, Cond};
use crate::{names, LinkType};
use std::rc::Rc;

/// The transport protocol a port test covers; `None` is libpcap's PROTO_UNDEF (all three).
type Transport = Option<u32>;
const TCP: u32 = 6;
const UDP: u32 = 17;
const SCTP: u32 = 132;

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
                self.ports(v, v, range, t, q.dir, span)
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
                if port > 65535 {
                    return Err(err(format!("illegal port number {port} > 65535"), span));
                }
                self.ports(port, port, false, t, q.dir, span)
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
                self.ports(lo, hi, true, t, q.dir, span)
            }
            AddrKind::Gateway => Err(err("'gateway' is not supported", span)),
            AddrKind::Proto | AddrKind::Protochain => {
                let v = match proto {
                    None | Some(Proto::Ip) | Some(Proto::Ip6) => self
                        .protocols
                        .number(name)
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

    /// `host`/`net` on IPv4 (gen_host): IP, and ARP and RARP when no protocol is given (and
    /// no MPLS label came before), each with its type test in front of each address test.
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
        let hostop = |et: u32, src: u32, dst: u32| -> R<Cond> {
            let nl = self.st.off_nl;
            let at = |o: u32| -> R<Cond> {
                Ok(self.linktype(et, span)?.and(self.mcmp(W, nl + o, mask, v)))
            };
            Ok(match dir {
                Dir::Src => at(src)?,
                Dir::Dst => at(dst)?,
                Dir::SrcAndDst => at(src)?.and(at(dst)?),
                Dir::Default | Dir::SrcOrDst => at(src)?.or(at(dst)?),
                Dir::Wlan(q) => return Err(wlan_dir_err(q, "addresses", span)),
            })
        };
        match proto {
            None => {
                let mut c = hostop(ETHERTYPE_IP, 12, 16)?;
                if self.st.mpls_depth == 0 {
                    c = c.or(hostop(ETHERTYPE_ARP, 14, 24)?);
                    c = c.or(hostop(ETHERTYPE_REVARP, 14, 24)?);
                }
                Ok(c)
            }
            Some(Proto::Ip) => hostop(ETHERTYPE_IP, 12, 16),
            Some(Proto::Arp) => hostop(ETHERTYPE_ARP, 14, 24),
            Some(Proto::Rarp) => hostop(ETHERTYPE_REVARP, 14, 24),
            Some(Proto::Link) => Err(err(format!("link-layer modifier applied to {what}"), span)),
            Some(Proto::Ip6) => Err(err("'ip6' modifier applied to ip host", span)),
            Some(p) => Err(err(
                format!("'{}' modifier applied to {what}", p.name()),
                span,
            )),
        }
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
        // the type, then the address words from the first (gen_hostop6)
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

    /// `port`/`portrange` for IPv6, then IPv4 (gen_port6 or'ed with gen_port). Each transport
    /// has its own tests (gen_portop): SCTP, then TCP, then UDP when none is given.
    #[allow(clippy::too_many_arguments)]
    fn ports(
        &mut self,
        lo: u32,
        hi: u32,
        range: bool,
        t: Transport,
        dir: Dir,
        span: Span,
    ) -> R<Cond> {
        if let Dir::Wlan(q) = dir {
            let what = if range { "port ranges" } else { "ports" };
            return Err(err(
                format!("'{q}' is not a valid qualifier for {what}"),
                span,
            ));
        }
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let nl = self.st.off_nl;
        let atom = |stmts: Vec<crate::Insn>| {
            if range {
                Cond::test(stmts.clone(), JGE | K, lo).and(Cond::test(stmts, JGT | K, hi).not())
            } else {
                Cond::test(stmts, JEQ | K, lo)
            }
        };
        let dirs = |f: &dyn Fn(u32) -> Cond| match dir {
            Dir::Src => f(0),
            Dir::Dst => f(2),
            Dir::SrcAndDst => f(0).and(f(2)),
            _ => f(0).or(f(2)),
        };
        let v4 = |p: u32| {
            cmp(B, nl + 9, JEQ, p).and(self.nofrag()).and(dirs(&|o| {
                atom(vec![ins(LDX | B | MSH, nl), ins(LD | H | IND, nl + o)])
            }))
        };
        let v6 =
            |p: u32| cmp(B, nl + 6, JEQ, p).and(dirs(&|o| atom(vec![super::ld(H, nl + 40 + o)])));
        let each = |f: &dyn Fn(u32) -> Cond| match t {
            Some(p) => f(p),
            None => f(SCTP).or(f(TCP).or(f(UDP))),
        };
        let port4 = self.ipv4(span)?.and(each(&v4));
        let port6 = self.ipv6(span)?.and(each(&v6));
        Ok(port6.or(port4))
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
