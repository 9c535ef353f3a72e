//! libpcap 1.10.3's optimizer (optimize.c), emulated step for step on the blocks the code
//! generator built as libpcap's gencode.c builds them.
//!
//! Why emulate rather than optimize our own way: what tcpdump does with a filter depends on
//! what this optimizer does with it. It decides which loads the program still runs (a load
//! past the end of a truncated packet rejects it, so a test the optimizer drops changes that
//! packet's verdict), and when it reduces a program to "reject" tcpdump refuses the filter
//! ("expression rejects all packets"). Its reasoning has a particular reach: it threads a jump
//! only on an edge that dominates it and tests the same value with the same opcode, it pulls
//! tests on the same value up past others (`or_pullup`, `and_pullup`), it moves branches only
//! in its first pass and folds statements only in its second, so a test that becomes constant
//! in the second pass stays (except at the root). ringcap reproduces each step:
//!
//! One consequence to know about, as tcpdump users meet it: the optimized and unoptimized
//! programs of one expression can give different verdicts on a frame that ends inside a header.
//! `net 0.0.0.0/0` unoptimized loads the addresses (`ld [26]; and #0; jeq #0`) and rejects a
//! frame cut before them; the optimizer folds `x & 0 == 0` to true, drops the load, and
//! accepts it. tcpdump and tcpdump -O disagree there in the same way, so ringcap's two
//! programs are compared with each of them separately (filter_diff, filter_random and
//! xdp_filter_equiv run frames cut inside IPv4, IPv6, TCP, UDP, ICMPv6, 802.1Q and MPLS headers,
//! both as truncated captures and as short frames).
//!
//! - `flow`: levels, dominators, edge dominators, use-def sets (optimize.c's find_*), with
//!   dominator trees in place of libpcap's bit sets (same relation, linear memory; whether a
//!   block dominates another is a preorder range test, constant time as a bit test is);
//! - `stmts`: value numbering and statement folding (opt_stmt, opt_peep, opt_deadstores),
//!   with libpcap's errors (a division or shift by a constant it folds);
//! - `branches`: jump threading and pullups (opt_j, fold_edge, or_pullup, and_pullup);
//! - here: the passes (opt_blk, opt_blks, opt_loop, bpf_optimize), block merging
//!   (intern_blocks) and the root (opt_root).

mod branches;
mod flow;
mod stmts;

use super::blocks::{Blk, Tgt};
use crate::bpf::*;
use crate::{CompileError, Insn};
use std::collections::HashMap;
use stmts::Values;

type R<T> = Result<T, CompileError>;

/// A deleted statement.
const NOP: i32 = -1;
/// Value numbers index `val` by atom: scratch memory 0..15, then A and X.
const A_ATOM: usize = 16;
const X_ATOM: usize = 17;
const N_ATOMS: usize = 18;
const NONE: usize = usize::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Stmt {
    /// The opcode, or NOP.
    code: i32,
    k: u32,
}

struct Block {
    stmts: Vec<Stmt>,
    /// The branch (or return) ending the block.
    s: Stmt,
    /// For a return: whether it accepts.
    accept: bool,
    /// Successors; NONE for a return.
    jt: usize,
    jf: usize,
    level: usize,
    /// Immediate dominator (NONE at the root) and depth in the dominator tree.
    idom: usize,
    ddepth: u32,
    /// Edges into the block, in libpcap's list order.
    in_edges: Vec<usize>,
    kill: u32,
    in_use: u32,
    out_use: u32,
    oval: u32,
    val: [u32; N_ATOMS],
    et_code: i32,
    ef_code: i32,
    link: usize,
}

impl Block {
    fn is_ret(&self) -> bool {
        self.jt == NONE
    }
}

pub(super) struct Emulation {
    blocks: Vec<Block>,
    root: usize,
    /// Reachable blocks by level (0: the returns), each list in libpcap's order.
    levels: Vec<Vec<usize>>,
    /// Edge dominator tree: parent edge and depth, per edge (the true edge of block i is i,
    /// its false edge n + i).
    eparent: Vec<usize>,
    edepth: Vec<u32>,
    /// The dominator tree's preorder number of each block and the last one below it
    /// (`UNREACHED` off the tree): whether a block dominates another in constant time, as
    /// libpcap's bit sets answer it.
    dpre: Vec<u32>,
    dlast: Vec<u32>,
    values: Values,
    done: bool,
    non_branch_movement: bool,
}

/// The result: blocks (ours again) and the entry, or libpcap's error.
pub(super) struct Optimized {
    pub blocks: Vec<Blk>,
    pub entry: Tgt,
}

fn stmt(i: &Insn) -> Stmt {
    Stmt {
        code: i.code as i32,
        k: i.k,
    }
}

