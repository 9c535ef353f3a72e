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

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringcap_sys as sys;
use ringcap_sys::packet as pk;

use crate::config::{Config, Mode};
use crate::packet::Packet;
use crate::ring::{BlockIter, RxRing};
use crate::socket::{self, RecvSocket};
use crate::stats::{EndReason, Published, Report, Tick, WorkerReport};
use crate::{Error, Result};

/// What a handler wants after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop the whole capture because of a failure (e.g. the output failed); the handler keeps
    /// its own error. Packets of the batch it did not take count as unprocessed.
    Stop,
    /// Stop the whole capture because the handler is done (e.g. `-G`/`-W` wrote its last
    /// file): a normal end.
    Done,
}

/// Receives each worker's packets. One handler per worker, owned by that worker's thread, so it
/// needs no locking; it must not block for long, or the ring fills and the kernel drops.
pub trait Handler: Send {
    /// One batch: a retired ring block, an AF_XDP receive batch, or one `recv`ed packet.
    /// The packets borrow the ring and are valid only during the call.
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow;

    /// Called once in the worker thread after its last batch, with its final counts (including
    /// the kernel's), e.g. to flush and close files. An error makes the capture fail.
    fn finish(&mut self, _report: &WorkerReport) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// A batch of zero-copy packet views. Iterate it; the engine counts what it yields (and walks
/// whatever the handler leaves, so counts never depend on the handler).
pub struct Batch<'a> {
    inner: Inner<'a>,
    left: u32,
    yielded: u32,
    bytes: u64,
}

enum Inner<'a> {
    Block(BlockIter<'a>),
    One(Option<Packet<'a>>),
    Slice(std::slice::Iter<'a, Packet<'a>>),
}

impl<'a> Batch<'a> {
    fn new(inner: Inner<'a>, left: u32) -> Self {
        Batch {
            inner,
            left,
            yielded: 0,
            bytes: 0,
        }
    }

    /// A batch over packets the caller already holds (AF_XDP descriptors, tests).
    pub fn from_slice(pkts: &'a [Packet<'a>]) -> Self {
        Batch::new(Inner::Slice(pkts.iter()), pkts.len() as u32)
    }

    /// A batch over a TPACKET_V3 block laid out in memory (benchmarks, tests).
    pub fn from_block(block: &crate::ring::Block<'a>) -> Self {
        let it = block.packets();
        let n = it.remaining();
        Batch::new(Inner::Block(it), n)
    }

    /// Packets still to come in this batch.
    pub fn remaining(&self) -> u32 {
        self.left
    }

    fn finish_counting(&mut self) -> (u32, u64) {
        for _ in self.by_ref() {}
        (self.yielded, self.bytes)
    }
}

