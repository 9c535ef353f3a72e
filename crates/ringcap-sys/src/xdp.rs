//! The AF_XDP ABI from `<linux/if_xdp.h>`: the socket, UMEM registration, ring sizes, the ring
//! mappings and their producer/consumer protocol, bind, statistics and busy-poll options.
//!
//! Lifecycle of one socket (as the kernel requires it): `socket` → [`register_umem`] →
//! [`set_ring_size`] for the fill, completion and RX rings → [`mmap_offsets`] → [`Ring::map`]
//! each ring → [`bind`] to (interface, queue) → insert into an XSKMAP. Dropping the rings unmaps
//! them; closing the socket unbinds it and removes it from any XSKMAP.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::AtomicU32;

use crate::{cvt, getsockopt, setsockopt, Error, Mmap, Pod, Result};

pub const AF_XDP: i32 = 44;
pub const SOL_XDP: i32 = 283;

pub const XDP_MMAP_OFFSETS: i32 = 1;
pub const XDP_RX_RING: i32 = 2;
pub const XDP_TX_RING: i32 = 3;
pub const XDP_UMEM_REG: i32 = 4;
pub const XDP_UMEM_FILL_RING: i32 = 5;
pub const XDP_UMEM_COMPLETION_RING: i32 = 6;
pub const XDP_STATISTICS: i32 = 7;
pub const XDP_OPTIONS: i32 = 8;

pub const XDP_OPTIONS_ZEROCOPY: u32 = 1 << 0;

// sockaddr_xdp flags.
pub const XDP_SHARED_UMEM: u16 = 1 << 0;
pub const XDP_COPY: u16 = 1 << 1;
pub const XDP_ZEROCOPY: u16 = 1 << 2;
pub const XDP_USE_NEED_WAKEUP: u16 = 1 << 3;

/// Ring flag: the kernel wants a syscall (poll/recvfrom) to resume work on this ring.
pub const XDP_RING_NEED_WAKEUP: u32 = 1 << 0;

// mmap page offsets of the rings.
pub const XDP_PGOFF_RX_RING: i64 = 0;
pub const XDP_PGOFF_TX_RING: i64 = 0x8000_0000;
pub const XDP_UMEM_PGOFF_FILL_RING: i64 = 0x1_0000_0000;
pub const XDP_UMEM_PGOFF_COMPLETION_RING: i64 = 0x1_8000_0000;

pub const SO_BUSY_POLL: i32 = 46;
pub const SO_PREFER_BUSY_POLL: i32 = 69;
pub const SO_BUSY_POLL_BUDGET: i32 = 70;

/// `struct xdp_umem_reg` (with the tx_metadata_len field, which must be zero here).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct UmemReg {
    pub addr: u64,
    pub len: u64,
    pub chunk_size: u32,
    pub headroom: u32,
    pub flags: u32,
    pub tx_metadata_len: u32,
}
// SAFETY: repr(C) of integers without padding.
unsafe impl Pod for UmemReg {}

/// `struct xdp_ring_offset`: where producer, consumer, descriptors and flags sit in a ring's
/// mapping.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RingOffset {
    pub producer: u64,
    pub consumer: u64,
    pub desc: u64,
    pub flags: u64,
}

/// `struct xdp_mmap_offsets`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MmapOffsets {
    pub rx: RingOffset,
    pub tx: RingOffset,
    pub fr: RingOffset,
    pub cr: RingOffset,
}
// SAFETY: repr(C) of u64s.
unsafe impl Pod for MmapOffsets {}

/// `struct xdp_statistics`: cumulative for the socket's life (reading does not reset them).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Frames dropped for other reasons (copy mode: no free UMEM frame, or a frame too large).
    pub rx_dropped: u64,
    /// Invalid descriptors on the RX and fill rings (not frames).
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the kernel found the fill ring empty when it needed a buffer.
    pub rx_fill_ring_empty_descs: u64,
    pub tx_ring_empty_descs: u64,
}
// SAFETY: repr(C) of u64s.
unsafe impl Pod for Statistics {}

/// `struct xdp_desc`: a frame in the UMEM (RX and TX rings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub options: u32,
}

/// `struct sockaddr_xdp`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct SockaddrXdp {
    family: u16,
    flags: u16,
    ifindex: u32,
    queue_id: u32,
    shared_umem_fd: u32,
}

/// Opens an AF_XDP socket (close-on-exec).
pub fn socket() -> Result<OwnedFd> {
    crate::socket(AF_XDP, libc::SOCK_RAW, 0)
}

