//! The exporter thread: takes the workers' record chunks from the bounded queue and sends them
//! to every output — IPFIX and NetFlow v9 collectors over UDP, a JSON Lines file.
//!
//! One observation domain per exporter (`--observation-domain`, 0 by default), whatever the
//! number of workers: collectors key their state by exporter address and domain, so one domain
//! keeps a sensor one source, and one IPFIX stream per protocol carries one sequence number
//! (data records sent) that every collector can check for loss. Each protocol builds each
//! message once and sends it to all its collectors.
//!
//! Templates are sent at start, then again with the options records (the exporter's own
//! counts) every `template_refresh` or every `template_refresh_messages` messages, whichever
//! comes first, as RFC 7011 §8.4 asks of UDP exporters; a collector that starts late decodes
//! records within that interval. A collector that goes away costs failed sends (counted per
//! collector, with the records in them) and nothing else.

use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::json::JsonOut;
use crate::message::{Encoder, ExporterStats, Protocol};
use crate::meter::{Pool, Queue, CHUNK};
use crate::record::FlowRecord;
use crate::send::{Batch, Conn};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{proto} collector {name}")]
    Collector {
        proto: Protocol,
        name: String,
        source: io::Error,
    },
    #[error(
        "{proto} collector {name} refused the first message (is a collector listening there?)"
    )]
    Refused {
        proto: Protocol,
        name: String,
        source: io::Error,
    },
    #[error("cannot start the exporter thread: {0}")]
    Thread(io::Error),
}

/// Counters the workers and the capture publish for the exporter's options records and the
/// summary. Workers store plain totals once per batch (relaxed); nothing is shared per packet.
#[derive(Debug, Default)]
pub struct Counters {
    pub workers: Vec<WorkerCounters>,
    /// The kernel's dropped packets, set by the capture's statistics loop.
    pub kernel_drops: AtomicU64,
    /// Packets the capture filter looked at and took (when there is a filter).
    pub filter_observed: AtomicU64,
    pub filter_selected: AtomicU64,
    /// Each output's messages so far, in the order IPFIX collectors, NetFlow v9 collectors,
    /// the JSON file: stored by the exporter thread after each message (never per packet).
    pub outputs: Vec<OutputCounters>,
}

/// One output's live counts: messages (IPFIX/NetFlow v9 packets, JSON lines) sent and failed.
#[derive(Debug)]
pub struct OutputCounters {
    /// The collector as the user gave it (`HOST:PORT`, or the JSON file's name).
    pub name: String,
    /// `ipfix`, `netflow9` or `json`.
    pub protocol: &'static str,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
}

impl OutputCounters {
    fn new(name: &str, protocol: &'static str) -> OutputCounters {
        OutputCounters {
            name: name.to_string(),
            protocol,
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

/// One worker's published totals, on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerCounters {
    pub packets: AtomicU64,
    pub flows: AtomicU64,
    pub records: AtomicU64,
    pub lost_records: AtomicU64,
    pub lost_packets: AtomicU64,
    pub lost_octets: AtomicU64,
    pub evicted: AtomicU64,
    pub in_table: AtomicU64,
}

impl Counters {
    pub fn new(workers: usize) -> Counters {
        Counters {
            workers: (0..workers).map(|_| WorkerCounters::default()).collect(),
            ..Counters::default()
        }
    }

    fn sum(&self, f: impl Fn(&WorkerCounters) -> &AtomicU64) -> u64 {
        self.workers.iter().map(|w| f(w).load(Relaxed)).sum()
    }
}

/// A collector to send to: the name the user gave (for messages) and its address.
#[derive(Debug, Clone)]
pub struct CollectorSpec {
    pub name: String,
    pub addr: SocketAddr,
    /// The largest message for this collector (path MTU less IP and UDP headers).
    pub max_message: usize,
}

/// What to export and how.
pub struct ExportConfig {
    pub ipfix: Vec<CollectorSpec>,
    pub netflow9: Vec<CollectorSpec>,
    /// A JSON Lines output: its name and where to write.
    pub json: Option<(String, Box<dyn Write + Send>)>,
    pub observation_domain: u32,
    pub template_refresh: Duration,
    pub template_refresh_messages: u32,
    /// Chunks of up to [`CHUNK`] records the queue holds.
    pub queue_chunks: usize,
    pub workers: usize,
    /// A capture filter is in use (its counts go in the options records).
    pub filter: bool,
}

/// One output's account at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputReport {
    /// e.g. `ipfix 127.0.0.1:4739: 12 messages (300 records), 0 failed`.
    pub line: String,
    /// Records this output could not deliver (failed sends or writes).
    pub failed_records: u64,
    /// Whether it stopped for good (a JSON file that could not be written).
    pub broken: bool,
}

/// What the exporter thread did.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Records (and their packets) the exporter took from the queue.
    pub records: u64,
    pub packets: u64,
    pub outputs: Vec<OutputReport>,
}

