//! Laying the translated instructions out: labels become offsets, a jump to the very next
//! instruction is dropped, and a conditional jump too far for its 16-bit offset becomes the
//! inverted condition jumping over a `gotol` (`BPF_JMP32 | BPF_JA`, a 32-bit offset, Linux 6.4).

use std::collections::HashMap;

use super::{op, Filter, Insn, Origin};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Label {
    Cbpf(usize),
    Local(u32),
    Reject,
    Match,
    End,
}

pub(super) enum Item {
    Insn(Insn, Origin),
    Jump(Insn, Label, Origin),
    Mark(Label),
}

fn unconditional(i: &Insn) -> bool {
    i.code == op::JMP | op::JA
}

fn inverse(o: u8) -> Option<u8> {
    Some(match o {
        op::JEQ => op::JNE,
        op::JNE => op::JEQ,
        op::JGT => op::JLE,
        op::JLE => op::JGT,
        op::JGE => op::JLT,
        op::JLT => op::JGE,
        _ => return None,
    })
}

/// Instructions a jump takes: one, or the long form of a conditional one.
fn size(i: &Insn, long: bool) -> usize {
    match (long, inverse(i.code & 0xf0)) {
        (false, _) => 1,
        (true, Some(_)) => 2,
        (true, None) => 3,
    }
}

fn fits(off: i64) -> bool {
    i16::try_from(off).is_ok()
}

pub(super) fn resolve(items: Vec<Item>) -> Filter {
    let items = drop_jumps_to_next(items);
    let mut long = vec![false; items.len()];
    // a long jump moves what follows it, which can put other jumps out of reach: repeat until
    // nothing changes (jumps only ever grow, so this ends)
    let at = loop {
        let at = Positions::of(&items, &long);
        let mut changed = false;
        for (n, it) in items.iter().enumerate() {
            if let Item::Jump(i, l, _) = it {
                let off = at.label[l] as i64 - at.item[n] as i64 - 1;
                if !unconditional(i) && !long[n] && !fits(off) {
                    long[n] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break at;
        }
    };
    let mut f = Filter {
        insns: Vec::new(),
        origins: Vec::new(),
    };
    for (n, it) in items.into_iter().enumerate() {
        let (insns, o) = match it {
            Item::Mark(_) => continue,
            Item::Insn(i, o) => (vec![i], o),
            Item::Jump(i, l, o) => (encode_jump(i, at.label[&l], at.item[n], long[n]), o),
        };
        for i in insns {
            f.insns.push(i);
            f.origins.push(o);
        }
    }
    f
}

/// Where each item and each label lands, for given jump sizes.
struct Positions {
    item: Vec<usize>,
    label: HashMap<Label, usize>,
}

impl Positions {
    fn of(items: &[Item], long: &[bool]) -> Positions {
        let mut at = Positions {
            item: Vec::with_capacity(items.len()),
            label: HashMap::new(),
        };
        let mut pos = 0usize;
        for (n, it) in items.iter().enumerate() {
            at.item.push(pos);
            match it {
                Item::Mark(l) => {
                    at.label.insert(*l, pos);
                }
                Item::Insn(..) => pos += 1,
                Item::Jump(i, _, _) => pos += size(i, long[n]),
            }
        }
        at
    }
}

/// A jump at instruction `here` to instruction `to`.
fn encode_jump(mut i: Insn, to: usize, here: usize, long: bool) -> Vec<Insn> {
    let off = |from: usize| to as i64 - from as i64 - 1;
    let gotol = |from: usize| Insn::new(op::JMP32 | op::JA, 0, 0, 0, off(from) as i32);
    if unconditional(&i) {
        return vec![if fits(off(here)) {
            Insn {
                off: off(here) as i16,
                ..i
            }
        } else {
            gotol(here)
        }];
    }
    if !long {
        i.off = off(here) as i16;
        return vec![i];
    }
    match inverse(i.code & 0xf0) {
        // if !cond goto +1; gotol to
        Some(inv) => vec![
            Insn {
                code: (i.code & !0xf0) | inv,
                off: 1,
                ..i
            },
            gotol(here + 1),
        ],
        // if cond goto +1; goto +1; gotol to
        None => vec![
            Insn { off: 1, ..i },
            Insn::new(op::JMP | op::JA, 0, 0, 1, 0),
            gotol(here + 2),
        ],
    }
}

fn drop_jumps_to_next(items: Vec<Item>) -> Vec<Item> {
    let mut keep = vec![true; items.len()];
    for (n, it) in items.iter().enumerate() {
        if let Item::Jump(_, to, _) = it {
            keep[n] = !items[n + 1..]
                .iter()
                .take_while(|x| matches!(x, Item::Mark(_)))
                .any(|x| matches!(x, Item::Mark(l) if l == to));
        }
    }
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(it, k)| k.then_some(it))
        .collect()
}
