//! From the condition tree to a flow graph of test blocks (`blocks`), the optimizer over that
//! graph (`passes`, with value numbering in `value`), and the emission of linear cBPF (`emit`).
//!
//! The optimizer numbers the values each block computes; threads jumps along edges whose
//! outcome is already known from the tests on every path to them; folds tests on constants;
//! skips tests whose branches meet; merges identical blocks; and, on the final layout, removes
//! loads whose value every predecessor already left in A or X.

mod blocks;
mod emit;
mod passes;
mod value;

pub use blocks::CHAIN_STEPS;

use crate::cond::Cond;
use crate::{CompileError, Insn};
use blocks::{Builder, Tgt};
use passes::Graph;
use value::Vn;

pub(crate) struct Compiled {
    pub insns: Vec<Insn>,
    /// libpcap's optimizer would reduce the program to "reject": its "expression rejects all
    /// packets" error (only meaningful when not `literal`).
    pub rejects_all: bool,
}

/// `literal`: the verdicts to keep are those of libpcap's unoptimized code (`-O`, or an
/// expression with `protochain`), so no block that reads the packet is ever skipped.
pub(crate) fn compile_cond(
    c: &Cond,
    snaplen: u32,
    optimize: bool,
    literal: bool,
) -> Result<Compiled, CompileError> {
    let mut b = Builder {
        blocks: Vec::new(),
        literal,
    };
    let entry = b.gen(c, Tgt::Ret(true), Tgt::Ret(false));
    let mut g = Graph {
        blocks: b.blocks,
        entry,
        literal,
    };
    let mut vn = Vn::default();
    let mut rejects_all = false;
    if optimize {
        g.jset_from_and();
        g.number_values(&mut vn);
        g.optimize(&vn);
        if !literal {
            let late = g.blocks.iter().any(|b| b.late.is_some());
            rejects_all = g.settle_late_tests();
            if late {
                g.optimize(&vn);
            }
        }
    }
    let insns = emit::emit(&g.blocks, g.entry, snaplen, optimize, &mut vn)?;
    Ok(Compiled { insns, rejects_all })
}
