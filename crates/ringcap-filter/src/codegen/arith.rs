//! Relations (`arith relop arith`): the protocol checks libpcap puts in front of them, the
//! loads they execute, and the errors libpcap gives for them.
//!
//! What libpcap 1.10's gencode.c does with the protocol checks of arithmetic operands (the
//! `b` member of its `struct arth`), which ringcap reproduces:
//! - `proto[index]` (gen_load): the checks of the index, and the protocol: for `link`, the
//!   index's checks alone; for `ip`, `ip6`, `arp`, `rarp` (network layer), the index's checks
//!   and then the protocol; for `tcp`, `udp`, `sctp`, `icmp`, `igmp`, `igrp`, `pim`, `vrrp`,
//!   `carp` (transport, after the IPv4 header), IPv4, then the index's checks, then the
//!   protocol and "not a later fragment"; for `icmp6`, the index's checks, IPv6 and a next
//!   header of 58;
//! - a number and `len` have no checks; `-a` keeps the checks of `a`;
//! - **`a op b` (gen_arth) keeps the checks of `a` only: those of `b` are dropped.** So in
//!   `ip[2:2] - tcp[12] > 0` the TCP test is not made, and the load of `tcp[12]` reads the
//!   bytes after the IPv4 header of any IPv4 packet; in `0 = 0 - icmp6[0]` no test at all is
//!   made and the byte 40 bytes past the network header is read from every packet;
//! - `a relop b` (gen_relation) puts the checks of `a` and then those of `b` before the
//!   comparison.
//!
//! Every load of both operands runs once the checks pass; a load past the end of the packet
//! (or a division by zero at run time) rejects the packet, whatever `not` is around it.
//!
//! Errors, as libpcap: division or modulo by a right operand whose code starts with `ld #0`
//! (a literal 0, but also `0 + 5` or `ip[0]`, whose code starts with loading the index 0), and
//! a shift by one starting with `ld #k`, k > 31; when optimizing, also a division by a right
//! operand libpcap's optimizer folds to 0, or a shift of a value it cannot fold by one it folds
//! to more than 31; data sizes other than 1, 2, 4; more than 16 scratch registers in libpcap's
//! allocation.

use super::{err, Codegen, R};
use crate::ast::{Arith, ArithKind, ArithOp, Proto, RelOp, Relation, Span};
use crate::bpf::*;
use crate::cond::{ins, Cond};
use crate::Insn;

/// An arithmetic operand, ready to be emitted.
enum Ir {
    Const(u32),
    Len,
    /// `size` bytes at `base` + the index (+ the IPv4 header length when `iphl` gives the
    /// offset of that header).
    Load {
        size: u16,
        base: u32,
        index: Box<Operand>,
        iphl: Option<u32>,
    },
    Chain(Box<Operand>, Vec<(ArithOp, Operand)>),
    Neg(Box<Operand>),
}

struct Operand {
    ir: Ir,
    /// The protocol checks libpcap makes before the relation for this operand.
    checks: Cond,
    /// The value when it can be emitted as a constant: when folding, what libpcap's optimizer
    /// folds it to (its loads are then dead, and dropped); else, when it reads nothing.
    konst: Option<u32>,
    /// Made of literal numbers only: libpcap's optimizer knows it in its first pass.
    literal: bool,
    /// libpcap's first statement for it is `ld #k`: what its zero and shift checks look at.
    head: Option<u32>,
    /// Scratch registers libpcap's allocation needs for it.
    regs: u32,
}

fn alu(op: ArithOp) -> u16 {
    match op {
        ArithOp::Add => ADD,
        ArithOp::Sub => SUB,
        ArithOp::Mul => MUL,
        ArithOp::Div => DIV,
        ArithOp::Mod => MOD,
        ArithOp::And => AND,
        ArithOp::Or => OR,
        ArithOp::Xor => XOR,
        ArithOp::Shl => LSH,
        ArithOp::Shr => RSH,
    }
}

