//! ringcap's capture engine: AF_PACKET receive paths (one packet per `recv`, or TPACKET_V3 mmap
//! rings) on every core, joined in one PACKET_FANOUT group, with per-worker counters and the
//! kernel's statistics reconciled at the end (kernel-seen = received + dropped, exactly).
//!
//! ```no_run
//! use ringcap::{Capture, Config, Flow, Handler, Batch, Mode};
//!
//! struct Count(u64);
//! impl Handler for Count {
//!     fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
//!         for pkt in batch {
//!             self.0 += pkt.len() as u64;
//!         }
//!         Flow::Continue
//!     }
//! }
//!
//! let cfg = Config::new("eth0").mode(Mode::Ring).workers(4).count(Some(1_000_000));
//! let capture = Capture::open(cfg)?; // sockets, rings, fanout: errors surface here
//! let handlers = (0..capture.workers()).map(|_| Count(0)).collect();
//! let report = capture.run(handlers, |tick| eprintln!("{} pkt/s", tick.total_pps()))?;
//! assert_eq!(report.total.kernel_packets, report.total.received + report.total.past_count
//!            + report.total.drops);
//! # Ok::<(), ringcap::Error>(())
//! ```
//!
//! Layers: [`ringcap_sys`] (system calls, and the rings with the only borrows of kernel-shared
//! memory) → [`ring`], [`socket`] and [`xdp`] (one receive path each) → [`engine`] (workers,
//! pinning, fanout, stats); the CLI sits on top.
//!
//! **Owns:** the receive paths (recv, TPACKET_V3 ring, AF_XDP) as [`engine`] sources, the
//! workers and their stop protocol, fanout, pinning, per-worker counters reconciled with the
//! kernel's, what ends a capture ([`StopHandle`], [`Flow`], a failing worker), and the few
//! process facilities a capture program needs around a capture ([`signals`]: signals → a stop
//! handle; [`process`]: CPU lists, CPU time, privileges, scratch mounts), so that a program on
//! top never names ringcap-sys. **Depends on:** `ringcap-sys` (every system call, and the rings:
//! whatever needs more than safe Rust, which this crate forbids) and `ringcap-filter` (the
//! program a capture attaches, and the interpreter AF_XDP runs). **Must not depend on:** the CLI, output formats (`ringcap-pcap`: a pcap
//! writer is a [`Handler`] its caller brings), the generator, or any test crate (netlab is a
//! dev-dependency). The engine installs no signal handler and polls no process-global flag:
//! a program that embeds it keeps its own signal handling.

#![forbid(unsafe_code)]

pub mod config;
pub mod engine;
pub mod error;
pub mod packet;
pub mod process;
pub mod ring;
pub mod signals;
pub mod socket;
pub mod stats;
pub mod stop;
pub mod xdp;

pub use config::{Config, Fanout, FanoutMode, Geometry, Mode};
pub use engine::{Batch, Capture, Flow, Handler};
pub use error::Error;
pub use packet::{Packet, PacketType, Vlan};
pub use stats::{EndReason, Report, Tick, WorkerReport};
pub use stop::StopHandle;

pub type Result<T> = std::result::Result<T, Error>;
