//! One worker thread, in named steps: pin, open intake, take batches until the capture stops,
//! close intake, drain, read the kernel's final counts, finish the handler, close the socket.
//!
//! The handler runs under `catch_unwind` (once per batch, never per packet): a panicking
//! handler fails its worker like [`Flow::Fail`] does, and the worker still goes through every
//! step after it, so its counts stay exact and its socket leaves the fanout group. A panic
//! anywhere else in the thread (the handler's `Drop`, a bug in the engine) is caught around the
//! whole thread by the engine, which reports what survived it (see `salvage`).

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringcap_sys as sys;

use super::batch::{Batch, Flow, Handler};
use super::source::{Source, Wait};
use super::Shared;
use crate::config::Config;
use crate::stats::{EndReason, WorkerReport};

/// Whether the handler still takes packets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HandlerState {
    Active,
    /// It said [`Flow::Done`].
    Done,
    /// It said [`Flow::Fail`], panicked, or its `finish` failed.
    Failed,
}

/// The worker's side of each batch: its handler, its counts, and what it shares.
struct Taker<H> {
    idx: usize,
    handler: H,
    state: HandlerState,
    /// Set by a panic: the handler is not called again, not even `finish`.
    poisoned: bool,
    rep: WorkerReport,
    shared: Arc<Shared>,
}

impl<H: Handler> Taker<H> {
    /// Hands one batch to the handler if `deliver` and the `-c` budget allow, and counts it:
    /// what the handler took is received, the rest of the batch is past-count/unprocessed.
    /// The same step for the main loop and the drain, so both count alike.
    #[inline]
    fn take(&mut self, mut batch: Batch<'_>, losing: bool, deliver: bool) {
        let n = batch.remaining();
        self.rep.batches += 1;
        if losing {
            self.rep.losing_blocks += 1;
        }
        let allowed = if deliver && self.state == HandlerState::Active {
            self.shared.claim(n)
        } else {
            0
        };
        batch.left = allowed;
        let (got, bytes) = if allowed == 0 {
            (0, 0)
        } else {
            match self.call(&mut batch) {
                Flow::Continue => batch.finish_counting(),
                Flow::Done => {
                    self.state = HandlerState::Done;
                    batch.taken()
                }
                Flow::Fail(cause) => {
                    self.fail(cause);
                    batch.taken()
                }
            }
        };
        self.rep.received += got as u64;
        self.rep.bytes += bytes;
        self.rep.past_count += (n - got) as u64;
        self.shared.published[self.idx].publish(self.rep.received, self.rep.bytes);
    }

    /// The handler's `batch`, with a panic turned into a failure.
    #[inline]
    fn call(&mut self, batch: &mut Batch<'_>) -> Flow {
        let handler = &mut self.handler;
        match panic::catch_unwind(AssertUnwindSafe(|| handler.batch(batch))) {
            Ok(flow) => flow,
            Err(payload) => {
                self.poisoned = true;
                Flow::Fail(format!(
                    "its handler panicked: {}",
                    panic_message(&*payload)
                ))
            }
        }
    }

    /// Fails this worker and ends the capture (the first failure names the end).
    fn fail(&mut self, cause: String) {
        self.state = HandlerState::Failed;
        if self.rep.failure.is_none() {
            self.rep.failure = Some(cause.clone());
        }
        self.shared.stop.stop(EndReason::WorkerFailed {
            worker: self.idx,
            cause,
        });
    }

    /// Calls the handler's `finish` with the final counts (unless it panicked before).
    fn finish(&mut self) {
        if self.poisoned {
            return;
        }
        let (handler, rep) = (&mut self.handler, &self.rep);
        let cause = match panic::catch_unwind(AssertUnwindSafe(|| handler.finish(rep))) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(payload) => {
                self.poisoned = true;
                format!("its handler panicked: {}", panic_message(&*payload))
            }
        };
        self.fail(cause);
    }
}

/// The text of a panic's payload (`panic!("…")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// One worker thread, start to end; see the module documentation.
pub(super) fn worker<H: Handler>(
    idx: usize,
    mut source: Box<dyn Source>,
    handler: H,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
) -> WorkerReport {
    let mut t = Taker {
        idx,
        handler,
        state: HandlerState::Active,
        poisoned: false,
        rep: WorkerReport {
            worker: idx,
            cpu: cfg.cpu_of(idx),
            start_ns: sys::realtime_ns(),
            ..Default::default()
        },
        shared: shared.clone(),
    };
    pin(&t.rep, &shared);
    let cpu0 = sys::thread_cpu_time();
    open_intake(idx, &mut *source, &cfg, &shared);
    take_until_stopped(&mut *source, &mut t, &cfg);
    close_intake(&mut *source, &mut t.rep);
    drain(&mut *source, &mut t);
    final_counts(idx, &shared, &mut t.rep);
    let cpu1 = sys::thread_cpu_time();
    t.rep.cpu_user_ns = cpu1.0.saturating_sub(cpu0.0);
    t.rep.cpu_sys_ns = cpu1.1.saturating_sub(cpu0.1);
    t.rep.end_ns = sys::realtime_ns();
    if t.state == HandlerState::Done {
        shared.stop.stop(EndReason::HandlerDone);
    }
    t.finish();
    // The socket closes here (the statistics loop let go of it in `final_counts`), so the
    // fanout group no longer feeds a ring nobody reads.
    drop(source);
    t.rep
}

