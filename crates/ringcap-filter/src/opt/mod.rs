//! From the condition tree to a flow graph of test blocks (`blocks`), the optimizer, and linear
//! cBPF: laid out as libpcap lays out its programs (`convert`), or, for ringcap's own
//! optimizer, with shared jump stubs (`emit`).
//!
//! Optimized, a program is what libpcap's optimizer makes of libpcap's blocks: `pcap`
//! emulates it step for step, so ringcap keeps tcpdump's verdicts (truncated packets
//! included) and refuses what tcpdump refuses. An expression with `protochain` libpcap leaves
//! unoptimized; ringcap's own optimizer (`passes`, with value numbering in `value`) shortens
//! those programs without skipping any test that reads the packet, so the verdicts stay
//! those of the unoptimized code.

mod blocks;
mod convert;
mod emit;
mod passes;
mod pcap;
mod value;

pub use blocks::CHAIN_STEPS;

use crate::cond::Cond;
use crate::{CompileError, Insn};
use blocks::{Builder, Tgt};
use passes::Graph;
use value::Vn;

/// How a program is optimized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Optimizer {
    /// None: the blocks as generated (`tcpdump -O`).
    None,
    /// libpcap's, emulated.
    Libpcap,
    /// ringcap's, keeping every packet load (protochain expressions, which libpcap leaves
    /// unoptimized).
    KeepLoads,
}

pub(crate) fn compile_cond(
    c: &Cond,
    snaplen: u32,
    optimizer: Optimizer,
) -> Result<Vec<Insn>, CompileError> {
    let mut b = Builder::default();
    let entry = b.gen(c, Tgt::Ret(true), Tgt::Ret(false));
    let mut vn = Vn::default();
    match optimizer {
        Optimizer::None => Ok(convert::convert(&b.blocks, entry, snaplen)),
        Optimizer::Libpcap => {
            let o = pcap::optimize(&b.blocks, entry, snaplen)?;
            if o.entry == Tgt::Ret(false) {
                // as libpcap: an optimized program that can only reject is a mistake worth
                // reporting
                return Err(CompileError {
                    message: "expression rejects all packets".into(),
                    offset: None,
                });
            }
            Ok(convert::convert(&o.blocks, o.entry, snaplen))
        }
        Optimizer::KeepLoads => {
            let mut g = Graph {
                blocks: b.blocks,
                entry,
            };
            g.jset_from_and();
            g.number_values(&mut vn);
            g.optimize(&vn);
            emit::emit(&g.blocks, g.entry, snaplen, true, &mut vn)
        }
    }
}
