//! The flow analyses libpcap's optimizer recomputes at the start of every pass: levels (its
//! processing order), dominators of blocks and of edges, in-edges, and which registers each
//! block uses, defines and needs kept (optimize.c's find_levels, find_dom, find_edom,
//! find_inedges, find_ud).
//!
//! libpcap keeps dominators as bit sets over all blocks (or edges). On this acyclic graph,
//! taken in level order, they form trees: a block's dominators are itself and the common
//! dominators of its predecessors. A tree with depths answers the same questions in linear
//! memory, which matters for long filters (libpcap allocates n² bits).

use super::{Emulation, A_ATOM, NONE, N_ATOMS, X_ATOM};
use crate::bpf::*;

/// The atom(s) a statement uses: -1 none, 0..=17 one, 18 both A and X (optimize.c's atomuse).
fn atomuse(code: i32, k: u32) -> i32 {
    if code < 0 {
        return -1;
    }
    let c = code as u16;
    match class(c) {
        RET => match c & 0x18 {
            A => A_ATOM as i32,
            X => X_ATOM as i32,
            _ => -1,
        },
        LD | LDX => match mode(c) {
            IND => X_ATOM as i32,
            MEM => k as i32,
            _ => -1,
        },
        ST => A_ATOM as i32,
        STX => X_ATOM as i32,
        JMP | ALU => {
            if src(c) == X {
                N_ATOMS as i32
            } else {
                A_ATOM as i32
            }
        }
        _ => {
            // MISC
            if c & 0xf8 == TXA {
                X_ATOM as i32
            } else {
                A_ATOM as i32
            }
        }
    }
}

/// The atom a statement defines, or -1 (optimize.c's atomdef).
pub(super) fn atomdef(code: i32, k: u32) -> i32 {
    if code < 0 {
        return -1;
    }
    let c = code as u16;
    match class(c) {
        LD | ALU => A_ATOM as i32,
        LDX => X_ATOM as i32,
        ST | STX => k as i32,
        MISC => {
            if c & 0xf8 == TAX {
                X_ATOM as i32
            } else {
                A_ATOM as i32
            }
        }
        _ => -1,
    }
}

pub(super) fn atomuse_of(code: i32, k: u32) -> i32 {
    atomuse(code, k)
}

/// Off the dominator tree (a block no path from the root reaches).
const UNREACHED: u32 = u32::MAX;

fn mask(atom: i32) -> u32 {
    1u32 << atom
}

impl Emulation {
    /// find_levels: reachable blocks by level (0 for returns, else one more than the higher
    /// successor), each level listed as libpcap's depth-first walk (true branch first)
    /// prepends them.
    pub(super) fn find_levels(&mut self) {
        let n = self.n();
        let mut seen = vec![false; n];
        let mut finished = Vec::new();
        // iterative postorder, true branch before false branch
        let mut stack = vec![(self.root, 0u8)];
        seen[self.root] = true;
        while let Some((b, state)) = stack.pop() {
            let bl = &self.blocks[b];
            if bl.is_ret() || state == 2 {
                finished.push(b);
                continue;
            }
            stack.push((b, state + 1));
            let next = if state == 0 { bl.jt } else { bl.jf };
            if !seen[next] {
                seen[next] = true;
                stack.push((next, 0));
            }
        }
        let mut levels: Vec<Vec<usize>> = Vec::new();
        for &b in &finished {
            let level = if self.blocks[b].is_ret() {
                0
            } else {
                let (jt, jf) = (self.blocks[b].jt, self.blocks[b].jf);
                self.blocks[jt].level.max(self.blocks[jf].level) + 1
            };
            self.blocks[b].level = level;
            if levels.len() <= level {
                levels.resize(level + 1, Vec::new());
            }
            levels[level].push(b);
        }
        for l in levels.iter_mut() {
            l.reverse();
        }
        self.levels = levels;
    }

    /// find_dom, as a tree: a block's immediate dominator is the nearest common dominator
    /// of its (reachable) predecessors.
    pub(super) fn find_dom(&mut self) {
        let root = self.root;
        for b in self.blocks.iter_mut() {
            b.idom = NONE;
            b.ddepth = 0;
        }
        let mut first = vec![true; self.n()];
        self.blocks[root].ddepth = 1;
        for level in (0..self.levels.len()).rev() {
            for i in 0..self.levels[level].len() {
                let b = self.levels[level][i];
                if self.blocks[b].is_ret() {
                    continue;
                }
                for c in [self.blocks[b].jt, self.blocks[b].jf] {
                    if first[c] {
                        first[c] = false;
                        self.blocks[c].idom = b;
                    } else {
                        let d = self.common_dominator(self.blocks[c].idom, b);
                        self.blocks[c].idom = d;
                    }
                    let d = self.blocks[c].idom;
                    self.blocks[c].ddepth = self.blocks[d].ddepth + 1;
                }
            }
        }
        self.number_dom_tree();
    }

    fn common_dominator(&self, mut a: usize, mut b: usize) -> usize {
        while a != b {
            if self.blocks[a].ddepth >= self.blocks[b].ddepth {
                a = self.blocks[a].idom;
            } else {
                b = self.blocks[b].idom;
            }
        }
        a
    }