/// XDP_UMEM_REG: registers `umem` as the socket's packet buffer, cut into `chunk_size` frames
/// (a power of two between 2048 and the page size for aligned mode), each with `headroom` bytes
/// reserved in front of the packet.
pub fn register_umem(
    fd: BorrowedFd<'_>,
    umem: &Mmap,
    chunk_size: u32,
    headroom: u32,
) -> Result<()> {
    let reg = UmemReg {
        addr: umem.as_ptr() as u64,
        len: umem.len() as u64,
        chunk_size,
        headroom,
        flags: 0,
        tx_metadata_len: 0,
    };
    // The kernel pins the pages of `umem`; it keeps them until the socket closes, so the caller
    // must keep the mapping alive at least that long (and unmap it only after closing).
    setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg)
}

/// Sets the size of one ring (XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING,
/// XDP_TX_RING); a power of two.
pub fn set_ring_size(fd: BorrowedFd<'_>, ring: i32, entries: u32) -> Result<()> {
    setsockopt(fd, SOL_XDP, ring, &entries)
}

/// XDP_MMAP_OFFSETS: the layout of every ring's mapping.
pub fn mmap_offsets(fd: BorrowedFd<'_>) -> Result<MmapOffsets> {
    getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS)
}

/// XDP_STATISTICS.
pub fn statistics(fd: BorrowedFd<'_>) -> Result<Statistics> {
    getsockopt(fd, SOL_XDP, XDP_STATISTICS)
}

/// Whether the bound socket runs in zero-copy mode (XDP_OPTIONS).
pub fn is_zero_copy(fd: BorrowedFd<'_>) -> Result<bool> {
    let flags: u32 = getsockopt(fd, SOL_XDP, XDP_OPTIONS)?;
    Ok(flags & XDP_OPTIONS_ZEROCOPY != 0)
}

/// Binds the socket to one RX queue of an interface. `flags`: XDP_COPY or XDP_ZEROCOPY (or
/// neither: zero-copy if the driver can, else copy), XDP_USE_NEED_WAKEUP.
pub fn bind(fd: BorrowedFd<'_>, ifindex: u32, queue_id: u32, flags: u16) -> Result<()> {
    let sa = SockaddrXdp {
        family: AF_XDP as u16,
        flags,
        ifindex,
        queue_id,
        shared_umem_fd: 0,
    };
    // SAFETY: sa is a valid sockaddr_xdp and its size is passed with it.
    cvt(
        unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sa as *const SockaddrXdp as *const libc::sockaddr,
                size_of::<SockaddrXdp>() as libc::socklen_t,
            )
        },
        "bind(AF_XDP)",
    )
    .map(drop)
}

