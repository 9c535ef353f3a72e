//! The ordered merge: the workers' chunks joined by timestamp into one file or one stream of
//! packet lines, like mergecap, through a bounded reorder window.
//!
//! The earliest record held is emitted as soon as every other worker has shown that nothing
//! earlier will come from it:
//! * by a record it has handed over that is not earlier, or
//! * by its watermark (see [`crate::Spool`]): the first timestamp of the chunk it is filling
//!   (the merger then asks it to hand that chunk over), the greatest it has handed over, or,
//!   while its ring is empty, the wall clock less the lag a packet may take to reach its worker
//!   (the ring's block timeout, the workers' coalescing wait, scheduling).
//!
//! So with quiet workers a line shows about one lag (~60 ms) after its packet arrived, and under
//! load records wait only for the slowest worker's next chunk. The window is bounded: a record
//! held for [`MAX_HOLD_NS`] past its timestamp, or while some worker has three quarters of its
//! buffers queued here, is emitted anyway; a record that arrives later with an earlier
//! timestamp is still written, and counted as out of order (`Summary::inversions`). Nothing is
//! dropped here: when the output is slow the merger waits for it, the workers' buffers fill, and
//! the workers count what they cannot take.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use ringcap_pcap::{IfStats, RecordFormat};

use crate::chunk::{Chunk, Msg, ProducerEnd};
use crate::spool::Control;
use crate::writer::WriterCounts;
use crate::{now_ns, RecordConsumer, Shared};

/// The longest a record is held for order: past this it is emitted whatever is missing.
pub(crate) const MAX_HOLD_NS: u64 = 500_000_000;

pub(crate) struct Params {
    pub rx: Receiver<Msg>,
    /// Returns each worker's chunks to it.
    pub free: Vec<SyncSender<Chunk>>,
    /// Chunks per worker.
    pub pool: usize,
    pub rf: RecordFormat,
    pub lag_ns: u64,
    pub control: Arc<Control>,
    pub shared: Arc<Shared>,
}

/// Where merged records go.
pub(crate) enum Emit {
    File {
        out: SyncSender<Msg>,
        free: Receiver<Chunk>,
        cur: Option<Chunk>,
        emitted: u64,
        /// Records that could not be handed on (the writer thread is gone).
        lost: u64,
    },
    Lines {
        consumer: Box<dyn RecordConsumer>,
        rf: RecordFormat,
        counts: WriterCounts,
        /// Printing stopped (standard output closed or failed).
        stopped: bool,
    },
}

impl Emit {
    pub fn file(out: SyncSender<Msg>, free: Receiver<Chunk>) -> Emit {
        Emit::File {
            out,
            free,
            cur: None,
            emitted: 0,
            lost: 0,
        }
    }

    pub fn lines(consumer: Box<dyn RecordConsumer>, rf: RecordFormat) -> Emit {
        Emit::Lines {
            consumer,
            rf,
            counts: WriterCounts::default(),
            stopped: false,
        }
    }

    /// One record (whole, in the workers' record format).
    fn record(&mut self, rec: &[u8], ts: u64, ctl: &Control, shared: &Shared) {
        match self {
            Emit::File {
                out,
                free,
                cur,
                emitted,
                lost,
            } => {
                if cur.as_ref().is_none_or(|c| c.room() < rec.len()) {
                    if let Some(c) = cur.take_if(|c| c.records > 0) {
                        if out.send(Msg::Chunk { from: 0, chunk: c }).is_err() {
                            *lost += 1;
                            return;
                        }
                    }
                    if cur.is_none() {
                        // Waits for the writer thread to hand a chunk back: the merger may
                        // wait, the workers never do.
                        *cur = free.recv().ok();
                    }
                }
                let Some(c) = cur else {
                    *lost += 1;
                    return;
                };
                if c.records == 0 {
                    c.first_ts = ts;
                }
                c.buf[c.len..c.len + rec.len()].copy_from_slice(rec);
                c.len += rec.len();
                c.records += 1;
                c.max_ts = c.max_ts.max(ts);
                *emitted += 1;
            }
            Emit::Lines {
                consumer,
                rf,
                counts,
                stopped,
            } => {
                if *stopped {
                    counts.failed += 1;
                    return;
                }
                let Some(h) = rf.head(rec) else { return };
                let data = &rec[h.data_at..h.data_at + h.caplen as usize];
                match consumer.packet(h.ts_ns, h.orig_len, data) {
                    Ok(()) => counts.written += 1,
                    Err(e) => {
                        counts.failed += 1;
                        *stopped = true;
                        lines_error(e, ctl, shared);
                    }
                }
            }
        }
    }

