//! The capture's output: `-w` files (one in time order by default, one per worker with
//! `--per-worker-files`), `-w -`, or live packet lines; plugged into the engine as each
//! worker's [`ringcap::Handler`], with the writing done by `ringcap-sink`'s threads.
//!
//! The handler only serialises: each packet (its VLAN tag put back unless `--no-vlan-restore`)
//! goes into the worker's buffer; the writer threads, the ordered merge, O_DIRECT, zstd and
//! rotation are `ringcap-sink`'s. File names: `-w out.pcap` writes `out.pcap`; with
//! `--per-worker-files` and N workers, `out.0.pcap` … `out.{N-1}.pcap`. Rotation (`-C`, `-G`,
//! `-W`) applies to each file written (`out.pcap1`, … or `out.0.pcap1`, …).
//!
//! Wiring in `capture`:
//! ```ignore
//! output::check_writable(&args.output)?;              // before any socket is opened
//! let capture = Capture::open(cfg)?;
//! let (handlers, sink) = output::open(&args.output, &target, &capture)?;
//! let report = capture.run(handlers, on_tick)?;
//! let summary = sink.close();
//! eprintln!("{}", output::summary_line(&summary));
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ringcap::{Batch, Capture, Flow, Handler, LinkLayer, Mode, WorkerReport};
use ringcap_pcap::{
    check_strftime, Format, IfStats, Interface, Precision, Rotation, WriterOptions,
};
use ringcap_sink::{Go, Output, RecordConsumer, Sink, SinkOptions, Spool, Summary};

use crate::capture::record::record_parts;

/// Flags of `-w`: files, rotation, how they are written.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write the packets to FILE (pcap or pcapng; `-` for standard output), in time order.
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<String>,
    /// With -w FILE: one file per worker (FILE with the worker's number before its extension:
    /// out.0.pcap, out.1.pcap…), no merge: the fastest way to write.
    #[arg(long)]
    pub per_worker_files: bool,
    /// File format of -w: pcap or pcapng.
    #[arg(long, default_value = "pcap")]
    pub format: Format,
    /// Timestamp precision: of -w files (default nano), and of packet lines (default micro,
    /// as tcpdump prints them).
    #[arg(long, alias = "time-stamp-precision", value_name = "micro|nano")]
    pub time_precision: Option<Precision>,
    /// Start a new file once the current one reaches MB million bytes (fractions allowed;
    /// uncompressed bytes with --compress).
    #[arg(short = 'C', value_name = "MB")]
    pub file_size: Option<f64>,
    /// Start a new file every SECS seconds; strftime conversions (%Y%m%d-%H%M%S…) in the name.
    #[arg(short = 'G', value_name = "SECS")]
    pub rotate_seconds: Option<u64>,
    /// With -C: keep at most N files, overwriting the oldest (FILE0…FILE{N-1});
    /// with -G alone: stop after N files.
    #[arg(short = 'W', value_name = "N")]
    pub file_count: Option<u32>,
    /// Write frames as the kernel delivered them, without putting back the VLAN tag it
    /// stripped (by default the tag is restored, as libpcap does).
    #[arg(long)]
    pub no_vlan_restore: bool,
    /// Hand every packet batch to the output at once (-w - | tshark -r - shows packets at
    /// once; with O_DIRECT each batch is written, padded).
    #[arg(short = 'U')]
    pub packet_buffered: bool,
    /// Write packets held in a partly filled buffer after this many milliseconds, so files
    /// grow with what was captured.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub flush_ms: u64,
    /// Compress -w files with zstd (level 1-19, default 3) in the writer threads; `.zst` is
    /// added to the file name unless it ends so. `zstd -d` gives back the exact pcap bytes.
    #[arg(long, value_name = "zstd[:LEVEL]")]
    pub compress: Option<String>,
    /// Write through the page cache even where the file system takes O_DIRECT.
    #[arg(long)]
    pub no_direct_io: bool,
    /// CPUs for the writer (and merge) threads, e.g. 0,1 (default: the CPUs the capture
    /// workers are not pinned to, if any; else wherever the scheduler puts them).
    #[arg(long, value_name = "LIST")]
    pub writer_cpus: Option<String>,
}

