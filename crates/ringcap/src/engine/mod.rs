//! Workers, pinning, fanout, the stop protocol and the statistics loop.
//!
//! [`Capture::open`] does everything that can fail for a reason the user must fix (permissions,
//! interface, ring memory, fanout) before any packet is taken. [`Capture::run`] starts one thread
//! per worker, pinned, each owning its socket, its ring and its [`Handler`], and turns the calling
//! thread into the statistics loop.
//!
//! The stop protocol makes the counts add up exactly: each worker installs a reject-all program
//! (no new packet reaches the socket, so the kernel's counters stop), drains what is already in
//! its ring or buffer, then reads PACKET_STATISTICS one last time. Then
//! kernel-counted = received + past-count + dropped, per worker and in total.
//!
//! What ends a capture: `-c`, `--duration`, a [`StopHandle`] (which a program may tie to its
//! signals with [`crate::signals::stop_on_signal`]), a handler that is done, a vanished
//! interface, or a failing worker (see [`Flow`]): the first one names the end.

mod batch;
mod source;
mod worker;

use std::os::fd::{AsFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringcap_sys as sys;
use ringcap_sys::packet as pk;

pub use batch::{Batch, Flow, Handler};
pub(crate) use source::{KernelProbe, KernelTotals, Source, Wait};

use crate::config::{Config, Mode};
use crate::socket;
use crate::stats::{EndReason, Published, Report, Tick, WorkerReport};
use crate::stop::StopHandle;
use crate::{Error, Result};
use source::{RecvSource, RingSource};

/// What the workers share with each other and the statistics loop: the stop handle, the `-c`
/// budget, published counters, the kernel's counts. Nothing here is written per packet.
pub(crate) struct Shared {
    stop: StopHandle,
    budget: Option<AtomicU64>,
    published: Vec<Published>,
    kernel: Vec<Mutex<KernelTotals>>,
    /// Each worker's kernel probe, until the worker's final read: then it is taken, so the
    /// socket closes with the worker instead of staying in the fanout group.
    probes: Vec<Mutex<Option<Arc<dyn KernelProbe>>>>,
    /// Workers whose intake is open.
    started: AtomicUsize,
}

impl Shared {
    /// Takes up to `n` packets from the `-c` budget; per batch, not per packet.
    #[inline]
    fn claim(&self, n: u32) -> u32 {
        let Some(b) = &self.budget else { return n };
        let mut got = 0;
        // The closure always answers Some, so the update always succeeds.
        let _ = b.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            got = left.min(n as u64);
            Some(left - got)
        });
        if got < n as u64 || b.load(Ordering::Acquire) == 0 {
            self.stop.stop(EndReason::Count);
        }
        got as u32
    }

    fn probe(&self, i: usize) -> Option<Arc<dyn KernelProbe>> {
        self.probes[i]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn take_probe(&self, i: usize) -> Option<Arc<dyn KernelProbe>> {
        self.probes[i]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// A capture whose sockets are open, bound and grouped, ready to [`run`](Capture::run).
pub struct Capture {
    cfg: Config,
    sources: Vec<Box<dyn Source>>,
    probes: Vec<Arc<dyn KernelProbe>>,
    fanout_id: Option<u16>,
    /// Kept alive for the whole capture (XDP program attachment and the like).
    guard: Option<Box<dyn Send>>,
    stop: StopHandle,
}

impl Capture {
    /// Validates the configuration, checks the interface, opens every worker's socket and ring
    /// and joins them in one fanout group. No packet is taken before [`Capture::run`].
    pub fn open(cfg: Config) -> Result<Capture> {
        cfg.validate()?;
        let ifindex = sys::if_nametoindex(&cfg.iface).ok_or_else(|| {
            let mut available = sys::interface_names();
            available.sort();
            Error::NoSuchInterface {
                name: cfg.iface.clone(),
                available,
            }
        })?;
        let flags = sys::interface_flags(&cfg.iface)?;
        if flags & sys::IFF_UP == 0 {
            return Err(Error::InterfaceDown {
                name: cfg.iface.clone(),
            });
        }
        if cfg.mode == Mode::Xdp {
            return crate::xdp::open_capture(cfg, ifindex);
        }
        let mut sources: Vec<Box<dyn Source>> = Vec::with_capacity(cfg.workers);
        let mut fds = Vec::with_capacity(cfg.workers);
        for _ in 0..cfg.workers {
            let fd = socket::open()?;
            let source: Box<dyn Source> = match cfg.mode {
                Mode::Ring => Box::new(RingSource::create(fd.clone(), &cfg)?),
                Mode::Recv => Box::new(RecvSource::create(fd.clone(), &cfg)?),
                Mode::Xdp => unreachable!(),
            };
            socket::bind_closed(&fd, ifindex)?;
            if cfg.promisc {
                pk::add_promisc(fd.as_fd(), ifindex)?;
            }
            sources.push(source);
            fds.push(fd);
        }
        let fanout_id = if cfg.workers > 1 {
            Some(join_fanout(&cfg, &fds)?)
        } else {
            None
        };
        let probes = sources.iter().map(|s| s.probe()).collect();
        Ok(Capture {
            cfg,
            sources,
            probes,
            fanout_id,
            guard: None,
            stop: StopHandle::new(),
        })
    }

    /// Used by other receive paths (AF_XDP) to hand the engine their sources.
    pub(crate) fn from_sources(
        cfg: Config,
        sources: Vec<Box<dyn Source>>,
        guard: Option<Box<dyn Send>>,
    ) -> Capture {
        let probes = sources.iter().map(|s| s.probe()).collect();
        Capture {
            cfg,
            sources,
            probes,
            fanout_id: None,
            guard,
            stop: StopHandle::new(),
        }
    }

    pub fn workers(&self) -> usize {
        self.sources.len()
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The fanout group id (chosen by the kernel unless one was given).
    pub fn fanout_id(&self) -> Option<u16> {
        self.fanout_id
    }

    /// Total ring memory of this capture in bytes (0 outside ring mode).
    pub fn ring_memory(&self) -> u64 {
        match self.cfg.mode {
            Mode::Ring => self.cfg.geometry.ring_bytes() * self.sources.len() as u64,
            _ => 0,
        }
    }

    /// A handle that ends this capture from any thread (e.g. a signal handler's relay,
    /// [`crate::signals::stop_on_signal`]). Stopping before [`run`](Capture::run) makes the run
    /// end at once, with every count reported.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Runs until `-c`, `--duration`, the [`StopHandle`], a handler's [`Flow::Done`] or
    /// [`Flow::Fail`], a panicking handler or a vanished interface. `on_tick` runs in the
    /// calling thread once per stats interval.
    pub fn run<H: Handler + 'static>(
        self,
        handlers: Vec<H>,
        on_tick: impl FnMut(&Tick),
    ) -> Result<Report> {
        self.run_notify(handlers, || {}, on_tick)
    }

    /// Like [`Capture::run`], calling `on_ready` once every worker takes packets (so a caller
    /// can start traffic knowing none will be missed).
    pub fn run_notify<H: Handler + 'static>(
        self,
        handlers: Vec<H>,
        on_ready: impl FnOnce(),
        on_tick: impl FnMut(&Tick),
    ) -> Result<Report> {
        let n = self.sources.len();
        if handlers.len() != n {
            return Err(Error::Config(format!(
                "{} handlers for {n} workers",
                handlers.len()
            )));
        }
        let shared = Arc::new(Shared {
            stop: self.stop.clone(),
            budget: self.cfg.count.map(AtomicU64::new),
            published: (0..n).map(|_| Published::default()).collect(),
            kernel: (0..n)
                .map(|_| Mutex::new(KernelTotals::default()))
                .collect(),
            probes: self
                .probes
                .into_iter()
                .map(|p| Mutex::new(Some(p)))
                .collect(),
            started: AtomicUsize::new(0),
        });
        let cfg = Arc::new(self.cfg);
        let start = Instant::now();
        let threads = start_workers(self.sources, handlers, &cfg, &shared)?;
        wait_until_started(&shared, n);
        on_ready();
        stats_loop(&shared, &threads, &cfg, start, on_tick);
        let workers = collect_reports(threads, &cfg, &shared);
        drop(self.guard);
        Ok(make_report(workers, &shared))
    }
}

fn start_workers<H: Handler + 'static>(
    sources: Vec<Box<dyn Source>>,
    handlers: Vec<H>,
    cfg: &Arc<Config>,
    shared_all: &Arc<Shared>,
) -> Result<Vec<JoinHandle<WorkerReport>>> {
    let mut threads = Vec::with_capacity(sources.len());
    for (i, (source, handler)) in sources.into_iter().zip(handlers).enumerate() {
        let shared = shared_all.clone();
        let cfg = cfg.clone();
        let t = std::thread::Builder::new()
            .name(format!("ringcap-w{i}"))
            .spawn(move || {
                let run = || worker::worker(i, source, handler, cfg.clone(), shared.clone());
                std::panic::catch_unwind(AssertUnwindSafe(run))
                    .unwrap_or_else(|payload| salvage(i, &*payload, &cfg, &shared))
            });
        match t {
            Ok(t) => threads.push(t),
            Err(e) => {
                // The workers already running stop through their normal path.
                shared_all
                    .stop
                    .stop(EndReason::Error(format!("cannot start worker {i}: {e}")));
                for t in threads {
                    // A worker that panicked has already ended the capture; nothing to add.
                    let _ = t.join();
                }
                return Err(Error::Config(format!("cannot start worker thread: {e}")));
            }
        }
    }
    Ok(threads)
}

