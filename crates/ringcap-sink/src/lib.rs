//! Where captured packets go after a worker takes them: pcap/pcapng files written by writer
//! threads, one file in time order through a bounded reorder window, or packet lines printed in
//! time order. The capture workers never make the write system call and never wait.
//!
//! ```text
//!  worker 0 ─ Spool ─ chunks ─┐                    ┌─ writer thread ─ out.pcap (O_DIRECT, zstd, -C/-G/-W)
//!  worker 1 ─ Spool ─ chunks ─┼─ merger (by time) ─┤
//!  worker N ─ Spool ─ chunks ─┘                    └─ or a line printer (RecordConsumer)
//!
//!  --per-worker-files:  worker i ─ Spool ─ chunks ─ writer thread i ─ out.i.pcap
//! ```
//!
//! * Each worker serialises records in the output's own layout into chunks of its own (1 MiB by
//!   default), allocated once and recycled through a bounded queue ([`Spool`]). A packet that
//!   finds no free chunk (the output is behind) is counted and not written; the counts add up:
//!   packets taken by the workers = written + not written (behind, failed, past `-W`).
//! * The merger ([`merge`](crate::merge)) joins the workers' chunks by timestamp, like mergecap,
//!   holding a record only until every other worker has shown that nothing earlier is on its
//!   way: by its next record, or by its watermark (what it holds, what it handed over, and
//!   whether its ring is empty, see [`Spool`]). A record is never held longer than the reorder
//!   window; one that comes later than the window allowed is still written, and counted as out
//!   of order.
//! * The writer threads own the files: rotation, O_DIRECT with aligned buffers, zstd frames,
//!   headers and statistics blocks, and what happens on a full disk (see `out_file`).
//!
//! This crate sits beside the engine, not in it: it knows nothing of sockets or rings (a worker
//! hands it timestamps and bytes), and nothing of the pcap layout beyond [`ringcap_pcap`], which
//! stays pure. Its system calls (O_DIRECT, `statx`, `fstatfs`) come from `ringcap-sys`.

mod chunk;
mod compress;
mod direct;
pub mod disk_probe;
mod merge;
mod out_file;
mod spool;
mod summary;
mod writer;

use std::io;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ringcap_pcap::{Format, Precision, RecordFormat, Rotation, WriterOptions};

pub use spool::{Go, Spool};
pub(crate) use summary::Shared;
pub use summary::{Live, Summary};

use chunk::{Chunk, Msg};
use out_file::FileOpts;
use spool::{Control, SpoolParts};
use writer::{Dest, FileWriter};

