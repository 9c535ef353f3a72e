//! What the exporter is told at scrape time: plain numbers, copied from the counters their owners
//! already keep (the capture engine's per-worker totals, the output writers', the flow meters',
//! the generator's). A source is a closure returning one of these; the exporter never reaches
//! into another crate's state, so it needs none of their types.

/// One capture worker's counters. Totals since the capture started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerSample {
    pub worker: usize,
    pub cpu: Option<usize>,
    /// The RX queue the worker serves (AF_XDP).
    pub queue: Option<u32>,
    pub received_packets: u64,
    /// Wire bytes of the received packets.
    pub received_bytes: u64,
    /// What the kernel counted for the worker's socket (delivered + dropped).
    pub kernel_packets: u64,
    /// Dropped by the kernel because the ring or buffer was full.
    pub dropped_packets: u64,
    /// Times the ring's queue froze.
    pub freezes: u64,
    /// Delivered after `-c` was reached (or left unprocessed at a failure).
    pub past_count_packets: u64,
    /// Ring blocks in user space (retired by the kernel, not given back yet) and the ring's
    /// size in blocks; ring mode only.
    pub ring_blocks: Option<(u64, u64)>,
    /// Frames the filter rejected where that is counted (AF_XDP's user-space filter).
    pub filter_rejected: Option<u64>,
    /// Frames the XDP program redirected to the worker's socket.
    pub xdp_redirected: Option<u64>,
    /// Frames the XDP program's filter passed to the host stack instead (XDP filter in the
    /// kernel).
    pub xdp_passed: Option<u64>,
    /// Other counters of the receive path, by name (AF_XDP's XDP_STATISTICS: `rx_dropped`,
    /// `rx_ring_full`, `rx_fill_ring_empty_descs`, `rx_invalid_descs`). Each becomes
    /// `ringcap_xdp_<name>_total`.
    pub other: Vec<(String, u64)>,
}

/// A capture's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureSnapshot {
    /// The configuration (`ringcap_capture_info`); none when no capture is open.
    pub info: Option<CaptureInfo>,
    /// The capture is taking packets (started, not ended).
    pub running: bool,
    /// When it started, seconds since the epoch (0 before).
    pub start_time_seconds: f64,
    pub workers: Vec<WorkerSample>,
}

/// A capture's configuration, exported as the labels of `ringcap_capture_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureInfo {
    pub interface: String,
    /// `recv`, `ring` or `xdp`.
    pub mode: String,
    /// The fanout mode (`hash`, `cpu`, ...), empty for one worker.
    pub fanout: String,
    pub workers: usize,
    /// Ring geometry (ring mode): block size in bytes, blocks per worker, frame size.
    pub block_size: Option<u32>,
    pub blocks: Option<u32>,
    pub frame_size: Option<u32>,
    pub snaplen: u32,
    /// A filter expression is attached.
    pub filter: bool,
}

/// The capture output's counters (`-w`): records and bytes written, what could not be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputSnapshot {
    /// Records written (to files, or handed to the packet-line printer).
    pub records_written: u64,
    /// Bytes written to files (compressed where they are), where the writers count them.
    pub bytes_written: Option<u64>,
    /// Records that reached a writer and could not be written (after a write error).
    pub records_not_written: u64,
    pub write_errors: u64,
    /// Files closed to start the next one (`-C`, `-G`).
    pub files_rotated: Option<u64>,
}

/// One flow meter's counters (one per capture worker).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowMeterSample {
    pub worker: usize,
    /// Flows in the table now.
    pub active: u64,
    /// Flow records the table ended and handed on to the exporter (including those that found
    /// its queue full, also counted in `records_lost`).
    pub exported: u64,
    /// Flows pushed out early because the table was full.
    pub evicted: u64,
    /// Records the meter could not hand over because the exporter's queue was full.
    pub records_lost: u64,
}

/// One collector's export counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorSample {
    /// Where the messages go, e.g. `ipfix://127.0.0.1:4739` or a file name.
    pub collector: String,
    /// `ipfix`, `netflow9` or `json`.
    pub protocol: String,
    pub messages_sent: u64,
    pub messages_failed: u64,
}

/// Flow metering and export.
///
/// Fed from what the flow meters already publish once per batch (ringcap-flow's per-worker
/// counters: flows in the table, records handed over, evictions, records lost to a full queue)
/// and from the exporter thread's per-output message counts, which it publishes the same way
/// (relaxed stores after each message) for the closure to load (the CLI's `flows`):
///
/// ```ignore
/// metrics.flows(move || FlowSnapshot {
///     meters: counters.workers.iter().enumerate().map(|(i, w)| FlowMeterSample {
///         worker: i,
///         active: w.in_table.load(Relaxed),
///         exported: w.records.load(Relaxed),
///         evicted: w.evicted.load(Relaxed),
///         records_lost: w.lost_records.load(Relaxed),
///     }).collect(),
///     collectors: counters.outputs.iter().map(|o| CollectorSample {
///         collector: o.name.clone(),
///         protocol: o.protocol.to_string(),
///         messages_sent: o.sent.load(Relaxed),
///         messages_failed: o.failed.load(Relaxed),
///     }).collect(),
/// });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowSnapshot {
    pub meters: Vec<FlowMeterSample>,
    pub collectors: Vec<CollectorSample>,
}

/// One generator thread's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenThreadSample {
    pub thread: usize,
    pub cpu: Option<usize>,
    pub frames_sent: u64,
    pub bytes_sent: u64,
    /// Frames the kernel refused (or that exceed the MTU).
    pub frames_refused: u64,
}

/// The traffic generator's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSnapshot {
    pub threads: Vec<GenThreadSample>,
}
