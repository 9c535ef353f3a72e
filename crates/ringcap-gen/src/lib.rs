//! ringcap's traffic generator: frames built from templates or replayed from capture files,
//! sent through AF_PACKET TX rings (sendmmsg where the ring is refused), one sender per CPU.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use ringcap_gen::{FrameSpec, GenConfig, Generator, Proto, Source};
//!
//! let mut cfg = GenConfig::new("eth1", Source::Template(FrameSpec::new(Proto::Syn, false)));
//! cfg.count = Some(1_000_000);
//! let gen = Generator::new(cfg)?;
//! let report = gen.run(&AtomicBool::new(false), |_tick| {})?;
//! println!("{} frames sent", report.frames);
//! # Ok::<(), ringcap_gen::Error>(())
//! ```
//!
//! Sockets are opened by [`Generator::new`] in the calling thread's network namespace, so an
//! embedder (the bench) can enter a namespace, create the generator, and leave again.
//!
//! **Owns:** frame templates and their flow walk, replay of capture files, rate pacing, the
//! sender threads and their exact counts (sent, refused, not sent). **Depends on:**
//! `ringcap-sys` (TX rings, sockets, clocks) and `ringcap-pcap` (reading replay files).
//! **Must not depend on:** the capture engine (`ringcap`), the CLI or any test crate; it polls
//! no process-global flag: [`Generator::run`] stops on the `&AtomicBool` its caller passes
//! (the CLI hands it a `ringcap::StopHandle`'s flag tied to its signals).

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ringcap_sys as sys;
use sys::ring::tx::{TxRing, TxRingOptions};

pub mod frame;
pub mod replay;
mod sender;
pub mod wire;

pub use frame::{verify_checksums, FrameBuilder, FrameError, FrameSpec, Proto};
pub use replay::{Replay, ReplayError};
pub use sender::ThreadCounters;
pub use wire::{IpRange, MacAddr, PortRange};

use sender::{MmsgTx, Pacing, Plan, ReplayCursor, RingTx, SizeLimit, Tx};

/// The most `--pps` accepts (far above any link; catches typos such as an extra zero or two).
pub const MAX_PPS: u64 = 1_000_000_000;
/// The most sender threads.
pub const MAX_THREADS: usize = 1024;

/// Errors of the generator; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no interface named {name:?} in this network namespace (interfaces: {known})")]
    NoSuchInterface { name: String, known: String },
    #[error("interface {0} is down (bring it up: ip link set {0} up)")]
    InterfaceDown(String),
    #[error("{len}-byte frames do not fit {iface}: its MTU {mtu} allows frames up to {max} bytes")]
    TooBig {
        len: usize,
        iface: String,
        mtu: u32,
        max: usize,
    },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Sys(#[from] sys::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Where the frames come from.
#[derive(Debug, Clone)]
pub enum Source {
    Template(FrameSpec),
    /// Frames of a capture file (see [`Replay::load`]).
    Replay(Arc<Replay>),
}

/// Spacing of replayed frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// As fast as possible, or at `pps`.
    #[default]
    Asap,
    /// The file's own gaps between frames (one thread).
    File,
}

/// Transmit path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxMode {
    /// TX ring; sendmmsg if the kernel refuses the ring.
    #[default]
    Auto,
    Ring,
    Sendmmsg,
}

/// Everything a generator run needs.
#[derive(Debug, Clone)]
pub struct GenConfig {
    pub interface: String,
    pub source: Source,
    /// Replay only: spacing and number of passes over the file (0 = for ever).
    pub timing: Timing,
    pub loops: u64,
    /// Frames per second over all threads; 0 = as fast as possible.
    pub pps: u64,
    /// Exactly this many frames in total (refused ones included), then stop.
    pub count: Option<u64>,
    pub duration: Option<std::time::Duration>,
    /// Sender threads (default: one per allowed CPU, or per entry of `cpus`).
    pub threads: Option<usize>,
    /// CPUs to pin thread i to (i-th entry, wrapping); default: the allowed CPUs in order.
    pub cpus: Option<Vec<usize>>,
    pub pin: bool,
    pub mode: TxMode,
    /// Frame slots per TX ring.
    pub ring_frames: u32,
    /// Frames per kick (ring) at most.
    pub batch: usize,
    pub qdisc_bypass: bool,
    /// Have the kernel copy ring frames into socket buffers (PACKET_VNET_HDR) rather than
    /// attach ring pages; faster for small frames and for veth.
    pub copy_frames: bool,
}

impl GenConfig {
    pub fn new(interface: &str, source: Source) -> GenConfig {
        GenConfig {
            interface: interface.to_string(),
            source,
            timing: Timing::Asap,
            loops: 1,
            pps: 0,
            count: None,
            duration: None,
            threads: None,
            cpus: None,
            pin: true,
            mode: TxMode::Auto,
            ring_frames: 4096,
            batch: 256,
            qdisc_bypass: true,
            copy_frames: true,
        }
    }
}

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

