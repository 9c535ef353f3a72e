//! Relations (`arith relop arith`): libpcap's statements for them (values through scratch
//! registers allocated as libpcap allocates them), the protocol checks it puts in front of
//! them, and the errors it gives for them.
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
//! Errors here, as libpcap's code generator gives them: a division or modulo by a right
//! operand whose code starts with `ld #0` (a literal 0, but also `0 + 5` or `ip[0]`, whose code
//! starts by loading the index 0), a shift by one starting with `ld #k`, k > 31; data sizes
//! other than 1, 2, 4; more than 16 scratch registers in use. Optimizing, libpcap's optimizer
//! adds its own (a divisor or shift it folds to 0 or more than 31): see `opt::pcap`.

use super::{err, Codegen, R};
use crate::ast::{Arith, ArithKind, ArithOp, Proto, RelOp, Relation, Span};
use crate::bpf::*;
use crate::cond::{ins, Cond};
use crate::Insn;

/// libpcap's scratch register allocation (alloc_reg, free_reg): round robin from the last
/// register handed out, over the 16 of classic BPF.
#[derive(Default)]
pub(crate) struct Registers {
    used: [bool; 16],
    cur: usize,
}

impl Registers {
    fn alloc(&mut self, span: Span) -> R<u32> {
        for _ in 0..16 {
            if self.used[self.cur] {
                self.cur = (self.cur + 1) % 16;
            } else {
                self.used[self.cur] = true;
                return Ok(self.cur as u32);
            }
        }
        Err(err(
            "too many registers needed to evaluate expression",
            span,
        ))
    }
    fn free(&mut self, r: u32) {
        self.used[r as usize] = false;
    }
}

/// An arithmetic value as libpcap builds it (its `struct arth`).
struct Value {
    /// Statements that leave the value in scratch register `reg`.
    stmts: Vec<Insn>,
    reg: u32,
    /// The protocol checks libpcap makes before the relation for this value.
    checks: Cond,
}

impl Value {
    /// The first statement loads the constant k: what libpcap's zero and shift checks see.
    fn head(&self) -> Option<u32> {
        self.stmts
            .first()
            .filter(|s| s.code == LD | IMM)
            .map(|s| s.k)
    }
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

impl Codegen<'_> {
    /// gen_relation: both operands' statements, then `ldx M[b]; ld M[a]` and the comparison
    /// (`sub x; jeq #0` for equality), after both operands' checks.
    pub(super) fn relation(&mut self, r: &Relation) -> R<Cond> {
        let a = self.value(&r.left)?;
        let b = self.value(&r.right)?;
        let (jop, reversed) = match r.op {
            RelOp::Gt => (JGT, false),
            RelOp::Ge => (JGE, false),
            RelOp::Lt => (JGE, true),
            RelOp::Le => (JGT, true),
            RelOp::Eq => (JEQ, false),
            RelOp::Ne => (JEQ, true),
        };
        let mut st = a.stmts;
        st.extend(b.stmts);
        st.push(ins(LDX | MEM, b.reg));
        st.push(ins(LD | MEM, a.reg));
        let test = if jop == JEQ {
            st.push(ins(ALU | SUB | X, 0));
            Cond::test(st, JEQ | K, 0)
        } else {
            Cond::test(st, jop | X, 0)
        };
        self.regs.free(a.reg);
        self.regs.free(b.reg);
        let test = if reversed { test.not() } else { test };
        Ok(a.checks.and(b.checks).and(test))
    }