/// Waits until every worker takes packets (or gave up), at most 5 s.
fn wait_until_started(shared: &Shared, n: usize) {
    let ready_by = Instant::now() + Duration::from_secs(5);
    while shared.started.load(Ordering::Acquire) < n
        && !shared.stop.is_stopped()
        && Instant::now() < ready_by
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The calling thread during the capture: the duration, the ticks, and noticing the end.
fn stats_loop(
    shared: &Shared,
    threads: &[JoinHandle<WorkerReport>],
    cfg: &Config,
    start: Instant,
    mut on_tick: impl FnMut(&Tick),
) {
    let n = threads.len();
    let mut last = vec![(0u64, 0u64); n];
    let mut last_tick = Instant::now();
    let deadline = cfg.duration.map(|d| start + d);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if shared.stop.is_stopped() {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            shared.stop.stop(EndReason::Duration);
            break;
        }
        if threads.iter().all(|t| t.is_finished()) {
            break;
        }
        let now = Instant::now();
        if now - last_tick >= cfg.stats_interval {
            let tick = make_tick(shared, &mut last, start, now - last_tick);
            last_tick = now;
            on_tick(&tick);
        }
    }
}

/// Every worker's report, in order.
fn collect_reports(
    threads: Vec<JoinHandle<WorkerReport>>,
    cfg: &Config,
    shared: &Shared,
) -> Vec<WorkerReport> {
    threads
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            t.join()
                .unwrap_or_else(|payload| salvage(i, &*payload, cfg, shared))
        })
        .collect()
}

