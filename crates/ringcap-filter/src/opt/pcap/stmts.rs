//! Value numbering and statement folding as libpcap's optimizer does them (optimize.c's F, K,
//! vstore, opt_stmt, fold_op, opt_peep, deadstmt, opt_deadstores). In the first pass values
//! are numbered but nothing is changed ("alter" off) except by opt_peep and the dead-store
//! pass, which run in both.

use super::flow::{atomdef, atomuse_of};
use super::{Emulation, Stmt, A_ATOM, NOP, N_ATOMS, R, X_ATOM};
use crate::bpf::*;
use crate::CompileError;
use std::collections::HashMap;

/// Value numbers: equal numbers, equal values; 0 is unknown. Constants are the values of
/// immediate loads.
#[derive(Default)]
pub(super) struct Values {
    map: HashMap<(i32, u32, u32), u32>,
    consts: HashMap<u32, u32>,
    cur: u32,
}

impl Values {
    /// F: the number of `code` applied to `v0`, `v1`.
    pub fn f(&mut self, code: i32, v0: u32, v1: u32) -> u32 {
        if let Some(v) = self.map.get(&(code, v0, v1)) {
            return *v;
        }
        self.cur += 1;
        let v = self.cur;
        let c = code as u16;
        if mode(c) == IMM && matches!(class(c), LD | LDX) {
            self.consts.insert(v, v0);
        }
        self.map.insert((code, v0, v1), v);
        v
    }
    /// K: the number of the constant `k`.
    pub fn k(&mut self, k: u32) -> u32 {
        self.f((LD | IMM | W) as i32, k, 0)
    }
    pub fn konst(&self, v: u32) -> Option<u32> {
        self.consts.get(&v).copied()
    }
}

fn opt_error(msg: &str) -> CompileError {
    CompileError {
        message: msg.into(),
        offset: None,
    }
}

/// vstore: an assignment of the value the register already has is deleted (when altering).
fn vstore(s: &mut Stmt, reg: &mut u32, v: u32, alter: bool) {
    if alter && v != 0 && *reg == v {
        s.code = NOP;
    } else {
        *reg = v;
    }
}

/// fold_op: `a op b` on constants, as libpcap computes it (shifts of 32 or more give 0).
fn fold(op: u16, a: u32, b: u32) -> R<u32> {
    Ok(match op {
        ADD => a.wrapping_add(b),
        SUB => a.wrapping_sub(b),
        MUL => a.wrapping_mul(b),
        DIV => a
            .checked_div(b)
            .ok_or_else(|| opt_error("division by zero"))?,
        MOD => a
            .checked_rem(b)
            .ok_or_else(|| opt_error("modulus by zero"))?,
        AND => a & b,
        OR => a | b,
        XOR => a ^ b,
        LSH => a.checked_shl(b).unwrap_or(0),
        RSH => a.checked_shr(b).unwrap_or(0),
        _ => unreachable!("fold_op on a unary operator"),
    })
}

impl Emulation {
    fn changed(&mut self) {
        self.non_branch_movement = true;
        self.done = false;
    }

    /// `s` replaced by `ld #a op b` (fold_op).
    fn fold_op(&mut self, s: &mut Stmt, a: u32, b: u32) -> R<()> {
        let v = fold(op(s.code as u16), a, b)?;
        s.k = v;
        s.code = (LD | IMM) as i32;
        self.changed();
        Ok(())
    }