impl Default for OutputArgs {
    fn default() -> Self {
        OutputArgs {
            write: None,
            per_worker_files: false,
            format: Format::Pcap,
            time_precision: None,
            file_size: None,
            rotate_seconds: None,
            file_count: None,
            no_vlan_restore: false,
            packet_buffered: false,
            flush_ms: 1000,
            compress: None,
            no_direct_io: false,
            writer_cpus: None,
        }
    }
}

impl OutputArgs {
    fn rotation(&self) -> anyhow::Result<Rotation> {
        let size_limit = match self.file_size {
            Some(mb) if !(mb > 0.0 && mb.is_finite()) => bail!("-C {mb}: needs a size above 0"),
            Some(mb) => Some(((mb * 1_000_000.0) as u64).max(1)),
            None => None,
        };
        if self.rotate_seconds == Some(0) {
            bail!("-G 0: needs at least 1 second");
        }
        if self.file_count == Some(0) {
            bail!("-W 0: needs at least 1 file");
        }
        let rot = Rotation {
            size_limit,
            interval_s: self.rotate_seconds,
            max_files: self.file_count,
        };
        if self.file_count.is_some() && rot.is_none() {
            bail!("-W needs -C or -G");
        }
        if self.write.as_deref() == Some("-") && !rot.is_none() {
            bail!("-C and -G need a file name, not -w -");
        }
        if self.write.is_none() && (!rot.is_none() || self.file_count.is_some()) {
            bail!("-C, -G and -W need -w FILE");
        }
        Ok(rot)
    }

    /// The zstd level of `--compress`.
    pub fn zstd_level(&self) -> anyhow::Result<Option<i32>> {
        let Some(c) = &self.compress else {
            return Ok(None);
        };
        let (algo, level) = match c.split_once(':') {
            Some((a, l)) => (a, Some(l)),
            None => (c.as_str(), None),
        };
        if algo != "zstd" {
            bail!("--compress {c}: only zstd is supported (zstd or zstd:LEVEL)");
        }
        let level = match level {
            None => 3,
            Some(l) => match l.parse::<i32>() {
                Ok(n) if (1..=19).contains(&n) => n,
                _ => bail!("--compress {c}: the level is a number from 1 to 19"),
            },
        };
        if self.write.as_deref() == Some("-") {
            bail!("--compress needs -w FILE (for standard output: -w - | zstd)");
        }
        if self.write.is_none() {
            bail!("--compress needs -w FILE");
        }
        Ok(Some(level))
    }

