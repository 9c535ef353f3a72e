//! AF_XDP capture: frames taken in the driver, before the kernel builds an sk_buff.
//!
//! Per RX queue of the interface: one AF_XDP socket bound to that queue with its own UMEM and
//! fill, completion and RX rings ([`xsk`]), one worker. One XDP program ([`program`]), written
//! as eBPF instructions, sends each frame to the socket of its RX queue through an XSKMAP and
//! counts it; it is attached through netlink ([`attach`]), natively when the driver can and
//! generically otherwise, and removed when the capture ends, however it ends (the
//! [`attach::Attachment`] guard is dropped by the engine after the workers stop, also on
//! errors, `-c`, Ctrl-C and SIGTERM since those end the capture through its normal path).
//!
//! **Workers**: one per RX queue, always; `Config::workers` is ignored in this mode (an RX
//! queue can only feed one AF_XDP socket of one process). Worker `i` serves queue `i` and is
//! pinned like the other modes (`--cpus`, else CPU `i` modulo the CPUs this process may use).
//!
//! **Intake**: a socket takes frames only while its queue's XSKMAP entry exists: it is inserted
//! when the worker starts and deleted when it stops; before and after, frames of that queue go
//! to the host stack (the program's fallback action is XDP_PASS).
//!
//! **Filters** run in the kernel by default: the classic program (compiled for the frame's own
//! bytes, VLAN tags included) is translated to eBPF by `ringcap_filter::ebpf` and runs in the XDP
//! program before the redirect, so a frame that does not match goes on to the host's stack
//! untouched and is counted in a per-CPU map (`xdp_passed`); only matching frames are copied into
//! the UMEM. A program the verifier refuses fails the start with its last message, before
//! anything is attached; there is no silent fallback. `XdpOptions::user_filter` (`--xdp-filter
//! user`) instead redirects every frame and runs ringcap-filter's interpreter on each in user
//! space; rejected frames are counted (`xdp_filtered`) and never handed to the handler.
//!
//! **Counts** (exact once the capture has stopped): for each queue,
//! `kernel_packets = xdp_redirected - xdp_filtered` (`xdp_filtered` is 0 with the filter in the
//! kernel) and `drops = rx_ring_full + rx_dropped`, so
//! `kernel_packets = received + past_count + drops` like the AF_PACKET modes. `xdp_redirected`
//! is the program's own per-queue counter of frames it handed to a socket; each such frame is
//! either put in the socket's RX ring (and then read by the worker: received, past `-c`, or
//! filtered) or dropped by the kernel and counted in XDP_STATISTICS as `rx_ring_full` (RX ring
//! full) or `rx_dropped` (copy mode: no free UMEM frame, or a frame larger than a UMEM frame).
//! The other XDP_STATISTICS counters are reported in `extra` but are not frame drops:
//! `rx_fill_ring_empty_descs` counts times the kernel found the fill ring empty (in copy mode
//! those frames also count in `rx_dropped`; in zero-copy mode the driver drops them before the
//! program runs, so they are in no count here, only in the NIC's own statistics), and
//! `rx_invalid_descs` counts bad descriptors, not frames. Frames that arrive while a queue has
//! no socket (before start, after stop) go to the host stack and are in no count.
//!
//! **Packets** carry a user-space timestamp taken once per batch (AF_XDP delivers no kernel
//! timestamp), no rxhash, and a packet type guessed from the destination MAC (broadcast,
//! multicast, else host). VLAN tags stay in the bytes as they arrived (tested on veth, native
//! and generic); a tag a NIC strips in hardware (rxvlan offload) never reaches the XDP program,
//! so turn that offload off (`ethtool -K IF rxvlan off`) to see tags.
//!
//! **Wakeups**: a worker sleeps in `poll` when its RX ring is empty; woken for only a few
//! frames it waits 50 µs for more before taking them (user-space interrupt moderation), which
//! cut the worker's CPU per packet about eightfold on veth at ~300 kpps. `--busy-poll` instead
//! spins on `recvfrom`, which runs the driver's NAPI loop in the worker (SO_PREFER_BUSY_POLL,
//! SO_BUSY_POLL 20 µs, SO_BUSY_POLL_BUDGET 64).

