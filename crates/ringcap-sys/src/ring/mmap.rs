//! A shared memory mapping (a packet ring, an AF_XDP ring, a UMEM): unmapped on drop.
//!
//! Private to the ring module: the byte borrows it offers are `unsafe`, and only the rings,
//! which know from their protocol when the kernel keeps off a range, call them.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::AtomicU32;

use crate::{Error, Result};

pub(crate) struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; who may touch which bytes when is settled by the
// ring protocols (acquire/release on status words and indices) in the ring types that own it.
unsafe impl Send for Mmap {}
// SAFETY: as above; &Mmap hands out only atomics and, through unsafe fns, borrows whose
// exclusivity the caller proves.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `len` bytes of `fd` at `offset`, read-write and shared, pre-faulted.
    pub(crate) fn shared(fd: BorrowedFd<'_>, len: usize, offset: i64) -> Result<Mmap> {
        // SAFETY: a fresh mapping at an address the kernel chooses (addr NULL), so no existing
        // memory is affected; fd is a live descriptor.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::last("mmap"));
        }
        Ok(Mmap {
            ptr: ptr as *mut u8,
            len,
        })
    }

    /// Anonymous private memory, page aligned and pre-faulted (an AF_XDP UMEM).
    pub(crate) fn anonymous(len: usize) -> Result<Mmap> {
        // SAFETY: a fresh anonymous mapping at an address the kernel chooses.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::last("mmap"));
        }
        Ok(Mmap {
            ptr: ptr as *mut u8,
            len,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// A 32-bit word of the mapping for a handshake with the kernel (a block or frame status,
    /// a ring index). Panics if `offset` is out of range or misaligned.
    #[inline]
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset.checked_add(4).is_some_and(|end| end <= self.len) && offset.is_multiple_of(4),
            "status word out of range"
        );
        // SAFETY: in range and aligned (checked above; the mapping itself is page aligned);
        // the mapping lives as long as &self and AtomicU32 has the layout of u32, so concurrent
        // kernel writes are well defined.
        unsafe { &*(self.ptr.add(offset) as *const AtomicU32) }
    }

    /// Borrows `len` bytes at `offset`. Panics if the range is outside the mapping.
    ///
    /// # Safety
    /// Nobody (the kernel included) may write those bytes while the slice is alive: the caller
    /// owns them through the ring protocol (e.g. a block whose status says TP_STATUS_USER).
    #[inline]
    pub(crate) unsafe fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len));
        // SAFETY: in range (checked); exclusivity from the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr.add(offset), len) }
    }

    /// Mutably borrows `len` bytes at `offset` (a TX frame being filled). Panics if the range
    /// is outside the mapping.
    ///
    /// # Safety
    /// As for [`Mmap::bytes`], and no other borrow of those bytes may exist.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn bytes_mut(&self, offset: usize, len: usize) -> &mut [u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len));
        // SAFETY: in range (checked); exclusivity from the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(offset), len) }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len came from a successful mmap and are unmapped exactly once; every
        // borrow of the mapping borrows self, so none outlives this.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}