    /// opt_stmt: the value `s` computes, and (when `alter`) its simplification.
    pub(super) fn opt_stmt(
        &mut self,
        s: &mut Stmt,
        val: &mut [u32; N_ATOMS],
        alter: bool,
    ) -> R<()> {
        if s.code == NOP {
            return Ok(());
        }
        let c = s.code as u16;
        match (class(c), mode(c)) {
            (LD, ABS) => {
                let v = self.values.f(s.code, s.k, 0);
                vstore(s, &mut val[A_ATOM], v, alter);
            }
            (LD, IND) => {
                let x = val[X_ATOM];
                let v = match self.values.konst(x).filter(|_| alter) {
                    Some(kx) => {
                        s.code = (LD | ABS | size(c)) as i32;
                        s.k = s.k.wrapping_add(kx);
                        self.changed();
                        self.values.f(s.code, s.k, 0)
                    }
                    None => self.values.f(s.code, s.k, x),
                };
                vstore(s, &mut val[A_ATOM], v, alter);
            }
            (LD, LEN) => {
                let v = self.values.f(s.code, 0, 0);
                vstore(s, &mut val[A_ATOM], v, alter);
            }
            (LD, IMM) => {
                let v = self.values.k(s.k);
                vstore(s, &mut val[A_ATOM], v, alter);
            }
            (LDX, IMM) => {
                let v = self.values.k(s.k);
                vstore(s, &mut val[X_ATOM], v, alter);
            }
            (LDX, MSH) => {
                let v = self.values.f(s.code, s.k, 0);
                vstore(s, &mut val[X_ATOM], v, alter);
            }
            (LD, MEM) | (LDX, MEM) => {
                let v = val[s.k as usize];
                let ldx = class(c) == LDX;
                if alter {
                    if let Some(kv) = self.values.konst(v) {
                        s.code = (if ldx { LDX | IMM } else { LD | IMM }) as i32;
                        s.k = kv;
                        self.changed();
                    }
                }
                let reg = if ldx { X_ATOM } else { A_ATOM };
                vstore(s, &mut val[reg], v, alter);
            }
            (ST, _) => {
                let a = val[A_ATOM];
                vstore(s, &mut val[s.k as usize], a, alter);
            }
            (STX, _) => {
                let x = val[X_ATOM];
                vstore(s, &mut val[s.k as usize], x, alter);
            }
            (MISC, _) if c & 0xf8 == TXA => {
                let x = val[X_ATOM];
                vstore(s, &mut val[A_ATOM], x, alter);
            }
            (MISC, _) => {
                let a = val[A_ATOM];
                vstore(s, &mut val[X_ATOM], a, alter);
            }
            (ALU, _) if op(c) == NEG => match self.values.konst(val[A_ATOM]).filter(|_| alter) {
                Some(a) => {
                    s.code = (LD | IMM) as i32;
                    s.k = 0u32.wrapping_sub(a);
                    val[A_ATOM] = self.values.k(s.k);
                }
                None => val[A_ATOM] = self.values.f(s.code, val[A_ATOM], 0),
            },
            (ALU, _) if src(c) == K => self.opt_alu_k(s, val, alter)?,
            (ALU, _) => self.opt_alu_x(s, val, alter)?,
            _ => {}
        }
        Ok(())
    }

    fn opt_alu_k(&mut self, s: &mut Stmt, val: &mut [u32; N_ATOMS], alter: bool) -> R<()> {
        let o = op(s.code as u16);
        if alter {
            if s.k == 0 {
                // "sub #0" is kept: it may be needed later to fix up the generated math
                if matches!(o, ADD | LSH | RSH | OR | XOR) {
                    s.code = NOP;
                    return Ok(());
                }
                if matches!(o, MUL | AND) {
                    s.code = (LD | IMM) as i32;
                    val[A_ATOM] = self.values.k(s.k);
                    return Ok(());
                }
                if o == DIV {
                    return Err(opt_error("division by zero"));
                }
                if o == MOD {
                    return Err(opt_error("modulus by zero"));
                }
            }
            if let Some(a) = self.values.konst(val[A_ATOM]) {
                self.fold_op(s, a, s.k)?;
                val[A_ATOM] = self.values.k(s.k);
                return Ok(());
            }
        }
        let kv = self.values.k(s.k);
        val[A_ATOM] = self.values.f(s.code, val[A_ATOM], kv);
        Ok(())
    }