    fn value(&mut self, a: &Arith) -> R<Value> {
        match &a.kind {
            ArithKind::Number(k) => {
                let reg = self.regs.alloc(a.span)?;
                Ok(Value {
                    stmts: vec![ins(LD | IMM, *k), ins(ST, reg)],
                    reg,
                    checks: Cond::Const(true),
                })
            }
            ArithKind::Len => {
                let reg = self.regs.alloc(a.span)?;
                Ok(Value {
                    stmts: vec![ins(LD | W | LEN, 0), ins(ST, reg)],
                    reg,
                    checks: Cond::Const(true),
                })
            }
            ArithKind::Neg(x) => {
                let mut v = self.value(x)?;
                v.stmts.push(ins(LD | MEM, v.reg));
                v.stmts.push(ins(ALU | NEG, 0));
                v.stmts.push(ins(ST, v.reg));
                Ok(v)
            }
            ArithKind::Load { proto, index, size } => {
                let index = self.value(index)?;
                self.load(*proto, index, *size, a.span)
            }
            ArithKind::Chain { first, rest } => {
                let mut acc = self.value(first)?;
                for (op, r) in rest {
                    let b = self.value(r)?;
                    acc = self.arith(*op, acc, b, r.span)?;
                }
                Ok(acc)
            }
        }
    }

    /// gen_arth: `a op b`, keeping the checks of `a` only.
    fn arith(&mut self, op: ArithOp, a: Value, b: Value, span: Span) -> R<Value> {
        match (op, b.head()) {
            (ArithOp::Div, Some(0)) => return Err(err("division by zero", span)),
            (ArithOp::Mod, Some(0)) => return Err(err("modulus by zero", span)),
            (ArithOp::Shl | ArithOp::Shr, Some(k)) if k > 31 => {
                return Err(err("shift by more than 31 bits", span))
            }
            _ => {}
        }
        let mut st = a.stmts;
        st.extend(b.stmts);
        st.push(ins(LDX | MEM, b.reg));
        st.push(ins(LD | MEM, a.reg));
        st.push(ins(ALU | alu(op) | X, 0));
        self.regs.free(a.reg);
        self.regs.free(b.reg);
        let reg = self.regs.alloc(span)?;
        st.push(ins(ST, reg));
        Ok(Value {
            stmts: st,
            reg,
            checks: a.checks,
        })
    }

    /// gen_load: `proto[index:size]`, relative to the header of `proto`.
    fn load(&mut self, proto: Proto, index: Value, size: u32, span: Span) -> R<Value> {
        let reg = self.regs.alloc(span)?;
        let ireg = index.reg;
        self.regs.free(ireg);
        let sz = match size {
            1 => B,
            2 => H,
            4 => W,
            _ => return Err(err("data size must be 1, 2, or 4", span)),
        };
        let nl = self.st.off_nl;
        let Value {
            mut stmts, checks, ..
        } = index;
        let checks = match proto {
            Proto::Link => {
                stmts.push(ins(LDX | MEM, ireg));
                stmts.push(ins(LD | sz | IND, 0));
                checks
            }
            Proto::Ip | Proto::Ip6 | Proto::Arp | Proto::Rarp => {
                stmts.push(ins(LDX | MEM, ireg));
                stmts.push(ins(LD | sz | IND, nl));
                checks.and(self.proto_abbrev(proto, span)?)
            }
            Proto::Other("atalk" | "decnet" | "sca" | "lat" | "moprc" | "mopdl") => {
                stmts.push(ins(LDX | MEM, ireg));
                stmts.push(ins(LD | sz | IND, nl));
                checks.and(self.proto_abbrev(proto, span)?)
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
                // X = the IPv4 header length, + the index, then the load after the header
                stmts.push(ins(LDX | B | MSH, nl));
                stmts.push(ins(LD | MEM, ireg));
                stmts.push(ins(ALU | ADD | X, 0));
                stmts.push(ins(MISC | TAX, 0));
                stmts.push(ins(LD | sz | IND, nl));
                let b = self.proto_abbrev(proto, span)?.and(self.nofrag());
                self.ipv4(span)?.and(checks.and(b))
            }
            Proto::Icmp6 => {
                stmts.push(ins(LDX | MEM, ireg));
                stmts.push(ins(LD | sz | IND, nl + 40));
                checks
                    .and(self.ipv6(span)?)
                    .and(super::cmp(B, nl + 6, JEQ, 58))
            }
            _ => return Err(err("unsupported index operation", span)),
        };
        stmts.push(ins(ST, reg));
        Ok(Value { stmts, reg, checks })
    }
}
