//! `ringcap bench`: every receive path of this machine measured side by side, and the capture
//! tools people already use run on the same traffic.
//!
//! **Owns:** the bench's logic. It builds a private network (a namespace with a veth pair),
//! floods the peer end with `ringcap gen` pinned to the generator CPUs, steers the capture
//! end's receive work to the capture CPUs with RPS (the veth counterpart of spreading a NIC's
//! queue IRQs), and captures with each contender in turn, round after round: ringcap's receive
//! paths ([`plan::ModeSpec`]) in this process, and the compared tools ([`tools::KNOWN`]) as
//! child processes with the same placement. Every run is checked: captured + kernel drops must
//! equal what the capture end's interface counted, and a contender that did not start, failed,
//! or captured nothing of the traffic is a FAILED run ([`run`]). Then the medians and the paired
//! CPU ratios ([`summary`]), the text table ([`table`]), JSON ([`report`]) and chart ([`chart`]).
//!
//! Frames the interface itself dropped (the receive backlog overflowing when the capture CPU is
//! saturated) never reach a socket: they count as offered and as dropped, so "captured %" is of
//! what the generator got onto the link.
//!
//! **Must not depend on:** the CLI (the program hands in its `-w` pipeline through
//! [`write::FileOutput`]), `ringcap-sys` (it speaks to the engine) or any test crate.
//! Printing is the caller's: the library returns lines and values.

#![forbid(unsafe_code)]

pub mod busy;
pub mod chart;
mod child;
mod collector;
pub mod compare;
pub mod disk;
mod error;
pub mod host_stack;
pub mod machine;
pub mod plan;
pub mod replay;
pub mod report;
mod ringcap_run;
pub mod run;
mod scratch;
mod session;
pub mod summary;
pub mod table;
mod tool_run;
pub mod tools;
mod traffic;
pub mod write;

pub use error::{Error, Result};
pub use session::{Bench, Filter, Results, Settings};