/// The running exporter thread.
pub struct Exporter {
    thread: JoinHandle<ExportReport>,
    counters: Arc<Counters>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One protocol's stream: a message being built and the collectors it goes to.
struct UdpOut {
    enc: Encoder,
    conns: Vec<Conn>,
    /// Messages built and not yet sent.
    batch: Batch,
    refresh_ms: u64,
    refresh_messages: u32,
    last_templates_ms: Option<u64>,
    since_templates: u32,
    open: bool,
    messages: u64,
    records: u64,
    by_reason: [u64; 5],
    filter: bool,
    /// Where its collectors' counts are published: `counters.outputs[first..]`.
    live: Arc<Counters>,
    first: usize,
}

impl UdpOut {
    fn open(
        proto: Protocol,
        specs: &[CollectorSpec],
        cfg: &ExportConfig,
        start_ms: u64,
        (live, first): (Arc<Counters>, usize),
    ) -> Result<UdpOut, ExportError> {
        let mut conns = Vec::with_capacity(specs.len());
        for s in specs {
            let err = |source| ExportError::Collector {
                proto,
                name: s.name.clone(),
                source,
            };
            let local: SocketAddr = if s.addr.is_ipv4() {
                "0.0.0.0:0".parse().unwrap_or(s.addr)
            } else {
                "[::]:0".parse().unwrap_or(s.addr)
            };
            let sock = UdpSocket::bind(local).map_err(err)?;
            sock.connect(s.addr).map_err(err)?;
            conns.push(Conn::new(s.name.clone(), sock));
        }
        let max = specs.iter().map(|s| s.max_message).min().unwrap_or(1400);
        let enc = Encoder::new(proto, cfg.observation_domain, max, start_ms);
        Ok(UdpOut {
            batch: Batch::new(enc.max_len()),
            enc,
            conns,
            refresh_ms: cfg.template_refresh.as_millis().max(1) as u64,
            refresh_messages: cfg.template_refresh_messages.max(1),
            last_templates_ms: None,
            since_templates: 0,
            open: false,
            messages: 0,
            records: 0,
            by_reason: [0; 5],
            filter: cfg.filter,
            live,
            first,
        })
    }

    fn templates_due(&self, now: u64) -> bool {
        match self.last_templates_ms {
            None => true,
            Some(t) => {
                now.saturating_sub(t) >= self.refresh_ms
                    || self.since_templates >= self.refresh_messages
            }
        }
    }

    fn stats(&self, base: &ExporterStats) -> ExporterStats {
        ExporterStats {
            messages: self.messages,
            records: self.records,
            records_by_reason: self.by_reason,
            ..*base
        }
    }

    fn begin(&mut self, now: u64, base: &ExporterStats, templates: bool) {
        self.enc.start(now);
        if templates || self.templates_due(now) {
            self.enc.add_templates(self.filter);
            let st = self.stats(base);
            self.enc.add_stats(&st);
            self.last_templates_ms = Some(now);
            self.since_templates = 0;
        }
        self.open = true;
    }

    /// Completes the message being built; it leaves with its batch ([`UdpOut::transmit`]).
    fn send(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        let n = self.enc.flow_records() as u64;
        let msg = self.enc.finish();
        if self.batch.push(msg, n) {
            self.transmit();
        }
        self.messages += 1;
        self.since_templates += 1;
    }

