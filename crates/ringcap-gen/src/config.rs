//! What a generator run is asked to do, and the numbers no run can honour.

use std::sync::Arc;

use crate::{Error, FrameSpec, Replay, Result};

/// The most `--pps` accepts (far above any link; catches typos such as an extra zero or two).
pub const MAX_PPS: u64 = 1_000_000_000;
/// The most sender threads.
pub const MAX_THREADS: usize = 1024;

/// Where the frames come from.
#[derive(Debug, Clone)]
pub enum Source {
    Template(FrameSpec),
    /// Frames of a capture file (see [`Replay::load`]).
    Replay(Arc<Replay>),
}

/// Spacing of replayed frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// As fast as possible, or at `pps`.
    #[default]
    Asap,
    /// The file's own gaps between frames (one thread).
    File,
}

/// Transmit path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxMode {
    /// TX ring; sendmmsg if the kernel refuses the ring.
    #[default]
    Auto,
    Ring,
    Sendmmsg,
}

/// Everything a generator run needs.
#[derive(Debug, Clone)]
pub struct GenConfig {
    pub interface: String,
    pub source: Source,
    /// Replay only: spacing and number of passes over the file (0 = for ever).
    pub timing: Timing,
    pub loops: u64,
    /// Frames per second over all threads; 0 = as fast as possible.
    pub pps: u64,
    /// Exactly this many frames in total (refused ones included), then stop.
    pub count: Option<u64>,
    pub duration: Option<std::time::Duration>,
    /// Sender threads (default: one per allowed CPU, or per entry of `cpus`).
    pub threads: Option<usize>,
    /// CPUs to pin thread i to (i-th entry, wrapping); default: the allowed CPUs in order.
    pub cpus: Option<Vec<usize>>,
    pub pin: bool,
    pub mode: TxMode,
    /// Frame slots per TX ring.
    pub ring_frames: u32,
    /// Frames per kick (ring) at most.
    pub batch: usize,
    pub qdisc_bypass: bool,
    /// Have the kernel copy ring frames into socket buffers (PACKET_VNET_HDR) rather than
    /// attach ring pages; faster for small frames and for veth.
    pub copy_frames: bool,
}

impl GenConfig {
    pub fn new(interface: &str, source: Source) -> GenConfig {
        GenConfig {
            interface: interface.to_string(),
            source,
            timing: Timing::Asap,
            loops: 1,
            pps: 0,
            count: None,
            duration: None,
            threads: None,
            cpus: None,
            pin: true,
            mode: TxMode::Auto,
            ring_frames: 4096,
            batch: 256,
            qdisc_bypass: true,
            copy_frames: true,
        }
    }
}

/// Refuses numbers no run can honour, each with what to fix.
pub(crate) fn check_numbers(cfg: &GenConfig) -> Result<()> {
    if cfg.pps > MAX_PPS {
        return Err(Error::Config(format!(
            "--pps {} is out of range (0 to {MAX_PPS}; 0 = as fast as possible)",
            cfg.pps
        )));
    }
    if cfg.count == Some(0) {
        return Err(Error::Config("-c must be at least 1".into()));
    }
    if cfg.duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::Config("--duration must be above 0".into()));
    }
    if cfg.batch == 0 || cfg.ring_frames == 0 {
        return Err(Error::Config(
            "batch and ring size must be at least 1".into(),
        ));
    }
    // A replay's own timing, over every loop, must fit the clock.
    if let (Timing::File, Source::Replay(r)) = (cfg.timing, &cfg.source) {
        r.check_timing(cfg.loops)?;
    }
    Ok(())
}
