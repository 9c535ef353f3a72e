//! A writer thread's file side: rotation as tcpdump does it (`-C`, `-G`, `-W`, names from
//! [`ringcap_pcap::Rotation`]), headers and statistics blocks, and its counts.
//!
//! Chunks arrive whole; they are split at record boundaries only where a rotation falls (the
//! records are walked only when `-C` or `-G` is on). Writing goes on in the writer thread, so a
//! file that is closed and a new one that is opened never hold up a capture worker.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringcap_pcap::{record, IfStats, Precision, RecordFormat, Rotation, WriterOptions};

use crate::chunk::{Chunk, Msg};
use crate::direct::DirectIo;
use crate::out_file::{FileOpts, OutFile};
use crate::spool::Control;
use crate::{Shared, SinkError};

/// Where a writer's files go.
#[derive(Debug, Clone)]
pub(crate) enum Dest {
    /// Files named from `base` by the rotation rules.
    Files {
        base: String,
        rotation: Rotation,
    },
    Stdout,
}

/// Counts of one writer (summed over its files).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WriterCounts {
    pub written: u64,
    pub failed: u64,
    pub past_limit: u64,
    pub files: u64,
    pub direct_files: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

pub(crate) struct FileWriter {
    dest: Dest,
    header: Vec<u8>,
    rf: RecordFormat,
    precision: Precision,
    fopts: FileOpts,
    file: Option<OutFile>,
    counter: u32,
    window_start_s: i64,
    /// `-G` with `-W`: the last file is complete; later records are past the limit.
    done: bool,
    counts: WriterCounts,
    /// Records and file bytes already added to the live counts (see [`FileWriter::publish`]).
    published: (u64, u64),
    shared: Arc<Shared>,
    control: Arc<Control>,
    /// The O_DIRECT I/O thread and its buffers between files.
    io: Option<DirectIo>,
}

impl FileWriter {
    /// Opens the first file now, so an unwritable path fails before any packet is taken.
    pub fn create(
        dest: Dest,
        wopts: &WriterOptions,
        fopts: FileOpts,
        start_ns: u64,
        shared: Arc<Shared>,
        control: Arc<Control>,
    ) -> Result<FileWriter, SinkError> {
        let header = record::file_header(wopts).map_err(SinkError::Format)?;
        let mut w = FileWriter {
            dest,
            header,
            rf: RecordFormat::new(wopts.format, wopts.precision),
            precision: wopts.precision,
            fopts,
            file: None,
            counter: 0,
            window_start_s: (start_ns / 1_000_000_000) as i64,
            done: false,
            counts: WriterCounts::default(),
            published: (0, 0),
            shared,
            control,
            io: None,
        };
        let f = w.open_file()?;
        w.file = Some(f);
        Ok(w)
    }

    fn open_file(&mut self) -> Result<OutFile, SinkError> {
        let shared = &self.shared;
        let mut notice = |n: String| shared.notice(n);
        let r = match &self.dest {
            Dest::Stdout => OutFile::stdout(&self.header, self.rf, &self.fopts).map_err(|source| {
                SinkError::Open {
                    path: "standard output".into(),
                    source,
                }
            }),
            Dest::Files { base, rotation } => {
                let path = rotation.file_name(base, self.counter, self.window_start_s);
                OutFile::create(
                    &path,
                    &self.header,
                    self.rf,
                    &self.fopts,
                    &mut notice,
                    &mut self.io,
                    shared,
                )
                .map_err(|source| SinkError::Open { path, source })
            }
        };
        if let Ok(f) = &r {
            self.shared.file_opened();
            self.counts.files += 1;
            self.counts.direct_files += f.is_direct() as u64;
        }
        r
    }

    fn rotation(&self) -> Option<Rotation> {
        match &self.dest {
            Dest::Files { rotation, .. } if !rotation.is_none() => Some(*rotation),
            _ => None,
        }
    }

    /// Writes whole records (`records` of them, timestamps `first..=max`).
    pub fn write(&mut self, bytes: &[u8], records: u64, first_ts: u64, max_ts: u64) {
        if self.done {
            self.counts.past_limit += records;
            return;
        }
        let Some(rot) = self.rotation() else {
            if let Some(f) = &mut self.file {
                f.put(bytes, records, first_ts, max_ts);
                self.check_failed();
            } else {
                self.counts.failed += records;
            }
            return;
        };
        self.write_rotating(rot, bytes);
    }

    /// Walks the records, switching files where `-C` or `-G` says so.
    fn write_rotating(&mut self, rot: Rotation, bytes: &[u8]) {
        let mut seg = 0;
        let mut pos = 0;
        let (mut n, mut first, mut max) = (0u64, u64::MAX, 0u64);
        while let Some(h) = self.rf.head(&bytes[pos..]) {
            let size_now = self.file.as_ref().map_or(0, |f| f.bytes_in) + (pos - seg) as u64;
            let by_time = rot.interval_s.is_some_and(|g| {
                (h.ts_ns / 1_000_000_000) as i64 - self.window_start_s >= g as i64
            });
            let by_size = rot.size_limit.is_some_and(|c| size_now >= c);
            if by_time || by_size {
                self.put_segment(&bytes[seg..pos], n, first, max);
                (n, first, max) = (0, u64::MAX, 0);
                seg = pos;
                let ok = if by_time {
                    self.rotate_time(rot, (h.ts_ns / 1_000_000_000) as i64)
                } else {
                    self.rotate_size(rot)
                };
                if !ok {
                    // Past the last file, or no file could be opened: the rest is not written.
                    let rest = self.rf.count(&bytes[pos..]);
                    if self.done {
                        self.counts.past_limit += rest;
                    } else {
                        self.counts.failed += rest;
                    }
                    return;
                }
            }
            n += 1;
            first = first.min(h.ts_ns);
            max = max.max(h.ts_ns);
            pos += h.len;
        }
        self.put_segment(&bytes[seg..pos], n, first, max);
    }