    /// Sends the messages of the batch to every collector.
    fn transmit(&mut self) {
        if !self.batch.is_empty() {
            self.batch.transmit(&mut self.conns);
            self.publish();
        }
    }

    fn publish(&self) {
        for (c, o) in self.conns.iter().zip(&self.live.outputs[self.first..]) {
            o.sent.store(c.sent, Relaxed);
            o.failed.store(c.failed, Relaxed);
        }
    }

    fn record(&mut self, r: &FlowRecord, now: u64, base: &ExporterStats) {
        if !self.open {
            self.begin(now, base, false);
        }
        if !self.enc.add_record(r) {
            self.send();
            self.begin(now, base, false);
            // An empty message always has room for one record.
            let _ = self.enc.add_record(r);
        }
        self.records += 1;
        self.by_reason[r.end.index()] += 1;
    }

    fn flush(&mut self) {
        if self.open && !self.enc.is_empty() {
            self.send();
        }
        self.open = false;
        self.transmit();
    }

    fn tick(&mut self, now: u64, base: &ExporterStats) {
        if !self.open && self.templates_due(now) {
            self.begin(now, base, true);
            self.send();
            self.transmit();
        }
    }

    fn finish(&mut self, now: u64, base: &ExporterStats) {
        self.flush();
        self.begin(now, base, true);
        self.send();
        self.transmit();
    }

    fn reports(&self) -> Vec<OutputReport> {
        let proto = self.enc.protocol();
        self.conns
            .iter()
            .map(|c| {
                let mut line = format!(
                    "{proto} {}: {} messages ({} records) sent",
                    c.name, c.sent, self.records
                );
                if c.failed > 0 {
                    line += &format!(
                        ", {} messages ({} records) failed to send",
                        c.failed, c.failed_records
                    );
                    if let Some(e) = &c.last_error {
                        line += &format!(" (last error: {e})");
                    }
                } else {
                    line += ", 0 failed";
                }
                OutputReport {
                    line,
                    failed_records: c.failed_records,
                    broken: false,
                }
            })
            .collect()
    }
}

struct Outputs {
    udp: Vec<UdpOut>,
    json: Option<JsonOut>,
    counters: Arc<Counters>,
    start_ms: u64,
    filter: bool,
}

impl Outputs {
    fn base(&self) -> ExporterStats {
        let c = &self.counters;
        ExporterStats {
            flows: c.sum(|w| &w.flows),
            kernel_drops: c.kernel_drops.load(Relaxed),
            not_sent_records: c.sum(|w| &w.lost_records),
            not_sent_packets: c.sum(|w| &w.lost_packets),
            not_sent_octets: c.sum(|w| &w.lost_octets),
            start_ms: self.start_ms,
            filter: self.filter.then(|| {
                (
                    c.filter_observed.load(Relaxed),
                    c.filter_selected.load(Relaxed),
                )
            }),
            ..ExporterStats::default()
        }
    }
}

impl Exporter {
    /// Opens every collector socket (an unresolvable or unreachable collector fails here),
    /// sends each its templates, and starts the exporter thread. Returns the workers' queue.
    pub fn start(mut cfg: ExportConfig) -> Result<(Exporter, Queue), ExportError> {
        let start_ms = now_ms();
        let outputs = (cfg
            .ipfix
            .iter()
            .map(|s| OutputCounters::new(&s.name, "ipfix")))
        .chain(
            cfg.netflow9
                .iter()
                .map(|s| OutputCounters::new(&s.name, "netflow9")),
        )
        .chain(cfg.json.iter().map(|(n, _)| OutputCounters::new(n, "json")))
        .collect();
        let counters = Arc::new(Counters {
            outputs,
            ..Counters::new(cfg.workers)
        });
        let mut udp = Vec::new();
        if !cfg.ipfix.is_empty() {
            let live = (counters.clone(), 0);
            udp.push(UdpOut::open(
                Protocol::Ipfix,
                &cfg.ipfix,
                &cfg,
                start_ms,
                live,
            )?);
        }
        if !cfg.netflow9.is_empty() {
            let live = (counters.clone(), cfg.ipfix.len());
            udp.push(UdpOut::open(
                Protocol::NetflowV9,
                &cfg.netflow9,
                &cfg,
                start_ms,
                live,
            )?);
        }
        let json = cfg.json.take().map(|(name, w)| JsonOut {
            name,
            w: BufWriter::with_capacity(1 << 16, w),
            written: 0,
            lost: 0,
            error: None,
            live: counters.clone(),
        });
        let mut outs = Outputs {
            udp,
            json,
            counters: counters.clone(),
            start_ms,
            filter: cfg.filter,
        };
        // Templates first; a collector that answers with ICMP port unreachable (nothing
        // listens) shows as an error on the socket shortly after.
        let base = outs.base();
        for u in &mut outs.udp {
            u.tick(start_ms, &base);
        }
        if !outs.udp.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
        for u in &outs.udp {
            for c in &u.conns {
                let err = c
                    .sock
                    .take_error()
                    .ok()
                    .flatten()
                    .or_else(|| c.last_error.as_ref().map(|e| io::Error::other(e.clone())));
                if let Some(source) = err {
                    return Err(ExportError::Refused {
                        proto: u.enc.protocol(),
                        name: c.name.clone(),
                        source,
                    });
                }
            }
        }
        let chunks = cfg.queue_chunks.max(1);
        let (tx, rx) = mpsc::sync_channel(chunks);
        // Every chunk the queue and the workers can hold at once is made here, so a worker
        // never allocates one while the capture runs, even with the exporter behind (a
        // flood of one-packet flows is a record per packet). Only reserved: their pages are
        // touched as far as the queue fills.
        let keep = chunks + 2 * cfg.workers;
        let pool: Pool = Arc::new(Mutex::new(
            (0..keep).map(|_| Vec::with_capacity(CHUNK)).collect(),
        ));
        let p = pool.clone();
        let thread = std::thread::Builder::new()
            .name("ringcap-export".into())
            .spawn(move || run(rx, p, keep, outs))
            .map_err(ExportError::Thread)?;
        Ok((
            Exporter {
                thread,
                counters: counters.clone(),
            },
            Queue { tx, pool, counters },
        ))
    }

