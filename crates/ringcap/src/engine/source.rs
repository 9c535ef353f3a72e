//! One worker's receive path behind one trait (ring, recv, and AF_XDP in `crate::xdp`), and
//! the kernel's counters for its socket.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringcap_sys as sys;
use ringcap_sys::packet as pk;
use ringcap_sys::{Errno, Event, Polled};

use super::batch::{Batch, Inner};
use crate::config::Config;
use crate::ring::RxRing;
use crate::socket::{self, RecvSocket};
use crate::Result;

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

pub(super) struct RingSource {
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

impl RingSource {
    /// Sets up the ring on a packet socket that is open but not bound yet.
    pub(super) fn create(fd: Arc<OwnedFd>, cfg: &Config) -> Result<RingSource> {
        Ok(RingSource {
            ring: RxRing::create(fd.clone(), &cfg.geometry)?,
            fd,
            timeout: Duration::from_millis(cfg.geometry.block_timeout_ms as u64),
            bytes_since_wait: 0,
            last_wait: Instant::now(),
            coalesce: cfg.coalesce,
            block_size: cfg.geometry.block_size,
            ring_bytes: cfg.geometry.ring_bytes(),
        })
    }
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
        match sys::poll(self.fd.as_fd(), Event::Readable, timeout_ms) {
            Ok(Polled::Failed) => {
                match sys::socket_error(self.fd.as_fd()).unwrap_or(Some(Errno::ENETDOWN)) {
                    None => Wait::Idle,
                    Some(errno) => Wait::Gone(sys::Error::from_errno("poll", errno)),
                }
            }
            Ok(Polled::TimedOut) => Wait::Idle,
            Ok(Polled::Ready) => Wait::Ready,
            Err(e) => Wait::Gone(e),
        }
    }

    fn start_intake(&mut self, cfg: &Config) -> Result<()> {
        socket::start_intake(&self.fd, cfg.filter.as_ref(), cfg.snaplen)
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

pub(super) struct RecvSource {
    fd: Arc<OwnedFd>,
    sock: RecvSocket,
    draining: bool,
    gone: Option<sys::Error>,
}

impl RecvSource {
    /// Sets up the one-packet-per-`recvmsg` path on a packet socket.
    pub(super) fn create(fd: Arc<OwnedFd>, cfg: &Config) -> Result<RecvSource> {
        Ok(RecvSource {
            sock: RecvSocket::setup(fd.clone(), cfg.snaplen)?,
            fd,
            draining: false,
            gone: None,
        })
    }
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
        socket::start_intake(&self.fd, cfg.filter.as_ref(), cfg.snaplen)
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
