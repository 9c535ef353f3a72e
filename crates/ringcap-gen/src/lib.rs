//! ringcap's traffic generator: frames built from templates or replayed from capture files,
//! sent through AF_PACKET TX rings (sendmmsg where the ring is refused), one sender per CPU.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use ringcap_gen::{FrameSpec, GenConfig, Generator, Proto, Source};
//!
//! let mut cfg = GenConfig::new("eth1", Source::Template(FrameSpec::new(Proto::Syn, false)));
//! cfg.count = Some(1_000_000);
//! let gen = Generator::new(cfg)?;
//! let report = gen.run(&AtomicBool::new(false), |_tick| {})?;
//! println!("{} frames sent", report.frames);
//! # Ok::<(), ringcap_gen::Error>(())
//! ```
//!
//! Sockets are opened by [`Generator::new`] in the calling thread's network namespace, so an
//! embedder (the bench) can enter a namespace, create the generator, and leave again.
//!
//! **Owns:** frame templates and their flow walk, replay of capture files, rate pacing, the
//! sender threads and their exact counts (sent, refused, not sent). **Depends on:**
//! `ringcap-sys` (TX rings, sockets, clocks) and `ringcap-pcap` (reading replay files).
//! **Must not depend on:** the capture engine (`ringcap`), the CLI or any test crate; it polls
//! no process-global flag: [`Generator::run`] stops on the `&AtomicBool` its caller passes
//! (the CLI hands it a `ringcap::StopHandle`'s flag tied to its signals).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use ringcap_sys as sys;

mod config;
pub mod frame;
mod open;
pub mod replay;
mod run;
mod sender;
pub mod wire;

pub use config::{GenConfig, Source, Timing, TxMode, MAX_PPS, MAX_THREADS};
pub use frame::{verify_checksums, FrameBuilder, FrameError, FrameSpec, Proto};
pub use replay::{Replay, ReplayError};
pub use run::{GenReport, ThreadReport, Tick};
pub use sender::ThreadCounters;
pub use wire::{IpRange, MacAddr, PortRange};

use sender::Tx;

/// Errors of the generator; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no interface named {name:?} in this network namespace (interfaces: {known})")]
    NoSuchInterface { name: String, known: String },
    #[error("interface {0} is down (bring it up: ip link set {0} up)")]
    InterfaceDown(String),
    #[error("{len}-byte frames do not fit {iface}: its MTU {mtu} allows frames up to {max} bytes")]
    TooBig {
        len: usize,
        iface: String,
        mtu: u32,
        max: usize,
    },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Sys(#[from] sys::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

struct Worker {
    tx: Tx,
    src: sender::Source,
    cpu: Option<usize>,
    limit: Option<u64>,
    pps: u64,
}

/// A ready-to-run generator: interface checked, sockets and rings open.
pub struct Generator {
    workers: Vec<Worker>,
    pacing_file: bool,
    duration: Option<std::time::Duration>,
    batch: usize,
    fallback: Option<String>,
    frame_len: usize,
    ring_memory: usize,
}

impl Generator {
    /// Sender threads.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// The CPU of each thread (None when not pinned).
    pub fn cpus(&self) -> Vec<Option<usize>> {
        self.workers.iter().map(|w| w.cpu).collect()
    }

    /// Why the TX ring is not used, if the kernel refused it.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The template's frame length (or the longest replay frame).
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// TX ring memory over all threads.
    pub fn ring_memory(&self) -> usize {
        self.ring_memory
    }
}

/// Loads a replay file (a convenience over [`Replay::load`]).
pub fn load_replay(path: impl Into<PathBuf>) -> Result<Arc<Replay>> {
    Ok(Arc::new(Replay::load(&path.into())?))
}
