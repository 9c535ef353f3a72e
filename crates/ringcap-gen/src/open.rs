//! Opening a generator: the interface checked, the threads planned, a frame source per
//! thread, and a socket (with its TX ring where the kernel gives one) per thread.

use std::os::fd::AsFd;

use ringcap_sys as sys;
use sys::ring::tx::{TxRing, TxRingOptions};

use crate::config::check_numbers;
use crate::sender::{self, MmsgTx, ReplayCursor, RingTx, SizeLimit, Tx};
use crate::{
    frame, Error, FrameBuilder, GenConfig, Generator, Result, Source, Timing, TxMode, Worker,
    MAX_THREADS,
};

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
}