impl<'a> Iterator for Batch<'a> {
    type Item = Packet<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Packet<'a>> {
        if self.left == 0 {
            return None;
        }
        let p = match &mut self.inner {
            Inner::Block(it) => it.next(),
            Inner::One(p) => p.take(),
            Inner::Slice(it) => it.next().copied(),
        }?;
        self.left -= 1;
        self.yielded += 1;
        self.bytes += p.len() as u64;
        Some(p)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// What the kernel counted for one socket, accumulated (the kernel resets on read).
#[derive(Debug, Default, Clone)]
pub(crate) struct KernelTotals {
    pub packets: u64,
    pub drops: u64,
    pub freezes: u64,
    pub extra: Vec<(&'static str, u64)>,
}

/// Reads a socket's kernel counters; shared by the worker and the statistics loop.
pub(crate) trait KernelProbe: Send + Sync {
    fn collect(&self, totals: &mut KernelTotals) -> std::result::Result<(), sys::Error>;
}

struct PacketProbe(Arc<OwnedFd>);

impl KernelProbe for PacketProbe {
    fn collect(&self, t: &mut KernelTotals) -> std::result::Result<(), sys::Error> {
        let s = pk::statistics(self.0.as_fd())?;
        t.packets += s.tp_packets as u64;
        t.drops += s.tp_drops as u64;
        t.freezes += s.tp_freeze_q_cnt as u64;
        Ok(())
    }
}

/// Whether a wait found data, nothing, or a dead interface.
pub(crate) enum Wait {
    Ready,
    Idle,
    Gone(sys::Error),
}

/// One receive path of one worker.
pub(crate) trait Source: Send {
    /// Hands the next ready batch to `f` (with a flag for "the kernel lost packets while it
    /// filled"), then releases it. `Ok(false)` when nothing was ready.
    fn with_batch(
        &mut self,
        f: &mut dyn FnMut(Batch<'_>, bool),
    ) -> std::result::Result<bool, sys::Error>;
    /// Sleeps until data may be ready, up to `timeout_ms`.
    fn wait(&mut self, timeout_ms: i32) -> Wait;
    /// Opens the socket to traffic (installs the user's program).
    fn start_intake(&mut self, cfg: &Config) -> Result<()>;
    /// Closes the socket to new traffic.
    fn stop_intake(&mut self) -> Result<()>;
    /// How long after `stop_intake` packets may still become readable.
    fn drain_time(&self) -> Duration;
    fn probe(&self) -> Arc<dyn KernelProbe>;
}

struct RingSource {
    fd: Arc<OwnedFd>,
    ring: RxRing,
    timeout: Duration,
    /// Bytes of the blocks taken since the last wait, and when that wait began.
    bytes_since_wait: u64,
    last_wait: Instant,
    coalesce: Duration,
    block_size: u32,
    ring_bytes: u64,
}

impl Source for RingSource {
    #[inline]
    fn with_batch(
        &mut self,
        f: &mut dyn FnMut(Batch<'_>, bool),
    ) -> std::result::Result<bool, sys::Error> {
        let Some(block) = self.ring.ready() else {
            return Ok(false);
        };
        let it = block.packets();
        let n = it.remaining();
        let filled = block.blk_len();
        f(Batch::new(Inner::Block(it), n), block.losing());
        self.ring.release();
        self.bytes_since_wait += u64::from(filled);
        Ok(true)
    }

    fn wait(&mut self, timeout_ms: i32) -> Wait {
        let now = Instant::now();
        let pause = crate::config::coalesce_sleep(
            self.bytes_since_wait,
            now - self.last_wait,
            self.block_size,
            self.ring_bytes,
            self.coalesce,
        );
        self.last_wait = now;
        self.bytes_since_wait = 0;
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        match sys::poll(self.fd.as_fd(), libc::POLLIN | libc::POLLERR, timeout_ms) {
            Ok(r) if r & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 => {
                let errno = sys::socket_error(self.fd.as_fd()).unwrap_or(libc::ENETDOWN);
                if errno == 0 {
                    Wait::Idle
                } else {
                    Wait::Gone(sys::Error::from_errno("poll", errno))
                }
            }
            Ok(0) => Wait::Idle,
            Ok(_) => Wait::Ready,
            Err(e) => Wait::Gone(e),
        }
    }

    fn start_intake(&mut self, cfg: &Config) -> Result<()> {
        socket::start_intake(&self.fd, cfg.filter.as_deref(), cfg.snaplen)
    }

    fn stop_intake(&mut self) -> Result<()> {
        socket::stop_intake(&self.fd)
    }

    fn drain_time(&self) -> Duration {
        // The block being filled is retired by the kernel's timer within one timeout (rounded
        // up to a jiffy); wait two, plus scheduling slack.
        self.timeout * 2 + Duration::from_millis(40)
    }

    fn probe(&self) -> Arc<dyn KernelProbe> {
        Arc::new(PacketProbe(self.fd.clone()))
    }
}

struct RecvSource {
    fd: Arc<OwnedFd>,
    sock: RecvSocket,
    draining: bool,
    gone: Option<sys::Error>,
}

impl Source for RecvSource {
    fn with_batch(
        &mut self,
        f: &mut dyn FnMut(Batch<'_>, bool),
    ) -> std::result::Result<bool, sys::Error> {
        match self.sock.recv(self.draining) {
            Ok(Some(p)) => {
                f(Batch::new(Inner::One(Some(p)), 1), false);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => {
                self.gone = Some(e);
                Ok(false)
            }
        }
    }

    fn wait(&mut self, _timeout_ms: i32) -> Wait {
        // recvmsg itself waited (SO_RCVTIMEO); report what it saw.
        match self.gone.take() {
            Some(e) => Wait::Gone(e),
            None => Wait::Idle,
        }
    }

    fn start_intake(&mut self, cfg: &Config) -> Result<()> {
        socket::start_intake(&self.fd, cfg.filter.as_deref(), cfg.snaplen)
    }

    fn stop_intake(&mut self) -> Result<()> {
        self.draining = true;
        socket::stop_intake(&self.fd)
    }

    fn drain_time(&self) -> Duration {
        Duration::from_millis(20)
    }

    fn probe(&self) -> Arc<dyn KernelProbe> {
        Arc::new(PacketProbe(self.fd.clone()))
    }
}

/// What the workers share with each other and the statistics loop: stop flag, reason, budget,
/// published counters. Nothing here is written per packet.
struct Shared {
    stop: AtomicBool,
    reason: Mutex<Option<EndReason>>,
    budget: Option<AtomicU64>,
    published: Vec<Published>,
    kernel: Vec<Mutex<KernelTotals>>,
    /// Workers whose intake is open.
    started: AtomicUsize,
}

impl Shared {
    fn end(&self, reason: EndReason) {
        let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(reason);
        }
        self.stop.store(true, Ordering::Release);
    }

    /// Takes up to `n` packets from the `-c` budget; per batch, not per packet.
    #[inline]
    fn claim(&self, n: u32) -> u32 {
        let Some(b) = &self.budget else { return n };
        let mut got = 0;
        let _ = b.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            got = left.min(n as u64);
            Some(left - got)
        });
        if got < n as u64 || b.load(Ordering::Acquire) == 0 {
            self.end(EndReason::Count);
        }
        got as u32
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
        if flags & libc::IFF_UP as u32 == 0 {
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
                Mode::Ring => Box::new(RingSource {
                    ring: RxRing::create(fd.clone(), &cfg.geometry)?,
                    fd: fd.clone(),
                    timeout: Duration::from_millis(cfg.geometry.block_timeout_ms as u64),
                    bytes_since_wait: 0,
                    last_wait: Instant::now(),
                    coalesce: cfg.coalesce,
                    block_size: cfg.geometry.block_size,
                    ring_bytes: cfg.geometry.ring_bytes(),
                }),
                Mode::Recv => Box::new(RecvSource {
                    sock: RecvSocket::setup(fd.clone(), cfg.snaplen)?,
                    fd: fd.clone(),
                    draining: false,
                    gone: None,
                }),
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

    /// Runs until `-c`, `--duration`, a stop signal ([`ringcap_sys::install_stop_handlers`]),
    /// a handler's [`Flow::Stop`] or a vanished interface. `on_tick` runs in the calling thread
    /// once per stats interval.
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
        mut on_tick: impl FnMut(&Tick),
    ) -> Result<Report> {
        let n = self.sources.len();
        if handlers.len() != n {
            return Err(Error::Config(format!(
                "{} handlers for {n} workers",
                handlers.len()
            )));
        }
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            reason: Mutex::new(None),
            budget: self.cfg.count.map(AtomicU64::new),
            published: (0..n).map(|_| Published::default()).collect(),
            kernel: (0..n)
                .map(|_| Mutex::new(KernelTotals::default()))
                .collect(),
            started: AtomicUsize::new(0),
        });
        let cfg = Arc::new(self.cfg);
        let start = Instant::now();
        let mut threads = Vec::with_capacity(n);
        for (i, (source, handler)) in self.sources.into_iter().zip(handlers).enumerate() {
            let shared = shared.clone();
            let cfg = cfg.clone();
            let probe = self.probes[i].clone();
            let t = std::thread::Builder::new()
                .name(format!("ringcap-w{i}"))
                .spawn(move || worker(i, source, handler, probe, cfg, shared))
                .map_err(|e| Error::Config(format!("cannot start worker thread: {e}")))?;
            threads.push(t);
        }

