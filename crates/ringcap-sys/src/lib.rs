//! Raw Linux system calls for ringcap: the only crate with `unsafe` code, and the only one that
//! names `libc`.
//!
//! Every call is wrapped once, returns [`Result`] carrying the syscall's name and errno, and owns
//! descriptors as [`OwnedFd`](std::os::fd::OwnedFd), in the style of rustix. Higher layers (the
//! engine, the generator, the CLI) are written in safe Rust on top of these wrappers and set
//! `#![forbid(unsafe_code)]`; they get the constants and types they need from here (typed where
//! that reads better: [`Errno`], [`Event`], [`Polled`]), never from `libc`.
//!
//! What lives here:
//! - the syscall wrappers: sockets and interfaces (`net`, re-exported at the root), threads,
//!   CPUs, clocks, signals and mounts (`process`, re-exported at the root), `bpf()`
//!   ([`bpf`]), rtnetlink ([`netlink`]), the ethtool ioctl ([`ethtool`]), link-layer facts
//!   and the cooked socket ([`link`]), giving up root ([`privileges`]), the cache prefetch and huge-page
//!   hints ([`hint`]);
//! - the kernel ABIs: AF_PACKET ([`packet`]) and AF_XDP ([`xdp`]) constants and `repr(C)`
//!   structures;
//! - the shared-memory rings ([`ring`]): the TPACKET_V3 RX ring, the TPACKET_V2 TX ring, the
//!   AF_XDP rings and the UMEM, each with a lifecycle of named verbs (setup, map, ready,
//!   release, teardown) and the only borrows of kernel-shared memory in the workspace.
//!
//! It must not depend on any other ringcap crate: everything points down to it.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

pub mod bpf;
pub mod ethtool;
pub mod file;
pub mod hint;
pub mod link;
mod net;
pub mod netlink;
pub mod packet;
pub mod privileges;
mod process;
pub mod ring;
pub mod xdp;

pub use net::*;
pub use process::*;

/// A failed system call: which call, and the errno it returned.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {source}")]
pub struct Error {
    pub call: &'static str,
    #[source]
    pub source: io::Error,
}

impl Error {
    /// Captures `errno` right after a failed call.
    pub fn last(call: &'static str) -> Self {
        Error {
            call,
            source: io::Error::last_os_error(),
        }
    }

    pub fn from_errno(call: &'static str, errno: Errno) -> Self {
        Error {
            call,
            source: io::Error::from_raw_os_error(errno.0),
        }
    }

    pub fn errno(&self) -> Option<Errno> {
        self.source.raw_os_error().map(Errno)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An errno value. The constants are the ones the layers above match on; compare with
/// `e.errno() == Some(Errno::EBUSY)` or in a `matches!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(libc::EPERM);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const ENXIO: Errno = Errno(libc::ENXIO);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    pub const ENODEV: Errno = Errno(libc::ENODEV);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ENOSPC: Errno = Errno(libc::ENOSPC);
    pub const EPROTO: Errno = Errno(libc::EPROTO);
    pub const EMSGSIZE: Errno = Errno(libc::EMSGSIZE);
    pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
    pub const ENETDOWN: Errno = Errno(libc::ENETDOWN);
    pub const ENOBUFS: Errno = Errno(libc::ENOBUFS);
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        io::Error::from_raw_os_error(self.0).fmt(f)
    }
}

/// Types the kernel may read or write as raw bytes through socket options.
///
/// # Safety
/// Implementors must be `repr(C)` (or primitive) and valid for every bit pattern, because
/// `getsockopt` fills them from kernel memory.
pub(crate) unsafe trait Pod: Copy + 'static {}

// SAFETY: primitive integers are valid for any bit pattern.
unsafe impl Pod for i32 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}

fn cvt(ret: libc::c_int, call: &'static str) -> Result<libc::c_int> {
    if ret < 0 {
        Err(Error::last(call))
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t, call: &'static str) -> Result<usize> {
    if ret < 0 {
        Err(Error::last(call))
    } else {
        Ok(ret as usize)
    }
}

/// Opens a socket of any family; the descriptor is close-on-exec. The typed openers
/// ([`packet_socket`], [`xdp::socket`], the netlink and ioctl sockets) all go through here.
pub(crate) fn socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
    // SAFETY: socket(2) takes plain integers and touches no memory of ours.
    let ret = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    let fd = cvt(ret, "socket")?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets a socket option from a plain value.
///
/// Crate-private, like [`getsockopt`]: a raw option can register user memory with the kernel
/// (XDP_UMEM_REG) or replace a ring under a live mapping, so outside this crate only the typed
/// setters exist.
pub(crate) fn setsockopt<T: Pod>(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    value: &T,
) -> Result<()> {
    setsockopt_bytes(
        fd,
        level,
        name,
        value as *const T as *const u8,
        size_of::<T>(),
    )
}

/// Sets a socket option from a slice of plain values (filter programs, arrays).
pub(crate) fn setsockopt_slice<T: Pod>(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    value: &[T],
) -> Result<()> {
    setsockopt_bytes(
        fd,
        level,
        name,
        value.as_ptr() as *const u8,
        size_of_val(value),
    )
}

fn setsockopt_bytes(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    ptr: *const u8,
    len: usize,
) -> Result<()> {
    // SAFETY: ptr/len describe memory borrowed (by both callers above) for the duration of
    // the call; the kernel only reads it.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            ptr as *const libc::c_void,
            len as libc::socklen_t,
        )
    };
    cvt(ret, "setsockopt").map(drop)
}

/// Reads a socket option into a plain value.
pub(crate) fn getsockopt<T: Pod>(fd: BorrowedFd<'_>, level: i32, name: i32) -> Result<T> {
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: value is writable for size_of::<T>() bytes, len says so, and both live across
    // the call.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value.as_mut_ptr() as *mut libc::c_void,
            &mut len,
        )
    };
    cvt(ret, "getsockopt")?;
    // SAFETY: zero-initialised and possibly overwritten by the kernel; T is valid for any bit
    // pattern (Pod).
    Ok(unsafe { value.assume_init() })
}
