//! Linear cBPF from the flow graph: each block's code (without the loads whose value every
//! predecessor already left in A or X), a layout in which every jump reaches its target, and
//! the instructions.
//!
//! Every block ends with a conditional jump (nothing falls through), so stubs can sit between
//! blocks: a copy of a return, or `ja` (32-bit reach) to a block. A stub goes right after a
//! block whose jump would reach beyond 255 instructions (long programs, such as several
//! protochain walks); the layout is redone until every jump reaches.

use super::blocks::{topo, Blk, Tgt};
use super::value::Vn;
use crate::bpf::*;
use crate::{CompileError, Insn};
use std::collections::HashMap;

fn too_complex() -> CompileError {
    CompileError {
        message: "expression too complex: a jump exceeds 255 instructions".into(),
        offset: None,
    }
}

/// The first of the (increasing) places after `here`.
fn next_after(places: &[usize], here: usize) -> Option<usize> {
    places.get(places.partition_point(|&l| l <= here)).copied()
}

fn ret(acc: bool, snaplen: u32) -> Insn {
    Insn {
        code: RET | K,
        jt: 0,
        jf: 0,
        k: if acc { snaplen } else { 0 },
    }
}

/// Each reachable block's code, its jump last (offsets not yet set). When optimizing, loads
/// of a value that every predecessor leaves in the register are dropped.
fn block_code(
    blocks: &[Blk],
    order: &[usize],
    entry: usize,
    optimize: bool,
    vn: &mut Vn,
) -> HashMap<usize, Vec<Insn>> {
    let mut preds: HashMap<usize, Vec<usize>> = HashMap::new();
    for &b in order {
        for t in [blocks[b].jt, blocks[b].jf] {
            if let Tgt::Blk(n) = t {
                let p = preds.entry(n).or_default();
                if !p.contains(&b) {
                    p.push(b);
                }
            }
        }
    }
    let mut out_state: HashMap<usize, (u32, u32)> = HashMap::new();
    let mut code_of = HashMap::new();
    for &b in order {
        let (mut ia, mut ix) = (vn.fresh(), vn.fresh()); // unknown
        if optimize && b != entry {
            if let Some(ps) = preds.get(&b) {
                let st: Vec<(u32, u32)> = ps.iter().map(|p| out_state[p]).collect();
                if st.iter().all(|s| s.0 == st[0].0) {
                    ia = st[0].0;
                }
                if st.iter().all(|s| s.1 == st[0].1) {
                    ix = st[0].1;
                }
            }
        }
        let (a, x, red) = vn.sim(&blocks[b].stmts, ia, ix);
        out_state.insert(b, (a, x));
        let mut code: Vec<Insn> = blocks[b]
            .stmts
            .iter()
            .zip(red)
            .filter(|(_, r)| !(optimize && *r))
            .map(|(s, _)| *s)
            .collect();
        code.push(Insn {
            code: JMP | blocks[b].code,
            jt: 0,
            jf: 0,
            k: blocks[b].k,
        });
        code_of.insert(b, code);
    }
    code_of
}

/// Where blocks and stubs go: each block's position, and every place a target can be
/// jumped to (the block itself, stubs standing for it, the shared returns).
struct Layout {
    pos: HashMap<usize, usize>,
    locs: HashMap<Tgt, Vec<usize>>,
    /// The stubs placed before the i-th block (or, at the end, before the returns).
    stubs: Vec<Vec<Tgt>>,
}

