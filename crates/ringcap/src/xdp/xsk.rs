//! One AF_XDP socket bound to one RX queue, with its own UMEM and its fill, completion and RX
//! rings: create the UMEM → register it → size the rings → map them → bind → fill.
//!
//! Frame accounting: the UMEM has exactly as many frames as the fill ring has slots, and every
//! frame is always in one of three places (fill ring, kernel/RX ring, or the batch being read).
//! A frame read from the RX ring goes straight back to the fill ring once its batch is done, so
//! the fill ring never overflows and no free list is needed.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringcap_sys as sys;
use ringcap_sys::xdp::{self as x, Desc, Ring};
use ringcap_sys::Mmap;

use crate::{Error, Result};

/// Size and mode of one socket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XskConfig {
    /// Frames in the UMEM = fill ring = RX ring = completion ring entries (power of two).
    pub frames: u32,
    /// Bytes per UMEM frame (2048 or 4096).
    pub chunk: u32,
    pub zero_copy: bool,
    pub busy_poll: bool,
}

pub(crate) struct Xsk {
    rx: Ring,
    fill: Ring,
    _comp: Ring,
    fd: Arc<OwnedFd>,
    umem: Mmap,
    chunk_mask: u64,
    rx_cons: u32,
    fill_prod: u32,
    pub zero_copy: bool,
}

