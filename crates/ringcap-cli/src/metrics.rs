//! `--metrics ADDR:PORT` for the long-running commands: binds the listener at start (a port in
//! use or an address that is not this host's is one line and exit status 2, before anything
//! else happens), then glues each command's live counters to ringcap-metrics' snapshots.
//!
//! Every source is read at scrape time from counters that already exist: the engine's
//! [`ringcap::Monitor`], the output writers' summary, the flow meters' per-batch counters and
//! the flow exporter's per-message ones, the generator's per-second tick.

use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ringcap::{Capture, Mode, Monitor};
use ringcap_metrics::{
    CaptureInfo, CaptureSnapshot, CollectorSample, FlowMeterSample, FlowSnapshot, GenSnapshot,
    GenThreadSample, Listener, Metrics, OutputSnapshot, Server, WorkerSample,
};

use crate::output::OutputSummary;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (e.g. 127.0.0.1:9100; nothing is
    /// served unless asked).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<String>,
}

/// A bound listener and the metrics to serve once their sources are registered.
pub struct Exporter {
    listener: Listener,
    metrics: Metrics,
}

/// Binds `--metrics` if given. Its error is a [`ringcap_metrics::BindError`], which `main`
/// reports as bad arguments (exit status 2).
pub fn bind(args: &MetricsArgs, command: &str) -> anyhow::Result<Option<Exporter>> {
    let Some(addr) = &args.metrics else {
        return Ok(None);
    };
    let listener = Listener::bind(addr).context("--metrics")?;
    Ok(Some(Exporter {
        listener,
        metrics: Metrics::new(command),
    }))
}

impl Exporter {
    pub fn serve(self) -> anyhow::Result<Server> {
        let addr = self.listener.local_addr()?;
        let server = self.listener.serve(self.metrics)?;
        eprintln!("ringcap: serving metrics at http://{addr}/metrics");
        Ok(server)
    }
}

/// The configuration labels of `ringcap_capture_info`.
fn capture_info(c: &Capture) -> CaptureInfo {
    let cfg = c.config();
    let ring = cfg.mode == Mode::Ring;
    CaptureInfo {
        interface: cfg.iface.clone(),
        mode: cfg.mode.to_string(),
        fanout: if c.fanout_id().is_some() {
            cfg.fanout.mode.to_string()
        } else {
            String::new()
        },
        workers: c.workers(),
        block_size: ring.then_some(cfg.geometry.block_size),
        blocks: ring.then_some(cfg.geometry.blocks),
        frame_size: ring.then_some(cfg.geometry.frame_size),
        snaplen: cfg.snaplen,
        filter: cfg.filter.is_some(),
    }
}

/// The engine's live counters as the exporter's snapshot.
fn capture_snapshot(info: &CaptureInfo, m: &Monitor) -> CaptureSnapshot {
    let s = m.snapshot();
    let start_time_seconds = if s.elapsed > 0.0 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        now.as_secs_f64() - s.elapsed
    } else {
        0.0
    };
    CaptureSnapshot {
        info: Some(info.clone()),
        running: s.running,
        start_time_seconds,
        workers: s
            .workers
            .iter()
            .map(|w| {
                let mut sample = WorkerSample {
                    worker: w.worker,
                    cpu: w.cpu,
                    queue: w.queue,
                    received_packets: w.received,
                    received_bytes: w.bytes,
                    kernel_packets: w.kernel_packets,
                    dropped_packets: w.drops,
                    freezes: w.freezes,
                    past_count_packets: w.past_count,
                    ring_blocks: w.ring_blocks_waiting.zip(s.ring_blocks.map(u64::from)),
                    ..Default::default()
                };
                for (name, v) in &w.extra {
                    match *name {
                        "xdp_filtered" => sample.filter_rejected = Some(*v),
                        "xdp_redirected" => sample.xdp_redirected = Some(*v),
                        "xdp_passed" => sample.xdp_passed = Some(*v),
                        other => sample.other.push((other.to_string(), *v)),
                    }
                }
                sample
            })
            .collect(),
    }
}

fn output_snapshot(s: &OutputSummary) -> OutputSnapshot {
    let (taken, rotated) = s.live();
    // Files: what the writer threads wrote (added once per buffer); lines: what the workers
    // handed to the printer.
    let (records_written, bytes_written) = match s.written() {
        Some((records, bytes)) => (records, Some(bytes)),
        None => (taken, None),
    };
    OutputSnapshot {
        records_written,
        records_not_written: s.packets_not_written(),
        write_errors: s.errors() as u64,
        bytes_written,
        files_rotated: Some(rotated),
    }
}

