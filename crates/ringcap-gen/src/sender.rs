//! One sender thread: a frame source (template or replay), a transmit path (TX ring or
//! sendmmsg) and the pacing loop between them.
//!
//! No allocation and no syscall per frame: frames are written straight into ring slots (or a
//! batch of buffers), one `sendto` kick (or one `sendmmsg`) sends a batch, and the clock is read
//! once per batch.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use ringcap_sys as sys;
use sys::ring::tx::{SlotState, TxRing};
use sys::{Errno, Event};

use crate::frame::FrameBuilder;
use crate::replay::Replay;

/// Largest frames accepted for an interface: MTU + Ethernet header, plus 4 for a VLAN-tagged one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SizeLimit {
    pub max: usize,
}

impl SizeLimit {
    #[inline]
    pub fn allows(&self, f: &[u8]) -> bool {
        if f.len() < crate::frame::ETH_LEN {
            return false;
        }
        let vlan = matches!([f[12], f[13]], [0x81, 0x00] | [0x88, 0xa8]);
        f.len() <= self.max + if vlan { 4 } else { 0 }
    }
}

/// Per-thread counters, written by the sender once per batch and read by the stats loop.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct ThreadCounters {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub refused: AtomicU64,
}

/// What a source gives for the next frame.
pub(crate) enum Next {
    Frame(usize),
    /// A replay frame the interface cannot carry: counted as refused, not sent.
    Refused(usize),
    End,
}

/// Where frames come from.
pub(crate) enum Source {
    Template(FrameBuilder),
    Replay(ReplayCursor),
}

pub(crate) struct ReplayCursor {
    pub replay: Arc<Replay>,
    /// This thread's frames: first, first + step, ...
    pub first: usize,
    pub step: usize,
    pub idx: usize,
    /// Loops to play (0 = for ever) and the current loop.
    pub loops: u64,
    pub loop_no: u64,
    pub limit: SizeLimit,
}

impl ReplayCursor {
    /// Time offset of the next frame from the start (for `--timing file`); `None` at the end.
    #[inline]
    fn next_time(&self) -> Option<u64> {
        if self.loops != 0 && self.loop_no >= self.loops {
            return None;
        }
        Some(self.replay.time_in_loop(self.loop_no, self.idx))
    }

    #[inline]
    fn write(&mut self, buf: &mut [u8]) -> Next {
        if self.loops != 0 && self.loop_no >= self.loops {
            return Next::End;
        }
        let f = self.replay.frame(self.idx);
        let n = f.len();
        let out = if self.limit.allows(f) && n <= buf.len() {
            buf[..n].copy_from_slice(f);
            Next::Frame(n)
        } else {
            Next::Refused(n)
        };
        self.idx += self.step;
        if self.idx >= self.replay.frames.len() {
            self.idx = self.first;
            self.loop_no += 1;
        }
        out
    }
}

impl Source {
    /// Writes the next frame into `buf`. `prefilled` says `buf` already holds the template's
    /// base frame, so only the varying fields need writing.
    #[inline]
    fn write(&mut self, buf: &mut [u8], prefilled: bool) -> Next {
        match self {
            Source::Template(b) => Next::Frame(if prefilled {
                b.patch(buf)
            } else {
                b.write_next(buf)
            }),
            Source::Replay(r) => r.write(buf),
        }
    }

    fn next_time(&self) -> Option<u64> {
        match self {
            Source::Template(_) => Some(0),
            Source::Replay(r) => r.next_time(),
        }
    }

    fn prefill(&self, buf: &mut [u8]) -> bool {
        match self {
            Source::Template(b) => {
                b.prefill(buf);
                true
            }
            Source::Replay(_) => false,
        }
    }
}

/// A transmit path.
pub(crate) enum Tx {
    Ring(RingTx),
    Mmsg(MmsgTx),
}

pub(crate) struct RingTx {
    pub ring: TxRing,
    /// Length put in each slot (to count a refused slot's bytes).
    lens: Vec<u32>,
    prefilled: bool,
    /// Frames submitted since the last kick.
    pending: usize,
}

