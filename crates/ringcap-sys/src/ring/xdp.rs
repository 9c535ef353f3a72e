//! The rings of one AF_XDP socket, typed by what their entries are, and the receive side built
//! on them: setup, map, ready, release, teardown.
//!
//! Each ring is a mapping with a producer and a consumer index (free-running u32s), a flags
//! word and a power-of-two array of entries: UMEM addresses (`u64`) on the fill and completion
//! rings, [`Desc`]riptors on the RX and TX rings. The producer writes entries, then publishes
//! them with a release store of the producer index; the consumer reads the producer index with
//! acquire, reads the entries, then frees them with a release store of the consumer index.
//! Each side writes only its own index, so one user-space thread per ring needs no locking.
//!
//! [`Ring::read`] and [`Ring::write`] mask the index to the ring size, so whatever index they
//! get they stay inside the mapping; reading an entry the kernel has not published yet gives a
//! stale value, never undefined behaviour (entries are plain integers, read volatile).

use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::umem::Umem;
use super::Mmap;
use crate::xdp::{
    self as x, Desc, RingOffset, XDP_PGOFF_RX_RING, XDP_RING_NEED_WAKEUP,
    XDP_UMEM_PGOFF_COMPLETION_RING, XDP_UMEM_PGOFF_FILL_RING,
};
use crate::{Errno, Error, Result};

mod sealed {
    pub trait Sealed {}
}

/// What an AF_XDP ring holds: a UMEM address (`u64`, fill and completion rings) or a
/// [`Desc`] (RX and TX rings). Sealed: the layouts are the kernel's.
pub trait Entry: Copy + sealed::Sealed {
    /// Bytes per entry in the ring.
    const SIZE: usize;
    #[doc(hidden)]
    fn read_from(ring: &Ring<Self>, idx: u32) -> Self;
    #[doc(hidden)]
    fn write_to(ring: &mut Ring<Self>, idx: u32, v: Self);
}

impl sealed::Sealed for u64 {}
impl sealed::Sealed for Desc {}

impl Entry for u64 {
    const SIZE: usize = 8;
    #[inline(always)]
    fn read_from(ring: &Ring<u64>, idx: u32) -> u64 {
        let p = ring.entry_ptr(idx);
        // SAFETY: entry_ptr masks the index, so p is inside the mapping with SIZE (8) bytes
        // after it, and 8-aligned (see Ring::map); volatile because the kernel writes there.
        unsafe { std::ptr::read_volatile(p as *const u64) }
    }
    #[inline(always)]
    fn write_to(ring: &mut Ring<u64>, idx: u32, v: u64) {
        let p = ring.entry_ptr(idx);
        // SAFETY: as for read_from; &mut Ring makes this the only writer in this process.
        unsafe { std::ptr::write_volatile(p as *mut u64, v) }
    }
}

impl Entry for Desc {
    const SIZE: usize = 16;
    #[inline(always)]
    fn read_from(ring: &Ring<Desc>, idx: u32) -> Desc {
        let p = ring.entry_ptr(idx);
        // SAFETY: entry_ptr masks the index, so p is inside the mapping with SIZE (16) bytes
        // after it, and 8-aligned (see Ring::map): the u64 at 0 and the u32s at 8 and 12 are in
        // range and aligned; volatile because the kernel writes there.
        unsafe {
            Desc {
                addr: std::ptr::read_volatile(p as *const u64),
                len: std::ptr::read_volatile(p.add(8) as *const u32),
                options: std::ptr::read_volatile(p.add(12) as *const u32),
            }
        }
    }
    #[inline(always)]
    fn write_to(ring: &mut Ring<Desc>, idx: u32, v: Desc) {
        let p = ring.entry_ptr(idx);
        // SAFETY: as for read_from; &mut Ring makes this the only writer in this process.
        unsafe {
            std::ptr::write_volatile(p as *mut u64, v.addr);
            std::ptr::write_volatile(p.add(8) as *mut u32, v.len);
            std::ptr::write_volatile(p.add(12) as *mut u32, v.options);
        }
    }
}

/// One mapped AF_XDP ring of `T` entries.
pub struct Ring<T: Entry> {
    map: Mmap,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    mask: u32,
    _entry: PhantomData<T>,
}

