//! The AF_XDP ABI from `<linux/if_xdp.h>`: the socket, ring sizes and offsets, bind,
//! statistics and busy-poll options.
//!
//! Lifecycle of one socket (as the kernel requires it): [`socket`] → register a UMEM and size
//! the fill, completion and RX rings ([`crate::ring::xdp::Xsk::setup`]) → map the rings
//! ([`crate::ring::xdp::XskSetup::map`]) → [`bind`] to (interface, queue) → insert into an
//! XSKMAP. The rings and the UMEM live in [`crate::ring`]; closing the socket unbinds it and
//! removes it from any XSKMAP.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::{cvt, getsockopt, setsockopt, Errno, Error, Pod, Result};

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
#[repr(C)]
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
    crate::socket(AF_XDP, libc::SOCK_RAW, 0).map_err(|e| Error {
        call: "socket(AF_XDP)",
        source: e.source,
    })
}

/// Sets the size of one ring (XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING,
/// XDP_TX_RING); a power of two.
pub(crate) fn set_ring_size(fd: BorrowedFd<'_>, ring: i32, entries: u32) -> Result<()> {
    setsockopt(fd, SOL_XDP, ring, &entries)
}

/// XDP_MMAP_OFFSETS: the layout of every ring's mapping.
pub(crate) fn mmap_offsets(fd: BorrowedFd<'_>) -> Result<MmapOffsets> {
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
/// neither: zero-copy if the driver can, else copy), XDP_USE_NEED_WAKEUP. XDP_SHARED_UMEM is
/// never passed on: every socket here has a UMEM of its own.
pub(crate) fn bind(fd: BorrowedFd<'_>, ifindex: u32, queue_id: u32, flags: u16) -> Result<()> {
    let sa = SockaddrXdp {
        family: AF_XDP as u16,
        flags: flags & !XDP_SHARED_UMEM,
        ifindex,
        queue_id,
        shared_umem_fd: 0,
    };
    // SAFETY: sa is a valid sockaddr_xdp that lives across the call, and its size is passed
    // with it.
    let ret = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sa as *const SockaddrXdp as *const libc::sockaddr,
            size_of::<SockaddrXdp>() as libc::socklen_t,
        )
    };
    cvt(ret, "bind(AF_XDP)").map(drop)
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
            Some(Errno::EAGAIN) | Some(Errno::EBUSY) | Some(Errno::EINTR) | Some(Errno::ENOBUFS)
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
