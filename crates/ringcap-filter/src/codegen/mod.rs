//! Syntax tree to condition tree, for one link type and target: libpcap's gencode.c, for the
//! primitives and link types ringcap supports. The link layer and its moving offsets (`vlan`,
//! `mpls`) are in `link`, addresses, ports and protocols in `net`, relations in `arith`.
//!
//! The tree walk is in source order, as libpcap's parser actions are: `vlan` and `mpls` move
//! the offsets of everything generated after them, and scratch registers are allocated in
//! libpcap's order.
//!
//! Every test is one of libpcap's blocks, with libpcap's statements, in libpcap's order:
//! tcpdump's verdicts on truncated packets depend on which loads a program runs, and whether
//! libpcap calls a filter "rejects all packets" depends on what its optimizer can prove from
//! exactly these blocks. Unoptimized (`-O`), the blocks run as they are; optimized, they go
//! through the emulation of libpcap's optimizer in `opt::pcap`.

mod arith;
mod link;
mod net;

use crate::ast::*;
use crate::bpf::*;
use crate::cond::{ins, Cond};
use crate::{CompileError, LinkType, Options, Protocols, Services, Target};

type R<T> = Result<T, CompileError>;

/// Offsets that `vlan` and `mpls` move for the rest of the expression.
#[derive(Clone, Debug)]
struct LinkState {
    /// The link-layer type field (Ethernet type, SLL protocol).
    off_lt: u32,
    /// The network-layer header.
    off_nl: u32,
    mpls_depth: u32,
    /// On a live socket the kernel strips the outermost VLAN tag: the first `vlan` tests the
    /// kernel's metadata and moves nothing.
    live_vlan_done: bool,
}

pub(crate) struct Codegen<'a> {
    link: LinkType,
    target: Target,
    services: &'a Services,
    protocols: &'a Protocols,
    st: LinkState,
    regs: arith::Registers,
}

/// The condition tree of `e`.
pub(crate) fn generate(e: &Expr, opts: &Options) -> R<Cond> {
    let (off_lt, off_nl) = match opts.link {
        LinkType::Ethernet => (12, 14),
        LinkType::LinuxSll => (14, 16),
        LinkType::LinuxSll2 => (0, 20),
        LinkType::Null => (0, 4),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => (0, 0),
    };
    let mut g = Codegen {
        link: opts.link,
        target: opts.target,
        services: opts.services,
        protocols: opts.protocols,
        regs: arith::Registers::default(),
        st: LinkState {
            off_lt,
            off_nl,
            mpls_depth: 0,
            live_vlan_done: false,
        },
    };
    g.expr(e)
}

/// Whether `e` uses `protochain` (libpcap then leaves the whole program unoptimized).
pub(crate) fn uses_protochain(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Chain { first, rest } => {
            uses_protochain(first) || rest.iter().any(|(_, x)| uses_protochain(x))
        }
        ExprKind::Not(x) => uses_protochain(x),
        ExprKind::Qualified(q) => q.kind == AddrKind::Protochain,
        _ => false,
    }
}

fn err(msg: impl Into<String>, span: Span) -> CompileError {
    CompileError {
        message: msg.into(),
        offset: Some(span.start),
    }
}

fn ld(size: u16, off: u32) -> crate::Insn {
    ins(LD | size | ABS, off)
}

/// `P[off:size] op k`
fn cmp(size: u16, off: u32, jop: u16, k: u32) -> Cond {
    Cond::test(vec![ld(size, off)], jop | K, k)
}

impl Codegen<'_> {
    fn expr(&mut self, e: &Expr) -> R<Cond> {
        let span = e.span;
        match &e.kind {
            ExprKind::Chain { first, rest } => {
                let mut c = self.expr(first)?;
                for (op, x) in rest {
                    let r = self.expr(x)?;
                    c = match op {
                        BoolOp::And => c.and(r),
                        BoolOp::Or => c.or(r),
                    };
                }
                Ok(c)
            }
            ExprKind::Not(x) => Ok(self.expr(x)?.not()),
            ExprKind::Protocol(p) => self.proto_abbrev(*p, span),
            ExprKind::Qualified(q) => self.qualified(q, q.value_span),
            ExprKind::Broadcast(p) => self.broadcast(*p, span),
            ExprKind::Multicast(p) => self.multicast(*p, span),
            ExprKind::Less(n) => Ok(Cond::test(vec![ins(LD | W | LEN, 0)], JGT | K, *n).not()),
            ExprKind::Greater(n) => Ok(Cond::test(vec![ins(LD | W | LEN, 0)], JGE | K, *n)),
            ExprKind::Inbound => self.direction(false, span),
            ExprKind::Outbound => self.direction(true, span),
            ExprKind::Ifindex(n) => self.ifindex(*n, span),
            ExprKind::Vlan(id) => self.vlan(*id, span),
            ExprKind::Mpls(label) => self.mpls(*label, span),
            ExprKind::Byte { offset, op, value } => self.byte(*offset, *op, *value, span),
            ExprKind::Relation(r) => self.relation(r),
        }
    }

    /// A test that is always `v` (gen_true, gen_false): `ld #0|#1; jeq #0`.
    fn konst(&self, v: bool) -> Cond {
        Cond::test(vec![ins(LD | IMM, !v as u32)], JEQ | K, 0)
    }

    /// `P[off:size] & mask == k` (gen_mcmp: any mask but all ones is an `and`).
    fn mcmp(&self, size: u16, off: u32, mask: u32, k: u32) -> Cond {
        if mask == 0xffff_ffff {
            cmp(size, off, JEQ, k)
        } else {
            Cond::test(vec![ld(size, off), ins(ALU | AND | K, mask)], JEQ | K, k)
        }
    }

    /// A value with its qualifiers (libpcap's grammar actions for `nid` and `pnum`).
    fn qualified(&mut self, q: &Qualified, span: Span) -> R<Cond> {
        match &q.value {
            Value::Number(n) => self.ncode(q, *n, 32, true, span),
            Value::Ipv4 { addr, bits } => {
                let what = match q.kind {
                    AddrKind::Port => Some("port"),
                    AddrKind::Portrange => Some("portrange"),
                    AddrKind::Proto => Some("proto"),
                    AddrKind::Protochain => Some("protochain"),
                    _ => None,
                };
                if let Some(w) = what {
                    return Err(err(format!("'{w}' modifier applied to ip host"), span));
                }
                self.ncode(q, *addr, *bits, false, span)
            }
            Value::Ipv4Prefix { addr, bits, len } => {
                self.mcode(q, addr << (32 - bits), None, *len, span)
            }
            Value::Ipv4Mask {
                addr,
                bits,
                mask,
                mask_bits,
            } => self.mcode(
                q,
                addr << (32 - bits),
                Some(mask << (32 - mask_bits)),
                0,
                span,
            ),
            Value::Ipv6 { addr, len } => self.mcode6(q, addr, *len, span),
            Value::Mac(m) => self.ecode(q, m, span),
            Value::Name(name) => self.scode(q, name, span),
        }
    }
}