pub mod attach;
mod program;
mod xsk;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringcap_sys as sys;
use ringcap_sys::bpf;
use ringcap_sys::ring::xdp::Xsk;
use ringcap_sys::{Errno, Event, Polled};

use crate::engine::{KernelProbe, KernelTotals, Source, Wait};
use crate::packet::Packet;
use crate::{Batch, Capture, Config, Error, Result};

pub use attach::{AttachMode, Attachment};
pub use program::listing;

/// What the CLI prints when the mode starts (and the help and README say).
pub const HOST_STACK_WARNING: &str =
    "in xdp mode the frames ringcap takes no longer reach this host's network stack \
(right for a mirror port, wrong for a host's own traffic)";

/// UMEM frames per queue (and entries of each ring).
const FRAMES: u32 = 4096;
/// Descriptors taken per batch.
const BATCH: usize = 64;
/// Smaller batch arrays for fewer ready frames (see `XdpSource::with_batch`).
const SMALL_BATCHES: [usize; 2] = [4, 16];
/// How long a worker woken for a few frames waits for more (see `XdpSource::wait`).
const COALESCE: Duration = Duration::from_micros(50);

/// The mode of the XDP program attached to an interface now (`None`: none attached), e.g. to
/// say which one `--xdp-mode` left unset ended up with.
pub fn attached_mode(ifindex: u32) -> Result<Option<AttachMode>> {
    let state = attach::query(ifindex)?;
    Ok(match state.attached {
        sys::netlink::XDP_ATTACHED_DRV => Some(AttachMode::Native),
        sys::netlink::XDP_ATTACHED_SKB => Some(AttachMode::Generic),
        _ => None,
    })
}

/// Number of RX queues of an interface: ethtool channels, else IFLA_NUM_RX_QUEUES, else 1.
/// (Both answer for the calling thread's network namespace, unlike /sys/class/net.)
pub fn rx_queues(iface: &str, ifindex: u32) -> u32 {
    if let Ok(ch) = sys::ethtool::channels(iface) {
        if ch.rx_queues() > 0 {
            return ch.rx_queues();
        }
    }
    if let Ok(mut nl) = sys::netlink::Netlink::open() {
        if let Ok(info) = nl.link_info(ifindex) {
            if info.num_rx_queues > 0 {
                return info.num_rx_queues;
            }
        }
    }
    1
}