        // Wait until every worker takes packets (or gave up), then say so.
        let ready_by = Instant::now() + Duration::from_secs(5);
        while shared.started.load(Ordering::Acquire) < n
            && !shared.stop.load(Ordering::Acquire)
            && Instant::now() < ready_by
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        on_ready();

        // Statistics loop.
        let mut last = vec![(0u64, 0u64); n];
        let mut last_tick = Instant::now();
        let deadline = cfg.duration.map(|d| start + d);
        loop {
            std::thread::sleep(Duration::from_millis(20));
            if shared.stop.load(Ordering::Acquire) {
                break;
            }
            if sys::stop_requested() {
                shared.end(EndReason::Signal(
                    sys::stop_signal().unwrap_or(libc::SIGINT),
                ));
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                shared.end(EndReason::Duration);
                break;
            }
            if threads.iter().all(|t| t.is_finished()) {
                break;
            }
            let now = Instant::now();
            if now - last_tick >= cfg.stats_interval {
                let tick = make_tick(&shared, &self.probes, &mut last, start, now - last_tick);
                last_tick = now;
                on_tick(&tick);
            }
        }
        let mut workers = Vec::with_capacity(n);
        for t in threads {
            match t.join() {
                Ok(r) => workers.push(r),
                Err(_) => {
                    shared.end(EndReason::Error("a worker thread panicked".into()));
                }
            }
        }
        drop(self.guard);
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
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or(EndReason::Error("all workers stopped".into()));
        Ok(Report {
            workers,
            total,
            reason,
            extra,
        })
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

fn make_tick(
    shared: &Shared,
    probes: &[Arc<dyn KernelProbe>],
    last: &mut [(u64, u64)],
    start: Instant,
    interval: Duration,
) -> Tick {
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
        let _ = probes[i].collect(&mut k);
        t.kernel_packets += k.packets;
        t.drops += k.drops;
        t.freezes += k.freezes;
    }
    t
}

/// One worker thread: pin, open intake, take batches until told to stop, drain, account.
fn worker<H: Handler>(
    idx: usize,
    mut source: Box<dyn Source>,
    mut handler: H,
    probe: Arc<dyn KernelProbe>,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
) -> WorkerReport {
    let cpu = cfg.cpu_of(idx);
    let mut rep = WorkerReport {
        worker: idx,
        cpu,
        start_ns: sys::realtime_ns(),
        ..Default::default()
    };
    let fail = |shared: &Shared, e: String| shared.end(EndReason::Error(e));
    if let Some(cpu) = cpu {
        if let Err(e) = sys::pin_current_thread(cpu) {
            fail(&shared, format!("worker {idx}: pinning to CPU {cpu}: {e}"));
        }
    }
    let (cpu_u0, cpu_s0) = sys::thread_cpu_time();
    if !shared.stop.load(Ordering::Acquire) {
        if let Err(e) = source.start_intake(&cfg) {
            fail(&shared, format!("worker {idx}: {e}"));
        }
    }
    shared.started.fetch_add(1, Ordering::AcqRel);
    let published = &shared.published[idx];
    let mut handler_stopped = false;
    let mut handler_done = false;

    // Main loop.
    while !shared.stop.load(Ordering::Relaxed) {
        let mut process = |mut batch: Batch<'_>, losing: bool| {
            let n = batch.remaining();
            let allowed = shared.claim(n);
            rep.batches += 1;
            if losing {
                rep.losing_blocks += 1;
            }
            batch.left = allowed;
            let flow = if allowed > 0 {
                handler.batch(&mut batch)
            } else {
                Flow::Continue
            };
            let (got, bytes) = if flow == Flow::Continue {
                batch.finish_counting()
            } else {
                if flow == Flow::Done {
                    handler_done = true;
                } else {
                    handler_stopped = true;
                }
                (batch.yielded, batch.bytes)
            };
            rep.received += got as u64;
            rep.bytes += bytes;
            rep.past_count += (n - got) as u64;
            published.publish(rep.received, rep.bytes);
        };
        match source.with_batch(&mut process) {
            Ok(true) => {
                if handler_stopped {
                    shared.end(EndReason::Handler("the output stopped".into()));
                } else if handler_done {
                    shared.end(EndReason::HandlerDone);
                }
                continue;
            }
            Ok(false) => {}
            Err(e) => {
                shared.end(EndReason::InterfaceGone(format!(
                    "interface {} went away: {e}",
                    cfg.iface
                )));
                break;
            }
        }
        rep.polls += 1;
        if let Wait::Gone(e) = source.wait(100) {
            let what = match e.errno() {
                Some(libc::ENETDOWN) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
                    "went down or disappeared"
                }
                _ => "failed",
            };
            shared.end(EndReason::InterfaceGone(format!(
                "interface {} {what} during the capture ({e})",
                cfg.iface
            )));
            break;
        }
    }

