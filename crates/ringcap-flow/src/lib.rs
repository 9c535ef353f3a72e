//! Flow metering and export: every packet accounted into a flow record, the records sent to
//! the collectors fleets already run (IPFIX, NetFlow v9) or written as JSON lines.
//!
//! **What this crate owns:** flow keys ([`key`]), the per-worker flow table and its timeouts
//! ([`table`]), records ([`record`]), a worker's metering front end ([`meter`]: header summary →
//! key → table, records out through a bounded queue), the IPFIX and NetFlow v9 encoders
//! ([`message`]), JSON lines ([`json`]) and the exporter thread with its UDP sockets
//! ([`export`]).
//!
//! **What it must not depend on:** the capture engine (`ringcap`), `libc`, or any system call on
//! the per-packet path. From `ringcap-sys` it takes only the hints in `ringcap_sys::hint` (the
//! table's cache prefetch, and huge pages asked for once when a table is made). It is pure code over packets given to it — header views
//! come from `ringcap-wire` — plus `std::net::UdpSocket` and a thread in the exporter, off the
//! hot path. The CLI glues it to the engine (one [`meter::Meter`] per capture worker, hash
//! fanout so a flow stays on one worker) and to capture files.
//!
//! Per packet: no allocation, no system call, no lock, nothing shared with other workers. The
//! table is sized once ([`table::FlowTable::new`]); records leave in chunks through a bounded
//! queue, and a chunk that finds it full is counted, never waited for.

#![forbid(unsafe_code)]

mod entry;
pub mod export;
pub mod json;
pub mod key;
pub mod message;
pub mod meter;
pub mod record;
mod send;
pub mod table;

/// Header summaries: the flow key is built from ringcap-wire's one-pass summary.
#[doc(hidden)]
pub use ringcap_wire as wire;

pub use export::{CollectorSpec, Counters, ExportConfig, ExportError, ExportReport, Exporter};
pub use key::{FlowKey, Kind};
pub use message::Protocol;
pub use meter::{Meter, MeterReport, Queue};
pub use record::{EndReason, FlowRecord};
pub use table::{FlowTable, Observation, Timeouts};
