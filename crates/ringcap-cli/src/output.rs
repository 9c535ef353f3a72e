//! The capture side of `-w`: one pcap/pcapng writer per worker, plugged into the engine as its
//! [`ringcap::Handler`].
//!
//! File names: with one worker, `-w FILE` is used as given. With N workers each worker writes its
//! own file, with no hand-off between threads: the worker's number goes before the extension of
//! the file name, `out.pcap` → `out.0.pcap`, `out.1.pcap`, …; a name without an extension gets it
//! at the end (`out` → `out.0`, `out.1`). Rotation (`-C`, `-G`, `-W`, see
//! [`ringcap_pcap::Rotation`]) applies to each worker's name (`out.0.pcap`, `out.0.pcap1`, …).
//! `ringcap merge -w all.pcap out.*.pcap` joins them in time order.
//!
//! `-w -` writes one stream to standard output: several workers share one writer behind a mutex,
//! taken once per batch (a ring block), not per packet.
//!
//! Wiring in `capture` (a few lines):
//! ```ignore
//! output::check_writable(&args.output)?;              // before any socket is opened
//! let capture = Capture::open(cfg)?;
//! if args.output.write.is_some() {
//!     let (sinks, summary) = output::open_writers(&args.output, &args.iface, cfg.snaplen, capture.workers())?;
//!     let report = capture.run(sinks, on_tick)?;
//!     eprintln!("{}", summary.line());
//!     if summary.failed() { exit code 1 }
//! }
//! ```

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use ringcap::{Batch, Flow, Handler, Packet, WorkerReport};
use ringcap_pcap::{
    linktype, vlan_parts, Format, IfStats, Interface, Precision, RotatingWriter, Rotation,
    RotationError, Writer, WriterOptions,
};

/// Flags of `-w` and its rotation.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Write the packets to FILE (pcap or pcapng; `-` for standard output). With several
    /// workers each writes FILE with its number before the extension (out.0.pcap, out.1.pcap…).
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<String>,
    /// File format of -w: pcap or pcapng.
    #[arg(long, default_value = "pcap")]
    pub format: Format,
    /// Timestamp precision of -w files: nano or micro.
    #[arg(long, default_value = "nano")]
    pub time_precision: Precision,
    /// Start a new file once the current one reaches MB million bytes (fractions allowed).
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
}