    /// The `-w` name, with `.zst` added when compressing.
    fn base(&self) -> Option<String> {
        let w = self.write.clone()?;
        if self.compress.is_some() && w != "-" && !w.ends_with(".zst") {
            return Some(format!("{w}.zst"));
        }
        Some(w)
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Checks the `-w` flags and that the output directory takes new files; call it before the
/// capture opens any socket, so a bad path fails at once.
pub fn check_writable(args: &OutputArgs) -> anyhow::Result<()> {
    let rot = args.rotation()?;
    args.zstd_level()?;
    if args.per_worker_files && args.write.as_deref().is_none_or(|w| w == "-") {
        bail!("--per-worker-files needs -w FILE");
    }
    if args.flush_ms == 0 || args.flush_ms > 3_600_000 {
        bail!("--flush-ms {}: from 1 to 3600000", args.flush_ms);
    }
    let Some(base) = args.base() else {
        return Ok(());
    };
    if base == "-" {
        return Ok(());
    }
    if rot.interval_s.is_some() {
        check_strftime(&base).map_err(|e| anyhow::anyhow!("-w {e}"))?;
    }
    let first = rot.file_name(&base, 0, (now_ns() / 1_000_000_000) as i64);
    let path = Path::new(&first);
    if path.is_dir() {
        bail!("-w {first}: is a directory");
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let probe = dir.join(format!(".ringcap-probe-{}", std::process::id()));
    std::fs::File::create(&probe)
        .with_context(|| format!("-w {first}: cannot create files in {}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// How long after its timestamp a packet may still be on its way to its worker's handler: the
/// ring retires a partly filled block within two block timeouts, a busy worker may wait
/// `--coalesce-ms` before it looks again, plus scheduling slack.
fn arrival_lag(capture: &Capture) -> Duration {
    let cfg = capture.config();
    let ring = match cfg.mode {
        Mode::Ring => Duration::from_millis(2 * cfg.geometry.block_timeout_ms as u64),
        _ => Duration::ZERO,
    };
    ring + cfg.coalesce + Duration::from_millis(30)
}

/// The output threads' CPUs: `--writer-cpus`, else those the workers leave free (a writer on a
/// capture core takes cycles from the worker and the receive softirq there).
fn writer_cpus(args: &OutputArgs, capture: &Capture) -> anyhow::Result<Vec<usize>> {
    if let Some(list) = &args.writer_cpus {
        return ringcap::config::parse_cpu_list(list)
            .map_err(|e| anyhow::anyhow!("--writer-cpus: {e}"));
    }
    let cfg = capture.config();
    let taken: Vec<usize> = (0..capture.workers())
        .filter_map(|i| cfg.cpu_of(i))
        .collect();
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    let allowed = ringcap::process::allowed_cpus().unwrap_or_default();
    Ok(allowed.into_iter().filter(|c| !taken.contains(c)).collect())
}

/// The worker buffers: 1 MiB chunks, 16 per worker, fewer with many workers (64 MiB in all at
/// most, 4 per worker at least).
fn chunks_per_worker(workers: usize) -> usize {
    (64 / workers.max(1)).clamp(4, 16)
}

/// Opens the output for a capture that is open: the first file(s) now, the writer threads, one
/// handler per worker. Without `-w`, `lines` prints the packets.
pub fn open(
    args: &OutputArgs,
    lines: Option<Box<dyn RecordConsumer>>,
    capture: &Capture,
) -> anyhow::Result<(Vec<OutputHandler>, Sink)> {
    let cfg = capture.config();
    let workers = capture.workers();
    let rot = args.rotation()?;
    let output = match (args.base(), lines) {
        (Some(w), _) if w == "-" => Output::Stdout,
        (Some(base), _) => Output::Files {
            base,
            rotation: rot,
            per_worker: args.per_worker_files,
        },
        (None, Some(l)) => Output::Lines(l),
        (None, None) => bail!("no output"),
    };
    // The capture's link type: Ethernet, or a cooked LINUX_SLL/LINUX_SLL2 header that each
    // handler builds in front of the packet (-i any, -y).
    let lt = cfg.link.linktype();
    let mut file = WriterOptions::new(args.format, lt, cfg.snaplen);
    file.precision = args.time_precision.unwrap_or(Precision::Nano);
    file.interfaces = vec![Interface::new(Some(&cfg.iface), lt, cfg.snaplen)];
    let mut opts = SinkOptions::new(workers, output, file);
    opts.direct_io = !args.no_direct_io;
    opts.zstd = args.zstd_level()?;
    opts.flush = Duration::from_millis(args.flush_ms);
    opts.each_batch = args.packet_buffered;
    opts.chunks = chunks_per_worker(workers);
    opts.lag = arrival_lag(capture);
    opts.cpus = writer_cpus(args, capture)?;
    let what = match &opts.output {
        Output::Lines(_) => "standard output".to_string(),
        _ => format!("-w {}", args.base().unwrap_or_default()),
    };
    let (spools, sink) = ringcap_sink::open(opts).with_context(|| what)?;
    let restore_vlan = !args.no_vlan_restore;
    let link = cfg.link;
    let handlers = spools
        .into_iter()
        .map(|spool| OutputHandler {
            spool,
            restore_vlan,
            link,
            live: Arc::default(),
        })
        .collect();
    Ok((handlers, sink))
}

/// A worker's output handler: serialises each packet into the worker's buffer.
pub struct OutputHandler {
    spool: Spool,
    restore_vlan: bool,
    link: LinkLayer,
    /// Records taken and not taken (writer behind), published once per batch for `--metrics`.
    live: Arc<(AtomicU64, AtomicU64)>,
}

/// The output's counts while the capture runs (for `--metrics`): what the workers handed to
/// the writers and what they could not, and the files opened.
#[derive(Clone)]
pub struct OutputSummary {
    workers: Vec<Arc<(AtomicU64, AtomicU64)>>,
    sink: ringcap_sink::Live,
}

impl OutputSummary {
    pub fn new(handlers: &[OutputHandler], sink: &Sink) -> OutputSummary {
        OutputSummary {
            workers: handlers.iter().map(|h| h.live.clone()).collect(),
            sink: sink.live(),
        }
    }

    /// Records handed to the writers, and files closed to start the next (`-C`, `-G`).
    pub fn live(&self) -> (u64, u64) {
        let taken = self
            .workers
            .iter()
            .map(|w| w.0.load(Ordering::Relaxed))
            .sum();
        (taken, self.sink.files_opened().saturating_sub(1))
    }

    /// Records and file bytes written so far, when the output is files or `-w -` (not lines).
    pub fn written(&self) -> Option<(u64, u64)> {
        (!self.sink.lines()).then(|| (self.sink.records_written(), self.sink.bytes_written()))
    }

    /// Records the writers were too far behind to take.
    pub fn packets_not_written(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.1.load(Ordering::Relaxed))
            .sum()
    }

    /// Write errors so far.
    pub fn errors(&self) -> usize {
        self.sink.errors()
    }
}

impl Handler for OutputHandler {
    #[inline]
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        match self.spool.begin_batch() {
            Go::On => {}
            Go::Done => return Flow::Done,
            Go::Failed(e) => return Flow::Fail(format!("writing stopped: {e}")),
        }
        let (restore, link) = (self.restore_vlan, self.link);
        let spool = &mut self.spool;
        for pkt in batch {
            let _ = record_parts(&pkt, restore, link, |ts, len, parts| {
                spool.append(ts, len, parts);
                Ok::<(), ()>(())
            });
        }
        self.spool.end_batch();
        let (taken, behind) = self.spool.counts();
        self.live.0.store(taken, Ordering::Relaxed);
        self.live.1.store(behind, Ordering::Relaxed);
        Flow::Continue
    }

    fn idle(&mut self) -> Flow {
        self.spool.idle();
        Flow::Continue
    }

    fn finish(&mut self, report: &WorkerReport) -> Result<(), String> {
        self.spool.finish(IfStats {
            interface: 0,
            received: Some(report.kernel_packets),
            dropped: Some(report.drops),
            start_ns: report.start_ns,
            end_ns: report.end_ns,
        });
        Ok(())
    }
}

/// One line for the end of the capture, e.g. `output: 1000 packets written to 1 file`, with
/// what was not written and why, and packets out of time order.
pub fn summary_line(s: &Summary) -> String {
    let mut out = if s.lines {
        format!("output: {} packets printed", s.written)
    } else {
        format!(
            "output: {} packets written to {} file{}",
            s.written,
            s.files,
            if s.files == 1 { "" } else { "s" }
        )
    };
    if s.direct_files > 0 {
        out += " (O_DIRECT)";
    }
    let not = s.not_written();
    if not > 0 || !s.errors.is_empty() {
        let mut why = Vec::new();
        let verb = if s.lines { "output" } else { "writer" };
        if s.behind > 0 {
            why.push(format!("{} {verb} behind", s.behind));
        }
        if s.failed > 0 || !s.errors.is_empty() {
            why.push(format!("{} {}", s.failed, s.errors.join("; ")));
        }
        if s.past_limit > 0 {
            why.push(format!("{} after the -W file limit", s.past_limit));
        }
        let verb = if s.lines { "printed" } else { "written" };
        out += &format!(", {not} not {verb} ({})", why.join(", "));
    }
    if s.inversions > 0 {
        out += &format!(
            "; {} out of time order (later than the reorder window)",
            s.inversions
        );
    }
    if s.limit_reached {
        out += " (the -W file limit was reached)";
    }
    if s.output_closed {
        out += " (standard output was closed)";
    }
    if !s.adds_up() {
        out += &format!(
            "; OUTPUT COUNTS DO NOT ADD UP: taken {} != written {} + failed {} + past -W {}",
            s.taken, s.written, s.failed, s.past_limit
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringcap::Packet;

    #[test]
    fn bad_flags() {
        let a = OutputArgs {
            file_count: Some(3),
            write: Some("x".into()),
            ..Default::default()
        };
        assert!(check_writable(&a).is_err());
        let a = OutputArgs {
            write: Some("/nonexistent-dir/x.pcap".into()),
            ..Default::default()
        };
        assert!(check_writable(&a).is_err());
        for c in ["gzip", "zstd:0", "zstd:20", "zstd:x"] {
            let a = OutputArgs {
                write: Some("/tmp/x.pcap".into()),
                compress: Some(c.into()),
                ..Default::default()
            };
            assert!(check_writable(&a).is_err(), "{c}");
        }
        let a = OutputArgs {
            write: Some("-".into()),
            per_worker_files: true,
            ..Default::default()
        };
        assert!(check_writable(&a).is_err());
        let a = OutputArgs {
            write: Some("/tmp/x-%Q.pcap".into()),
            rotate_seconds: Some(5),
            ..Default::default()
        };
        assert!(check_writable(&a).is_err());
    }

    #[test]
    fn zstd_names() {
        let a = OutputArgs {
            write: Some("x.pcap".into()),
            compress: Some("zstd:5".into()),
            ..Default::default()
        };
        assert_eq!(a.base().unwrap(), "x.pcap.zst");
        assert_eq!(a.zstd_level().unwrap(), Some(5));
    }

    /// A handler's packets reach the file with their VLAN tags put back.
    #[test]
    fn handler_restores_vlans() {
        let dir = std::env::temp_dir().join(format!("ringcap-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcapng").to_string_lossy().into_owned();
        let mut file = WriterOptions::new(Format::Pcapng, 1, 262_144);
        file.interfaces = vec![Interface::new(Some("rc0"), 1, 262_144)];
        let output = Output::Files {
            base: path.clone(),
            rotation: Rotation::default(),
            per_worker: false,
        };
        let (spools, sink) = ringcap_sink::open(SinkOptions::new(1, output, file)).unwrap();
        let data: Vec<Vec<u8>> = (0..10).map(|i| vec![i as u8; 60]).collect();
        let pkts: Vec<Packet<'_>> = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let vlan = (i % 2 == 1).then_some(ringcap::Vlan {
                    tci: 100 + i as u16,
                    tpid: 0x88a8,
                });
                Packet::new(1_000 + i as u64, d.len() as u32, vlan, 0, 0, d)
            })
            .collect();
        for spool in spools {
            let mut h = OutputHandler {
                spool,
                restore_vlan: true,
                link: LinkLayer::Ethernet,
                live: Arc::default(),
            };
            let mut b = Batch::from_slice(&pkts);
            assert_eq!(h.batch(&mut b), Flow::Continue);
            h.finish(&WorkerReport::default()).unwrap();
        }
        let s = sink.close();
        assert_eq!((s.written, s.taken, s.files), (10, 10, 1), "{s:?}");
        let mut r = ringcap_pcap::open(&path).unwrap();
        let mut i = 0;
        while let Some((m, d)) = r.next_packet().unwrap() {
            if i % 2 == 1 {
                assert_eq!(m.orig_len, 64);
                assert_eq!(&d[12..16], &[0x88, 0xa8, 0, 100 + i as u8]);
            } else {
                assert_eq!(d, &data[i][..]);
            }
            i += 1;
        }
        assert_eq!(i, 10);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
