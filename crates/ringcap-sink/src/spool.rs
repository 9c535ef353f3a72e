//! The capture worker's side of the sink: serialise records into the worker's own chunk, hand
//! full chunks over, never wait, never make a system call per packet.
//!
//! A worker calls, per batch: [`Spool::begin_batch`], [`Spool::append`] per packet,
//! [`Spool::end_batch`]; when its ring is empty, [`Spool::idle`]; at its end, [`Spool::finish`].
//!
//! A chunk is handed over when it is full; after a batch when each batch must show (`-U`, live
//! lines) or the merger asks for it; when it holds records older than the flush interval; and
//! whenever the ring is found empty (a quiet moment, so the cost of a partly filled chunk does
//! not matter and nothing waits in a quiet worker). A packet that finds no free chunk is counted
//! as behind and dropped from the output, never waited for.
//!
//! Each worker publishes a [`Watermark`] for the ordered merge: while it holds records, the
//! first one's timestamp; otherwise the greatest timestamp it has handed over; and, while its
//! ring is empty, since when. Stores happen per chunk and per idle period, never per packet.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use ringcap_pcap::{IfStats, RecordFormat};

use crate::chunk::{Chunk, Msg, ProducerEnd};

const RUNNING: u8 = 0;
const DONE: u8 = 1;
const FAILED: u8 = 2;

/// What the output threads tell the workers: keep going, the output is complete (`-G` with
/// `-W` wrote its last file, or the reader of standard output went away), or it failed.
pub(crate) struct Control {
    state: AtomicU8,
    cause: Mutex<Option<String>>,
    pub marks: Vec<Watermark>,
}

impl Control {
    pub fn new(producers: usize) -> Control {
        Control {
            state: AtomicU8::new(RUNNING),
            cause: Mutex::new(None),
            marks: (0..producers).map(|_| Watermark::default()).collect(),
        }
    }

    /// The output failed: workers stop at their next batch with this cause.
    pub fn fail(&self, cause: String) {
        let mut c = self.cause.lock().unwrap_or_else(|e| e.into_inner());
        if c.is_none() {
            *c = Some(cause);
        }
        self.state.store(FAILED, Ordering::Release);
    }

    /// The output is complete: workers end the capture normally at their next batch.
    pub fn done(&self) {
        let _ = self
            .state
            .compare_exchange(RUNNING, DONE, Ordering::AcqRel, Ordering::Acquire);
    }

    pub fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    fn cause(&self) -> String {
        self.cause
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "the output failed".into())
    }
}

/// One producer's promise about the timestamps still to come from it (see the module
/// documentation). Own cache line: written by one worker, read by the merger.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct Watermark {
    /// Wall-clock ns when the worker found its ring empty; 0 while it is taking packets.
    pub idle_since: AtomicU64,
    /// While it holds records: the first one's timestamp; else the greatest handed over.
    pub bound: AtomicU64,
    /// Set by the merger: hand over what you hold.
    pub flush: AtomicBool,
}

/// Whether a worker's handler should go on after [`Spool::begin_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Go {
    On,
    /// The output is complete (a normal end of the capture).
    Done,
    /// The output failed; the text says how.
    Failed(String),
}

/// A worker's spool. See the module documentation.
pub struct Spool {
    idx: usize,
    rf: RecordFormat,
    snaplen: usize,
    cur: Option<Chunk>,
    free: Receiver<Chunk>,
    out: SyncSender<Msg>,
    control: Arc<Control>,
    taken: u64,
    behind: u64,
    pushed_max: u64,
    idle: bool,
    each_batch: bool,
    flush_ns: u64,
    finished: bool,
}

pub(crate) struct SpoolParts {
    pub idx: usize,
    pub rf: RecordFormat,
    pub snaplen: u32,
    pub free: Receiver<Chunk>,
    pub out: SyncSender<Msg>,
    pub control: Arc<Control>,
    pub each_batch: bool,
    pub flush_ns: u64,
}

impl Spool {
    pub(crate) fn new(p: SpoolParts) -> Spool {
        let mut s = Spool {
            idx: p.idx,
            rf: p.rf,
            snaplen: p.snaplen as usize,
            cur: None,
            free: p.free,
            out: p.out,
            control: p.control,
            taken: 0,
            behind: 0,
            pushed_max: 0,
            idle: false,
            each_batch: p.each_batch,
            flush_ns: p.flush_ns,
            finished: false,
        };
        s.cur = s.free.try_recv().ok();
        s
    }