impl<T: Entry> Ring<T> {
    /// map: maps a ring of `entries` (as sized at setup) at page offset `pgoff`
    /// (XDP_PGOFF_RX_RING, ...), laid out as the kernel's `off` says. Refuses (EINVAL) a layout
    /// whose indices or entries would fall outside the mapping or be misaligned.
    pub fn map(fd: BorrowedFd<'_>, off: &RingOffset, entries: u32, pgoff: i64) -> Result<Self> {
        let einval = || Error::from_errno("mmap(AF_XDP ring)", Errno::EINVAL);
        if !entries.is_power_of_two() || !off.desc.is_multiple_of(8) {
            return Err(einval());
        }
        let desc = usize::try_from(off.desc).map_err(|_| einval())?;
        let len = (entries as usize)
            .checked_mul(T::SIZE)
            .and_then(|n| n.checked_add(desc))
            .ok_or_else(einval)?;
        let word = |o: u64| {
            usize::try_from(o)
                .ok()
                .filter(|&o| o.is_multiple_of(4) && o.checked_add(4).is_some_and(|end| end <= len))
                .ok_or_else(einval)
        };
        let (producer, consumer, flags) =
            (word(off.producer)?, word(off.consumer)?, word(off.flags)?);
        let map = Mmap::shared(fd, len, pgoff)?;
        Ok(Ring {
            map,
            producer,
            consumer,
            flags,
            desc,
            mask: entries - 1,
            _entry: PhantomData,
        })
    }

    pub fn size(&self) -> u32 {
        self.mask + 1
    }

    #[inline]
    pub fn producer(&self) -> &AtomicU32 {
        self.map.atomic_u32(self.producer)
    }

    #[inline]
    pub fn consumer(&self) -> &AtomicU32 {
        self.map.atomic_u32(self.consumer)
    }

    #[inline]
    pub fn flags(&self) -> &AtomicU32 {
        self.map.atomic_u32(self.flags)
    }

    /// The entry at (free-running) index `idx`, masked to the ring. Meaningful for indices
    /// between the consumer and the producer read with acquire (the kernel does not write
    /// them then).
    #[inline(always)]
    pub fn read(&self, idx: u32) -> T {
        T::read_from(self, idx)
    }

    /// Writes the entry at (free-running) index `idx`, masked to the ring. Meaningful for
    /// indices between the producer and consumer + size: the kernel does not read them until
    /// the producer index moves past them.
    #[inline(always)]
    pub fn write(&mut self, idx: u32, v: T) {
        T::write_to(self, idx, v)
    }

    /// A pointer to the entry at index `idx`, masked to the ring: the entry's bytes end at most
    /// at `desc + entries * T::SIZE`, the mapping's length (checked in map).
    #[inline(always)]
    fn entry_ptr(&self, idx: u32) -> *mut u8 {
        let off = self.desc + (idx & self.mask) as usize * T::SIZE;
        debug_assert!(off + T::SIZE <= self.map.len());
        // SAFETY: off is inside the mapping (see above), so the pointer stays in the allocation.
        unsafe { self.map.as_ptr().add(off) }
    }
}

/// An AF_XDP socket with its UMEM registered and ring sizes set, nothing mapped yet.
pub struct XskSetup {
    fd: OwnedFd,
    umem: Umem,
}

/// The receive side of one AF_XDP socket: its UMEM, and fill, completion and RX rings with one
/// entry per UMEM frame.
///
/// Frame accounting: every frame is always in one of three places: the fill ring, the kernel
/// or RX ring, or the batch being read. A frame read from the RX ring goes back to the fill
/// ring when its batch is released, so the fill ring never overflows and no free list is needed.
pub struct Xsk {
    // Field order is drop order: unmap the rings, close the socket, then unmap the UMEM (the
    // kernel holds its pages until the socket is gone).
    rx: Ring<Desc>,
    fill: Ring<u64>,
    _comp: Ring<u64>,
    fd: Arc<OwnedFd>,
    umem: Umem,
    chunk_mask: u64,
    rx_cons: u32,
    fill_prod: u32,
    /// Descriptors of the current batch (from `ready` to `release`), and how many of them
    /// already have their frame's address written to the fill ring.
    taken: u32,
    refilled: u32,
}

impl Xsk {
    /// setup: registers `umem` with the AF_XDP socket `fd` ([`x::socket`]) and sizes its fill,
    /// completion and RX rings to one entry per UMEM frame. The failed step is the error's
    /// `call`: `setsockopt(XDP_UMEM_REG)` (often the locked-memory limit) or
    /// `setsockopt(XDP ring size)`.
    pub fn setup(fd: OwnedFd, umem: Umem) -> Result<XskSetup> {
        umem.register(fd.as_fd())?;
        let frames = umem.frames();
        if !frames.is_power_of_two() {
            return Err(Error::from_errno(
                "setsockopt(XDP ring size)",
                Errno::EINVAL,
            ));
        }
        for ring in [
            x::XDP_UMEM_FILL_RING,
            x::XDP_UMEM_COMPLETION_RING,
            x::XDP_RX_RING,
        ] {
            x::set_ring_size(fd.as_fd(), ring, frames).map_err(|e| Error {
                call: "setsockopt(XDP ring size)",
                source: e.source,
            })?;
        }
        Ok(XskSetup { fd, umem })
    }