/// The file a worker writes (before rotation suffixes): see the module documentation.
pub fn worker_path(base: &str, worker: usize, workers: usize) -> String {
    if workers <= 1 {
        return base.to_string();
    }
    let name_start = base.rfind('/').map_or(0, |i| i + 1);
    match base[name_start..].rfind('.') {
        Some(dot) if dot > 0 => {
            let at = name_start + dot;
            format!("{}.{worker}{}", &base[..at], &base[at..])
        }
        _ => format!("{base}.{worker}"),
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Checks the `-w` flags and that the output directory takes new files; call it before the
/// capture opens any socket, so a bad path fails at once.
pub fn check_writable(args: &OutputArgs) -> anyhow::Result<()> {
    let rot = args.rotation()?;
    let Some(base) = &args.write else {
        return Ok(());
    };
    if base == "-" {
        return Ok(());
    }
    let first = rot.file_name(base, 0, (now_ns() / 1_000_000_000) as i64);
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

/// What the writers did, shared by all of them: read it after the capture for the exit line.
#[derive(Clone, Default)]
pub struct OutputSummary(Arc<SummaryInner>);

#[derive(Default)]
struct SummaryInner {
    written: AtomicU64,
    not_written: AtomicU64,
    files: AtomicU64,
    errors: Mutex<Vec<String>>,
    /// `-G` with `-W`: the last file is complete.
    limit_reached: AtomicUsize,
}

impl OutputSummary {
    pub fn packets_written(&self) -> u64 {
        self.0.written.load(Ordering::Acquire)
    }

    pub fn packets_not_written(&self) -> u64 {
        self.0.not_written.load(Ordering::Acquire)
    }

    /// True when `-G` with `-W` ended the capture: the last allowed file is complete (a normal
    /// end, as in tcpdump, not an error).
    pub fn limit_reached(&self) -> bool {
        self.0.limit_reached.load(Ordering::Acquire) > 0
    }

    /// True when a write error stopped an output (the capture should exit non-zero).
    pub fn failed(&self) -> bool {
        !self.errors().is_empty()
    }

    pub fn errors(&self) -> Vec<String> {
        self.0
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One line for the end of the capture, e.g.
    /// `output: 1000 packets written to 2 files` or with the error and the packets not written.
    pub fn line(&self) -> String {
        let files = self.0.files.load(Ordering::Acquire);
        let mut s = format!(
            "output: {} packets written to {files} file{}",
            self.packets_written(),
            if files == 1 { "" } else { "s" }
        );
        let errors = self.errors();
        if !errors.is_empty() || self.packets_not_written() > 0 {
            s.push_str(&format!(
                ", {} not written ({})",
                self.packets_not_written(),
                errors.join("; ")
            ));
        }
        if self.limit_reached() {
            s.push_str(" (the -W file limit was reached)");
        }
        s
    }

    fn error(&self, e: String) {
        let mut v = self.0.errors.lock().unwrap_or_else(|e| e.into_inner());
        if !v.contains(&e) {
            v.push(e);
        }
    }
}

/// One stream shared by all workers (`-w -`).
struct Shared {
    w: Mutex<Writer<io::Stdout>>,
    workers: usize,
    finished: AtomicUsize,
    stats: Mutex<IfStats>,
}

enum Target {
    Own(Box<RotatingWriter>),
    Shared(Arc<Shared>),
}

/// A worker's `-w` handler.
pub struct FileSink {
    target: Target,
    restore_vlan: bool,
    summary: OutputSummary,
    /// Timestamp of the last flush: the buffer is flushed at least every second of capture
    /// time, so `-w - | tshark -r -` shows packets at low rates.
    last_flush_ns: u64,
    stopped: bool,
}

/// Opens the writers: one per worker (or one shared for `-w -`), each writing its header now.
/// The link type is Ethernet (AF_PACKET's SOCK_RAW on Ethernet interfaces); `iface` names the
/// pcapng interface.
pub fn open_writers(
    args: &OutputArgs,
    iface: &str,
    snaplen: u32,
    workers: usize,
) -> anyhow::Result<(Vec<FileSink>, OutputSummary)> {
    let rot = args.rotation()?;
    let Some(base) = &args.write else {
        bail!("no -w file");
    };
    let workers = workers.max(1);
    let mut opts = WriterOptions::new(args.format, linktype::ETHERNET, snaplen);
    opts.precision = args.time_precision;
    opts.interfaces = vec![Interface::new(Some(iface), linktype::ETHERNET, snaplen)];
    let summary = OutputSummary::default();
    let start = now_ns();
    let mut sinks = Vec::with_capacity(workers);
    if base == "-" {
        let w = Writer::new(io::stdout(), &opts).context("-w -")?;
        let shared = Arc::new(Shared {
            w: Mutex::new(w),
            workers,
            finished: AtomicUsize::new(0),
            stats: Mutex::new(IfStats::default()),
        });
        summary.0.files.store(1, Ordering::Release);
        for _ in 0..workers {
            sinks.push(FileSink::new(
                Target::Shared(shared.clone()),
                args,
                &summary,
                start,
            ));
        }
    } else {
        for i in 0..workers {
            let path = worker_path(base, i, workers);
            let w = RotatingWriter::create(&path, opts.clone(), rot, start)
                .with_context(|| format!("-w {path}"))?;
            sinks.push(FileSink::new(
                Target::Own(Box::new(w)),
                args,
                &summary,
                start,
            ));
        }
    }
    Ok((sinks, summary))
}

impl FileSink {
    fn new(target: Target, args: &OutputArgs, summary: &OutputSummary, start: u64) -> Self {
        FileSink {
            target,
            restore_vlan: !args.no_vlan_restore,
            summary: summary.clone(),
            last_flush_ns: start,
            stopped: false,
        }
    }
}

/// Writes one packet through `write(ts, orig_len, parts)`, with its VLAN tag put back if asked.
#[inline]
fn with_parts<E>(
    pkt: &Packet<'_>,
    restore: bool,
    write: impl FnOnce(u64, u32, &[&[u8]]) -> Result<(), E>,
) -> Result<(), E> {
    match pkt.vlan() {
        Some(v) if restore => {
            let mut tag = [0u8; 4];
            let (parts, len) = vlan_parts(pkt.data(), pkt.len(), v.tci, v.tpid, &mut tag);
            write(pkt.ts_ns(), len, &parts)
        }
        _ => write(pkt.ts_ns(), pkt.len(), &[pkt.data()]),
    }
}

impl Handler for FileSink {
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        if self.stopped {
            return Flow::Fail("the output stopped".into());
        }
        let restore = self.restore_vlan;
        let mut last_ts = 0;
        let mut done = false;
        // The first write error of the batch; the rest of it counts as not written.
        let mut error: Option<String> = None;
        match &mut self.target {
            Target::Own(w) => {
                for pkt in batch {
                    last_ts = pkt.ts_ns();
                    let r = with_parts(&pkt, restore, |t, l, p| w.write_packet(t, l, p));
                    match r {
                        Ok(()) => {}
                        Err(RotationError::Done) => {
                            self.summary.0.limit_reached.fetch_add(1, Ordering::AcqRel);
                            done = true;
                            break;
                        }
                        Err(e) => {
                            error.get_or_insert_with(|| format!("{}: {e}", w.path()));
                        }
                    }
                }
                if !done && error.is_none() && last_ts >= self.last_flush_ns + 1_000_000_000 {
                    self.last_flush_ns = last_ts;
                    if let Err(e) = w.flush() {
                        error = Some(format!("{}: {e}", w.path()));
                    }
                }
            }
            Target::Shared(s) => {
                let mut w = s.w.lock().unwrap_or_else(|e| e.into_inner());
                for pkt in batch {
                    last_ts = pkt.ts_ns();
                    if let Err(e) = with_parts(&pkt, restore, |t, l, p| w.write_packet(t, l, p)) {
                        error.get_or_insert_with(|| format!("standard output: {e}"));
                    }
                }
                if error.is_none() && last_ts >= self.last_flush_ns + 1_000_000_000 {
                    self.last_flush_ns = last_ts;
                    if let Err(e) = w.flush() {
                        error = Some(format!("standard output: {e}"));
                    }
                }
            }
        }
        match error {
            Some(e) => {
                self.summary.error(e.clone());
                self.stopped = true;
                Flow::Fail(format!("writing stopped: {e}"))
            }
            None if done => {
                self.stopped = true;
                Flow::Done
            }
            None => Flow::Continue,
        }
    }

    fn finish(&mut self, report: &WorkerReport) -> Result<(), String> {
        let stats = IfStats {
            interface: 0,
            received: Some(report.kernel_packets),
            dropped: Some(report.drops),
            start_ns: report.start_ns,
            end_ns: report.end_ns,
        };
        let sum = &self.summary.0;
        // This sink's own error: another worker's failure is that worker's to report.
        let mut failed: Option<String> = None;
        match &mut self.target {
            Target::Own(w) => {
                let r = w.finish(&[stats]);
                sum.written.fetch_add(w.packets_written(), Ordering::AcqRel);
                sum.not_written
                    .fetch_add(w.packets_not_written(), Ordering::AcqRel);
                sum.files.fetch_add(w.files() as u64, Ordering::AcqRel);
                match r {
                    Ok(()) | Err(RotationError::Done) => {}
                    Err(e) => failed = Some(format!("{}: {e}", w.path())),
                }
            }
            Target::Shared(s) => {
                let last = {
                    let mut t = s.stats.lock().unwrap_or_else(|e| e.into_inner());
                    t.received = Some(t.received.unwrap_or(0) + report.kernel_packets);
                    t.dropped = Some(t.dropped.unwrap_or(0) + report.drops);
                    if t.start_ns == 0 || (report.start_ns != 0 && report.start_ns < t.start_ns) {
                        t.start_ns = report.start_ns;
                    }
                    t.end_ns = t.end_ns.max(report.end_ns);
                    s.finished.fetch_add(1, Ordering::AcqRel) + 1 == s.workers
                };
                if last {
                    let total = *s.stats.lock().unwrap_or_else(|e| e.into_inner());
                    let mut w = s.w.lock().unwrap_or_else(|e| e.into_inner());
                    if let Err(e) = w.finish(&[total]) {
                        failed = Some(format!("standard output: {e}"));
                    }
                    sum.written.store(w.packets_written(), Ordering::Release);
                    sum.not_written
                        .store(w.packets_not_written(), Ordering::Release);
                }
            }
        }
        match failed {
            Some(e) => {
                self.summary.error(e.clone());
                Err(format!("writing stopped: {e}"))
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_names() {
        assert_eq!(worker_path("out.pcap", 1, 1), "out.pcap");
        assert_eq!(worker_path("out.pcap", 1, 2), "out.1.pcap");
        assert_eq!(worker_path("dir.x/out", 0, 2), "dir.x/out.0");
        assert_eq!(worker_path("/tmp/.hidden", 3, 4), "/tmp/.hidden.3");
    }

    fn pkts(data: &[Vec<u8>]) -> Vec<Packet<'_>> {
        data.iter()
            .enumerate()
            .map(|(i, d)| {
                let vlan = (i % 2 == 1).then_some(ringcap::Vlan {
                    tci: 100 + i as u16,
                    tpid: 0x88a8,
                });
                Packet::new(1_000 + i as u64, d.len() as u32, vlan, 0, 0, d)
            })
            .collect()
    }

    #[test]
    fn sink_writes_files_and_restores_vlans() {
        let dir = std::env::temp_dir().join(format!("ringcap-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("t.pcapng").to_string_lossy().into_owned();
        let args = OutputArgs {
            write: Some(base.clone()),
            format: Format::Pcapng,
            ..Default::default()
        };
        check_writable(&args).unwrap();
        let (mut sinks, summary) = open_writers(&args, "rc0", 262_144, 2).unwrap();
        let data: Vec<Vec<u8>> = (0..10).map(|i| vec![i as u8; 60]).collect();
        let p = pkts(&data);
        for s in sinks.iter_mut() {
            let mut b = Batch::from_slice(&p);
            assert_eq!(s.batch(&mut b), Flow::Continue);
            s.finish(&WorkerReport::default()).unwrap();
        }
        assert_eq!(summary.packets_written(), 20);
        assert!(!summary.failed());
        let f = std::fs::read(worker_path(&base, 1, 2)).unwrap();
        let mut r = ringcap_pcap::Reader::new(&f[..]).unwrap();
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
    }
}