impl Emulation {
    /// libpcap's icode from our blocks: numbered depth first from the root, true branch
    /// first (number_blks_r), with one return block each for accept and reject.
    fn new(blocks: &[Blk], entry: Tgt, snaplen: u32) -> Emulation {
        let mut order = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut stack = vec![entry];
        while let Some(t) = stack.pop() {
            if index.contains_key(&t) {
                continue;
            }
            index.insert(t, order.len());
            order.push(t);
            if let Tgt::Blk(b) = t {
                stack.push(blocks[b].jf);
                stack.push(blocks[b].jt);
            }
        }
        let n = order.len();
        let mk = |t: &Tgt| -> Block {
            let accept = *t == Tgt::Ret(true);
            let (stmts, s, jt, jf) = match *t {
                Tgt::Ret(acc) => (
                    Vec::new(),
                    Stmt {
                        code: (RET | K) as i32,
                        k: if acc { snaplen } else { 0 },
                    },
                    NONE,
                    NONE,
                ),
                Tgt::Blk(b) => {
                    let bl = &blocks[b];
                    (
                        bl.stmts.iter().map(stmt).collect(),
                        Stmt {
                            code: (JMP | bl.code) as i32,
                            k: bl.k,
                        },
                        index[&bl.jt],
                        index[&bl.jf],
                    )
                }
            };
            Block {
                stmts,
                s,
                accept,
                jt,
                jf,
                level: 0,
                idom: NONE,
                ddepth: 0,
                in_edges: Vec::new(),
                kill: 0,
                in_use: 0,
                out_use: 0,
                oval: 0,
                val: [0; N_ATOMS],
                et_code: 0,
                ef_code: 0,
                link: NONE,
            }
        };
        Emulation {
            blocks: order.iter().map(mk).collect(),
            root: 0,
            levels: Vec::new(),
            eparent: vec![NONE; 2 * n],
            edepth: vec![0; 2 * n],
            dpre: Vec::new(),
            dlast: Vec::new(),
            values: Values::default(),
            done: true,
            non_branch_movement: false,
        }
    }

    fn n(&self) -> usize {
        self.blocks.len()
    }

    /// The block a branch slot points to: `(block, true)` is its true branch.
    fn slot(&self, (b, jt): (usize, bool)) -> usize {
        if b == NONE {
            return NONE;
        }
        if jt {
            self.blocks[b].jt
        } else {
            self.blocks[b].jf
        }
    }
    fn set_slot(&mut self, (b, jt): (usize, bool), to: usize) {
        if jt {
            self.blocks[b].jt = to;
        } else {
            self.blocks[b].jf = to;
        }
    }

    /// opt_blk: value numbers from the predecessors, statement folding, then either dropping
    /// the statements of a block that changes nothing used, or the peephole and dead-store
    /// passes; the values its branch tests (for jump threading).
    fn opt_blk(&mut self, b: usize, do_stmts: bool) -> R<()> {
        let mut val = [0u32; N_ATOMS];
        let ins = self.blocks[b].in_edges.clone();
        if let Some((&first, rest)) = ins.split_first() {
            val = self.blocks[first % self.n()].val;
            for &e in rest {
                let pv = self.blocks[e % self.n()].val;
                for i in 0..N_ATOMS {
                    if val[i] != pv[i] {
                        val[i] = 0;
                    }
                }
            }
        }
        let (aval, xval) = (val[A_ATOM], val[X_ATOM]);
        let mut stmts = std::mem::take(&mut self.blocks[b].stmts);
        let mut res = Ok(());
        for s in stmts.iter_mut() {
            res = self.opt_stmt(s, &mut val, do_stmts);
            if res.is_err() {
                break;
            }
        }
        self.blocks[b].stmts = stmts;
        res?;
        self.blocks[b].val = val;
        let bl = &self.blocks[b];
        let is_ret = class(bl.s.code as u16) == RET;
        if do_stmts
            && ((bl.out_use == 0
                && aval != 0
                && val[A_ATOM] == aval
                && xval != 0
                && val[X_ATOM] == xval)
                || is_ret)
        {
            if !bl.stmts.is_empty() {
                self.blocks[b].stmts.clear();
                self.non_branch_movement = true;
                self.done = false;
            }
        } else {
            self.opt_peep(b);
            self.opt_deadstores(b);
        }
        let s = self.blocks[b].s;
        self.blocks[b].oval = if src(s.code as u16) == K {
            self.values.k(s.k)
        } else {
            self.blocks[b].val[X_ATOM]
        };
        self.blocks[b].et_code = s.code;
        self.blocks[b].ef_code = -s.code;
        Ok(())
    }

    /// opt_blks: every block from the root down; in the first pass, then jump threading on
    /// every edge and the pullups.
    fn opt_blks(&mut self, do_stmts: bool) -> R<()> {
        self.values = Values::default();
        let maxlevel = self.blocks[self.root].level;
        self.find_inedges();
        for i in (0..=maxlevel).rev() {
            for p in self.levels[i].clone() {
                self.opt_blk(p, do_stmts)?;
            }
        }
        if do_stmts {
            return Ok(());
        }
        let n = self.n();
        for i in 1..=maxlevel {
            for p in self.levels[i].clone() {
                self.opt_j(p);
                self.opt_j(n + p);
            }
        }
        self.find_inedges();
        for i in 1..=maxlevel {
            for p in self.levels[i].clone() {
                self.or_pullup(p);
                self.and_pullup(p);
            }
        }
        Ok(())
    }