/// `capture`: registers the capture (and its output) and starts serving.
pub fn serve_capture(
    exporter: Option<Exporter>,
    capture: &Capture,
    output: Option<&OutputSummary>,
) -> anyhow::Result<Option<Server>> {
    let Some(mut e) = exporter else {
        return Ok(None);
    };
    let info = capture_info(capture);
    let monitor = capture.monitor();
    e.metrics.capture(move || capture_snapshot(&info, &monitor));
    if let Some(summary) = output {
        let summary = summary.clone();
        e.metrics.output(move || output_snapshot(&summary));
    }
    e.serve().map(Some)
}

/// The flow meters' counters (stored once per batch by each worker) and the exporter's
/// (stored after each message) as the exporter's snapshot.
fn flow_snapshot(c: &ringcap_flow::Counters) -> FlowSnapshot {
    use std::sync::atomic::Ordering::Relaxed;
    FlowSnapshot {
        meters: c
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| FlowMeterSample {
                worker: i,
                active: w.in_table.load(Relaxed),
                exported: w.records.load(Relaxed),
                evicted: w.evicted.load(Relaxed),
                records_lost: w.lost_records.load(Relaxed),
            })
            .collect(),
        collectors: c
            .outputs
            .iter()
            .map(|o| CollectorSample {
                collector: o.name.clone(),
                protocol: o.protocol.to_string(),
                messages_sent: o.sent.load(Relaxed),
                messages_failed: o.failed.load(Relaxed),
            })
            .collect(),
    }
}

/// `flows`: registers the flow meters and collectors (and, live, the capture feeding them) and
/// starts serving.
pub fn serve_flows(
    exporter: Option<Exporter>,
    counters: &Arc<ringcap_flow::Counters>,
    capture: Option<&Capture>,
) -> anyhow::Result<Option<Server>> {
    let Some(mut e) = exporter else {
        return Ok(None);
    };
    if let Some(capture) = capture {
        let info = capture_info(capture);
        let monitor = capture.monitor();
        e.metrics.capture(move || capture_snapshot(&info, &monitor));
    }
    let counters = counters.clone();
    e.metrics.flows(move || flow_snapshot(&counters));
    e.serve().map(Some)
}

/// The capture the bench is measuring now, if metrics are served.
static BENCH_CAPTURE: OnceLock<Mutex<Option<(CaptureInfo, Monitor)>>> = OnceLock::new();

/// `bench`: serves the capture of the run in progress (see [`watch`]).
pub fn serve_bench(args: &MetricsArgs) -> anyhow::Result<Option<Server>> {
    let Some(mut e) = bind(args, "bench")? else {
        return Ok(None);
    };
    let slot = BENCH_CAPTURE.get_or_init(|| Mutex::new(None));
    e.metrics.capture(move || {
        let cur = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match cur {
            Some((info, m)) => capture_snapshot(&info, &m),
            None => CaptureSnapshot::default(),
        }
    });
    e.serve().map(Some)
}

/// `bench`: the capture about to run is the one to export (a no-op without `--metrics`).
pub fn watch(capture: &Capture) {
    if let Some(slot) = BENCH_CAPTURE.get() {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((capture_info(capture), capture.monitor()));
    }
}

/// `gen`: the generator's counters as of its last tick (once a second) or its end.
#[derive(Clone, Default)]
pub struct GenFeed(Arc<Mutex<GenSnapshot>>);

impl GenFeed {
    /// Per thread: frames, bytes and refused frames so far, and the thread's CPU.
    pub fn update(&self, threads: impl Iterator<Item = (Option<usize>, u64, u64, u64)>) {
        let snap = GenSnapshot {
            threads: threads
                .enumerate()
                .map(|(i, (cpu, frames, bytes, refused))| GenThreadSample {
                    thread: i,
                    cpu,
                    frames_sent: frames,
                    bytes_sent: bytes,
                    frames_refused: refused,
                })
                .collect(),
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = snap;
    }

    pub fn serve(&self, exporter: Option<Exporter>) -> anyhow::Result<Option<Server>> {
        let Some(mut e) = exporter else {
            return Ok(None);
        };
        let feed = self.0.clone();
        e.metrics
            .generator(move || feed.lock().unwrap_or_else(|e| e.into_inner()).clone());
        e.serve().map(Some)
    }
}
