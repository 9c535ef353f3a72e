//! A generator's run: the sender threads, the counters once per second, and what each
//! thread did.

use std::sync::atomic::{AtomicBool, Ordering};

use ringcap_sys as sys;

use crate::sender::{self, Pacing, Plan, Tx};
use crate::{Generator, Result, ThreadCounters};

/// Counters of one thread at the end of a run. `frames` and `bytes` are exact: frames the kernel
/// handed to the driver. `refused`: frames the kernel (or the MTU check) would not send.
/// `unsent`: frames still queued when an error or stop ended the thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadReport {
    pub cpu: Option<usize>,
    pub mode: &'static str,
    pub frames: u64,
    pub bytes: u64,
    pub refused: u64,
    pub unsent: u64,
    pub error: Option<String>,
    /// The thread's own CPU time (user, system) in nanoseconds.
    pub cpu_user_ns: u64,
    pub cpu_sys_ns: u64,
}

/// The outcome of [`Generator::run`].
#[derive(Debug, Clone, Default)]
pub struct GenReport {
    pub threads: Vec<ThreadReport>,
    pub elapsed_ns: u64,
    pub frames: u64,
    pub bytes: u64,
    pub refused: u64,
    pub unsent: u64,
    /// Why the TX ring was not used, when `TxMode::Auto` fell back to sendmmsg.
    pub fallback: Option<String>,
}

impl GenReport {
    /// The first thread error, if any.
    pub fn error(&self) -> Option<&str> {
        self.threads.iter().find_map(|t| t.error.as_deref())
    }
}

/// Counters once per second during [`Generator::run`].
#[derive(Debug, Clone)]
pub struct Tick {
    pub elapsed_ns: u64,
    /// Per thread: frames, bytes and refused frames so far.
    pub threads: Vec<(u64, u64, u64)>,
}

impl Generator {
    /// Sends until the count, the duration or the replay is done, or `stop` turns true.
    /// `on_tick` runs on the calling thread about once per second with the counters so far.
    pub fn run(self, stop: &AtomicBool, mut on_tick: impl FnMut(&Tick)) -> Result<GenReport> {
        let start = sys::monotonic_ns();
        let end_ns = self
            .duration
            .map(|d| start.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)));
        let counters: Vec<ThreadCounters> = self
            .workers
            .iter()
            .map(|_| ThreadCounters::default())
            .collect();
        let batch = self.batch;
        let pacing_file = self.pacing_file;
        let fallback = self.fallback.clone();
        let running = std::sync::atomic::AtomicUsize::new(self.workers.len());
        let reports = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .workers
                .into_iter()
                .zip(&counters)
                .map(|(mut w, ctr)| {
                    let running = &running;
                    s.spawn(move || {
                        let mut pin_err = None;
                        if let Some(cpu) = w.cpu {
                            if let Err(e) = sys::pin_current_thread(cpu) {
                                pin_err = Some(e);
                            }
                        }
                        let plan = Plan {
                            pacing: if pacing_file {
                                Pacing::File
                            } else if w.pps > 0 {
                                Pacing::Rate(w.pps)
                            } else {
                                Pacing::Flat
                            },
                            limit: w.limit,
                            end_ns,
                            batch,
                            slack_ns: if pacing_file { 100_000 } else { 1_000_000 },
                            start_ns: start,
                        };
                        let cpu0 = sys::thread_cpu_time();
                        let (t, err) = match pin_err {
                            Some(e) => (Default::default(), Some(e)),
                            None => sender::run(&mut w.tx, &mut w.src, &plan, ctr, stop),
                        };
                        let cpu1 = sys::thread_cpu_time();
                        running.fetch_sub(1, Ordering::Release);
                        ThreadReport {
                            cpu: w.cpu,
                            mode: match w.tx {
                                Tx::Ring(_) => "ring",
                                Tx::Mmsg(_) => "sendmmsg",
                            },
                            frames: t.frames(),
                            bytes: t.bytes(),
                            refused: t.refused,
                            unsent: t.unsent,
                            error: err.map(|e| e.to_string()),
                            cpu_user_ns: cpu1.0 - cpu0.0,
                            cpu_sys_ns: cpu1.1 - cpu0.1,
                        }
                    })
                })
                .collect();
            let mut next_tick = start + 1_000_000_000;
            while running.load(Ordering::Acquire) > 0 {
                let now = sys::monotonic_ns();
                if now >= next_tick {
                    on_tick(&Tick {
                        elapsed_ns: now - start,
                        threads: counters
                            .iter()
                            .map(|c| {
                                (
                                    c.frames.load(Ordering::Relaxed),
                                    c.bytes.load(Ordering::Relaxed),
                                    c.refused.load(Ordering::Relaxed),
                                )
                            })
                            .collect(),
                    });
                    next_tick += 1_000_000_000;
                    if next_tick <= now {
                        next_tick = now + 1_000_000_000;
                    }
                }
                sys::sleep_until_monotonic(next_tick.min(sys::monotonic_ns() + 20_000_000));
            }
            handles
                .into_iter()
                .map(|h| h.join().expect("sender thread panicked"))
                .collect::<Vec<_>>()
        });
        let elapsed_ns = sys::monotonic_ns() - start;
        let mut r = GenReport {
            elapsed_ns,
            fallback,
            ..Default::default()
        };
        for t in &reports {
            r.frames += t.frames;
            r.bytes += t.bytes;
            r.refused += t.refused;
            r.unsent += t.unsent;
        }
        r.threads = reports;
        Ok(r)
    }
}