    /// Nothing more is ready now: hand on what is held.
    fn idle(&mut self, ctl: &Control, shared: &Shared) {
        match self {
            Emit::File { out, cur, lost, .. } => {
                if let Some(c) = cur.take_if(|c| c.records > 0) {
                    let n = c.records;
                    if out.send(Msg::Chunk { from: 0, chunk: c }).is_err() {
                        *lost += n;
                    }
                }
            }
            Emit::Lines {
                consumer, stopped, ..
            } => {
                if !*stopped {
                    if let Err(e) = consumer.idle() {
                        *stopped = true;
                        lines_error(e, ctl, shared);
                    }
                }
            }
        }
    }

    fn finish(mut self, stats: IfStats, ctl: &Control, shared: &Shared) -> u64 {
        self.idle(ctl, shared);
        match self {
            Emit::File {
                out, emitted, lost, ..
            } => {
                let end = ProducerEnd {
                    stats,
                    taken: emitted,
                    behind: 0,
                };
                let _ = out.send(Msg::Finish { from: 0, end });
                lost
            }
            Emit::Lines {
                mut consumer,
                mut counts,
                stopped,
                ..
            } => {
                if !stopped {
                    if let Err(e) = consumer.finish() {
                        lines_error(e, ctl, shared);
                    }
                }
                counts.files = 0;
                shared.writer_end(counts, 0, 0);
                0
            }
        }
    }
}

/// Printing failed: a reader that went away (`| head`) ends the capture normally; any other
/// error fails it.
fn lines_error(e: io::Error, ctl: &Control, shared: &Shared) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        shared.output_closed();
        ctl.done();
    } else {
        let msg = format!("standard output: {e}");
        shared.error(msg.clone());
        ctl.fail(msg);
    }
}

/// One worker's queued chunks and where its next record starts.
#[derive(Default)]
struct Input {
    q: VecDeque<Chunk>,
    pos: usize,
    finished: bool,
}

struct Merger {
    p: Params,
    inputs: Vec<Input>,
    /// Each worker's lower bound on timestamps still to come (refreshed every round).
    bound: Vec<u64>,
    last_ts: u64,
    inversions: u64,
    stats: IfStats,
    ended: usize,
}

impl Merger {
    fn head_ts(&self, w: usize) -> Option<u64> {
        let i = &self.inputs[w];
        let c = i.q.front()?;
        self.p.rf.head(&c.bytes()[i.pos..]).map(|h| h.ts_ns)
    }