    /// Numbers the dominator tree in preorder, so that `b` dominates `d` exactly when `d`'s
    /// number lies in `b`'s subtree range.
    fn number_dom_tree(&mut self) {
        let n = self.n();
        // children lists, flattened: the children of b are kids[start[b]..start[b + 1]]
        let mut start = vec![0usize; n + 1];
        for b in &self.blocks {
            if b.idom != NONE {
                start[b.idom + 1] += 1;
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut kids = vec![0usize; start[n]];
        for (i, b) in self.blocks.iter().enumerate() {
            if b.idom != NONE {
                kids[fill[b.idom]] = i;
                fill[b.idom] += 1;
            }
        }
        self.dpre = vec![UNREACHED; n];
        self.dlast = vec![UNREACHED; n];
        let mut next = 0u32;
        // (block, whether its children were pushed)
        let mut stack = vec![(self.root, false)];
        while let Some((b, expanded)) = stack.pop() {
            if expanded {
                self.dlast[b] = next - 1;
                continue;
            }
            self.dpre[b] = next;
            next += 1;
            stack.push((b, true));
            stack.extend(kids[start[b]..start[b + 1]].iter().map(|&k| (k, false)));
        }
    }

    /// Whether `b` dominates `d` (libpcap's `SET_MEMBER(d->dom, b->id)`): on the tree, or
    /// the block itself.
    pub(super) fn dominates(&self, b: usize, d: usize) -> bool {
        if b == d {
            return true;
        }
        let (pb, pd) = (self.dpre[b], self.dpre[d]);
        pb != UNREACHED && pd != UNREACHED && pb <= pd && pd <= self.dlast[b]
    }

    /// find_edom, as a tree over edges: an edge's dominators are itself and the common
    /// dominators of the edges into its block (none at the root).
    pub(super) fn find_edom(&mut self) {
        let n = self.n();
        self.eparent = vec![NONE; 2 * n];
        self.edepth = vec![0; 2 * n];
        // the deepest common dominator of the edges into each block
        let mut into: Vec<Option<usize>> = vec![None; n];
        let mut seen = vec![false; n];
        for level in (0..self.levels.len()).rev() {
            for i in 0..self.levels[level].len() {
                let b = self.levels[level][i];
                let parent = into[b].unwrap_or(NONE);
                let depth = if parent == NONE {
                    1
                } else {
                    self.edepth[parent] + 1
                };
                for e in [b, n + b] {
                    self.eparent[e] = parent;
                    self.edepth[e] = depth;
                }
                if self.blocks[b].is_ret() {
                    continue;
                }
                for (e, c) in [(b, self.blocks[b].jt), (n + b, self.blocks[b].jf)] {
                    into[c] = Some(if !seen[c] {
                        seen[c] = true;
                        e
                    } else {
                        match into[c] {
                            Some(x) if x != NONE => self.common_edge(x, e),
                            _ => NONE,
                        }
                    });
                }
            }
        }
    }

    fn common_edge(&self, mut a: usize, mut b: usize) -> usize {
        while a != b {
            if a == NONE || b == NONE {
                return NONE;
            }
            if self.edepth[a] >= self.edepth[b] {
                a = self.eparent[a];
            } else {
                b = self.eparent[b];
            }
        }
        a
    }

    /// The dominators of edge `e`, itself included (in no particular order).
    pub(super) fn edge_dominators(&self, e: usize) -> Vec<usize> {
        let mut v = Vec::new();
        let mut x = e;
        while x != NONE {
            v.push(x);
            x = self.eparent[x];
        }
        v
    }

    /// find_inedges: each block's incoming edges, in the order libpcap links them (each new
    /// one in front), from the highest level down, true edge before false edge.
    pub(super) fn find_inedges(&mut self) {
        let n = self.n();
        for b in self.blocks.iter_mut() {
            b.in_edges.clear();
        }
        for level in (1..self.levels.len()).rev() {
            for i in 0..self.levels[level].len() {
                let b = self.levels[level][i];
                let (jt, jf) = (self.blocks[b].jt, self.blocks[b].jf);
                self.blocks[jt].in_edges.push(b);
                self.blocks[jf].in_edges.push(n + b);
            }
        }
        for b in self.blocks.iter_mut() {
            b.in_edges.reverse();
        }
    }

    /// find_ud: per block, the atoms it uses before defining and kills; then, from the leaves
    /// up, the atoms its successors need (out_use).
    pub(super) fn find_ud(&mut self) {
        for level in (0..self.levels.len()).rev() {
            for i in 0..self.levels[level].len() {
                let b = self.levels[level][i];
                self.compute_local_ud(b);
                self.blocks[b].out_use = 0;
            }
        }
        for level in 1..self.levels.len() {
            for i in 0..self.levels[level].len() {
                let b = self.levels[level][i];
                let (jt, jf) = (self.blocks[b].jt, self.blocks[b].jf);
                let out = self.blocks[jt].in_use | self.blocks[jf].in_use;
                let bl = &mut self.blocks[b];
                bl.out_use |= out;
                bl.in_use |= bl.out_use & !bl.kill;
            }
        }
    }

    fn compute_local_ud(&mut self, b: usize) {
        let (mut def, mut used, mut killed) = (0u32, 0u32, 0u32);
        let bl = &self.blocks[b];
        let uses = |atom: i32, def: u32, used: &mut u32| {
            if atom == N_ATOMS as i32 {
                for a in [X_ATOM, A_ATOM] {
                    if def & mask(a as i32) == 0 {
                        *used |= mask(a as i32);
                    }
                }
            } else if atom >= 0 && def & mask(atom) == 0 {
                *used |= mask(atom);
            }
        };
        for s in bl.stmts.iter().filter(|s| s.code >= 0) {
            uses(atomuse(s.code, s.k), def, &mut used);
            let d = atomdef(s.code, s.k);
            if d >= 0 {
                if used & mask(d) == 0 {
                    killed |= mask(d);
                }
                def |= mask(d);
            }
        }
        if class(bl.s.code as u16) == JMP {
            uses(atomuse(bl.s.code, bl.s.k), def, &mut used);
        }
        let bl = &mut self.blocks[b];
        bl.kill = killed;
        bl.in_use = used;
    }
}