/// Opens an AF_XDP capture on every RX queue of the interface (see the module docs).
pub(crate) fn open_capture(mut cfg: Config, ifindex: u32) -> Result<Capture> {
    let queues = rx_queues(&cfg.iface, ifindex);
    cfg.workers = queues as usize;
    if cfg.pin && cfg.cpus.is_none() {
        // Worker i on the i-th allowed CPU, wrapping when there are more queues than CPUs.
        cfg.cpus = sys::allowed_cpus().ok().filter(|c| !c.is_empty());
    }
    let mtu = sys::interface_mtu(&cfg.iface).unwrap_or(1500);
    // A UMEM frame holds XDP_PACKET_HEADROOM (256) before the packet in copy mode.
    let chunk: u32 = if mtu + 18 + 256 <= 2048 { 2048 } else { 4096 };
    let total = FRAMES as u64 * chunk as u64 * queues as u64;
    if total > cfg.max_memory {
        return Err(Error::Config(format!(
            "AF_XDP needs {} of UMEM ({queues} queues x {FRAMES} frames x {chunk} bytes), above --max-memory {}",
            crate::stats::human_bytes(total),
            crate::stats::human_bytes(cfg.max_memory)
        )));
    }

    // Refuse early, before any socket exists, if another program is attached.
    let state = attach::query(ifindex)?;
    if state.attached != sys::netlink::XDP_ATTACHED_NONE {
        return Err(attach::foreign_error(&cfg.iface, &state));
    }

    // Before any socket or attachment: a filter the kernel refuses leaves nothing behind.
    let in_kernel = if cfg.xdp.user_filter {
        None
    } else {
        cfg.filter.as_ref()
    };
    // The XDP program only says match or not: what a match keeps must be one length.
    let snaplen =
        match in_kernel.map(ringcap_filter::ebpf::accept_length) {
            None => cfg.snaplen,
            Some(Some(keep)) => cfg.snaplen.min(keep),
            Some(None) => return Err(Error::Xdp(
                "the filter keeps different lengths of different frames, which the XDP program \
                 cannot say; use --xdp-filter user"
                    .into(),
            )),
        };
    let prog = program::load(queues, in_kernel)?;
    let xcfg = xsk::XskConfig {
        frames: FRAMES,
        chunk,
        zero_copy: cfg.xdp.zero_copy,
        busy_poll: cfg.xdp.busy_poll,
    };
    let mut socks = Vec::with_capacity(queues as usize);
    for q in 0..queues {
        socks.push(xsk::open(&cfg.iface, ifindex, q, &xcfg)?);
    }
    let attachment = Attachment::attach(
        &cfg.iface,
        ifindex,
        prog.prog,
        prog.id,
        cfg.xdp.native,
        cfg.promisc,
    )?;
    // --xdp-filter user: the same interpreter `ringcap read` uses, over every redirected frame.
    let filter: Option<Arc<ringcap_filter::Program>> = match cfg.xdp.user_filter {
        true => cfg.filter.clone().map(Arc::new),
        false => None,
    };
    let sources: Vec<Box<dyn Source>> = socks
        .into_iter()
        .enumerate()
        .map(|(q, sock)| {
            let filtered = Arc::new(AtomicU64::new(0));
            Box::new(XdpSource {
                probe: Arc::new(XdpProbe {
                    sock: sock.fd().clone(),
                    counters: prog.counters.clone(),
                    passed: prog.passed.clone(),
                    queue: q as u32,
                    filtered: filtered.clone(),
                    last: Mutex::new(Last::default()),
                }),
                sock,
                xskmap: prog.xskmap.clone(),
                queue: q as u32,
                filter: filter.clone(),
                snaplen,
                filtered,
                busy_poll: cfg.xdp.busy_poll,
            }) as Box<dyn Source>
        })
        .collect();
    Ok(Capture::from_sources(
        cfg,
        sources,
        Some(Box::new(attachment)),
    ))
}

struct XdpSource {
    sock: Xsk,
    xskmap: Arc<OwnedFd>,
    queue: u32,
    filter: Option<Arc<ringcap_filter::Program>>,
    snaplen: u32,
    filtered: Arc<AtomicU64>,
    busy_poll: bool,
    probe: Arc<XdpProbe>,
}

#[inline]
fn pkttype(data: &[u8]) -> u8 {
    match data.first() {
        Some(_) if data[..6.min(data.len())].iter().all(|&b| b == 0xff) => {
            sys::packet::PACKET_BROADCAST
        }
        Some(b) if b & 1 != 0 => sys::packet::PACKET_MULTICAST,
        _ => sys::packet::PACKET_HOST,
    }
}