    /// The counters the workers and the statistics loop publish into.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Waits for the thread to drain the queue and send the last messages; every [`Queue`]
    /// clone must be dropped first (the workers' handlers), or this waits for them.
    pub fn finish(self) -> ExportReport {
        self.thread.join().unwrap_or_default()
    }
}

fn run(rx: Receiver<Vec<FlowRecord>>, pool: Pool, keep: usize, mut outs: Outputs) -> ExportReport {
    let mut report = ExportReport::default();
    let take = |chunk: Vec<FlowRecord>, outs: &mut Outputs, report: &mut ExportReport| {
        let now = now_ms();
        let base = outs.base();
        for r in &chunk {
            report.records += 1;
            report.packets += r.packets;
            for u in &mut outs.udp {
                u.record(r, now, &base);
            }
            if let Some(j) = &mut outs.json {
                j.record(r);
            }
        }
        let mut chunk = chunk;
        chunk.clear();
        if let Ok(mut p) = pool.lock() {
            if p.len() < keep {
                p.push(chunk);
            }
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(chunk) => {
                take(chunk, &mut outs, &mut report);
                while let Ok(chunk) = rx.try_recv() {
                    take(chunk, &mut outs, &mut report);
                }
                // The queue is empty: send what is built rather than wait for more.
                for u in &mut outs.udp {
                    u.flush();
                }
                if let Some(j) = &mut outs.json {
                    j.flush();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let (now, base) = (now_ms(), outs.base());
        for u in &mut outs.udp {
            u.tick(now, &base);
        }
    }
    let (now, base) = (now_ms(), outs.base());
    for u in &mut outs.udp {
        u.finish(now, &base);
        report.outputs.extend(u.reports());
    }
    if let Some(j) = &mut outs.json {
        j.flush();
        report.outputs.push(j.report());
    }
    report
}