    pub fn fd(&self) -> &Arc<OwnedFd> {
        &self.fd
    }

    /// Binds the socket to one RX queue of an interface. `flags`: XDP_COPY or XDP_ZEROCOPY (or
    /// neither: zero-copy if the driver can, else copy), XDP_USE_NEED_WAKEUP.
    pub fn bind(&self, ifindex: u32, queue: u32, flags: u16) -> Result<()> {
        x::bind(self.fd.as_fd(), ifindex, queue, flags)
    }

    /// Descriptors waiting in the RX ring (up to `max`), without taking them.
    #[inline]
    pub fn available(&self, max: u32) -> u32 {
        let prod = self.rx.producer().load(Ordering::Acquire);
        prod.wrapping_sub(self.rx_cons).min(max)
    }

    /// ready: up to `max` received frames, as a batch that borrows the socket until it is
    /// dropped; then [`Xsk::release`] hands them back. Calling `ready` again before `release`
    /// starts over at the same first frame.
    #[inline]
    pub fn ready(&mut self, max: u32) -> RxBatch<'_> {
        let n = self.available(max);
        self.taken = n;
        self.refilled = 0;
        RxBatch {
            rx: &self.rx,
            fill: &mut self.fill,
            umem: &self.umem,
            chunk_mask: self.chunk_mask,
            rx_cons: self.rx_cons,
            fill_prod: self.fill_prod,
            next: 0,
            n,
            refilled: &mut self.refilled,
        }
    }

    /// release: gives every frame of the last batch back (their addresses go to the fill ring,
    /// then the RX slots are freed), and wakes the kernel if it asked for it.
    #[inline]
    pub fn release(&mut self) {
        let n = self.taken;
        if n == 0 {
            return;
        }
        // Frames the batch's reader did not look at.
        for i in self.refilled..n {
            let d = self.rx.read(self.rx_cons.wrapping_add(i));
            self.fill
                .write(self.fill_prod.wrapping_add(i), d.addr & self.chunk_mask);
        }
        self.fill_prod = self.fill_prod.wrapping_add(n);
        self.fill
            .producer()
            .store(self.fill_prod, Ordering::Release);
        self.rx_cons = self.rx_cons.wrapping_add(n);
        self.rx.consumer().store(self.rx_cons, Ordering::Release);
        self.taken = 0;
        self.refilled = 0;
        if self.needs_wakeup() {
            let _ = x::wakeup_rx(self.fd.as_fd());
        }
    }

    /// The kernel asked for a syscall to go on filling the RX ring (XDP_RING_NEED_WAKEUP).
    #[inline]
    pub fn needs_wakeup(&self) -> bool {
        self.fill.flags().load(Ordering::Relaxed) & XDP_RING_NEED_WAKEUP != 0
    }

    /// Kicks the kernel ([`x::wakeup_rx`]).
    pub fn wakeup(&self) -> Result<()> {
        x::wakeup_rx(self.fd.as_fd())
    }

    /// teardown: unmaps the rings, drops this socket reference (closing it, which unbinds it
    /// and takes it out of any XSKMAP, once the last reference goes), then frees the UMEM.
    /// Dropping does the same.
    pub fn teardown(self) {}
}

impl XskSetup {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// map: maps the fill, completion and RX rings and puts every UMEM frame on the fill ring,
    /// so the first packets after bind find buffers. The error's `call` names the ring.
    pub fn map(self) -> Result<Xsk> {
        let XskSetup { fd, umem } = self;
        let frames = umem.frames();
        let off = x::mmap_offsets(fd.as_fd())?;
        let named = |call: &'static str| {
            move |e: Error| Error {
                call,
                source: e.source,
            }
        };
        let rx = Ring::<Desc>::map(fd.as_fd(), &off.rx, frames, XDP_PGOFF_RX_RING)
            .map_err(named("mmap(AF_XDP RX ring)"))?;
        let mut fill = Ring::<u64>::map(fd.as_fd(), &off.fr, frames, XDP_UMEM_PGOFF_FILL_RING)
            .map_err(named("mmap(AF_XDP fill ring)"))?;
        let comp = Ring::<u64>::map(fd.as_fd(), &off.cr, frames, XDP_UMEM_PGOFF_COMPLETION_RING)
            .map_err(named("mmap(AF_XDP completion ring)"))?;
        let chunk = umem.chunk() as u64;
        for i in 0..frames {
            fill.write(i, i as u64 * chunk);
        }
        fill.producer().store(frames, Ordering::Release);
        Ok(Xsk {
            rx,
            fill,
            _comp: comp,
            fd: Arc::new(fd),
            umem,
            chunk_mask: !(chunk - 1),
            rx_cons: 0,
            fill_prod: frames,
            taken: 0,
            refilled: 0,
        })
    }
}