/// Kicks the kernel to process the socket's rings (`recvfrom(fd, NULL, 0, MSG_DONTWAIT)`), as
/// needed when the fill ring carries XDP_RING_NEED_WAKEUP; with busy polling this also runs the
/// driver's NAPI loop in this thread.
pub fn wakeup_rx(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: a NULL buffer of length 0 and no address are valid arguments.
    let ret = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if ret < 0 {
        let e = Error::last("recvfrom(AF_XDP)");
        if matches!(
            e.errno(),
            Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::EINTR) | Some(libc::ENOBUFS)
        ) {
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}

/// Busy polling for this socket: SO_PREFER_BUSY_POLL, SO_BUSY_POLL (µs) and
/// SO_BUSY_POLL_BUDGET (packets per poll). Setting a budget above the default needs
/// CAP_NET_ADMIN.
pub fn set_busy_poll(fd: BorrowedFd<'_>, usecs: i32, budget: i32) -> Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, SO_PREFER_BUSY_POLL, &1i32)?;
    setsockopt(fd, libc::SOL_SOCKET, SO_BUSY_POLL, &usecs)?;
    setsockopt(fd, libc::SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget)
}

/// One mapped AF_XDP ring: a producer and a consumer index (free-running u32s), a flags word,
/// and `size` descriptors (8-byte addresses for fill/completion, [`Desc`] for RX/TX).
///
/// The protocol: the producer writes descriptors, then publishes them with a release store of
/// the producer index; the consumer reads the producer index with acquire, reads the
/// descriptors, then frees them with a release store of the consumer index. Each side writes
/// only its own index, so one user-space thread per ring needs no locking.
pub struct Ring {
    map: Mmap,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    mask: u32,
    desc_size: usize,
}

impl Ring {
    /// Maps a ring of `entries` (as set with [`set_ring_size`]) whose descriptors are
    /// `desc_size` bytes (8 or 16), at page offset `pgoff` (XDP_PGOFF_RX_RING, ...).
    pub fn map(
        fd: BorrowedFd<'_>,
        off: &RingOffset,
        entries: u32,
        desc_size: usize,
        pgoff: i64,
    ) -> Result<Ring> {
        if !entries.is_power_of_two() || !(desc_size == 8 || desc_size == 16) {
            return Err(Error::from_errno("mmap(AF_XDP ring)", libc::EINVAL));
        }
        let len = off.desc as usize + entries as usize * desc_size;
        let map = Mmap::shared(fd, len, pgoff)?;
        let ring = Ring {
            map,
            producer: off.producer as usize,
            consumer: off.consumer as usize,
            flags: off.flags as usize,
            desc: off.desc as usize,
            mask: entries - 1,
            desc_size,
        };
        // Validate the offsets once (atomic_u32 asserts range and alignment).
        let _ = (ring.producer(), ring.consumer(), ring.flags());
        Ok(ring)
    }

    pub fn size(&self) -> u32 {
        self.mask + 1
    }

    pub fn producer(&self) -> &AtomicU32 {
        self.map.atomic_u32(self.producer)
    }

    pub fn consumer(&self) -> &AtomicU32 {
        self.map.atomic_u32(self.consumer)
    }

    pub fn flags(&self) -> &AtomicU32 {
        self.map.atomic_u32(self.flags)
    }

    fn slot(&self, idx: u32) -> *mut u8 {
        let off = self.desc + (idx & self.mask) as usize * self.desc_size;
        // SAFETY: idx is masked to the ring size, so off + desc_size is inside the mapping
        // (its length is desc + entries * desc_size); the pointer stays in the allocation.
        unsafe { self.map.as_ptr().add(off) }
    }

    /// Reads the RX/TX descriptor at (free-running) index `idx`. Call only for indices between
    /// the consumer and the producer read with acquire: the kernel does not write them then.
    #[inline]
    pub fn read_desc(&self, idx: u32) -> Desc {
        debug_assert_eq!(self.desc_size, 16);
        let p = self.slot(idx);
        // SAFETY: p is in the mapping and 8-aligned (desc offsets are cache-line aligned and
        // slots are 16 bytes); the slot is owned by the consumer per the ring protocol, and a
        // volatile read keeps the compiler from assuming anything about shared memory.
        unsafe {
            Desc {
                addr: std::ptr::read_volatile(p as *const u64),
                len: std::ptr::read_volatile(p.add(8) as *const u32),
                options: std::ptr::read_volatile(p.add(12) as *const u32),
            }
        }
    }

    /// Writes the address at index `idx` of a fill ring. Call only for indices between the
    /// producer and consumer + size: the kernel does not read them until the producer moves.
    #[inline]
    pub fn write_addr(&self, idx: u32, addr: u64) {
        debug_assert_eq!(self.desc_size, 8);
        let p = self.slot(idx);
        // SAFETY: p is in the mapping and 8-aligned; the slot belongs to the producer (us)
        // until the release store of the producer index publishes it.
        unsafe { std::ptr::write_volatile(p as *mut u64, addr) }
    }

    /// Reads the address at index `idx` of a completion ring (same rule as [`Ring::read_desc`]).
    #[inline]
    pub fn read_addr(&self, idx: u32) -> u64 {
        debug_assert_eq!(self.desc_size, 8);
        let p = self.slot(idx);
        // SAFETY: as for read_desc.
        unsafe { std::ptr::read_volatile(p as *const u64) }
    }
}

/// Active RX queues of an interface from ethtool's ETHTOOL_GCHANNELS (rx + combined channels).
/// Errors with EOPNOTSUPP when the driver does not report channels.
pub fn rx_channels(ifname: &str) -> Result<u32> {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_GCHANNELS: u32 = 0x3c;
    // struct ethtool_channels: cmd, max_rx, max_tx, max_other, max_combined, rx_count,
    // tx_count, other_count, combined_count.
    let mut ch = [0u32; 9];
    ch[0] = ETHTOOL_GCHANNELS;
    crate::ioctl_ifreq_data(
        ifname,
        SIOCETHTOOL,
        ch.as_mut_ptr() as *mut libc::c_void,
        "ioctl(ETHTOOL_GCHANNELS)",
    )?;
    Ok(ch[5] + ch[8])
}
