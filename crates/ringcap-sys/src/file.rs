//! File system calls for capture files: what `std::fs` does not offer.
//!
//! Writing with `O_DIRECT` skips the page cache (a disk that takes 2 GB/s direct may take a
//! sixth of that through the cache), at the price of aligned buffers, offsets and lengths. The
//! writer asks the file system what it needs (`statx` with `STATX_DIOALIGN`), switches the flag
//! on an open file (`fcntl`), and learns the file system's type (`fstatfs`) to skip direct I/O
//! where it buys nothing (tmpfs keeps files in memory).

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::{Error, Result};

/// `f_type` of a tmpfs (`/dev/shm`, `/run`): files live in memory.
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
/// `f_type` of a ramfs.
pub const RAMFS_MAGIC: i64 = 0x8584_58f6;
/// `f_type` of ZFS (which refuses or emulates O_DIRECT depending on its version).
pub const ZFS_MAGIC: i64 = 0x2fc1_2fc1;

fn check(ret: libc::c_int, call: &'static str) -> Result<libc::c_int> {
    if ret < 0 {
        Err(Error::last(call))
    } else {
        Ok(ret)
    }
}

/// The file system type (`statfs.f_type`, e.g. [`TMPFS_MAGIC`]) of an open file.
pub fn fs_type(fd: BorrowedFd<'_>) -> Result<i64> {
    // SAFETY: statfs is plain data; the kernel fills it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is a live descriptor and st is writable for the call.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) }, "fstatfs")?;
    Ok(st.f_type as i64)
}

/// Alignment direct I/O needs on this file, as the file system reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectIoAlign {
    /// Buffer address and file offset/length alignment in bytes.
    Aligned { memory: u32, offset: u32 },
    /// The file system says it does not support direct I/O.
    Unsupported,
    /// The kernel or file system does not answer (`STATX_DIOALIGN` unknown): try and see.
    Unknown,
}

/// What `statx(STATX_DIOALIGN)` says about direct I/O on an open file (Linux 6.1 and later).
pub fn direct_io_align(fd: BorrowedFd<'_>) -> Result<DirectIoAlign> {
    // SAFETY: statx is plain data; the kernel fills it.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is an empty NUL-terminated string (AT_EMPTY_PATH: the fd itself) and st
    // is writable for the call.
    let ret = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut st,
        )
    };
    check(ret, "statx")?;
    if st.stx_mask & libc::STATX_DIOALIGN == 0 {
        return Ok(DirectIoAlign::Unknown);
    }
    if st.stx_dio_offset_align == 0 {
        return Ok(DirectIoAlign::Unsupported);
    }
    Ok(DirectIoAlign::Aligned {
        memory: st.stx_dio_mem_align,
        offset: st.stx_dio_offset_align,
    })
}

/// Turns `O_DIRECT` on or off for an open file. EINVAL means the file system refuses it.
pub fn set_direct(fd: BorrowedFd<'_>, on: bool) -> Result<()> {
    // SAFETY: F_GETFL takes no argument and returns the status flags.
    let flags = check(
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) },
        "fcntl(F_GETFL)",
    )?;
    let new = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: F_SETFL takes an int of status flags.
    check(
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, new) },
        "fcntl(F_SETFL O_DIRECT)",
    )
    .map(drop)
}

/// Whether `O_DIRECT` is set on an open file.
pub fn is_direct(fd: BorrowedFd<'_>) -> Result<bool> {
    // SAFETY: F_GETFL takes no argument and returns the status flags.
    let flags = check(
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) },
        "fcntl(F_GETFL)",
    )?;
    Ok(flags & libc::O_DIRECT != 0)
}

/// Whether an error is "no space left on device" (or over quota).
pub fn is_no_space(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn direct_flag_round_trip_or_refusal() {
        let dir = std::env::temp_dir();
        let p = dir.join(format!("ringcap-sys-file-{}", std::process::id()));
        let f = std::fs::File::create(&p).unwrap();
        let ty = fs_type(f.as_fd()).unwrap();
        assert_ne!(ty, 0);
        let align = direct_io_align(f.as_fd()).unwrap();
        match set_direct(f.as_fd(), true) {
            Ok(()) => {
                assert!(is_direct(f.as_fd()).unwrap());
                set_direct(f.as_fd(), false).unwrap();
                assert!(!is_direct(f.as_fd()).unwrap());
            }
            Err(e) => {
                assert_eq!(e.errno().map(|e| e.0), Some(libc::EINVAL), "{e}");
                assert_ne!(
                    align,
                    DirectIoAlign::Aligned {
                        memory: 512,
                        offset: 512
                    }
                );
            }
        }
        let _ = std::fs::remove_file(&p);
    }
}