    // Stop: no new packets, then drain what the kernel already delivered.
    let _ = source.stop_intake();
    let deliver = {
        let r = shared.reason.lock().unwrap_or_else(|e| e.into_inner());
        !matches!(
            *r,
            Some(EndReason::Count) | Some(EndReason::Handler(_)) | Some(EndReason::HandlerDone)
        ) && !handler_stopped
            && !handler_done
    };
    let drain_until = Instant::now() + source.drain_time();
    loop {
        let mut process = |mut batch: Batch<'_>, losing: bool| {
            let n = batch.remaining();
            rep.batches += 1;
            if losing {
                rep.losing_blocks += 1;
            }
            let allowed = if deliver { shared.claim(n) } else { 0 };
            batch.left = allowed;
            let flow = if allowed > 0 && !handler_stopped && !handler_done {
                handler.batch(&mut batch)
            } else {
                Flow::Continue
            };
            let (got, bytes) = match flow {
                Flow::Continue if allowed > 0 => batch.finish_counting(),
                Flow::Continue => (0, 0),
                Flow::Done => {
                    handler_done = true;
                    (batch.yielded, batch.bytes)
                }
                Flow::Stop => {
                    handler_stopped = true;
                    (batch.yielded, batch.bytes)
                }
            };
            rep.received += got as u64;
            rep.bytes += bytes;
            rep.past_count += (n - got) as u64;
        };
        match source.with_batch(&mut process) {
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
    published.publish(rep.received, rep.bytes);
    {
        let mut k = shared.kernel[idx].lock().unwrap_or_else(|e| e.into_inner());
        let _ = probe.collect(&mut k);
        rep.kernel_packets = k.packets;
        rep.drops = k.drops;
        rep.freezes = k.freezes;
    }
    let (cpu_u1, cpu_s1) = sys::thread_cpu_time();
    rep.cpu_user_ns = cpu_u1.saturating_sub(cpu_u0);
    rep.cpu_sys_ns = cpu_s1.saturating_sub(cpu_s0);
    rep.end_ns = sys::realtime_ns();
    if handler_stopped {
        shared.end(EndReason::Handler("the output stopped".into()));
    } else if handler_done {
        shared.end(EndReason::HandlerDone);
    }
    if let Err(e) = handler.finish(&rep) {
        shared.end(EndReason::Handler(e));
    }
    rep
}
