//! Branch movement, libpcap's first optimizer pass only (optimize.c's opt_j, fold_edge,
//! use_conflict, or_pullup, and_pullup): an edge skips a block whose test an edge dominating
//! it already decided (same value, same opcode, same operand; or the true branch of `jeq #c`
//! and a `jeq` on another constant), or whose branches meet; and a test on the value every
//! predecessor tested is pulled up in front of a chain of tests on other values.

use super::{Emulation, A_ATOM, NONE, N_ATOMS};
use crate::bpf::*;

impl Emulation {
    /// Whether a register the target needs holds another value after `b` than after the
    /// target's own predecessors (use_conflict).
    fn use_conflict(&self, b: usize, succ: usize) -> bool {
        let used = self.blocks[succ].out_use;
        (0..N_ATOMS)
            .any(|a| used & (1 << a) != 0 && self.blocks[b].val[a] != self.blocks[succ].val[a])
    }

    /// fold_edge: where `child` goes when reached through a path that took edge `e`, if `e`
    /// decides its test.
    fn fold_edge(&self, child: usize, e: usize) -> usize {
        let n = self.n();
        let pred = e % n;
        let (code, sense) = if e < n {
            (self.blocks[pred].et_code, true)
        } else {
            (-self.blocks[pred].ef_code, false)
        };
        let c = &self.blocks[child];
        if c.s.code != code {
            return NONE;
        }
        let p = &self.blocks[pred];
        if c.val[A_ATOM] != p.val[A_ATOM] {
            return NONE;
        }
        if c.oval == p.oval {
            return if sense { c.jt } else { c.jf };
        }
        if sense && code == (JMP | JEQ | K) as i32 {
            // A equals a constant, so not another one (distinct constants, distinct numbers)
            return c.jf;
        }
        NONE
    }

    /// opt_j: move edge `e` past blocks whose outcome is known on it.
    pub(super) fn opt_j(&mut self, e: usize) {
        let n = self.n();
        let pred = e % n;
        let slot = (pred, e < n);
        let succ = self.slot(slot);
        if self.blocks[succ].is_ret() {
            return;
        }
        if self.blocks[succ].jt == self.blocks[succ].jf {
            // both branches meet: skip the block, unless a value it leaves is needed
            let target = self.blocks[succ].jt;
            if !self.use_conflict(pred, target) {
                self.non_branch_movement = true;
                self.done = false;
                self.set_slot(slot, target);
            }
        }
        // libpcap scans the dominating edges by increasing number and takes the first that
        // decides the test, starting over after each move
        let doms = self.edge_dominators(e);
        loop {
            let succ = self.slot(slot);
            let first = doms
                .iter()
                .filter_map(|&d| {
                    let target = self.fold_edge(succ, d);
                    (target != NONE && !self.use_conflict(pred, target)).then_some((d, target))
                })
                .min();
            let Some((_, target)) = first else {
                return;
            };
            self.done = false;
            self.set_slot(slot, target);
            if self.blocks[target].is_ret() {
                return;
            }
        }
    }

    /// or_pullup: in a chain of `or` (false branches) below `b`, with the same true target,
    /// the first test on the value all of `b`'s predecessors tested moves up in front of the
    /// tests on other values.
    pub(super) fn or_pullup(&mut self, b: usize) {
        self.pullup(b, false);
    }

    /// and_pullup: the same along a chain of `and` (true branches) sharing the false target.
    pub(super) fn and_pullup(&mut self, b: usize) {
        self.pullup(b, true);
    }

    /// `along_true`: walk true branches (and_pullup) or false branches (or_pullup).
    fn pullup(&mut self, b: usize, along_true: bool) {
        let n = self.n();
        let ins = self.blocks[b].in_edges.clone();
        let Some(&first) = ins.first() else {
            return;
        };
        let val = self.blocks[first % n].val[A_ATOM];
        if ins.iter().any(|&e| self.blocks[e % n].val[A_ATOM] != val) {
            return;
        }
        let fp = first % n;
        // the same target: false branch for `and`, true branch for `or`
        let same_exit = |s: &Self, x: usize| {
            if along_true {
                s.blocks[x].jf
            } else {
                s.blocks[x].jt
            }
        };
        let mut diffp = (fp, self.blocks[fp].jt == b);
        let mut at_top = true;
        loop {
            let d = self.slot(diffp);
            if d == NONE {
                return;
            }
            if same_exit(self, d) != same_exit(self, b) {
                return;
            }
            if !self.dominates(b, d) {
                return;
            }
            if self.blocks[d].val[A_ATOM] != val {
                break;
            }
            diffp = (d, along_true);
            at_top = false;
        }
        let mut samep = (self.slot(diffp), along_true);
        loop {
            let s = self.slot(samep);
            if s == NONE {
                return;
            }
            if same_exit(self, s) != same_exit(self, b) {
                return;
            }
            if !self.dominates(b, s) {
                return;
            }
            if self.blocks[s].val[A_ATOM] == val {
                break;
            }
            samep = (s, along_true);
        }
        let pull = self.slot(samep);
        let after = self.slot((pull, along_true));
        self.set_slot(samep, after);
        let top = self.slot(diffp);
        self.set_slot((pull, along_true), top);
        if at_top {
            for &e in &ins {
                let p = e % n;
                if self.blocks[p].jt == b {
                    self.blocks[p].jt = pull;
                } else {
                    self.blocks[p].jf = pull;
                }
            }
        } else {
            self.set_slot(diffp, pull);
        }
        self.done = false;
    }
}