    fn opt_alu_x(&mut self, s: &mut Stmt, val: &mut [u32; N_ATOMS], alter: bool) -> R<()> {
        let o = op(s.code as u16);
        if alter {
            if let Some(x) = self.values.konst(val[X_ATOM]) {
                if let Some(a) = self.values.konst(val[A_ATOM]) {
                    self.fold_op(s, a, x)?;
                    val[A_ATOM] = self.values.k(s.k);
                } else {
                    s.code = (ALU | K | o) as i32;
                    s.k = x;
                    if matches!(o, LSH | RSH) && s.k > 31 {
                        return Err(opt_error("shift by more than 31 bits"));
                    }
                    self.changed();
                    let kv = self.values.k(s.k);
                    val[A_ATOM] = self.values.f(s.code, val[A_ATOM], kv);
                }
                return Ok(());
            }
            if self.values.konst(val[A_ATOM]) == Some(0) {
                if matches!(o, ADD | OR | XOR) {
                    s.code = (MISC | TXA) as i32;
                    let x = val[X_ATOM];
                    vstore(s, &mut val[A_ATOM], x, alter);
                    return Ok(());
                }
                if matches!(o, MUL | DIV | MOD | AND | LSH | RSH) {
                    s.code = (LD | IMM) as i32;
                    s.k = 0;
                    let z = self.values.k(0);
                    vstore(s, &mut val[A_ATOM], z, alter);
                    return Ok(());
                }
            }
        }
        val[A_ATOM] = self.values.f(s.code, val[A_ATOM], val[X_ATOM]);
        Ok(())
    }

    /// opt_peep: peephole rewrites within the block, then of its branch.
    pub(super) fn opt_peep(&mut self, b: usize) {
        let mut stmts = std::mem::take(&mut self.blocks[b].stmts);
        if stmts.is_empty() {
            return;
        }
        let live = |st: &[Stmt], from: usize| (from..st.len()).find(|&i| st[i].code != NOP);
        let out_use = self.blocks[b].out_use;
        let mut last = 0;
        let mut at = 0;
        while let Some(s) = live(&stmts, at) {
            let Some(next) = live(&stmts, s + 1) else {
                break;
            };
            last = next;
            let (sc, nc) = (stmts[s].code, stmts[next].code);
            // st M[k]; ldx M[k]  ->  st M[k]; tax
            if sc == ST as i32 && nc == (LDX | MEM) as i32 && stmts[s].k == stmts[next].k {
                self.changed();
                stmts[next].code = (MISC | TAX) as i32;
            }
            // ld #k; tax  ->  ldx #k; txa
            if stmts[s].code == (LD | IMM) as i32 && stmts[next].code == (MISC | TAX) as i32 {
                stmts[s].code = (LDX | IMM) as i32;
                stmts[next].code = (MISC | TXA) as i32;
                self.changed();
            }
            // ld #k; [ldxms]; add x; tax; ild [x+j]  ->  [ldxms]; ild [x+k+j]
            if stmts[s].code == (LD | IMM) as i32 && out_use & (1 << X_ATOM) == 0 {
                self.fold_constant_index(&mut stmts, s, next);
            }
            at = next;
        }
        self.blocks[b].stmts = stmts;
        self.peep_branch(b, last);
    }

    /// The tcp[k]/udp[k] special case of opt_peep: a constant index added into X before an
    /// indirect load goes into the load's offset.
    fn fold_constant_index(&mut self, st: &mut [Stmt], s: usize, next: usize) {
        let live = |from: usize| (from..st.len()).find(|&i| st[i].code != NOP);
        let add = if st[next].code != (LDX | MSH | B) as i32 {
            Some(next)
        } else {
            live(next + 1)
        };
        let Some(add) = add.filter(|&a| st[a].code == (ALU | ADD | X) as i32) else {
            return;
        };
        let Some(tax) = live(add + 1).filter(|&t| st[t].code == (MISC | TAX) as i32) else {
            return;
        };
        let Some(ild) = live(tax + 1).filter(|&i| {
            let c = st[i].code as u16;
            class(c) == LD && mode(c) == IND
        }) else {
            return;
        };
        st[ild].k = st[ild].k.wrapping_add(st[s].k);
        st[s].code = NOP;
        st[add].code = NOP;
        st[tax].code = NOP;
        self.changed();
    }