pub(crate) struct MmsgTx {
    fd: OwnedFd,
    bufs: Vec<u8>,
    slot: usize,
    lens: Vec<usize>,
    n: usize,
    prefilled: bool,
}

pub(crate) const MMSG_BATCH: usize = 64;

/// Totals of one thread, exact at the end.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    pub queued: u64,
    pub queued_bytes: u64,
    pub refused: u64,
    pub refused_bytes: u64,
    pub unsent: u64,
    pub unsent_bytes: u64,
}

impl Totals {
    pub fn frames(&self) -> u64 {
        self.queued - self.refused - self.unsent
    }
    pub fn bytes(&self) -> u64 {
        self.queued_bytes - self.refused_bytes - self.unsent_bytes
    }
}

fn transient(e: &sys::Error) -> bool {
    matches!(
        e.errno(),
        Some(Errno::ENOBUFS) | Some(Errno::EAGAIN) | Some(Errno::EINTR)
    )
}

impl RingTx {
    pub fn new(ring: TxRing) -> RingTx {
        let n = ring.frame_nr();
        RingTx {
            ring,
            lens: vec![0; n],
            prefilled: false,
            pending: 0,
        }
    }
}

impl MmsgTx {
    pub fn new(fd: OwnedFd, max_len: usize) -> MmsgTx {
        let slot = max_len.next_multiple_of(64);
        MmsgTx {
            fd,
            bufs: vec![0; slot * MMSG_BATCH],
            slot,
            lens: vec![0; MMSG_BATCH],
            n: 0,
            prefilled: false,
        }
    }
}

impl Tx {
    /// Writes the template's base frame into every buffer once.
    fn prefill(&mut self, src: &Source) {
        match self {
            Tx::Ring(r) => {
                let mut all = true;
                for s in 0..r.ring.frame_nr() {
                    match r.ring.data_mut(s) {
                        Some(buf) => all &= src.prefill(buf),
                        None => all = false,
                    }
                }
                r.prefilled = all;
            }
            Tx::Mmsg(m) => {
                let mut all = true;
                for buf in m.bufs.chunks_mut(m.slot) {
                    all &= src.prefill(buf);
                }
                m.prefilled = all;
            }
        }
    }

    /// Writes the next frame into the next free buffer. `Ok(None)` when no buffer is free
    /// (the batch or ring is full); `Ok(Some(Next::End))` when the source is exhausted.
    #[inline]
    fn fill(&mut self, src: &mut Source, t: &mut Totals) -> Option<Next> {
        match self {
            Tx::Ring(r) => {
                let head = r.ring.head();
                match r.ring.head_state() {
                    SlotState::Busy => return None,
                    SlotState::Refused => {
                        t.refused += 1;
                        t.refused_bytes += r.lens[head] as u64;
                        r.ring.clear_refused(head);
                    }
                    SlotState::Free => {}
                }
                let prefilled = r.prefilled;
                let buf = r.ring.data_mut(head)?;
                let next = src.write(buf, prefilled);
                if let Next::Frame(len) = next {
                    r.lens[head] = len as u32;
                    let ok = r.ring.submit(len);
                    debug_assert!(ok);
                    r.pending += 1;
                    t.queued += 1;
                    t.queued_bytes += len as u64;
                }
                Some(next)
            }
            Tx::Mmsg(m) => {
                if m.n == MMSG_BATCH {
                    return None;
                }
                let off = m.n * m.slot;
                let next = src.write(&mut m.bufs[off..off + m.slot], m.prefilled);
                if let Next::Frame(len) = next {
                    m.lens[m.n] = len;
                    m.n += 1;
                    t.queued += 1;
                    t.queued_bytes += len as u64;
                }
                Some(next)
            }
        }
    }