/// Wall-clock time in ns since the epoch (the clock packets are stamped with).
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Receives packets in time order (live packet lines). Runs in the merger thread.
pub trait RecordConsumer: Send {
    /// One packet: its timestamp, its length on the wire, its captured bytes.
    fn packet(&mut self, ts_ns: u64, orig_len: u32, data: &[u8]) -> io::Result<()>;
    /// Nothing more is ready for now: a chance to flush.
    fn idle(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The end.
    fn finish(&mut self) -> io::Result<()> {
        self.idle()
    }
}

/// Where the packets go.
pub enum Output {
    /// Files named from `base` by `rotation`: one file in time order, or with `per_worker` one
    /// per worker (`out.pcap` → `out.0.pcap`, `out.1.pcap`, …; see [`worker_path`]).
    Files {
        base: String,
        rotation: Rotation,
        per_worker: bool,
    },
    /// One stream to standard output, in time order.
    Stdout,
    /// Each packet to a consumer, in time order.
    Lines(Box<dyn RecordConsumer>),
}

/// How to open a sink.
pub struct SinkOptions {
    pub workers: usize,
    pub output: Output,
    /// Format, timestamp precision, the interface (link type, snap length, name).
    pub file: WriterOptions,
    /// O_DIRECT where the file system takes it.
    pub direct_io: bool,
    /// Compress with zstd at this level.
    pub zstd: Option<i32>,
    /// Records held longer than this in a partly filled buffer are handed on (`--flush-ms`).
    pub flush: Duration,
    /// Hand every batch on at once (`-U`; always for lines).
    pub each_batch: bool,
    /// Bytes per chunk and chunks per worker.
    pub chunk_size: usize,
    pub chunks: usize,
    /// How long after its timestamp a packet may still be on its way to its worker (the
    /// ring's block timeout twice, the workers' coalescing wait, scheduling).
    pub lag: Duration,
    /// Capture start, in ns since the epoch (names the first `-G` file).
    pub start_ns: u64,
    /// CPUs for the output threads (each pinned to one, in turn); empty: the scheduler's choice.
    pub cpus: Vec<usize>,
}

impl SinkOptions {
    /// Defaults: 1 MiB chunks, 16 per worker, 1 s flush, 60 ms lag.
    pub fn new(workers: usize, output: Output, file: WriterOptions) -> SinkOptions {
        SinkOptions {
            workers,
            output,
            file,
            direct_io: true,
            zstd: None,
            flush: Duration::from_secs(1),
            each_batch: false,
            chunk_size: 1 << 20,
            chunks: 16,
            lag: Duration::from_millis(60),
            start_ns: now_ns(),
            cpus: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Format(ringcap_pcap::WriteError),
    #[error("{0}")]
    Config(String),
    #[error("cannot start an output thread: {0}")]
    Thread(io::Error),
}

/// The output threads of a capture. [`Sink::close`] after the workers have finished (or
/// dropped) their spools.
pub struct Sink {
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    control: Arc<Control>,
}

impl Sink {
    /// Notices to show once at start (e.g. why O_DIRECT is not used).
    pub fn notices(&self) -> Vec<String> {
        self.shared.snapshot().notices
    }

    /// A view of the output while it runs, for metrics (files opened, errors so far).
    pub fn live(&self) -> Live {
        Live(self.shared.clone())
    }

    /// The output is complete (`-W`'s last file, or standard output closed).
    pub fn is_done(&self) -> bool {
        self.control.is_done()
    }

    /// Waits for the output threads to write everything and returns what they did.
    pub fn close(self) -> Summary {
        for t in self.threads {
            if t.join().is_err() {
                self.shared
                    .error("an output thread panicked; its packets are not counted".into());
            }
        }
        self.shared.snapshot()
    }
}

/// The file a worker writes with `--per-worker-files` (before rotation suffixes): the worker's
/// number goes before the extension (`out.pcap` → `out.0.pcap`; `out.pcap.zst` →
/// `out.0.pcap.zst`); a name without an extension gets it at the end (`out` → `out.0`).
pub fn worker_path(base: &str, worker: usize, workers: usize) -> String {
    if workers <= 1 {
        return base.to_string();
    }
    let name_start = base.rfind('/').map_or(0, |i| i + 1);
    let name = &base[name_start..];
    // The extension starts at the first dot that begins a known suffix chain, else the last.
    let at = [".pcapng", ".pcap"]
        .iter()
        .filter_map(|e| name.find(e))
        .min()
        .or_else(|| name.rfind('.'))
        .filter(|&d| d > 0);
    match at {
        Some(dot) => {
            let at = name_start + dot;
            format!("{}.{worker}{}", &base[..at], &base[at..])
        }
        None => format!("{base}.{worker}"),
    }
}

/// Opens the output: its first file(s) now (a path that cannot be written fails here, before
/// any packet is taken), its threads, and one [`Spool`] per worker.
pub fn open(opts: SinkOptions) -> Result<(Vec<Spool>, Sink), SinkError> {
    let layout = Layout::new(&opts)?;
    let mut threads = Threads::new(opts.cpus.clone());
    let spools = match &opts.output {
        Output::Files {
            base,
            rotation,
            per_worker,
        } if *per_worker || layout.workers == 1 => {
            open_writer_per_worker(&opts, base, *rotation, *per_worker, &layout, &mut threads)?
        }
        _ => open_merged(opts, &layout, &mut threads)?,
    };
    Ok((
        spools,
        Sink {
            threads: threads.handles,
            shared: layout.shared,
            control: layout.control,
        },
    ))
}

/// What every arrangement of the output threads shares, worked out once from the options.
struct Layout {
    workers: usize,
    /// The records' layout in the chunks.
    rf: RecordFormat,
    snaplen: u32,
    chunk_size: usize,
    /// Chunks per worker.
    chunks: usize,
    fopts: FileOpts,
    flush_ns: u64,
    each_batch: bool,
    shared: Arc<Shared>,
    control: Arc<Control>,
}

impl Layout {
    fn new(opts: &SinkOptions) -> Result<Layout, SinkError> {
        let workers = opts.workers.max(1);
        let wo = &opts.file;
        if wo.interfaces.len() != 1 {
            return Err(SinkError::Config("one interface per capture".into()));
        }
        let snaplen = wo.interfaces[0].snaplen;
        let lines = matches!(opts.output, Output::Lines(_));
        // Lines are carried as nanosecond pcap records whatever the file options say.
        let rf = if lines {
            RecordFormat::new(Format::Pcap, Precision::Nano)
        } else {
            RecordFormat::new(wo.format, wo.precision)
        };
        let chunk_size = opts
            .chunk_size
            .max(rf.record_len(snaplen.min(ringcap_pcap::MAX_RECORD) as usize) + 64);
        let fopts = FileOpts {
            direct: opts.direct_io,
            zstd: opts.zstd,
            flush: opts.flush,
            each_unit: opts.each_batch,
            max_unit: chunk_size,
            io_thread: ("ringcap-wr".into(), None),
        };
        let shared = Arc::new(Shared::default());
        shared.with(|s| s.lines = lines);
        Ok(Layout {
            workers,
            rf,
            snaplen,
            chunk_size,
            chunks: opts.chunks.max(2),
            fopts,
            flush_ns: opts.flush.as_nanos().min(u64::MAX as u128) as u64,
            each_batch: opts.each_batch || lines,
            shared,
            control: Arc::new(Control::new(workers)),
        })
    }

    /// Worker `idx`'s spool: it takes free chunks from `free` and hands full ones to `out`.
    fn spool(&self, idx: usize, free: Receiver<Chunk>, out: SyncSender<Msg>) -> Spool {
        Spool::new(SpoolParts {
            idx,
            rf: self.rf,
            snaplen: self.snaplen,
            free,
            out,
            control: self.control.clone(),
            each_batch: self.each_batch,
            flush_ns: self.flush_ns,
        })
    }
}

/// The output threads started so far, each pinned to the next of `cpus` in turn.
struct Threads {
    cpus: Vec<usize>,
    handles: Vec<JoinHandle<()>>,
}

impl Threads {
    fn new(cpus: Vec<usize>) -> Threads {
        Threads {
            cpus,
            handles: Vec::new(),
        }
    }

    /// The CPU the `n`-th output thread (counting from 0, the ones started so far included)
    /// is pinned to.
    fn cpu_of(&self, n: usize) -> Option<usize> {
        (!self.cpus.is_empty()).then(|| self.cpus[n % self.cpus.len()])
    }

    fn spawn(&mut self, name: String, f: impl FnOnce() + Send + 'static) -> Result<(), SinkError> {
        let cpu = self.cpu_of(self.handles.len());
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                if let Some(c) = cpu {
                    // Best effort: an output thread runs anywhere rather than not at all.
                    let _ = ringcap_sys::pin_current_thread(c);
                }
                f()
            })
            .map_err(SinkError::Thread)?;
        self.handles.push(handle);
        Ok(())
    }
}

/// A writer thread per worker, no merge: every file is created first, then the threads start.
fn open_writer_per_worker(
    opts: &SinkOptions,
    base: &str,
    rotation: Rotation,
    per_worker: bool,
    layout: &Layout,
    threads: &mut Threads,
) -> Result<Vec<Spool>, SinkError> {
    let workers = layout.workers;
    let mut writers = Vec::with_capacity(workers);
    for i in 0..workers {
        let dest = Dest::Files {
            base: worker_path(base, i, if per_worker { workers } else { 1 }),
            rotation,
        };
        // Writer i is the i-th thread started below.
        let mut fo = layout.fopts.clone();
        fo.io_thread = (
            format!("ringcap-wr{i}"),
            threads.cpu_of(threads.handles.len() + i),
        );
        writers.push(FileWriter::create(
            dest,
            &opts.file,
            fo,
            opts.start_ns,
            layout.shared.clone(),
            layout.control.clone(),
        )?);
    }
    let mut spools = Vec::with_capacity(workers);
    for (i, w) in writers.into_iter().enumerate() {
        let (tx, rx) = sync_channel(layout.chunks + 1);
        let (free_tx, free_rx) = chunk::pool(layout.chunks, layout.chunk_size);
        spools.push(layout.spool(i, free_rx, tx));
        let (sh, flush) = (layout.shared.clone(), opts.flush);
        threads.spawn(format!("ringcap-wr{i}"), move || {
            writer::run_writer(w, rx, free_tx, flush, sh, true)
        })?;
    }
    Ok(spools)
}

/// Workers → merger (by time) → one writer thread, or the merger prints lines itself.
fn open_merged(
    opts: SinkOptions,
    layout: &Layout,
    threads: &mut Threads,
) -> Result<Vec<Spool>, SinkError> {
    let dest = match &opts.output {
        Output::Files { base, rotation, .. } => Some(Dest::Files {
            base: base.clone(),
            rotation: *rotation,
        }),
        Output::Stdout => Some(Dest::Stdout),
        Output::Lines(_) => None,
    };
    let (workers, chunks) = (layout.workers, layout.chunks);
    let (in_tx, in_rx) = sync_channel(workers * (chunks + 1));
    let mut frees = Vec::with_capacity(workers);
    let mut spools = Vec::with_capacity(workers);
    for i in 0..workers {
        let (free_tx, free_rx) = chunk::pool(chunks, layout.chunk_size);
        frees.push(free_tx);
        spools.push(layout.spool(i, free_rx, in_tx.clone()));
    }
    drop(in_tx);
    let emit = match (dest, opts.output) {
        (Some(dest), _) => {
            let mut fo = layout.fopts.clone();
            if matches!(dest, Dest::Stdout) {
                fo.direct = false;
            }
            fo.io_thread.1 = threads.cpu_of(threads.handles.len());
            let w = FileWriter::create(
                dest,
                &opts.file,
                fo,
                opts.start_ns,
                layout.shared.clone(),
                layout.control.clone(),
            )?;
            let out_chunks = 8;
            let (tx, rx) = sync_channel(out_chunks + 1);
            let (free_tx, free_rx) = chunk::pool(out_chunks, layout.chunk_size);
            let (sh, flush) = (layout.shared.clone(), opts.flush);
            threads.spawn("ringcap-wr".into(), move || {
                writer::run_writer(w, rx, free_tx, flush, sh, false)
            })?;
            merge::Emit::file(tx, free_rx)
        }
        (None, Output::Lines(consumer)) => merge::Emit::lines(consumer, layout.rf),
        (None, _) => return Err(SinkError::Config("no output".into())),
    };
    let params = merge::Params {
        rx: in_rx,
        free: frees,
        pool: chunks,
        rf: layout.rf,
        lag_ns: opts.lag.as_nanos() as u64,
        control: layout.control.clone(),
        shared: layout.shared.clone(),
    };
    threads.spawn("ringcap-merge".into(), move || merge::run(params, emit))?;
    Ok(spools)
}

#[cfg(test)]
mod tests {
    use super::worker_path;

    #[test]
    fn worker_names() {
        assert_eq!(worker_path("out.pcap", 1, 2), "out.1.pcap");
        assert_eq!(worker_path("d.x/out.pcap.zst", 0, 2), "d.x/out.0.pcap.zst");
        assert_eq!(worker_path("out", 3, 4), "out.3");
        assert_eq!(worker_path("a.b.c", 1, 2), "a.b.1.c");
        assert_eq!(worker_path("out.pcap", 0, 1), "out.pcap");
        assert_eq!(worker_path(".hidden", 1, 2), ".hidden.1");
    }
}