    /// The branch part of opt_peep: a subtraction or `and` before `jeq` folded into it,
    /// `jset` on 0 or all ones, a constant X or A compared.
    fn peep_branch(&mut self, b: usize, last: usize) {
        let n_stmts = self.blocks[b].stmts.len();
        let bl_s = self.blocks[b].s;
        if bl_s.code == (JMP | JEQ | K) as i32 && self.blocks[b].out_use & (1 << A_ATOM) == 0 {
            let l = self.blocks[b].stmts[last.min(n_stmts - 1)];
            if l.code == (ALU | SUB | X) as i32 {
                let x = self.blocks[b].val[X_ATOM];
                if let Some(kx) = self.values.konst(x) {
                    self.blocks[b].s.k = self.blocks[b].s.k.wrapping_add(kx);
                    self.blocks[b].stmts[last].code = NOP;
                    self.changed();
                } else if self.blocks[b].s.k == 0 {
                    self.blocks[b].stmts[last].code = NOP;
                    self.blocks[b].s.code = (JMP | JEQ | X) as i32;
                    self.changed();
                }
            } else if l.code == (ALU | SUB | K) as i32 {
                self.blocks[b].stmts[last].code = NOP;
                self.blocks[b].s.k = self.blocks[b].s.k.wrapping_add(l.k);
                self.changed();
            } else if l.code == (ALU | AND | K) as i32 && self.blocks[b].s.k == 0 {
                self.blocks[b].s.k = l.k;
                self.blocks[b].s.code = (JMP | K | JSET) as i32;
                self.blocks[b].stmts[last].code = NOP;
                self.changed();
                let bl = &mut self.blocks[b];
                std::mem::swap(&mut bl.jt, &mut bl.jf);
            }
        }
        let bl = &mut self.blocks[b];
        if bl.s.code == (JMP | K | JSET) as i32 {
            if bl.s.k == 0 {
                bl.jt = bl.jf;
            }
            if bl.s.k == 0xffff_ffff {
                bl.jf = bl.jt;
            }
        }
        let x = self.blocks[b].val[X_ATOM];
        if let Some(kx) = self.values.konst(x) {
            if src(self.blocks[b].s.code as u16) == X {
                self.blocks[b].s.code &= !(X as i32);
                self.blocks[b].s.k = kx;
            }
        }
        let a = self.blocks[b].val[A_ATOM];
        if let Some(ka) = self.values.konst(a) {
            let s = self.blocks[b].s;
            if src(s.code as u16) == K {
                let v = match op(s.code as u16) {
                    JEQ => ka == s.k,
                    JGT => ka > s.k,
                    JGE => ka >= s.k,
                    _ => ka & s.k != 0,
                };
                let bl = &mut self.blocks[b];
                if bl.jf != bl.jt {
                    self.non_branch_movement = true;
                    self.done = false;
                }
                let bl = &mut self.blocks[b];
                if v {
                    bl.jf = bl.jt;
                } else {
                    bl.jt = bl.jf;
                }
            }
        }
    }

    /// opt_deadstores: a definition overwritten before any use, or not used after the block,
    /// is deleted.
    pub(super) fn opt_deadstores(&mut self, b: usize) {
        let mut last: [Option<usize>; N_ATOMS] = [None; N_ATOMS];
        let mut stmts = std::mem::take(&mut self.blocks[b].stmts);
        let n = stmts.len();
        // statements 0..n, then the branch (index n), which defines nothing
        for i in 0..=n {
            let (code, k) = if i < n {
                (stmts[i].code, stmts[i].k)
            } else {
                (self.blocks[b].s.code, self.blocks[b].s.k)
            };
            let u = atomuse_of(code, k);
            if u == N_ATOMS as i32 {
                last[X_ATOM] = None;
                last[A_ATOM] = None;
            } else if u >= 0 {
                last[u as usize] = None;
            }
            let d = atomdef(code, k);
            if d >= 0 {
                if let Some(j) = last[d as usize] {
                    self.changed();
                    stmts[j].code = NOP;
                }
                last[d as usize] = Some(i);
            }
        }
        let out_use = self.blocks[b].out_use;
        for (atom, l) in last.iter().enumerate() {
            if let Some(j) = *l {
                if out_use & (1 << atom) == 0 {
                    stmts[j].code = NOP;
                    self.changed();
                }
            }
        }
        self.blocks[b].stmts = stmts;
    }
}