    /// Reads every worker's watermark; must come before the channel is drained (a chunk sent
    /// before its watermark moved is then already in the channel).
    fn refresh_bounds(&mut self, now: u64) {
        for (w, b) in self.bound.iter_mut().enumerate() {
            if self.inputs[w].finished {
                *b = u64::MAX;
                continue;
            }
            let m = &self.p.control.marks[w];
            let idle = m.idle_since.load(Ordering::Acquire);
            let held = m.bound.load(Ordering::Acquire);
            *b = if idle != 0 {
                held.max(now.saturating_sub(self.p.lag_ns))
            } else {
                held
            };
        }
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Chunk { from, chunk } => self.inputs[from].q.push_back(chunk),
            Msg::Finish { from, end } => {
                self.inputs[from].finished = true;
                self.ended += 1;
                self.p.shared.producer_end(&end);
                let s = &mut self.stats;
                s.received = Some(s.received.unwrap_or(0) + end.stats.received.unwrap_or(0));
                s.dropped = Some(s.dropped.unwrap_or(0) + end.stats.dropped.unwrap_or(0));
                if end.stats.start_ns != 0 {
                    s.start_ns = if s.start_ns == 0 {
                        end.stats.start_ns
                    } else {
                        s.start_ns.min(end.stats.start_ns)
                    };
                }
                s.end_ns = s.end_ns.max(end.stats.end_ns);
            }
        }
    }

    fn drain(&mut self) {
        while let Ok(m) = self.p.rx.try_recv() {
            self.take(m);
        }
    }

    /// Emits the record at worker `w`'s head and moves on.
    fn emit_one(&mut self, w: usize, emit: &mut Emit) {
        let rf = self.p.rf;
        let inp = &mut self.inputs[w];
        let Some(c) = inp.q.front() else { return };
        let Some(h) = rf.head(&c.bytes()[inp.pos..]) else {
            // Not a whole record (cannot happen with chunks the spools filled): drop the rest.
            let c = inp.q.pop_front();
            inp.pos = 0;
            self.recycle(w, c);
            return;
        };
        if h.ts_ns < self.last_ts {
            self.inversions += 1;
        }
        self.last_ts = self.last_ts.max(h.ts_ns);
        emit.record(
            &c.bytes()[inp.pos..inp.pos + h.len],
            h.ts_ns,
            &self.p.control,
            &self.p.shared,
        );
        inp.pos += h.len;
        if inp.pos >= c.len {
            let c = inp.q.pop_front();
            inp.pos = 0;
            self.recycle(w, c);
        }
    }

    fn recycle(&self, w: usize, c: Option<Chunk>) {
        if let Some(mut c) = c {
            c.clear();
            let _ = self.p.free[w].try_send(c);
        }
    }

    /// Emits every record the order allows (or the window forces). Returns the earliest record
    /// still held, if any.
    fn emit_ready(&mut self, now: u64, emit: &mut Emit) -> Option<u64> {
        let n = self.inputs.len();
        let pressure = (self.p.pool * 3 / 4).max(1);
        loop {
            // The earliest head, the next earliest head and the least bound of the others.
            let mut best: Option<(u64, usize)> = None;
            for w in 0..n {
                if let Some(t) = self.head_ts(w) {
                    if best.is_none_or(|(b, _)| t < b) {
                        best = Some((t, w));
                    }
                }
            }
            let (t, m) = best?;
            let mut limit = u64::MAX;
            for w in (0..n).filter(|&w| w != m) {
                let l = self.head_ts(w).unwrap_or(self.bound[w]);
                limit = limit.min(l);
            }
            let forced = now.saturating_sub(t) >= MAX_HOLD_NS
                || self.inputs.iter().any(|i| i.q.len() >= pressure);
            if t > limit && !forced {
                // Ask the workers that hold what is missing to hand it over.
                for w in (0..n).filter(|&w| w != m && self.inputs[w].q.is_empty()) {
                    if self.bound[w] < t {
                        self.p.control.marks[w].flush.store(true, Ordering::Relaxed);
                    }
                }
                return Some(t);
            }
            if forced {
                self.emit_one(m, emit);
                continue;
            }
            // A run from one worker, up to what another may still bring.
            while self.head_ts(m).is_some_and(|h| h <= limit) {
                self.emit_one(m, emit);
            }
        }
    }
}

/// The merger thread.
pub(crate) fn run(p: Params, mut emit: Emit) {
    let cpu0 = ringcap_sys::thread_cpu_time();
    let n = p.free.len();
    let mut m = Merger {
        inputs: (0..n).map(|_| Input::default()).collect(),
        bound: vec![0; n],
        p,
        last_ts: 0,
        inversions: 0,
        stats: IfStats::default(),
        ended: 0,
    };
    loop {
        let now = now_ns();
        m.refresh_bounds(now);
        m.drain();
        let held = m.emit_ready(now, &mut emit);
        if m.ended == n && m.inputs.iter().all(|i| i.q.is_empty()) {
            break;
        }
        emit.idle(&m.p.control, &m.p.shared);
        // Sleep until a chunk comes, or until the held record may go by the clock.
        let wait = match held {
            Some(t) => {
                let due = (t + m.p.lag_ns).min(t + MAX_HOLD_NS);
                Duration::from_nanos(due.saturating_sub(now_ns()).clamp(500_000, 20_000_000))
            }
            None => Duration::from_millis(100),
        };
        match m.p.rx.recv_timeout(wait) {
            Ok(msg) => m.take(msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // Every spool is gone; whatever is queued is emitted in the next rounds.
                if m.ended < n {
                    for i in &mut m.inputs {
                        if !i.finished {
                            i.finished = true;
                            m.ended += 1;
                        }
                    }
                }
            }
        }
    }
    let stats = m.stats;
    let lost = emit.finish(stats, &m.p.control, &m.p.shared);
    let cpu1 = ringcap_sys::thread_cpu_time();
    m.p.shared
        .merge_end(m.inversions, cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    if lost > 0 {
        m.p.shared.writer_end(
            WriterCounts {
                failed: lost,
                ..Default::default()
            },
            0,
            0,
        );
    }
}