impl XdpSource {
    /// Hands up to `N` received frames that pass the filter to `f` as one batch.
    ///
    /// Each descriptor is read once (by the ring's batch, which also queues its frame for the
    /// fill ring). The packet array is initialised whole, so it is sized to the batch: a lone
    /// frame at a low rate pays for a few entries, not for 64.
    #[inline]
    fn deliver<const N: usize>(&mut self, f: &mut dyn FnMut(Batch<'_>, bool)) {
        let ts = sys::realtime_ns();
        let frames = self.sock.ready(N as u32);
        let empty = Packet::new(0, 0, None, 0, 0, &[]);
        let mut pkts = [empty; N];
        let mut kept = 0usize;
        let mut rejected = 0u64;
        for data in frames {
            let len = data.len() as u32;
            let keep = match &self.filter {
                // Raw frames carry their VLAN tags, so no kernel metadata is needed.
                Some(prog) => prog.run(data, len, &ringcap_filter::Aux::default()),
                None => u32::MAX,
            };
            if keep == 0 {
                rejected += 1;
                continue;
            }
            let cap = len.min(self.snaplen).min(keep) as usize;
            pkts[kept] = Packet::new(ts, len, None, 0, pkttype(data), &data[..cap]);
            kept += 1;
        }
        if rejected > 0 {
            self.filtered.fetch_add(rejected, Ordering::Relaxed);
        }
        if kept > 0 {
            f(Batch::from_slice(&pkts[..kept]), false);
        }
    }
}

impl Source for XdpSource {
    #[inline]
    fn with_batch(
        &mut self,
        f: &mut dyn FnMut(Batch<'_>, bool),
    ) -> std::result::Result<bool, sys::Error> {
        let n = self.sock.available(BATCH as u32) as usize;
        match n {
            0 => return Ok(false),
            n if n <= SMALL_BATCHES[0] => self.deliver::<{ SMALL_BATCHES[0] }>(f),
            n if n <= SMALL_BATCHES[1] => self.deliver::<{ SMALL_BATCHES[1] }>(f),
            _ => self.deliver::<BATCH>(f),
        }
        self.sock.release();
        Ok(true)
    }

    fn wait(&mut self, timeout_ms: i32) -> Wait {
        if self.busy_poll {
            // recvfrom runs the driver's NAPI loop in this thread (busy polling).
            if let Err(e) = self.sock.wakeup() {
                return gone_or_idle(e);
            }
            if self.sock.available(1) > 0 {
                return Wait::Ready;
            }
        }
        match sys::poll(self.sock.fd().as_fd(), Event::Readable, timeout_ms) {
            Ok(Polled::Failed) => match sys::socket_error(self.sock.fd().as_fd()) {
                Ok(None) => Wait::Idle,
                Ok(Some(errno)) => Wait::Gone(sys::Error::from_errno("poll(AF_XDP)", errno)),
                Err(_) => Wait::Gone(sys::Error::from_errno("poll(AF_XDP)", Errno::ENETDOWN)),
            },
            Ok(Polled::TimedOut) => {
                // An AF_XDP socket's poll never reports POLLERR: when its interface goes away
                // the kernel unbinds it and only sets SO_ERROR (ENETDOWN). Look when idle.
                match sys::socket_error(self.sock.fd().as_fd()) {
                    Ok(None) => Wait::Idle,
                    Ok(Some(errno)) => Wait::Gone(sys::Error::from_errno("AF_XDP socket", errno)),
                    Err(e) => Wait::Gone(e),
                }
            }
            Ok(Polled::Ready) => {
                // Woken for a handful of frames: let more gather before taking them, so a
                // moderate rate costs one wakeup per ~50 µs instead of one per NAPI poll (the
                // user-space counterpart of interrupt moderation; bounded extra latency, and no
                // risk to a ring of thousands of frames).
                if !self.busy_poll && self.sock.available(BATCH as u32) < (BATCH / 4) as u32 {
                    std::thread::sleep(COALESCE);
                }
                Wait::Ready
            }
            Err(e) => Wait::Gone(e),
        }
    }

    fn start_intake(&mut self, _cfg: &Config) -> Result<()> {
        let fd = self.sock.fd().as_raw_fd() as u32;
        bpf::map_update(
            self.xskmap.as_fd(),
            &self.queue.to_ne_bytes(),
            &fd.to_ne_bytes(),
            bpf::BPF_ANY,
        )
        .map_err(|e| {
            Error::Xdp(format!(
                "inserting the AF_XDP socket of queue {} into the XSKMAP: {e}",
                self.queue
            ))
        })?;
        // A first kick, in case the kernel wants one before it uses the fill ring.
        if self.sock.needs_wakeup() {
            let _ = self.sock.wakeup();
        }
        Ok(())
    }

    fn stop_intake(&mut self) -> Result<()> {
        match bpf::map_delete(self.xskmap.as_fd(), &self.queue.to_ne_bytes()) {
            Ok(()) => Ok(()),
            Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn drain_time(&self) -> Duration {
        // After the XSKMAP entry is gone, frames already redirected are in the ring within the
        // driver's NAPI poll (microseconds); keep a margin for a descheduled softirq.
        Duration::from_millis(30)
    }

    fn probe(&self) -> Arc<dyn KernelProbe> {
        self.probe.clone()
    }
}

fn gone_or_idle(e: sys::Error) -> Wait {
    match e.errno() {
        Some(Errno::ENETDOWN) | Some(Errno::ENXIO) | Some(Errno::ENODEV) => Wait::Gone(e),
        _ => Wait::Idle,
    }
}

#[derive(Default)]
struct Last {
    packets: u64,
    drops: u64,
    redirected: u64,
    filtered: u64,
    passed: u64,
    stats: sys::xdp::Statistics,
}

/// One queue's kernel-side counts: the program's counter, XDP_STATISTICS (cumulative, so the
/// probe adds what changed since its last read), and the user-space filter's rejections.
struct XdpProbe {
    sock: Arc<OwnedFd>,
    counters: Arc<OwnedFd>,
    /// The kernel filter's count of frames it left to the host (`None`: no kernel filter).
    passed: Option<program::Passed>,
    queue: u32,
    filtered: Arc<AtomicU64>,
    last: Mutex<Last>,
}

fn add_extra(t: &mut KernelTotals, name: &'static str, v: u64) {
    match t.extra.iter_mut().find(|(n, _)| *n == name) {
        Some(e) => e.1 = e.1.wrapping_add(v),
        None => t.extra.push((name, v)),
    }
}

impl KernelProbe for XdpProbe {
    fn collect(&self, t: &mut KernelTotals) -> std::result::Result<(), sys::Error> {
        // Filtered first: every filtered frame was redirected before, so this order never
        // counts a filtered frame whose redirect is not counted yet.
        let filtered = self.filtered.load(Ordering::Relaxed);
        let s = sys::xdp::statistics(self.sock.as_fd())?;
        let redirected = program::redirected(&self.counters, self.queue)?;
        let passed = match &self.passed {
            Some(p) => program::passed(p, self.queue)?,
            None => 0,
        };
        let packets = redirected.wrapping_sub(filtered);
        let drops = s.rx_ring_full.wrapping_add(s.rx_dropped);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        t.packets = t.packets.wrapping_add(packets.wrapping_sub(last.packets));
        t.drops = t.drops.wrapping_add(drops.wrapping_sub(last.drops));
        add_extra(
            t,
            "xdp_redirected",
            redirected.wrapping_sub(last.redirected),
        );
        if self.passed.is_some() {
            add_extra(t, "xdp_passed", passed.wrapping_sub(last.passed));
        } else {
            add_extra(t, "xdp_filtered", filtered.wrapping_sub(last.filtered));
        }
        add_extra(
            t,
            "rx_dropped",
            s.rx_dropped.wrapping_sub(last.stats.rx_dropped),
        );
        add_extra(
            t,
            "rx_ring_full",
            s.rx_ring_full.wrapping_sub(last.stats.rx_ring_full),
        );
        add_extra(
            t,
            "rx_fill_ring_empty_descs",
            s.rx_fill_ring_empty_descs
                .wrapping_sub(last.stats.rx_fill_ring_empty_descs),
        );
        add_extra(
            t,
            "rx_invalid_descs",
            s.rx_invalid_descs.wrapping_sub(last.stats.rx_invalid_descs),
        );
        *last = Last {
            packets,
            drops,
            redirected,
            filtered,
            passed,
            stats: s,
        };
        Ok(())
    }
}
