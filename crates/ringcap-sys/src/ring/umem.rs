//! The UMEM of an AF_XDP socket: page-aligned anonymous memory cut into equal frames, which the
//! kernel (or the NIC, in zero-copy mode) writes packets into.
//!
//! Setup allocates it here; the socket's setup ([`super::xdp::Xsk::setup`]) registers it, and
//! from then on the kernel may write any frame whose address is on the fill ring. Frames are
//! only lent out by the socket's receive side ([`super::xdp::RxBatch`]), which knows from the
//! rings which frames the kernel has handed over. Teardown is drop, after the socket's (the
//! kernel keeps the pages pinned until the socket closes).

use std::os::fd::BorrowedFd;

use super::Mmap;
use crate::xdp::{SOL_XDP, XDP_UMEM_REG};
use crate::{setsockopt, Errno, Error, Pod, Result};

/// `struct xdp_umem_reg` (with the tx_metadata_len field, which must be zero here).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
    tx_metadata_len: u32,
}
// SAFETY: repr(C) of integers without padding.
unsafe impl Pod for UmemReg {}

/// Packet memory for one AF_XDP socket.
pub struct Umem {
    pub(super) map: Mmap,
    frames: u32,
    chunk: u32,
}

impl Umem {
    /// setup: allocates `frames` frames of `chunk` bytes (a power of two, 2048 up to the page
    /// size, as aligned mode wants), pre-faulted so the first packets do not fault pages in.
    pub fn setup(frames: u32, chunk: u32) -> Result<Umem> {
        if frames == 0 || !chunk.is_power_of_two() || chunk < 2048 {
            return Err(Error::from_errno("mmap(UMEM)", Errno::EINVAL));
        }
        let len = frames as usize * chunk as usize;
        let map = Mmap::anonymous(len)?;
        Ok(Umem { map, frames, chunk })
    }

    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Bytes per frame.
    pub fn chunk(&self) -> u32 {
        self.chunk
    }

    /// Bytes of memory.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// XDP_UMEM_REG: registers the memory as the socket's packet buffer, no headroom. The
    /// kernel pins the pages until the socket closes, so the UMEM must not be dropped first
    /// ([`super::xdp::Xsk`] owns both in that order).
    pub(super) fn register(&self, fd: BorrowedFd<'_>) -> Result<()> {
        let reg = UmemReg {
            addr: self.map.as_ptr() as u64,
            len: self.map.len() as u64,
            chunk_size: self.chunk,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg).map_err(|e| Error {
            call: "setsockopt(XDP_UMEM_REG)",
            source: e.source,
        })
    }
}