/// Received frames of one AF_XDP socket, from [`Xsk::ready`]: each frame's bytes, borrowed
/// from the UMEM until the batch is released.
///
/// Each descriptor is read once: as it is read, its frame's address is written to the fill
/// ring slot it will go back to (the kernel does not look at it until [`Xsk::release`] moves
/// the producer index), so release has nothing left to read.
pub struct RxBatch<'a> {
    rx: &'a Ring<Desc>,
    fill: &'a mut Ring<u64>,
    umem: &'a Umem,
    chunk_mask: u64,
    rx_cons: u32,
    fill_prod: u32,
    next: u32,
    n: u32,
    refilled: &'a mut u32,
}

impl RxBatch<'_> {
    /// Frames in the batch (taken or not).
    #[inline]
    pub fn len(&self) -> u32 {
        self.n
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl<'a> Iterator for RxBatch<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.next == self.n {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let d = self.rx.read(self.rx_cons.wrapping_add(i));
        self.fill
            .write(self.fill_prod.wrapping_add(i), d.addr & self.chunk_mask);
        *self.refilled = self.next;
        let (addr, len) = (d.addr as usize, d.len as usize);
        if addr
            .checked_add(len)
            .is_none_or(|end| end > self.umem.map.len())
        {
            // A descriptor outside the UMEM would be a kernel bug: an empty frame, not a panic.
            return Some(&[]);
        }
        // SAFETY: the descriptor lies between the consumer index and the producer index read
        // with acquire in `ready`, so the kernel wrote this frame before publishing it and will
        // not write it again until its address is back on the fill ring, which only
        // `Xsk::release` publishes; release takes &mut Xsk, so it cannot run while this
        // borrow, tied to the batch's borrow of the Xsk, is alive. The range is inside the
        // UMEM (checked above).
        Some(unsafe { self.umem.map.bytes(addr, len) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.n - self.next) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for RxBatch<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_refuses_layouts_outside_the_mapping() {
        // Refused before any mmap, so any descriptor will do.
        let f = std::fs::File::open("/dev/null").unwrap();
        let ok = RingOffset {
            producer: 0,
            consumer: 64,
            flags: 128,
            desc: 192,
        };
        let bad = [
            (RingOffset { desc: 196, ..ok }, 8),  // entries misaligned
            (RingOffset { flags: 130, ..ok }, 8), // index word misaligned
            (
                RingOffset {
                    consumer: 1 << 20,
                    ..ok
                },
                8,
            ), // index word past the end
            (ok, 6),                              // not a power of two
        ];
        for (off, entries) in bad {
            let e = Ring::<u64>::map(f.as_fd(), &off, entries, 0).err().unwrap();
            assert_eq!(e.errno(), Some(Errno::EINVAL), "{off:?} x {entries}");
        }
    }

    #[test]
    fn ring_indices_wrap_inside_the_ring() {
        if !crate::ring::can_run("ring_indices_wrap_inside_the_ring") {
            return;
        }
        let umem = Umem::setup(8, 2048).unwrap();
        let fd = x::socket().unwrap();
        let mut xsk = Xsk::setup(fd, umem).unwrap().map().unwrap();
        // Map put every frame on the fill ring, in order.
        assert_eq!(xsk.fill.producer().load(Ordering::Acquire), 8);
        for i in 0..8u32 {
            assert_eq!(xsk.fill.read(i), i as u64 * 2048);
            // Free-running indices: i + size, and i - size (wrapping), are the same slot.
            assert_eq!(xsk.fill.read(i + 8), i as u64 * 2048);
            assert_eq!(xsk.fill.read(i.wrapping_sub(8)), i as u64 * 2048);
        }
        assert_eq!(xsk.fill.read(u32::MAX), 7 * 2048);
        xsk.fill.write(u32::MAX - 8, 12345);
        assert_eq!(xsk.fill.read(7), 12345);
        // Unbound: nothing received; an empty batch and its release change nothing.
        assert_eq!(xsk.available(64), 0);
        assert_eq!(xsk.ready(64).count(), 0);
        xsk.release();
        assert_eq!(xsk.fill.producer().load(Ordering::Acquire), 8);
        xsk.teardown();
    }
}
