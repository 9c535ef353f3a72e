//! ringcap's own optimizer, for the programs libpcap leaves unoptimized (protochain): every
//! block is self-contained (it loads what it tests), so a block can be moved past or shared
//! freely; a block whose branches meet is skipped only if it reads nothing (a load may fail,
//! and the unoptimized code whose verdicts these programs keep runs every load it reaches),
//! and the protochain walk's blocks (`keep`) are never skipped.

use super::blocks::{topo, Blk, Tgt};
use super::value::{eval, implied, Fact, Vn};
use crate::bpf::*;
use std::collections::HashMap;

pub(super) struct Graph {
    pub blocks: Vec<Blk>,
    pub entry: Tgt,
}

impl Graph {
    /// `and #k; jeq #0` is `jset #k` with the branches swapped.
    pub fn jset_from_and(&mut self) {
        for bl in self.blocks.iter_mut() {
            if bl.code != JEQ | K || bl.k != 0 || bl.keep {
                continue;
            }
            if let Some(last) = bl.stmts.last().copied() {
                if last.code == ALU | AND | K {
                    bl.stmts.pop();
                    bl.code = JSET | K;
                    bl.k = last.k;
                    std::mem::swap(&mut bl.jt, &mut bl.jf);
                }
            }
        }
    }

    /// The value numbers of A and X after each block's statements.
    pub fn number_values(&mut self, vn: &mut Vn) {
        for bl in self.blocks.iter_mut() {
            let (ua, ux) = (vn.fresh(), vn.fresh());
            let (a, x, _) = vn.sim(&bl.stmts, ua, ux);
            bl.aval = a;
            bl.xval = x;
        }
    }

    /// A test on a constant always goes the same way.
    fn fold_constant_tests(&mut self, vn: &Vn) {
        for bl in self.blocks.iter_mut() {
            if src(bl.code) == K {
                if let Some(c) = vn.imm(bl.aval) {
                    let t = if eval(op(bl.code), c, bl.k) {
                        bl.jt
                    } else {
                        bl.jf
                    };
                    bl.jt = t;
                    bl.jf = t;
                }
            }
        }
    }

    /// Where a jump to `t` ends up once blocks whose branches meet are skipped.
    fn resolve(&self, mut t: Tgt) -> Tgt {
        while let Tgt::Blk(n) = t {
            let b = &self.blocks[n];
            if b.jt == b.jf && b.skippable() {
                t = b.jt;
            } else {
                break;
            }
        }
        t
    }

    fn skip_meeting_branches(&mut self) {
        self.entry = self.resolve(self.entry);
        for i in 0..self.blocks.len() {
            let jt = self.resolve(self.blocks[i].jt);
            let jf = self.resolve(self.blocks[i].jf);
            self.blocks[i].jt = jt;
            self.blocks[i].jf = jf;
        }
    }

    /// Jump threading: an edge whose target's outcome is already known from the tests on
    /// every path to it goes straight on. Returns whether anything changed.
    fn thread_jumps(&mut self) -> bool {
        let mut changed = false;
        let order = topo(&self.blocks, self.entry);
        let mut facts_in: Vec<Option<Vec<Fact>>> = vec![None; self.blocks.len()];
        if let Tgt::Blk(e) = self.entry {
            facts_in[e] = Some(Vec::new());
        }
        for &bi in &order {
            let fin = facts_in[bi].clone().unwrap_or_default();
            for br in [true, false] {
                let bl = &self.blocks[bi];
                let mut facts = fin.clone();
                if src(bl.code) == K {
                    facts.push(Fact {
                        v: bl.aval,
                        op: op(bl.code),
                        k: bl.k,
                        res: br,
                    });
                }
                let orig = if br { bl.jt } else { bl.jf };
                let t = self.follow(orig, &facts);
                if t != orig {
                    changed = true;
                    if br {
                        self.blocks[bi].jt = t;
                    } else {
                        self.blocks[bi].jf = t;
                    }
                }
                if let Tgt::Blk(n) = t {
                    facts_in[n] = Some(match facts_in[n].take() {
                        None => facts,
                        Some(old) => old.into_iter().filter(|f| facts.contains(f)).collect(),
                    });
                }
            }
        }
        changed
    }

    /// From `t`, past every test whose outcome `facts` decide.
    fn follow(&self, mut t: Tgt, facts: &[Fact]) -> Tgt {
        while let Tgt::Blk(n) = t {
            let s = &self.blocks[n];
            if src(s.code) != K || s.keep {
                break;
            }
            let r = facts
                .iter()
                .filter(|f| f.v == s.aval)
                .find_map(|f| implied(f, op(s.code), s.k));
            match r {
                Some(true) => t = s.jt,
                Some(false) => t = s.jf,
                None => break,
            }
        }
        t
    }

    /// Identical blocks (same code, same targets) become one, bottom-up. Returns whether
    /// anything changed.
    fn merge_identical(&mut self) -> bool {
        type Key = (Vec<crate::Insn>, u16, u32, Tgt, Tgt, bool);
        let mut changed = false;
        let order = topo(&self.blocks, self.entry);
        let mut canon: HashMap<Key, usize> = HashMap::new();
        let mut remap: HashMap<usize, usize> = HashMap::new();
        for &bi in order.iter().rev() {
            let m = |t: Tgt| match t {
                Tgt::Blk(n) => Tgt::Blk(*remap.get(&n).unwrap_or(&n)),
                r => r,
            };
            let (jt, jf) = (m(self.blocks[bi].jt), m(self.blocks[bi].jf));
            let b = &mut self.blocks[bi];
            b.jt = jt;
            b.jf = jf;
            let key = (b.stmts.clone(), b.code, b.k, jt, jf, b.keep);
            match canon.get(&key) {
                Some(&c) if c != bi => {
                    remap.insert(bi, c);
                    changed = true;
                }
                _ => {
                    canon.insert(key, bi);
                }
            }
        }
        if let Tgt::Blk(e) = self.entry {
            self.entry = Tgt::Blk(*remap.get(&e).unwrap_or(&e));
        }
        changed
    }

    /// The rounds, to a fixed point (or 32 rounds).
    pub fn optimize(&mut self, vn: &Vn) {
        for _round in 0..32 {
            self.fold_constant_tests(vn);
            self.skip_meeting_branches();
            let threaded = self.thread_jumps();
            let merged = self.merge_identical();
            if !threaded && !merged {
                break;
            }
        }
        self.skip_remaining_meetings();
    }

    /// A last pass: tests whose branches meet after the final threading.
    fn skip_remaining_meetings(&mut self) {
        for _ in 0..self.blocks.len() + 1 {
            let mut again = false;
            if let Tgt::Blk(e) = self.entry {
                let b = &self.blocks[e];
                if b.jt == b.jf && b.skippable() {
                    self.entry = b.jt;
                    again = true;
                }
            }
            for i in 0..self.blocks.len() {
                for br in [true, false] {
                    let t = if br {
                        self.blocks[i].jt
                    } else {
                        self.blocks[i].jf
                    };
                    if let Tgt::Blk(n) = t {
                        let b = &self.blocks[n];
                        if b.jt == b.jf && b.skippable() {
                            let nt = b.jt;
                            if br {
                                self.blocks[i].jt = nt;
                            } else {
                                self.blocks[i].jf = nt;
                            }
                            again = true;
                        }
                    }
                }
            }
            if !again {
                break;
            }
        }
    }
}