    /// opt_loop: passes until nothing changes (or, moving branches only, for 100 passes).
    fn opt_loop(&mut self, do_stmts: bool) -> R<()> {
        let mut loop_count = 0;
        loop {
            self.done = true;
            self.non_branch_movement = false;
            self.find_levels();
            self.find_dom();
            self.find_ud();
            self.find_edom();
            self.opt_blks(do_stmts)?;
            if self.done {
                return Ok(());
            }
            if self.non_branch_movement {
                loop_count = 0;
            } else {
                loop_count += 1;
                if loop_count >= 100 {
                    return Ok(());
                }
            }
        }
    }

    /// intern_blocks: reachable blocks with the same statements, branch and successors
    /// become one, until none are left.
    fn intern_blocks(&mut self) {
        let n = self.n();
        loop {
            for b in self.blocks.iter_mut() {
                b.link = NONE;
            }
            // for each reachable block, the next reachable one (by number) equal to it: the
            // first match of libpcap's scan, found through a table of equal blocks
            let marked = self.reachable();
            let mut equal: HashMap<(Stmt, usize, usize, Vec<Stmt>), Vec<usize>> = HashMap::new();
            for (j, &m) in marked.iter().enumerate() {
                if m {
                    equal.entry(self.key(j)).or_default().push(j);
                }
            }
            for i in (0..n.saturating_sub(1)).rev() {
                if !marked[i] {
                    continue;
                }
                let same = &equal[&self.key(i)];
                if let Some(&j) = same.get(same.partition_point(|&j| j <= i)) {
                    let l = self.blocks[j].link;
                    self.blocks[i].link = if l != NONE { l } else { j };
                }
            }
            let mut done = true;
            for i in 0..n {
                if self.blocks[i].is_ret() {
                    continue;
                }
                let (jt, jf) = (self.blocks[i].jt, self.blocks[i].jf);
                if self.blocks[jt].link != NONE {
                    done = false;
                    self.blocks[i].jt = self.blocks[jt].link;
                }
                if self.blocks[jf].link != NONE {
                    done = false;
                    self.blocks[i].jf = self.blocks[jf].link;
                }
            }
            if done {
                return;
            }
        }
    }

    /// What eq_blk compares: the branch, the successors, the statements but NOPs.
    fn key(&self, b: usize) -> (Stmt, usize, usize, Vec<Stmt>) {
        let x = &self.blocks[b];
        let live = x.stmts.iter().filter(|s| s.code != NOP).copied().collect();
        (x.s, x.jt, x.jf, live)
    }

    fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.n()];
        let mut stack = vec![self.root];
        while let Some(b) = stack.pop() {
            if seen[b] {
                continue;
            }
            seen[b] = true;
            if !self.blocks[b].is_ret() {
                stack.push(self.blocks[b].jt);
                stack.push(self.blocks[b].jf);
            }
        }
        seen
    }

    /// opt_root: past blocks whose branches meet, keeping their statements in front.
    fn opt_root(&mut self) {
        let mut s = std::mem::take(&mut self.blocks[self.root].stmts);
        while !self.blocks[self.root].is_ret()
            && self.blocks[self.root].jt == self.blocks[self.root].jf
        {
            self.root = self.blocks[self.root].jt;
        }
        let r = self.root;
        s.append(&mut self.blocks[r].stmts);
        self.blocks[r].stmts = if self.blocks[r].is_ret() {
            Vec::new()
        } else {
            s
        };
    }

    /// Back to our blocks: statements without NOPs, returns as targets.
    fn into_blocks(self) -> Optimized {
        let target = |b: usize| -> Tgt {
            let bl = &self.blocks[b];
            if bl.is_ret() {
                Tgt::Ret(bl.accept)
            } else {
                Tgt::Blk(b)
            }
        };
        let blocks = self
            .blocks
            .iter()
            .map(|bl| {
                let (jt, jf) = if bl.is_ret() {
                    (Tgt::Ret(false), Tgt::Ret(false))
                } else {
                    (target(bl.jt), target(bl.jf))
                };
                let stmts: Vec<Insn> = bl
                    .stmts
                    .iter()
                    .filter(|s| s.code != NOP)
                    .map(|s| Insn {
                        code: s.code as u16,
                        jt: 0,
                        jf: 0,
                        k: s.k,
                    })
                    .collect();
                Blk {
                    loads: false,
                    stmts,
                    code: (bl.s.code as u16) & !JMP,
                    k: bl.s.k,
                    jt,
                    jf,
                    aval: 0,
                    xval: 0,
                    keep: false,
                }
            })
            .collect();
        Optimized {
            entry: target(self.root),
            blocks,
        }
    }
}

/// bpf_optimize: the first loop (branches), the second (statements), block merging, the root.
pub(super) fn optimize(blocks: &[Blk], entry: Tgt, snaplen: u32) -> R<Optimized> {
    let mut e = Emulation::new(blocks, entry, snaplen);
    e.opt_loop(false)?;
    e.opt_loop(true)?;
    e.intern_blocks();
    e.opt_root();
    Ok(e.into_blocks())
}
