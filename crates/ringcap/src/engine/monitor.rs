//! A live view of a capture's counters for exporters and displays (Prometheus, `ringcap top`).
//!
//! It reads what the engine already keeps, never the sockets: each worker's published totals
//! (relaxed loads of counters the worker stores once per batch) and the kernel's counts as the
//! statistics loop last accumulated them (PACKET_STATISTICS and XDP_STATISTICS reset or move on
//! every read, so a reader of its own would steal counts from the capture's summary). Taking a
//! snapshot costs a few loads and one uncontended lock per worker; nothing is added per packet.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::Shared;
use crate::config::Mode;
use crate::stats::EndReason;

/// A cloneable handle on a capture's live counters ([`crate::Capture::monitor`]). Valid before,
/// during and after the run: before it every count is zero; after it the counts are the final
/// ones, the same as the report's.
#[derive(Clone)]
pub struct Monitor(Arc<Inner>);

struct Inner {
    mode: Mode,
    cpus: Vec<Option<usize>>,
    ring_blocks: u32,
    run: OnceLock<(Arc<Shared>, Instant)>,
}

/// One worker's counters at the moment of a [`Monitor::snapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveWorker {
    pub worker: usize,
    pub cpu: Option<usize>,
    /// The RX queue this worker serves (AF_XDP: one worker per queue).
    pub queue: Option<u32>,
    /// Packets handed to the handler, and their wire bytes.
    pub received: u64,
    pub bytes: u64,
    /// Packets delivered after `-c` was reached (or left unprocessed at a failure).
    pub past_count: u64,
    /// The kernel's counts as of the statistics loop's last read (once per stats interval).
    pub kernel_packets: u64,
    pub drops: u64,
    pub freezes: u64,
    /// Ring blocks the kernel has handed over and the worker has not given back (ring mode).
    pub ring_blocks_waiting: Option<u64>,
    /// Counters of modes that have more (AF_XDP: `xdp_redirected`, `xdp_filtered`, ...).
    pub extra: Vec<(&'static str, u64)>,
}

/// Every worker's counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Seconds since the run started (0 before).
    pub elapsed: f64,
    /// Every worker's intake is open (its socket bound, its filter installed: frames sent now
    /// are seen) and the run has not ended yet. Before that the counters already move, but a
    /// frame sent then may pass the capture by (an AF_XDP queue whose socket is not yet in the
    /// XSKMAP hands its frames to the host).
    pub running: bool,
    /// Why it ended, once it has.
    pub ended: Option<EndReason>,
    /// Blocks per worker's ring (ring mode).
    pub ring_blocks: Option<u32>,
    pub workers: Vec<LiveWorker>,
}

impl Monitor {
    pub(crate) fn new(mode: Mode, cpus: Vec<Option<usize>>, ring_blocks: u32) -> Monitor {
        Monitor(Arc::new(Inner {
            mode,
            cpus,
            ring_blocks,
            run: OnceLock::new(),
        }))
    }

    /// Called once by the run, when the workers' shared state exists.
    pub(crate) fn attach(&self, shared: Arc<Shared>, start: Instant) {
        let _ = self.0.run.set((shared, start));
    }

    pub fn workers(&self) -> usize {
        self.0.cpus.len()
    }

    /// The counters now. Per worker: relaxed loads of its published totals and a copy of the
    /// kernel's accumulated counts (a short lock the statistics loop holds once per interval).
    pub fn snapshot(&self) -> Snapshot {
        let ring = self.0.mode == Mode::Ring;
        let mut s = Snapshot {
            ring_blocks: ring.then_some(self.0.ring_blocks),
            ..Default::default()
        };
        let run = self.0.run.get();
        if let Some((shared, start)) = run {
            s.elapsed = start.elapsed().as_secs_f64();
            s.ended = shared.stop.reason();
            s.running = s.ended.is_none()
                && shared.started.load(Ordering::Acquire) >= shared.published.len();
        }
        for (i, cpu) in self.0.cpus.iter().enumerate() {
            let mut w = LiveWorker {
                worker: i,
                cpu: *cpu,
                queue: (self.0.mode == Mode::Xdp).then_some(i as u32),
                ring_blocks_waiting: ring.then_some(0),
                ..Default::default()
            };
            if let Some((shared, _)) = run {
                let p = &shared.published[i];
                w.received = p.packets.load(Ordering::Relaxed);
                w.bytes = p.bytes.load(Ordering::Relaxed);
                w.past_count = p.past_count.load(Ordering::Relaxed);
                if ring {
                    w.ring_blocks_waiting = Some(p.fill.load(Ordering::Relaxed));
                }
                let k = shared.kernel[i].lock().unwrap_or_else(|e| e.into_inner());
                w.kernel_packets = k.packets;
                w.drops = k.drops;
                w.freezes = k.freezes;
                w.extra = k.extra.clone();
            }
            s.workers.push(w);
        }
        s
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("mode", &self.0.mode)
            .field("workers", &self.0.cpus.len())
            .field("running", &self.0.run.get().is_some())
            .finish()
    }
}