    /// Sends what was filled. Fatal errors (the interface went away) are returned.
    fn flush(&mut self, t: &mut Totals, stop: &AtomicBool) -> Result<(), sys::Error> {
        match self {
            Tx::Ring(r) => {
                if r.pending == 0 {
                    return Ok(());
                }
                loop {
                    match r.ring.kick(false) {
                        Ok(_) => break,
                        Err(e) if transient(&e) => {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            r.ring.wait_writable(1)?;
                        }
                        Err(e) => return Err(e),
                    }
                }
                r.pending = 0;
                Ok(())
            }
            Tx::Mmsg(m) => {
                let mut done = 0;
                while done < m.n {
                    let mut refs: [&[u8]; MMSG_BATCH] = [&[]; MMSG_BATCH];
                    for (i, r) in refs.iter_mut().enumerate().take(m.n).skip(done) {
                        let off = i * m.slot;
                        *r = &m.bufs[off..off + m.lens[i]];
                    }
                    match sys::sendmmsg(m.fd.as_fd(), &refs[done..m.n]) {
                        Ok(0) => sys::poll(m.fd.as_fd(), Event::Writable, 1).map(drop)?,
                        Ok(k) => done += k,
                        Err(e) if transient(&e) => {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            sys::poll(m.fd.as_fd(), Event::Writable, 1)?;
                        }
                        Err(e)
                            if matches!(
                                e.errno(),
                                Some(Errno::EMSGSIZE) | Some(Errno::EINVAL) | Some(Errno::EPERM)
                            ) =>
                        {
                            // The kernel refused this one frame; count it and go on.
                            t.refused += 1;
                            t.refused_bytes += m.lens[done] as u64;
                            done += 1;
                        }
                        Err(e) => {
                            for &l in &m.lens[done..m.n] {
                                t.unsent += 1;
                                t.unsent_bytes += l as u64;
                            }
                            m.n = 0;
                            return Err(e);
                        }
                    }
                }
                for &l in &m.lens[done..m.n] {
                    t.unsent += 1;
                    t.unsent_bytes += l as u64;
                }
                m.n = 0;
                Ok(())
            }
        }
    }

    /// Waits (briefly) for a buffer to free up.
    fn wait(&mut self, t: &mut Totals, stop: &AtomicBool) -> Result<(), sys::Error> {
        match self {
            Tx::Ring(r) => {
                // Frames left requested by a transient error need another kick.
                r.pending = r.pending.max(1);
                self.flush(t, stop)?;
                if let Tx::Ring(r) = self {
                    if r.ring.head_state() == SlotState::Busy {
                        r.ring.wait_writable(1)?;
                    }
                }
                Ok(())
            }
            Tx::Mmsg(_) => self.flush(t, stop),
        }
    }

    /// Sends what is left and waits (up to a second) for the ring to drain; frames the kernel
    /// still holds after that (or after an error) are counted as unsent.
    fn drain(&mut self, t: &mut Totals, stop: &AtomicBool, failed: bool) {
        if !failed {
            let _ = self.flush(t, stop);
        }
        if let Tx::Ring(r) = self {
            let deadline = sys::monotonic_ns() + 1_000_000_000;
            while !failed && r.ring.busy() > 0 && sys::monotonic_ns() < deadline {
                if r.ring.kick(false).is_err() {
                    break;
                }
                let _ = r.ring.wait_writable(1);
            }
            // Slots still requested were never sent; ones the kernel refused were not either.
            for s in 0..r.ring.frame_nr() {
                match r.ring.state(s) {
                    SlotState::Busy => {
                        t.unsent += 1;
                        t.unsent_bytes += r.lens[s] as u64;
                    }
                    SlotState::Refused => {
                        t.refused += 1;
                        t.refused_bytes += r.lens[s] as u64;
                        r.ring.clear_refused(s);
                    }
                    SlotState::Free => {}
                }
            }
        }
    }
}

/// How frames are spaced in time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pacing {
    /// As fast as possible.
    Flat,
    /// This thread's share of `--pps`.
    Rate(u64),
    /// The replay file's own timing.
    File,
}

pub(crate) struct Plan {
    pub pacing: Pacing,
    /// Frames this thread sends (refused ones included); `None` = until stopped or exhausted.
    pub limit: Option<u64>,
    /// Absolute CLOCK_MONOTONIC end, if any.
    pub end_ns: Option<u64>,
    /// Frames per kick at most.
    pub batch: usize,
    /// How early a paced frame may go, so a batch can be sent with one syscall.
    pub slack_ns: u64,
    /// The common start (CLOCK_MONOTONIC) of all threads.
    pub start_ns: u64,
}