impl Xsk {
    pub(crate) fn open(ifname: &str, ifindex: u32, queue: u32, c: &XskConfig) -> Result<Xsk> {
        let fd = x::socket().map_err(|e| Error::from_socket(e, "an AF_XDP socket"))?;
        let umem = Mmap::anonymous(c.frames as usize * c.chunk as usize).map_err(|e| {
            Error::Xdp(format!(
                "cannot allocate the UMEM of queue {queue} ({} frames of {} bytes): {e}",
                c.frames, c.chunk
            ))
        })?;
        let ctx = |what: &'static str| {
            move |e: sys::Error| {
                Error::Xdp(format!(
                    "AF_XDP socket for {ifname} queue {queue}: {what}: {e}"
                ))
            }
        };
        x::register_umem(fd.as_fd(), &umem, c.chunk, 0).map_err(ctx(
            "registering the UMEM (XDP_UMEM_REG; locked memory limit?)",
        ))?;
        for ring in [
            x::XDP_UMEM_FILL_RING,
            x::XDP_UMEM_COMPLETION_RING,
            x::XDP_RX_RING,
        ] {
            x::set_ring_size(fd.as_fd(), ring, c.frames).map_err(ctx("sizing the rings"))?;
        }
        let off = x::mmap_offsets(fd.as_fd()).map_err(ctx("XDP_MMAP_OFFSETS"))?;
        let rx = Ring::map(fd.as_fd(), &off.rx, c.frames, 16, x::XDP_PGOFF_RX_RING)
            .map_err(ctx("mapping the RX ring"))?;
        let fill = Ring::map(
            fd.as_fd(),
            &off.fr,
            c.frames,
            8,
            x::XDP_UMEM_PGOFF_FILL_RING,
        )
        .map_err(ctx("mapping the fill ring"))?;
        let comp = Ring::map(
            fd.as_fd(),
            &off.cr,
            c.frames,
            8,
            x::XDP_UMEM_PGOFF_COMPLETION_RING,
        )
        .map_err(ctx("mapping the completion ring"))?;
        if c.busy_poll {
            x::set_busy_poll(fd.as_fd(), 20, 64).map_err(ctx(
                "busy polling (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET)",
            ))?;
        }
        let mut xsk = Xsk {
            rx,
            fill,
            _comp: comp,
            fd: Arc::new(fd),
            umem,
            chunk_mask: !(c.chunk as u64 - 1),
            rx_cons: 0,
            fill_prod: 0,
            zero_copy: false,
        };
        // Give the kernel every frame before binding, so the first packets find buffers.
        for i in 0..c.frames {
            xsk.fill.write_addr(i, i as u64 * c.chunk as u64);
        }
        xsk.fill_prod = c.frames;
        xsk.fill.producer().store(xsk.fill_prod, Ordering::Release);
        let mut flags = x::XDP_USE_NEED_WAKEUP;
        if c.zero_copy {
            flags |= x::XDP_ZEROCOPY;
        }
        // A socket closed a moment ago releases its queue from a kernel work item, after the
        // close returns: EBUSY for a short while is that, not a rival; wait up to a second.
        let mut tries = 0;
        let bound = loop {
            match x::bind(xsk.fd.as_fd(), ifindex, queue, flags) {
                Err(e) if e.errno() == Some(libc::EBUSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => break r,
            }
        };
        bound.map_err(|e| {
            if e.errno() == Some(libc::EBUSY) {
                Error::Xdp(format!(
                    "queue {queue} of {ifname} is already used by another AF_XDP socket (is another capture running on it?)"
                ))
            } else if c.zero_copy && matches!(e.errno(), Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)) {
                Error::Xdp(format!(
                    "--zero-copy: the driver of {ifname} does not support zero-copy AF_XDP on queue {queue} ({e}); run without --zero-copy"
                ))
            } else {
                Error::Xdp(format!("binding the AF_XDP socket to {ifname} queue {queue}: {e}"))
            }
        })?;
        xsk.zero_copy = x::is_zero_copy(xsk.fd.as_fd()).unwrap_or(false);
        Ok(xsk)
    }

    pub(crate) fn fd(&self) -> &Arc<OwnedFd> {
        &self.fd
    }

    /// Descriptors ready in the RX ring (up to `max`), without taking them.
    #[inline]
    pub(crate) fn ready(&self, max: u32) -> u32 {
        let prod = self.rx.producer().load(Ordering::Acquire);
        prod.wrapping_sub(self.rx_cons).min(max)
    }

    /// The `i`-th ready descriptor (i < [`Xsk::ready`]).
    #[inline]
    pub(crate) fn desc(&self, i: u32) -> Desc {
        self.rx.read_desc(self.rx_cons.wrapping_add(i))
    }

    /// The bytes of a received frame.
    #[inline]
    pub(crate) fn frame(&self, d: &Desc) -> &[u8] {
        // SAFETY: `d` came from the RX ring between the consumer index and the producer index
        // read with acquire: the kernel wrote the frame before publishing it and will not write
        // that UMEM frame again until we put its address back on the fill ring in `release`,
        // which takes &mut self and so ends every borrow handed out here. The range is checked
        // against the mapping by `bytes`.
        unsafe { self.umem.bytes(d.addr as usize, d.len as usize) }
    }

    /// Gives the first `n` ready frames back: their frames go to the fill ring, then the RX
    /// slots are freed. Wakes the kernel if it asked for it.
    #[inline]
    pub(crate) fn release(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        for i in 0..n {
            let d = self.rx.read_desc(self.rx_cons.wrapping_add(i));
            self.fill
                .write_addr(self.fill_prod.wrapping_add(i), d.addr & self.chunk_mask);
        }
        self.fill_prod = self.fill_prod.wrapping_add(n);
        self.fill
            .producer()
            .store(self.fill_prod, Ordering::Release);
        self.rx_cons = self.rx_cons.wrapping_add(n);
        self.rx.consumer().store(self.rx_cons, Ordering::Release);
        if self.needs_wakeup() {
            let _ = x::wakeup_rx(self.fd.as_fd());
        }
    }

    #[inline]
    pub(crate) fn needs_wakeup(&self) -> bool {
        self.fill.flags().load(Ordering::Relaxed) & x::XDP_RING_NEED_WAKEUP != 0
    }

    pub(crate) fn wakeup(&self) -> std::result::Result<(), sys::Error> {
        x::wakeup_rx(self.fd.as_fd())
    }
}