    fn put_segment(&mut self, bytes: &[u8], n: u64, first: u64, max: u64) {
        if n == 0 {
            return;
        }
        match &mut self.file {
            Some(f) => {
                f.put(bytes, n, first, max);
                self.check_failed();
            }
            None => self.counts.failed += n,
        }
    }

    /// Stops the capture after the first write error.
    fn check_failed(&mut self) {
        if let Some(f) = &self.file {
            if let Some(e) = &f.failed {
                let msg = format!("{}: {e}", f.path);
                self.shared.error(msg.clone());
                self.control.fail(msg);
            }
        }
    }

    fn rotate_time(&mut self, rot: Rotation, t: i64) -> bool {
        if rot.size_limit.is_none() {
            if let Some(w) = rot.max_files {
                if self.counts.files >= w as u64 {
                    self.close_current(&[]);
                    self.done = true;
                    self.shared.limit_reached();
                    self.control.done();
                    return false;
                }
            }
        }
        // Windows follow each other at multiples of the interval from the first file's start.
        let g = rot.interval_s.unwrap_or(1) as i64;
        self.window_start_s += (t - self.window_start_s) / g * g;
        self.counter = 0;
        self.next_file()
    }

    fn rotate_size(&mut self, rot: Rotation) -> bool {
        self.counter += 1;
        if let Some(w) = rot.max_files {
            if self.counter >= w {
                self.counter = 0;
            }
        }
        self.next_file()
    }

    fn next_file(&mut self) -> bool {
        self.close_current(&[]);
        match self.open_file() {
            Ok(f) => {
                self.file = Some(f);
                true
            }
            Err(e) => {
                let msg = e.to_string();
                self.shared.error(msg.clone());
                self.control.fail(msg);
                false
            }
        }
    }

    fn close_current(&mut self, stats: &[IfStats]) {
        let Some(mut f) = self.file.take() else {
            return;
        };
        let blocks: Vec<u8> = if self.rf.format == ringcap_pcap::Format::Pcapng {
            stats
                .iter()
                .flat_map(|s| record::statistics_block(s, self.precision))
                .collect()
        } else {
            Vec::new()
        };
        f.close(&blocks);
        if let Some(io) = f.take_io() {
            self.io = Some(io);
        }
        self.counts.bytes_in += f.bytes_in;
        self.counts.bytes_out += f.len();
        self.counts.written += f.written;
        self.counts.failed += f.lost;
        if let Some(e) = &f.failed {
            let msg = format!("{}: {e}", f.path);
            self.shared.error(msg.clone());
            self.control.fail(msg);
        }
    }

    /// Adds what was written since the last call to the live counts (once per buffer). They
    /// never go back: records and bytes a failed write cut off stay counted until the end,
    /// where the summary has the exact figures.
    fn publish(&mut self) {
        let (mut records, mut bytes) = (self.counts.written, self.counts.bytes_out);
        if let Some(f) = &self.file {
            records += f.written;
            bytes += f.len();
        }
        let (r0, b0) = self.published;
        let (r1, b1) = (records.max(r0), bytes.max(b0));
        if (r1, b1) != (r0, b0) {
            self.shared.wrote(r1 - r0, b1 - b0);
            self.published = (r1, b1);
        }
    }

    /// Writes a partly filled O_DIRECT tail that has waited long enough.
    pub fn tick(&mut self, now: Instant) {
        if let Some(f) = &mut self.file {
            f.tick(now);
            self.check_failed();
        }
        self.publish();
    }

    /// When the next tick is due (None: nothing waits).
    pub fn has_tail(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.has_tail())
    }

    /// Closes the last file, with statistics blocks (pcapng).
    pub fn finish(mut self, stats: &[IfStats]) -> WriterCounts {
        self.close_current(stats);
        self.publish();
        self.counts
    }
}

/// A writer thread's loop: write each chunk as it comes and hand it back (`free`) to its one
/// producer, its worker (`from_workers`: the writer reports the worker's counts) or the merger;
/// end when the producer has finished.
pub(crate) fn run_writer(
    mut w: FileWriter,
    rx: Receiver<Msg>,
    free: SyncSender<Chunk>,
    flush: Duration,
    shared: Arc<Shared>,
    from_workers: bool,
) {
    let cpu0 = ringcap_sys::thread_cpu_time();
    let mut left = 1;
    let mut stats = IfStats::default();
    let tick = flush.clamp(Duration::from_millis(5), Duration::from_millis(200));
    while left > 0 {
        let msg = if w.has_tail() {
            match rx.recv_timeout(tick) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            }
        };
        match msg {
            Some(Msg::Chunk { mut chunk, .. }) => {
                w.write(chunk.bytes(), chunk.records, chunk.first_ts, chunk.max_ts);
                chunk.clear();
                let _ = free.try_send(chunk);
            }
            Some(Msg::Finish { end, .. }) => {
                stats = end.stats;
                if from_workers {
                    shared.producer_end(&end);
                }
                left -= 1;
            }
            None => {}
        }
        w.tick(Instant::now());
    }
    let counts = w.finish(&[stats]);
    let cpu1 = ringcap_sys::thread_cpu_time();
    shared.writer_end(counts, cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
}