/// `a op b` on 32 bits as libpcap folds it (shifts of 32 or more give 0); None for a
/// division by zero.
fn fold(op: ArithOp, a: u32, b: u32) -> Option<u32> {
    Some(match op {
        ArithOp::Add => a.wrapping_add(b),
        ArithOp::Sub => a.wrapping_sub(b),
        ArithOp::Mul => a.wrapping_mul(b),
        ArithOp::Div => a.checked_div(b)?,
        ArithOp::Mod => a.checked_rem(b)?,
        ArithOp::And => a & b,
        ArithOp::Or => a | b,
        ArithOp::Xor => a ^ b,
        ArithOp::Shl => a.checked_shl(b).unwrap_or(0),
        ArithOp::Shr => a.checked_shr(b).unwrap_or(0),
    })
}

const MAX_SCRATCH: u32 = 16;

impl Codegen<'_> {
    pub(super) fn relation(&mut self, r: &Relation) -> R<Cond> {
        let a = self.operand(&r.left)?;
        let b = self.operand(&r.right)?;
        if a.regs.max(1 + b.regs) > MAX_SCRATCH {
            return Err(err(
                "too many registers needed to evaluate expression",
                r.left.span,
            ));
        }
        let (jop, negate) = match r.op {
            RelOp::Gt => (JGT, false),
            RelOp::Ge => (JGE, false),
            RelOp::Lt => (JGE, true),
            RelOp::Le => (JGT, true),
            RelOp::Eq => (JEQ, false),
            RelOp::Ne => (JEQ, true),
        };
        let outcome = |x: u32, y: u32| {
            let v = match jop {
                JGT => x > y,
                JGE => x >= y,
                _ => x == y,
            };
            v != negate
        };
        let checks = a.checks.clone().and(b.checks.clone());
        let test = match (a.konst, b.konst) {
            (Some(x), Some(y)) if self.folding && a.literal && b.literal => {
                Cond::Const(outcome(x, y))
            }
            (Some(x), Some(y)) if self.folding => Cond::Late(outcome(x, y)),
            (Some(x), Some(y)) if a.reads_nothing() && b.reads_nothing() => {
                self.konst(outcome(x, y))
            }
            _ => {
                let t = self.compare(&a, &b, jop)?;
                if negate {
                    t.not()
                } else {
                    t
                }
            }
        };
        Ok(checks.and(test))
    }

    /// The comparison block: both operands' statements, then the jump.
    fn compare(&self, a: &Operand, b: &Operand, jop: u16) -> R<Cond> {
        let mut st = Vec::new();
        if let Some(k) = b.konst {
            self.emit(a, 0, &mut st)?;
            return Ok(Cond::test(st, jop | K, k));
        }
        if let Some(k) = a.konst {
            self.emit(b, 0, &mut st)?;
            st.push(ins(MISC | TAX, 0));
            st.push(ins(LD | IMM, k));
            return Ok(Cond::test(st, jop | X, 0));
        }
        self.emit(b, 0, &mut st)?;
        st.push(ins(ST, 0));
        self.emit(a, 1, &mut st)?;
        st.push(ins(LDX | MEM, 0));
        Ok(Cond::test(st, jop | X, 0))
    }

    /// Statements leaving `o` in A; scratch slots from `depth` up are free.
    fn emit(&self, o: &Operand, depth: u32, out: &mut Vec<Insn>) -> R<()> {
        if depth >= MAX_SCRATCH {
            return Err(err(
                "expression too complex: out of scratch memory",
                Span::default(),
            ));
        }
        if let Some(k) = o.konst {
            out.push(ins(LD | IMM, k));
            return Ok(());
        }
        match &o.ir {
            Ir::Const(k) => out.push(ins(LD | IMM, *k)),
            Ir::Len => out.push(ins(LD | W | LEN, 0)),
            Ir::Neg(a) => {
                self.emit(a, depth, out)?;
                out.push(ins(ALU | NEG, 0));
            }
            Ir::Load {
                size,
                base,
                index,
                iphl,
            } => self.emit_load(*size, *base, index, *iphl, depth, out)?,
            Ir::Chain(first, rest) => {
                self.emit(first, depth, out)?;
                for (op, r) in rest {
                    match r.konst {
                        // a constant the kernel takes in the instruction itself
                        Some(k) if k != 0 || !matches!(op, ArithOp::Div | ArithOp::Mod) => {
                            if k < 32 || !matches!(op, ArithOp::Shl | ArithOp::Shr) {
                                out.push(ins(ALU | alu(*op) | K, k));
                                continue;
                            }
                            out.push(ins(LDX | IMM, k));
                        }
                        Some(k) => out.push(ins(LDX | IMM, k)),
                        None => {
                            out.push(ins(ST, depth));
                            self.emit(r, depth + 1, out)?;
                            out.push(ins(MISC | TAX, 0));
                            out.push(ins(LD | MEM, depth));
                        }
                    }
                    out.push(ins(ALU | alu(*op) | X, 0));
                }
            }
        }
        Ok(())
    }

    fn emit_load(
        &self,
        size: u16,
        base: u32,
        index: &Operand,
        iphl: Option<u32>,
        depth: u32,
        out: &mut Vec<Insn>,
    ) -> R<()> {
        match (index.konst, iphl) {
            // folding: a constant index is part of the offset (libpcap's optimizer does the
            // same, wrapping around as it does)
            (Some(k), None) if self.folding => out.push(ins(LD | size | ABS, base.wrapping_add(k))),
            (Some(k), Some(nl)) if self.folding => {
                out.push(ins(LDX | B | MSH, nl));
                out.push(ins(LD | size | IND, base.wrapping_add(k)));
            }
            // as libpcap's unoptimized code: the index goes through X, so an offset past
            // 2^32 rejects the packet instead of wrapping
            (Some(k), None) => {
                out.push(ins(LDX | IMM, k));
                out.push(ins(LD | size | IND, base));
            }
            (Some(k), Some(nl)) => {
                out.push(ins(LDX | B | MSH, nl));
                out.push(ins(LD | IMM, k));
                out.push(ins(ALU | ADD | X, 0));
                out.push(ins(MISC | TAX, 0));
                out.push(ins(LD | size | IND, base));
            }
            (None, iphl) => {
                self.emit(index, depth, out)?;
                if let Some(nl) = iphl {
                    out.push(ins(ST, depth));
                    out.push(ins(LDX | B | MSH, nl));
                    out.push(ins(LD | MEM, depth));
                    out.push(ins(ALU | ADD | X, 0));
                }
                out.push(ins(MISC | TAX, 0));
                out.push(ins(LD | size | IND, base));
            }
        }
        Ok(())
    }

    fn operand(&mut self, a: &Arith) -> R<Operand> {
        Ok(match &a.kind {
            ArithKind::Number(k) => Operand {
                ir: Ir::Const(*k),
                checks: Cond::Const(true),
                konst: Some(*k),
                literal: true,
                head: Some(*k),
                regs: 1,
            },
            ArithKind::Len => Operand {
                ir: Ir::Len,
                checks: Cond::Const(true),
                konst: None,
                literal: false,
                head: None,
                regs: 1,
            },
            ArithKind::Neg(x) => {
                let x = self.operand(x)?;
                Operand {
                    checks: x.checks.clone(),
                    konst: x.konst.map(u32::wrapping_neg),
                    literal: false,
                    head: x.head,
                    regs: x.regs,
                    ir: Ir::Neg(Box::new(x)),
                }
            }
            ArithKind::Load { proto, index, size } => {
                let index = self.operand(index)?;
                self.load(*proto, index, *size, a.span)?
            }
            ArithKind::Chain { first, rest } => {
                let mut first = self.operand(first)?;
                let checks = std::mem::replace(&mut first.checks, Cond::Const(true));
                let (head, mut konst, mut regs) = (first.head, first.konst, first.regs);
                let mut ops = Vec::with_capacity(rest.len());
                for (op, r) in rest {
                    let operand = self.operand(r)?;
                    self.check_operator(*op, &operand, konst, r.span)?;
                    regs = regs.max(1 + operand.regs);
                    konst = self.fold_step(*op, konst, &operand);
                    ops.push((*op, operand));
                }
                Operand {
                    ir: Ir::Chain(Box::new(first), ops),
                    // the checks of the operands after the first are dropped, as libpcap's
                    // gen_arth drops them
                    checks,
                    konst,
                    literal: false,
                    head,
                    regs,
                }
            }
        })
    }

    /// libpcap's errors for `x op r` (gen_arth at generation; its optimizer when folding).
    fn check_operator(&self, op: ArithOp, r: &Operand, lhs: Option<u32>, span: Span) -> R<()> {
        match (op, r.head) {
            (ArithOp::Div, Some(0)) => return Err(err("division by zero", span)),
            (ArithOp::Mod, Some(0)) => return Err(err("modulus by zero", span)),
            (ArithOp::Shl | ArithOp::Shr, Some(k)) if k > 31 => {
                return Err(err("shift by more than 31 bits", span))
            }
            _ => {}
        }
        if self.folding {
            match (op, r.konst) {
                (ArithOp::Div, Some(0)) => return Err(err("division by zero", span)),
                (ArithOp::Mod, Some(0)) => return Err(err("modulus by zero", span)),
                (ArithOp::Shl | ArithOp::Shr, Some(k)) if k > 31 && lhs.is_none() => {
                    return Err(err("shift by more than 31 bits", span))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The constant `acc op r` is, if any: libpcap's optimizer folding when folding (it also
    /// turns `x * 0` and `x & 0` into 0, whatever x), plain arithmetic on values that read
    /// nothing otherwise.
    fn fold_step(&self, op: ArithOp, acc: Option<u32>, r: &Operand) -> Option<u32> {
        let rk = r.konst?;
        if self.folding && rk == 0 {
            return match op {
                ArithOp::Mul | ArithOp::And => Some(0),
                _ => acc.and_then(|a| fold(op, a, 0)),
            };
        }
        fold(op, acc?, rk)
    }

    /// `proto[index:size]` (gen_load).
    fn load(&mut self, proto: Proto, index: Operand, size: u32, span: Span) -> R<Operand> {
        let sz = match size {
            1 => B,
            2 => H,
            4 => W,
            _ => return Err(err("data size must be 1, 2, or 4", span)),
        };
        let nl = self.st.off_nl;
        let idx_checks = index.checks.clone();
        let (checks, base, iphl) = match proto {
            Proto::Link => (idx_checks, 0, None),
            Proto::Ip | Proto::Ip6 | Proto::Arp | Proto::Rarp => {
                (idx_checks.and(self.proto_abbrev(proto, span)?), nl, None)
            }
            Proto::Other(n)
                if matches!(n, "atalk" | "decnet" | "sca" | "lat" | "moprc" | "mopdl") =>
            {
                (idx_checks.and(self.proto_abbrev(proto, span)?), nl, None)
            }
            Proto::Tcp
            | Proto::Udp
            | Proto::Sctp
            | Proto::Icmp
            | Proto::Igmp
            | Proto::Igrp
            | Proto::Pim
            | Proto::Vrrp
            | Proto::Carp => {
                let c = self
                    .ipv4(span)?
                    .and(idx_checks)
                    .and(self.proto_abbrev(proto, span)?)
                    .and(self.nofrag());
                (c, nl, Some(nl))
            }
            Proto::Icmp6 => {
                let c = idx_checks
                    .and(self.ipv6(span)?)
                    .and(super::cmp(B, nl + 6, JEQ, 58));
                (c, nl + 40, None)
            }
            _ => return Err(err("unsupported index operation", span)),
        };
        let regs = index.regs.max(2);
        let head = index.head;
        Ok(Operand {
            ir: Ir::Load {
                size: sz,
                base,
                index: Box::new(index),
                iphl,
            },
            checks,
            konst: None,
            literal: false,
            head,
            regs,
        })
    }
}

impl Operand {
    /// No load, no `len`, no division by zero: its value does not depend on the packet.
    fn reads_nothing(&self) -> bool {
        match &self.ir {
            Ir::Const(_) => true,
            Ir::Len | Ir::Load { .. } => false,
            Ir::Neg(a) => a.reads_nothing(),
            Ir::Chain(f, rest) => {
                f.reads_nothing()
                    && rest.iter().all(|(op, r)| {
                        r.reads_nothing()
                            && !(matches!(op, ArithOp::Div | ArithOp::Mod) && r.konst == Some(0))
                    })
            }
        }
    }
}
