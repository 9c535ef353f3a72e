//! Linear cBPF laid out as libpcap's icode_to_fcode/convert_code_r lays it out: blocks in
//! reverse postorder of a walk that takes the false branch first, each return a block of its
//! own where the walk finds it, and a branch that cannot reach its target (more than 255
//! instructions on) followed by a `ja` to it. With the blocks libpcap has, the program is
//! libpcap's, instruction for instruction.

use super::blocks::{Blk, Tgt};
use crate::bpf::*;
use crate::Insn;
use std::collections::HashMap;

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// Blocks and returns reachable from `entry`, in the order libpcap places them at the end of
/// the program (postorder, false branch walked first).
fn postorder(blocks: &[Blk], entry: Tgt) -> Vec<Tgt> {
    let mut seen: HashMap<Tgt, ()> = HashMap::new();
    let mut post = Vec::new();
    let mut stack = vec![(entry, 0u8)];
    seen.insert(entry, ());
    while let Some((t, state)) = stack.pop() {
        let Tgt::Blk(b) = t else {
            post.push(t);
            continue;
        };
        if state == 2 {
            post.push(t);
            continue;
        }
        stack.push((t, state + 1));
        let next = if state == 0 {
            blocks[b].jf
        } else {
            blocks[b].jt
        };
        if seen.insert(next, ()).is_none() {
            stack.push((next, 0));
        }
    }
    post
}

pub(super) fn convert(blocks: &[Blk], entry: Tgt, snaplen: u32) -> Vec<Insn> {
    let post = postorder(blocks, entry);
    let slen = |t: &Tgt| match t {
        Tgt::Blk(b) => blocks[*b].stmts.len(),
        Tgt::Ret(_) => 0,
    };
    // branches that need a `ja` after them; only ever added: every addition moves targets
    // further, so a branch that did not reach still does not
    let mut long: HashMap<(Tgt, bool), ()> = HashMap::new();
    loop {
        let mut offset: HashMap<Tgt, usize> = HashMap::new();
        let mut tail = 0usize; // instructions placed so far, from the end
        let total: usize = post
            .iter()
            .map(|t| {
                slen(t)
                    + 1
                    + long.contains_key(&(*t, true)) as usize
                    + long.contains_key(&(*t, false)) as usize
            })
            .sum();
        let mut failed = false;
        for t in &post {
            let len = slen(t)
                + 1
                + long.contains_key(&(*t, true)) as usize
                + long.contains_key(&(*t, false)) as usize;
            tail += len;
            let at = total - tail;
            offset.insert(*t, at);
            if let Tgt::Blk(b) = t {
                for (jt, to) in [(true, blocks[*b].jt), (false, blocks[*b].jf)] {
                    let off = offset[&to] - (at + slen(t)) - 1;
                    if off >= 256 && !long.contains_key(&(*t, jt)) {
                        long.insert((*t, jt), ());
                        failed = true;
                    }
                }
            }
        }
        if failed {
            continue;
        }
        let mut prog = vec![Insn::default(); total];
        for t in &post {
            let at = offset[t];
            match *t {
                Tgt::Ret(acc) => prog[at] = ins(RET | K, 0, 0, if acc { snaplen } else { 0 }),
                Tgt::Blk(b) => {
                    let bl = &blocks[b];
                    for (i, s) in bl.stmts.iter().enumerate() {
                        prog[at + i] = ins(s.code, 0, 0, s.k);
                    }
                    let j = at + bl.stmts.len();
                    let mut extra = 0u8;
                    let mut jump = ins(JMP | bl.code, 0, 0, bl.k);
                    for (is_jt, to) in [(true, bl.jt), (false, bl.jf)] {
                        let off = offset[&to] - j - 1;
                        let field = if off >= 256 {
                            let f = extra;
                            extra += 1;
                            prog[j + extra as usize] =
                                ins(JMP | JA, 0, 0, (off - extra as usize) as u32);
                            f
                        } else {
                            off as u8
                        };
                        if is_jt {
                            jump.jt = field;
                        } else {
                            jump.jf = field;
                        }
                    }
                    prog[j] = jump;
                }
            }
        }
        return prog;
    }
}