    #[inline]
    fn mark(&self) -> &Watermark {
        &self.control.marks[self.idx]
    }

    /// Starts a batch: says whether to take its packets.
    #[inline]
    pub fn begin_batch(&mut self) -> Go {
        if self.idle {
            self.idle = false;
            self.mark().idle_since.store(0, Ordering::Release);
        }
        match self.control.state.load(Ordering::Relaxed) {
            RUNNING => {}
            DONE => return Go::Done,
            _ => return Go::Failed(self.control.cause()),
        }
        if self.cur.is_none() {
            self.cur = self.free.try_recv().ok();
        }
        Go::On
    }

    /// Serialises one packet: `cap` bytes of the concatenation of `parts` (cut to the snap
    /// length), `orig_len` its length on the wire. Without a free chunk it is counted as behind.
    #[inline]
    pub fn append(&mut self, ts_ns: u64, orig_len: u32, parts: &[&[u8]]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let cap = total.min(self.snaplen);
        let need = self.rf.record_len(cap);
        let fits = matches!(&self.cur, Some(c) if c.room() >= need);
        if !fits && !self.next_chunk(need) {
            self.behind += 1;
            return;
        }
        let Some(c) = &mut self.cur else {
            self.behind += 1;
            return;
        };
        if c.records == 0 {
            c.first_ts = ts_ns;
            self.control.marks[self.idx]
                .bound
                .store(ts_ns, Ordering::Release);
        }
        let orig = orig_len.max(cap as u32);
        self.rf
            .encode(&mut c.buf[c.len..c.len + need], 0, ts_ns, cap, orig, parts);
        c.len += need;
        c.records += 1;
        c.max_ts = c.max_ts.max(ts_ns);
        self.taken += 1;
    }

    /// Hands the current chunk over and takes a free one with room for `need` bytes.
    #[cold]
    fn next_chunk(&mut self, need: usize) -> bool {
        self.push();
        self.cur = self.free.try_recv().ok();
        matches!(&self.cur, Some(c) if c.room() >= need)
    }

    /// Hands the current chunk over if it holds records.
    fn push(&mut self) {
        let Some(c) = self.cur.take_if(|c| c.records > 0) else {
            return;
        };
        let max = c.max_ts;
        let records = c.records;
        match self.out.try_send(Msg::Chunk {
            from: self.idx,
            chunk: c,
        }) {
            Ok(()) => {}
            // The channel holds every chunk there is, so it is never full; a consumer that
            // is gone (it panicked) takes nothing more.
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.taken -= records;
                self.behind += records;
            }
        }
        self.pushed_max = self.pushed_max.max(max);
        let m = self.mark();
        m.bound.store(self.pushed_max, Ordering::Release);
        m.flush.store(false, Ordering::Relaxed);
    }

    /// Ends a batch: hands the chunk over if it must be seen now or is old.
    #[inline]
    pub fn end_batch(&mut self) {
        let Some(c) = &self.cur else { return };
        if c.records == 0 {
            return;
        }
        if self.each_batch
            || c.max_ts.saturating_sub(c.first_ts) >= self.flush_ns
            || self.mark().flush.load(Ordering::Relaxed)
        {
            self.push();
            self.cur = self.free.try_recv().ok();
        }
    }

    /// The worker found its ring empty: hand over what is held, and say since when it is idle.
    pub fn idle(&mut self) {
        if matches!(&self.cur, Some(c) if c.records > 0) {
            self.push();
            self.cur = self.free.try_recv().ok();
        }
        if self.cur.is_none() {
            self.cur = self.free.try_recv().ok();
        }
        self.idle = true;
        self.mark()
            .idle_since
            .store(crate::now_ns().max(1), Ordering::Release);
    }

    /// Records taken and records not taken (no free chunk) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.taken, self.behind)
    }

    /// Hands over the last records and ends this producer; `stats` are the kernel's counts
    /// for the file's statistics block.
    pub fn finish(&mut self, stats: IfStats) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.push();
        let end = ProducerEnd {
            stats,
            taken: self.taken,
            behind: self.behind,
        };
        // Room is kept for one end message per producer.
        let _ = self.out.try_send(Msg::Finish {
            from: self.idx,
            end,
        });
    }
}

impl Drop for Spool {
    /// A worker that never finished (its handler panicked) still ends its part of the output.
    fn drop(&mut self) {
        self.finish(IfStats::default());
    }
}
