//! Value numbering over block statements (equal numbers: equal values for the same packet), and
//! what a known test outcome implies for another test on the same value.

use crate::bpf::*;
use crate::Insn;
use std::collections::HashMap;

/// Symbolic values, numbered: equal numbers mean equal values for the same packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum V {
    Abs(u16, u32),
    Ind(u16, u32, u32),
    Msh(u32),
    Len,
    Imm(u32),
    Alu(u16, u32, u32),
    Unknown(u32),
}

#[derive(Default)]
pub(super) struct Vn {
    map: HashMap<V, u32>,
    vals: Vec<V>,
}

impl Vn {
    pub(super) fn id(&mut self, v: V) -> u32 {
        if let Some(i) = self.map.get(&v) {
            return *i;
        }
        let i = self.vals.len() as u32;
        self.vals.push(v.clone());
        self.map.insert(v, i);
        i
    }
    pub(super) fn fresh(&mut self) -> u32 {
        let n = self.vals.len() as u32;
        self.id(V::Unknown(n))
    }
    pub(super) fn imm(&self, i: u32) -> Option<u32> {
        match self.vals.get(i as usize) {
            Some(V::Imm(k)) => Some(*k),
            _ => None,
        }
    }
    /// Simulates `stmts` from register values (a, x); returns the final (a, x) and, per
    /// statement, whether it only reloads a value the register already has.
    pub(super) fn sim(&mut self, stmts: &[Insn], mut a: u32, mut x: u32) -> (u32, u32, Vec<bool>) {
        let mut mem: [Option<u32>; 16] = [None; 16];
        let mut red = Vec::with_capacity(stmts.len());
        for s in stmts {
            let k = s.k;
            let mut r = false;
            match class(s.code) {
                LD => {
                    let v = match mode(s.code) {
                        IMM => self.id(V::Imm(k)),
                        ABS => self.id(V::Abs(size(s.code), k)),
                        IND => self.id(V::Ind(size(s.code), x, k)),
                        LEN => self.id(V::Len),
                        MEM => match mem[(k & 15) as usize] {
                            Some(v) => v,
                            None => self.fresh(),
                        },
                        _ => self.fresh(),
                    };
                    r = v == a;
                    a = v;
                }
                LDX => {
                    let v = match mode(s.code) {
                        IMM => self.id(V::Imm(k)),
                        MSH => self.id(V::Msh(k)),
                        LEN => self.id(V::Len),
                        MEM => match mem[(k & 15) as usize] {
                            Some(v) => v,
                            None => self.fresh(),
                        },
                        _ => self.fresh(),
                    };
                    r = v == x;
                    x = v;
                }
                ST => mem[(k & 15) as usize] = Some(a),
                STX => mem[(k & 15) as usize] = Some(x),
                ALU => {
                    let o = op(s.code);
                    let bv = if src(s.code) == X {
                        x
                    } else {
                        self.id(V::Imm(k))
                    };
                    let folded = match (self.imm(a), self.imm(bv)) {
                        (Some(p), Some(q)) => match o {
                            ADD => Some(p.wrapping_add(q)),
                            SUB => Some(p.wrapping_sub(q)),
                            MUL => Some(p.wrapping_mul(q)),
                            DIV if q != 0 => Some(p / q),
                            MOD if q != 0 => Some(p % q),
                            AND => Some(p & q),
                            OR => Some(p | q),
                            XOR => Some(p ^ q),
                            LSH => Some(if q < 32 { p << q } else { 0 }),
                            RSH => Some(if q < 32 { p >> q } else { 0 }),
                            NEG => Some(p.wrapping_neg()),
                            _ => None,
                        },
                        _ => None,
                    };
                    a = match folded {
                        Some(c) => self.id(V::Imm(c)),
                        None if o == NEG => self.id(V::Alu(o, a, 0)),
                        None => self.id(V::Alu(o, a, bv)),
                    };
                }
                MISC => {
                    if s.code & 0xf8 == TXA {
                        r = a == x;
                        a = x;
                    } else {
                        r = a == x;
                        x = a;
                    }
                }
                _ => {}
            }
            red.push(r);
        }
        (a, x, red)
    }
}

/// A known test outcome on an edge: the value tested, the jump op (K operand), k, the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fact {
    pub v: u32,
    pub op: u16,
    pub k: u32,
    pub res: bool,
}

pub(super) fn eval(op: u16, a: u32, k: u32) -> bool {
    match op {
        JEQ => a == k,
        JGT => a > k,
        JGE => a >= k,
        _ => a & k != 0,
    }
}

/// What a fact implies for the test `op k` on the same value, if anything.
pub(super) fn implied(f: &Fact, op: u16, k: u32) -> Option<bool> {
    if f.op == op && f.k == k {
        return Some(f.res);
    }
    match (f.op, f.res) {
        (JEQ, true) => Some(eval(op, f.k, k)),
        (JEQ, false) => None,
        (JGT, true) => match op {
            JGT if k <= f.k => Some(true),
            JGE if k <= f.k.saturating_add(1) => Some(true),
            JEQ if k <= f.k => Some(false),
            _ => None,
        },
        (JGT, false) => match op {
            JGT if k >= f.k => Some(false),
            JGE if k > f.k => Some(false),
            JEQ if k > f.k => Some(false),
            _ => None,
        },
        (JGE, true) => match op {
            JGE if k <= f.k => Some(true),
            JGT if k < f.k => Some(true),
            JEQ if k < f.k => Some(false),
            _ => None,
        },
        (JGE, false) => match op {
            JGE if k >= f.k => Some(false),
            JGT if f.k > 0 && k >= f.k - 1 => Some(false),
            JEQ if k >= f.k => Some(false),
            _ => None,
        },
        (JSET, true) => match op {
            JSET if f.k & k == f.k => Some(true),
            _ => None,
        },
        (JSET, false) => match op {
            JSET if k & !f.k == 0 => Some(false),
            JEQ if k & f.k != 0 => Some(false),
            _ => None,
        },
        _ => None,
    }
}