struct Worker {
    tx: Tx,
    src: sender::Source,
    cpu: Option<usize>,
    limit: Option<u64>,
    pps: u64,
}

/// A ready-to-run generator: interface checked, sockets and rings open.
pub struct Generator {
    workers: Vec<Worker>,
    pacing_file: bool,
    duration: Option<std::time::Duration>,
    batch: usize,
    fallback: Option<String>,
    frame_len: usize,
    ring_memory: usize,
}

/// Splits `total` into `n` shares that differ by at most one.
fn share(total: u64, n: usize, i: usize) -> u64 {
    total / n as u64 + u64::from((i as u64) < total % n as u64)
}

/// The interface a generator sends on, as checked before anything is opened.
struct Target {
    ifindex: u32,
    mtu: u32,
    /// The longest frame the MTU lets through.
    limit: SizeLimit,
}

/// The interface exists in this namespace and is up; its MTU bounds the frames.
fn check_interface(name: &str) -> Result<Target> {
    let ifindex = sys::if_nametoindex(name).ok_or_else(|| {
        let mut known = sys::interface_names();
        known.sort();
        Error::NoSuchInterface {
            name: name.to_string(),
            known: known.join(", "),
        }
    })?;
    let flags = sys::interface_flags(name)?;
    if flags & sys::IFF_UP == 0 {
        return Err(Error::InterfaceDown(name.to_string()));
    }
    let mtu = sys::interface_mtu(name)?;
    Ok(Target {
        ifindex,
        mtu,
        limit: SizeLimit {
            max: mtu as usize + frame::ETH_LEN,
        },
    })
}

/// Refuses numbers no run can honour, each with what to fix.
fn check_numbers(cfg: &GenConfig) -> Result<()> {
    if cfg.pps > MAX_PPS {
        return Err(Error::Config(format!(
            "--pps {} is out of range (0 to {MAX_PPS}; 0 = as fast as possible)",
            cfg.pps
        )));
    }
    if cfg.count == Some(0) {
        return Err(Error::Config("-c must be at least 1".into()));
    }
    if cfg.duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::Config("--duration must be above 0".into()));
    }
    if cfg.batch == 0 || cfg.ring_frames == 0 {
        return Err(Error::Config(
            "batch and ring size must be at least 1".into(),
        ));
    }
    // A replay's own timing, over every loop, must fit the clock.
    if let (Timing::File, Source::Replay(r)) = (cfg.timing, &cfg.source) {
        r.check_timing(cfg.loops)?;
    }
    Ok(())
}

/// The CPUs to pin to and the number of sender threads: one per CPU unless told, never more
/// than there are frames to send or frames per second to pace.
fn plan_threads(cfg: &GenConfig) -> Result<(Vec<usize>, usize)> {
    let allowed = sys::allowed_cpus()?;
    let cpus = match &cfg.cpus {
        Some(c) if c.is_empty() => return Err(Error::Config("--cpus is empty".into())),
        Some(c) => {
            if let Some(bad) = c.iter().find(|x| !allowed.contains(x)) {
                return Err(Error::Config(format!(
                    "CPU {bad} is not available to this process (allowed: {allowed:?})"
                )));
            }
            c.clone()
        }
        None => allowed.clone(),
    };
    let mut threads = cfg.threads.unwrap_or(cpus.len().max(1));
    if threads == 0 || threads > MAX_THREADS {
        return Err(Error::Config(format!(
            "--threads {threads} is out of range (1 to {MAX_THREADS})"
        )));
    }
    if cfg.timing == Timing::File {
        threads = 1;
    }
    if let Some(c) = cfg.count {
        threads = threads.min(c as usize);
    }
    if cfg.pps > 0 {
        threads = threads.min(cfg.pps as usize);
    }
    Ok((cpus, threads))
}

/// One frame source per thread (a replay may lower the thread count to its frame count), and
/// the longest frame they make.
fn frame_sources(
    cfg: &GenConfig,
    target: &Target,
    threads: usize,
) -> Result<(Vec<sender::Source>, usize)> {
    let limit = target.limit;
    match &cfg.source {
        Source::Template(spec) => {
            let b = FrameBuilder::new(spec)?;
            let len = b.len();
            if len > limit.max {
                return Err(Error::TooBig {
                    len,
                    iface: cfg.interface.clone(),
                    mtu: target.mtu,
                    max: limit.max,
                });
            }
            // Threads start at spread-out points of the flow space, so they send different flows.
            let flows = spec.flows().min(u64::MAX as u128) as u64;
            let stride = (flows / threads as u64).max(1);
            let v = (0..threads)
                .map(|i| {
                    let mut b = b.clone();
                    b.start_at(i as u64 * stride);
                    sender::Source::Template(b)
                })
                .collect();
            Ok((v, len))
        }
        Source::Replay(r) => {
            if r.frames.is_empty() {
                return Err(Error::Config("the replay holds no frames".into()));
            }
            let threads = threads.min(r.frames.len());
            let v = (0..threads)
                .map(|i| {
                    sender::Source::Replay(ReplayCursor {
                        replay: r.clone(),
                        first: i,
                        step: threads,
                        idx: i,
                        loops: cfg.loops,
                        loop_no: 0,
                        limit,
                    })
                })
                .collect();
            Ok((v, r.max_len().min(limit.max + 4).max(frame::MIN_FRAME)))
        }
    }
}