fn pin(rep: &WorkerReport, shared: &Shared) {
    if let Some(cpu) = rep.cpu {
        if let Err(e) = sys::pin_current_thread(cpu) {
            shared.stop.stop(EndReason::Error(format!(
                "worker {}: pinning to CPU {cpu}: {e}",
                rep.worker
            )));
        }
    }
}

/// Installs the user's program (unless the capture already ended) and says "started".
fn open_intake(idx: usize, source: &mut dyn Source, cfg: &Config, shared: &Shared) {
    if !shared.stop.is_stopped() {
        if let Err(e) = source.start_intake(cfg) {
            shared
                .stop
                .stop(EndReason::Error(format!("worker {idx}: {e}")));
        }
    }
    shared.started.fetch_add(1, Ordering::AcqRel);
}

/// The main loop: take every ready batch, wait when none is, until the capture stops.
fn take_until_stopped<H: Handler>(source: &mut dyn Source, t: &mut Taker<H>, cfg: &Config) {
    while !t.shared.stop.is_stopped() {
        match source.with_batch(&mut |b, losing| t.take(b, losing, true)) {
            Ok(true) => {
                if t.state == HandlerState::Done {
                    t.shared.stop.stop(EndReason::HandlerDone);
                }
                continue;
            }
            Ok(false) => {}
            Err(e) => {
                t.shared.stop.stop(EndReason::InterfaceGone(format!(
                    "interface {} went away: {e}",
                    cfg.iface
                )));
                return;
            }
        }
        t.rep.polls += 1;
        if let Wait::Gone(e) = source.wait(100) {
            let what = match e.errno() {
                Some(sys::Errno::ENETDOWN) | Some(sys::Errno::ENXIO) | Some(sys::Errno::ENODEV) => {
                    "went down or disappeared"
                }
                _ => "failed",
            };
            t.shared.stop.stop(EndReason::InterfaceGone(format!(
                "interface {} {what} during the capture ({e})",
                cfg.iface
            )));
            return;
        }
    }
}

/// No new packets from here on (reject-all or the XSKMAP entry removed).
fn close_intake(source: &mut dyn Source, rep: &mut WorkerReport) {
    if let Err(e) = source.stop_intake() {
        rep.problems.push(format!(
            "closing its socket to new packets failed ({e}); later packets may be counted by \
             the kernel and not here"
        ));
    }
}

/// Takes what the kernel delivered before intake closed. Delivered to the handler only on an
/// end that leaves the handler wanting packets (a signal, the duration, a vanished interface);
/// after `-c`, a failure or a finished handler the rest counts as past-count/unprocessed.
fn drain<H: Handler>(source: &mut dyn Source, t: &mut Taker<H>) {
    let deliver = t.state == HandlerState::Active
        && !matches!(
            t.shared.stop.reason(),
            Some(EndReason::Count)
                | Some(EndReason::WorkerFailed { .. })
                | Some(EndReason::HandlerDone)
        );
    let drain_until = Instant::now() + source.drain_time();
    loop {
        match source.with_batch(&mut |b, losing| t.take(b, losing, deliver)) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(_) => break,
        }
        if Instant::now() >= drain_until {
            break;
        }
        if let Wait::Gone(_) = source.wait(5) {
            // The socket is dead; the kernel's timer still retires the last block, keep going
            // until the drain time is over.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The kernel's final counts for this socket, after which the statistics loop lets go of it.
fn final_counts(idx: usize, shared: &Shared, rep: &mut WorkerReport) {
    let probe = shared.take_probe(idx);
    let mut k = shared.kernel[idx].lock().unwrap_or_else(|e| e.into_inner());
    if let Some(probe) = probe {
        if let Err(e) = probe.collect(&mut k) {
            rep.problems
                .push(format!("reading the kernel's final statistics failed: {e}"));
            rep.complete = false;
        }
    }
    rep.kernel_packets = k.packets;
    rep.drops = k.drops;
    rep.freezes = k.freezes;
}