/// The report of a worker whose thread panicked outside its handler's `batch` and `finish`
/// (in the handler's `Drop`, or a bug in the engine): the counts it had published and the
/// kernel's, marked incomplete so they are never claimed to reconcile. Ends the capture, and
/// takes the worker's kernel probe (one last read), which closes its socket.
fn salvage(
    i: usize,
    payload: &(dyn std::any::Any + Send),
    cfg: &Config,
    shared: &Shared,
) -> WorkerReport {
    let cause = format!("its thread panicked: {}", worker::panic_message(payload));
    shared.stop.stop(EndReason::WorkerFailed {
        worker: i,
        cause: cause.clone(),
    });
    let (received, bytes) = shared.published[i].read();
    let mut rep = WorkerReport {
        worker: i,
        cpu: cfg.cpu_of(i),
        received,
        bytes,
        failure: Some(cause),
        complete: false,
        ..Default::default()
    };
    let mut k = shared.kernel[i].lock().unwrap_or_else(|e| e.into_inner());
    if let Some(probe) = shared.take_probe(i) {
        if let Err(e) = probe.collect(&mut k) {
            rep.problems
                .push(format!("reading the kernel's final statistics failed: {e}"));
        }
    }
    rep.kernel_packets = k.packets;
    rep.drops = k.drops;
    rep.freezes = k.freezes;
    rep
}

fn make_report(workers: Vec<WorkerReport>, shared: &Shared) -> Report {
    let mut total = WorkerReport::default();
    let mut extra: Vec<(String, u64)> = Vec::new();
    for (i, w) in workers.iter().enumerate() {
        total.add(w);
        let k = shared.kernel[i].lock().unwrap_or_else(|e| e.into_inner());
        for (name, v) in &k.extra {
            match extra.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e.1 += v,
                None => extra.push((name.to_string(), *v)),
            }
        }
    }
    total.worker = usize::MAX;
    let reason = shared
        .stop
        .reason()
        .unwrap_or(EndReason::Error("all workers stopped".into()));
    Report {
        workers,
        total,
        reason,
        extra,
    }
}

fn join_fanout(cfg: &Config, fds: &[Arc<OwnedFd>]) -> Result<u16> {
    let mut flags = cfg.fanout.mode.kernel_value();
    if cfg.fanout.defrag {
        flags |= pk::PACKET_FANOUT_FLAG_DEFRAG;
    }
    if cfg.fanout.rollover {
        flags |= pk::PACKET_FANOUT_FLAG_ROLLOVER;
    }
    let err = |source| Error::Fanout {
        mode: cfg.fanout.mode.to_string(),
        source,
    };
    let id = match cfg.fanout.group {
        Some(id) => {
            pk::join_fanout(fds[0].as_fd(), id, flags).map_err(err)?;
            id
        }
        None => {
            pk::join_fanout(fds[0].as_fd(), 0, flags | pk::PACKET_FANOUT_FLAG_UNIQUEID)
                .map_err(err)?;
            pk::fanout_group(fds[0].as_fd())?.0
        }
    };
    for fd in &fds[1..] {
        pk::join_fanout(fd.as_fd(), id, flags).map_err(err)?;
    }
    Ok(id)
}

fn make_tick(shared: &Shared, last: &mut [(u64, u64)], start: Instant, interval: Duration) -> Tick {
    let mut t = Tick {
        elapsed: start.elapsed().as_secs_f64(),
        interval: interval.as_secs_f64(),
        ..Default::default()
    };
    for (i, p) in shared.published.iter().enumerate() {
        let (pk, by) = p.read();
        t.worker_packets.push(pk - last[i].0);
        t.worker_bytes.push(by - last[i].1);
        last[i] = (pk, by);
        t.received += pk;
        let mut k = shared.kernel[i].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(probe) = shared.probe(i) {
            // A failed read keeps the counts of the previous one for this tick; the worker's
            // final read is the one that reports errors.
            probe.collect(&mut k).ok();
        }
        t.kernel_packets += k.packets;
        t.drops += k.drops;
        t.freezes += k.freezes;
    }
    t
}