/// TX ring geometry for frames up to `frame_len`.
fn ring_options(cfg: &GenConfig, frame_len: usize) -> TxRingOptions {
    let frame_size = (sys::ring::tx::TX_DATA_OFFSET + sys::ring::tx::VNET_HDR_LEN + frame_len)
        .next_power_of_two()
        .max(128) as u32;
    TxRingOptions {
        frame_size,
        // At most 8 MiB per ring unless asked for more slots than that holds.
        frame_nr: cfg.ring_frames.min((8 << 20) / frame_size).max(64),
        block_size: (frame_size.next_power_of_two()).max(sys::page_size() as u32 * 16),
        qdisc_bypass: cfg.qdisc_bypass,
        loss: true,
        copy: cfg.copy_frames,
    }
}

/// A TX ring, or `None` when it is not to be used or (in `Auto` mode) the kernel refused it;
/// `fallback` then says why, and later threads do not try again.
fn open_ring(
    cfg: &GenConfig,
    ifindex: u32,
    opts: &TxRingOptions,
    fallback: &mut Option<String>,
) -> Result<Option<TxRing>> {
    if cfg.mode == TxMode::Sendmmsg || fallback.is_some() {
        return Ok(None);
    }
    match TxRing::open(ifindex, opts) {
        Ok(r) => Ok(Some(r)),
        Err(e) if cfg.mode == TxMode::Auto => {
            *fallback = Some(format!("TX ring refused ({e}); using sendmmsg"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A plain packet socket bound to the interface, for sendmmsg.
fn open_mmsg(cfg: &GenConfig, ifindex: u32, frame_len: usize) -> Result<MmsgTx> {
    let fd = sys::packet_socket()?;
    if cfg.qdisc_bypass {
        // Best effort, as with the ring: without it frames take the qdisc path, still valid.
        let _ = sys::packet::set_int(
            fd.as_fd(),
            sys::packet::SOL_PACKET,
            sys::packet::PACKET_QDISC_BYPASS,
            1,
        );
    }
    sys::bind_packet(fd.as_fd(), ifindex, 0)?;
    Ok(MmsgTx::new(fd, frame_len))
}

impl Generator {
    /// Checks the configuration and the interface, builds the frame sources and opens one
    /// socket (with its TX ring) per thread.
    pub fn new(cfg: GenConfig) -> Result<Generator> {
        let target = check_interface(&cfg.interface)?;
        check_numbers(&cfg)?;
        let (cpus, threads) = plan_threads(&cfg)?;
        let (sources, frame_len) = frame_sources(&cfg, &target, threads)?;
        let threads = sources.len();
        let opts = ring_options(&cfg, frame_len);
        let mut fallback = None;
        let mut ring_memory = 0;
        let mut workers = Vec::with_capacity(threads);
        for (i, src) in sources.into_iter().enumerate() {
            let tx = match open_ring(&cfg, target.ifindex, &opts, &mut fallback)? {
                Some(r) => {
                    ring_memory += r.memory();
                    Tx::Ring(RingTx::new(r))
                }
                None => Tx::Mmsg(open_mmsg(&cfg, target.ifindex, frame_len)?),
            };
            workers.push(Worker {
                tx,
                src,
                cpu: cfg.pin.then(|| cpus[i % cpus.len()]),
                limit: cfg.count.map(|c| share(c, threads, i)),
                pps: share(cfg.pps, threads, i),
            });
        }
        Ok(Generator {
            workers,
            pacing_file: cfg.timing == Timing::File,
            duration: cfg.duration,
            batch: cfg.batch,
            fallback,
            frame_len,
            ring_memory,
        })
    }

    /// Sender threads.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// The CPU of each thread (None when not pinned).
    pub fn cpus(&self) -> Vec<Option<usize>> {
        self.workers.iter().map(|w| w.cpu).collect()
    }

    /// Why the TX ring is not used, if the kernel refused it.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The template's frame length (or the longest replay frame).
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// TX ring memory over all threads.
    pub fn ring_memory(&self) -> usize {
        self.ring_memory
    }

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

/// Loads a replay file (a convenience over [`Replay::load`]).
pub fn load_replay(path: impl Into<PathBuf>) -> Result<Arc<Replay>> {
    Ok(Arc::new(Replay::load(&path.into())?))
}
