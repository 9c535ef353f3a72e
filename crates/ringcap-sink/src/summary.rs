//! What the output threads did: the end-of-run [`Summary`] and the live counts ([`Live`]) the
//! writers publish once per buffer, for `--metrics` and the per-second line.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::chunk::ProducerEnd;
use crate::writer::WriterCounts;

/// What the output did. The counts add up: `taken = written + failed + past_limit`, and the
/// packets the workers received are `taken + behind`.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Packets the workers put into buffers.
    pub taken: u64,
    /// Packets not taken: no free buffer, the output was behind.
    pub behind: u64,
    /// Packets written to files (or printed).
    pub written: u64,
    /// Packets not written because of a write error.
    pub failed: u64,
    /// Packets not written because `-G` with `-W` had written its last file.
    pub past_limit: u64,
    pub files: u64,
    /// Files written with O_DIRECT.
    pub direct_files: u64,
    /// Bytes of pcap data written, and bytes of the files (less with compression).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Packets written later than the reorder window allowed (out of time order).
    pub inversions: u64,
    pub errors: Vec<String>,
    /// Said once at start (e.g. why O_DIRECT is not used).
    pub notices: Vec<String>,
    /// `-G` with `-W` wrote its last file.
    pub limit_reached: bool,
    /// The reader of standard output went away.
    pub output_closed: bool,
    /// CPU time of the output threads (writers, their I/O threads, merger).
    pub cpu_user_ns: u64,
    pub cpu_sys_ns: u64,
    /// The O_DIRECT I/O threads' share of it (user + system).
    pub cpu_io_ns: u64,
    /// Packets were printed as lines, not written to files.
    pub lines: bool,
}

impl Summary {
    /// Packets the workers received for the output.
    pub fn received(&self) -> u64 {
        self.taken + self.behind
    }

    pub fn not_written(&self) -> u64 {
        self.behind + self.failed + self.past_limit
    }

    /// `written + not written = received`.
    pub fn adds_up(&self) -> bool {
        self.taken == self.written + self.failed + self.past_limit
    }

    pub fn failed_output(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// What the output threads share, summed at their ends; and, live, files opened, records and
/// bytes written so far (added by the writer threads once per buffer).
#[derive(Default)]
pub(crate) struct Shared(Mutex<Summary>, AtomicU64, AtomicU64, AtomicU64);

impl Shared {
    pub(crate) fn with(&self, f: impl FnOnce(&mut Summary)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn notice(&self, n: String) {
        self.with(|s| {
            if !s.notices.contains(&n) {
                s.notices.push(n)
            }
        })
    }

    pub fn error(&self, e: String) {
        self.with(|s| {
            if !s.errors.contains(&e) {
                s.errors.push(e)
            }
        })
    }

    pub fn limit_reached(&self) {
        self.with(|s| s.limit_reached = true)
    }

    pub fn output_closed(&self) {
        self.with(|s| s.output_closed = true)
    }

    pub fn producer_end(&self, end: &ProducerEnd) {
        self.with(|s| {
            s.taken += end.taken;
            s.behind += end.behind;
        })
    }

    pub fn writer_end(&self, c: WriterCounts, user_ns: u64, sys_ns: u64) {
        self.with(|s| {
            s.written += c.written;
            s.failed += c.failed;
            s.past_limit += c.past_limit;
            s.files += c.files;
            s.direct_files += c.direct_files;
            s.bytes_in += c.bytes_in;
            s.bytes_out += c.bytes_out;
            s.cpu_user_ns += user_ns;
            s.cpu_sys_ns += sys_ns;
        })
    }

    /// CPU time of a helper thread (a writer's I/O thread) at its end.
    pub fn thread_end(&self, user_ns: u64, sys_ns: u64) {
        self.with(|s| {
            s.cpu_user_ns += user_ns;
            s.cpu_sys_ns += sys_ns;
            s.cpu_io_ns += user_ns + sys_ns;
        })
    }

    pub fn merge_end(&self, inversions: u64, user_ns: u64, sys_ns: u64) {
        self.with(|s| {
            s.inversions += inversions;
            s.cpu_user_ns += user_ns;
            s.cpu_sys_ns += sys_ns;
        })
    }

    /// A file was opened (the live count, for metrics while the capture runs).
    pub fn file_opened(&self) {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A writer wrote `records` more packet records and `bytes` more file bytes (live counts).
    /// Bytes first, records released after them: whoever sees the records sees their bytes.
    pub fn wrote(&self, records: u64, bytes: u64) {
        use std::sync::atomic::Ordering;
        self.3.fetch_add(bytes, Ordering::Relaxed);
        self.2.fetch_add(records, Ordering::Release);
    }

    pub(crate) fn snapshot(&self) -> Summary {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What the output threads have done so far, readable from any thread while they run.
#[derive(Clone)]
pub struct Live(pub(crate) Arc<Shared>);

impl Live {
    /// Files opened so far (the first ones included).
    pub fn files_opened(&self) -> u64 {
        self.0 .1.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Packet records written so far (to files or standard output; at the end, the summary's
    /// `written`).
    pub fn records_written(&self) -> u64 {
        self.0 .2.load(std::sync::atomic::Ordering::Acquire)
    }

    /// File bytes written so far, compressed where the files are (at the end, the summary's
    /// `bytes_out`); read after [`Live::records_written`], at least those records' bytes.
    /// With O_DIRECT a partly filled last block counts once staged; it reaches
    /// the disk within `--flush-ms`.
    pub fn bytes_written(&self) -> u64 {
        self.0 .3.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Packets go to a line printer, not to files: nothing is counted as written.
    pub fn lines(&self) -> bool {
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner()).lines
    }

    /// Write errors so far (distinct messages).
    pub fn errors(&self) -> usize {
        self.0
             .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .errors
            .len()
    }
}