fn publish(c: &ThreadCounters, t: &Totals) {
    c.frames
        .store(t.queued - t.refused - t.unsent, Ordering::Relaxed);
    c.bytes.store(
        t.queued_bytes - t.refused_bytes - t.unsent_bytes,
        Ordering::Relaxed,
    );
    c.refused.store(t.refused, Ordering::Relaxed);
}

/// Sleeps until `deadline`, in slices of at most 50 ms so a stop request is seen.
fn sleep_until(deadline: u64, stop: &AtomicBool) {
    loop {
        let now = sys::monotonic_ns();
        if now >= deadline || stop.load(Ordering::Relaxed) {
            return;
        }
        sys::sleep_until_monotonic(deadline.min(now + 50_000_000));
    }
}

/// The sender loop of one thread. Returns its exact totals and the error that stopped it, if any.
pub(crate) fn run(
    tx: &mut Tx,
    src: &mut Source,
    plan: &Plan,
    ctr: &ThreadCounters,
    stop: &AtomicBool,
) -> (Totals, Option<sys::Error>) {
    let mut t = Totals::default();
    tx.prefill(src);
    let start = plan.start_ns;
    // Frames handled so far (sent or refused), which is what -c and --pps count.
    let mut handled: u64 = 0;
    let mut error = None;
    'outer: loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = sys::monotonic_ns();
        if plan.end_ns.is_some_and(|e| now >= e) {
            break;
        }
        let mut budget = plan.batch as u64;
        if let Some(l) = plan.limit {
            budget = budget.min(l - handled);
            if budget == 0 {
                break;
            }
        }
        match plan.pacing {
            Pacing::Flat | Pacing::File => {}
            Pacing::Rate(pps) => {
                let ahead = (now - start + plan.slack_ns) as u128;
                let allowed = (ahead * pps as u128 / 1_000_000_000) as u64 + 1;
                if allowed <= handled {
                    let due = start + (handled as u128 * 1_000_000_000 / pps as u128) as u64;
                    let due = due.saturating_sub(plan.slack_ns / 2);
                    if let Err(e) = tx.flush(&mut t, stop) {
                        error = Some(e);
                        break;
                    }
                    sleep_until(plan.end_ns.map_or(due, |e| e.min(due)), stop);
                    continue;
                }
                budget = budget.min(allowed - handled);
            }
        }
        let mut n = 0;
        let mut full = false;
        let mut waiting_for: Option<u64> = None;
        while n < budget {
            if let Pacing::File = plan.pacing {
                match src.next_time() {
                    Some(off) if start.saturating_add(off) > now.saturating_add(plan.slack_ns) => {
                        waiting_for = Some(start.saturating_add(off));
                        break;
                    }
                    _ => {}
                }
            }
            match tx.fill(src, &mut t) {
                None => {
                    full = true;
                    break;
                }
                Some(Next::Frame(_)) => n += 1,
                Some(Next::Refused(len)) => {
                    t.refused += 1;
                    t.refused_bytes += len as u64;
                    // Never queued, so balance the queued totals the refusal is taken from.
                    t.queued += 1;
                    t.queued_bytes += len as u64;
                    n += 1;
                }
                Some(Next::End) => {
                    if let Err(e) = tx.flush(&mut t, stop) {
                        error = Some(e);
                    }
                    break 'outer;
                }
            }
        }
        handled += n;
        let r = if full {
            tx.wait(&mut t, stop)
        } else {
            tx.flush(&mut t, stop)
        };
        if let Err(e) = r {
            error = Some(e);
            break;
        }
        publish(ctr, &t);
        if let Some(due) = waiting_for {
            sleep_until(plan.end_ns.map_or(due, |e| e.min(due)), stop);
        }
    }
    tx.drain(&mut t, stop, error.is_some());
    publish(ctr, &t);
    (t, error)
}
