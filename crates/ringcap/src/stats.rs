//! Counters, per-second ticks and the end-of-capture report.
//!
//! Workers own their counters: each publishes plain totals into its own cache-line-sized slot
//! (relaxed stores once per batch), and only the stats thread reads them. The kernel's
//! PACKET_STATISTICS reset on every read, so the stats thread accumulates them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a capture ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// `-c` packets were received.
    Count,
    /// `--duration` elapsed.
    Duration,
    /// SIGINT, SIGTERM or SIGHUP (the signal number).
    Signal(i32),
    /// A worker failed: its handler panicked or returned an error ([`crate::Flow::Fail`], or
    /// an `Err` from [`crate::Handler::finish`]), or its thread died. The other workers were
    /// drained and stopped.
    WorkerFailed { worker: usize, cause: String },
    /// A handler finished its job (e.g. the last file of `-G`/`-W`).
    HandlerDone,
    /// The interface went down or disappeared.
    InterfaceGone(String),
    /// The capture could not go on for another reason (a worker could not be set up).
    Error(String),
}

impl EndReason {
    /// Whether the end is a failure (the CLI exits non-zero).
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            EndReason::WorkerFailed { .. } | EndReason::InterfaceGone(_) | EndReason::Error(_)
        )
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndReason::Count => f.write_str("packet count reached"),
            EndReason::Duration => f.write_str("duration over"),
            EndReason::Signal(s) => write!(f, "signal {s}"),
            EndReason::WorkerFailed { worker, cause } => {
                write!(f, "worker {worker} failed: {cause}")
            }
            EndReason::HandlerDone => f.write_str("output complete"),
            EndReason::InterfaceGone(m) => write!(f, "{m}"),
            EndReason::Error(m) => write!(f, "error: {m}"),
        }
    }
}

/// One worker's totals at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    pub worker: usize,
    pub cpu: Option<usize>,
    /// Packets handed to the handler.
    pub received: u64,
    /// Wire bytes of those packets.
    pub bytes: u64,
    /// Packets the kernel delivered to this socket that arrived after `-c` was reached.
    pub past_count: u64,
    /// Packets the kernel counted for this socket (tp_packets: delivered + dropped).
    pub kernel_packets: u64,
    /// Packets the kernel dropped because the ring or buffer was full (tp_drops).
    pub drops: u64,
    /// Times the ring's queue froze (tp_freeze_q_cnt).
    pub freezes: u64,
    /// Blocks handed over with TP_STATUS_LOSING (drops happened while they filled).
    pub losing_blocks: u64,
    /// Batches (blocks) handed to the handler.
    pub batches: u64,
    /// Poll calls that slept.
    pub polls: u64,
    /// CPU time of the worker thread.
    pub cpu_user_ns: u64,
    pub cpu_sys_ns: u64,
    /// Capture start and end, nanoseconds since the epoch.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Why this worker failed, if it did (see [`EndReason::WorkerFailed`]).
    pub failure: Option<String>,
    /// Errors on the way out that did not stop the worker but must not go unseen: stopping
    /// intake, reading the kernel's final statistics.
    pub problems: Vec<String>,
    /// False when these are not the worker's final counts: its thread died (the counts are
    /// those it had published and the kernel's), or the kernel's final statistics could not be
    /// read. Such counts are shown but never claimed to reconcile.
    pub complete: bool,
}

impl Default for WorkerReport {
    fn default() -> Self {
        WorkerReport {
            worker: 0,
            cpu: None,
            received: 0,
            bytes: 0,
            past_count: 0,
            kernel_packets: 0,
            drops: 0,
            freezes: 0,
            losing_blocks: 0,
            batches: 0,
            polls: 0,
            cpu_user_ns: 0,
            cpu_sys_ns: 0,
            start_ns: 0,
            end_ns: 0,
            failure: None,
            problems: Vec::new(),
            complete: true,
        }
    }
}

impl WorkerReport {
    /// kernel-counted = received + past-count + dropped, for final counts only.
    pub fn reconciles(&self) -> bool {
        self.complete && self.kernel_packets == self.received + self.past_count + self.drops
    }

    pub(crate) fn add(&mut self, o: &WorkerReport) {
        self.received += o.received;
        self.bytes += o.bytes;
        self.past_count += o.past_count;
        self.kernel_packets += o.kernel_packets;
        self.drops += o.drops;
        self.freezes += o.freezes;
        self.losing_blocks += o.losing_blocks;
        self.batches += o.batches;
        self.polls += o.polls;
        self.cpu_user_ns += o.cpu_user_ns;
        self.cpu_sys_ns += o.cpu_sys_ns;
        self.start_ns = if self.start_ns == 0 {
            o.start_ns
        } else {
            self.start_ns.min(o.start_ns)
        };
        self.end_ns = self.end_ns.max(o.end_ns);
        self.complete &= o.complete;
    }
}

/// The end-of-capture report: per worker and in total.
#[derive(Debug, Clone)]
pub struct Report {
    pub workers: Vec<WorkerReport>,
    pub total: WorkerReport,
    pub reason: EndReason,
    /// Extra drop counters of modes that have them (AF_XDP), by name, in total.
    pub extra: Vec<(String, u64)>,
}

impl Report {
    /// Every worker's counts are final and add up, and so does their total.
    pub fn reconciles(&self) -> bool {
        self.total.reconciles() && self.workers.iter().all(WorkerReport::reconciles)
    }

    /// Each worker's failure and problems, one line each (`worker 1: …`), for the summary.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in &self.workers {
            if let Some(f) = &w.failure {
                out.push(format!("worker {}: failed: {f}", w.worker));
            }
            for p in &w.problems {
                out.push(format!("worker {}: {p}", w.worker));
            }
            if !w.complete && w.failure.is_none() && w.problems.is_empty() {
                out.push(format!("worker {}: counts are not final", w.worker));
            }
        }
        out
    }
}

/// A per-second snapshot for progress lines.
#[derive(Debug, Clone, Default)]
pub struct Tick {
    /// Seconds since the capture started.
    pub elapsed: f64,
    /// Length of this interval in seconds.
    pub interval: f64,
    /// Packets and bytes per worker in this interval.
    pub worker_packets: Vec<u64>,
    pub worker_bytes: Vec<u64>,
    /// Totals since the start.
    pub received: u64,
    pub kernel_packets: u64,
    pub drops: u64,
    pub freezes: u64,
}

impl Tick {
    pub fn total_packets(&self) -> u64 {
        self.worker_packets.iter().sum()
    }
    pub fn total_pps(&self) -> f64 {
        self.total_packets() as f64 / self.interval.max(1e-9)
    }
    pub fn total_bps(&self) -> f64 {
        self.worker_bytes.iter().sum::<u64>() as f64 * 8.0 / self.interval.max(1e-9)
    }
}

/// A worker's published counters, alone on its cache lines.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Published {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

impl Published {
    #[inline]
    pub fn publish(&self, packets: u64, bytes: u64) {
        self.packets.store(packets, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
    }
    pub fn read(&self) -> (u64, u64) {
        (
            self.packets.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `1.23 M`-style rates.
pub fn human_rate(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2} G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0} ")
    }
}