fn layout(
    blocks: &[Blk],
    order: &[usize],
    code_of: &HashMap<usize, Vec<Insn>>,
    uses: [bool; 2],
) -> Result<Layout, CompileError> {
    let nrets = uses[0] as usize + uses[1] as usize;
    let mut stubs: Vec<Vec<Tgt>> = vec![Vec::new(); order.len() + 1];
    loop {
        let mut pos: HashMap<usize, usize> = HashMap::new();
        let mut locs: HashMap<Tgt, Vec<usize>> = HashMap::new();
        let mut n = 0;
        for (i, &b) in order.iter().enumerate() {
            for t in &stubs[i] {
                locs.entry(*t).or_default().push(n);
                n += 1;
            }
            pos.insert(b, n);
            locs.entry(Tgt::Blk(b)).or_default().push(n);
            n += code_of[&b].len();
        }
        for acc in [true, false] {
            if uses[acc as usize] {
                locs.entry(Tgt::Ret(acc)).or_default().push(n);
                n += 1;
            }
        }
        // every jump that does not reach gets a stub as far on as it can reach (then the
        // layout is redone: stubs move what follows them)
        let at = |k: usize| {
            if k < order.len() {
                pos[&order[k]]
            } else {
                n - nrets
            }
        };
        let (mut added, mut short) = (0, false);
        for (i, &b) in order.iter().enumerate() {
            let here = pos[&b] + code_of[&b].len() - 1;
            for t in [blocks[b].jt, blocks[b].jf] {
                let to = next_after(&locs[&t], here);
                if to.is_some_and(|l| l - here - 1 <= 255) {
                    continue;
                }
                short = true;
                // the farthest place (before block k, or before the returns) still in reach;
                // places are in increasing order
                let (mut lo, mut hi) = (i + 1, order.len() + 1);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if at(mid) - here - 1 <= 255 {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                if lo == i + 1 {
                    return Err(too_complex());
                }
                let k = lo - 1;
                if stubs[k].contains(&t) {
                    // already placed there in this pass (for another jump)
                    continue;
                }
                if matches!(t, Tgt::Blk(_)) && k == order.len() {
                    return Err(too_complex());
                }
                stubs[k].push(t);
                added += 1;
            }
        }
        if !short {
            return Ok(Layout { pos, locs, stubs });
        }
        if added == 0 {
            return Err(too_complex());
        }
        if stubs.iter().map(Vec::len).sum::<usize>() > 4096 + order.len() {
            return Err(too_complex());
        }
    }
}

/// The program: blocks in order, with stubs, then the shared returns.
pub(super) fn emit(
    blocks: &[Blk],
    entry: Tgt,
    snaplen: u32,
    optimize: bool,
    vn: &mut Vn,
) -> Result<Vec<Insn>, CompileError> {
    let e = match entry {
        Tgt::Ret(acc) => return Ok(vec![ret(acc, snaplen)]),
        Tgt::Blk(e) => e,
    };
    let order = topo(blocks, Tgt::Blk(e));
    let code_of = block_code(blocks, &order, e, optimize, vn);
    let mut uses = [false, false];
    for &b in &order {
        for t in [blocks[b].jt, blocks[b].jf] {
            if let Tgt::Ret(a) = t {
                uses[a as usize] = true;
            }
        }
    }
    let Layout { pos, locs, stubs } = layout(blocks, &order, &code_of, uses)?;
    let mut prog = Vec::new();
    let push_stubs = |prog: &mut Vec<Insn>, st: &[Tgt]| {
        for t in st {
            prog.push(match *t {
                Tgt::Ret(acc) => ret(acc, snaplen),
                Tgt::Blk(n) => Insn {
                    code: JMP | JA,
                    jt: 0,
                    jf: 0,
                    k: (pos[&n] - prog.len() - 1) as u32,
                },
            });
        }
    };
    for (i, &b) in order.iter().enumerate() {
        push_stubs(&mut prog, &stubs[i]);
        let mut code = code_of[&b].clone();
        let here = pos[&b] + code.len() - 1;
        let target =
            |t: Tgt| next_after(&locs[&t], here).expect("every jump was given a place to go");
        let (jt, jf) = (
            target(blocks[b].jt) - here - 1,
            target(blocks[b].jf) - here - 1,
        );
        let last = code.last_mut().expect("a block ends with its jump");
        last.jt = jt as u8;
        last.jf = jf as u8;
        prog.extend(code);
    }
    for acc in [true, false] {
        if uses[acc as usize] {
            prog.push(ret(acc, snaplen));
        }
    }
    Ok(prog)
}
