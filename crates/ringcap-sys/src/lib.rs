//! Raw Linux system calls for ringcap: the only crate with `unsafe` syscalls.
//!
//! Every call is wrapped once, returns [`Result`] carrying the syscall's name and errno, and owns
//! descriptors as [`OwnedFd`], in the style of rustix. Higher layers (rings, sockets, the engine,
//! the generator, XDP) are written in safe Rust on top of these wrappers.
//!
//! Submodules group calls by concern; `packet` holds the AF_PACKET ABI (constants and `repr(C)`
//! structures from `<linux/if_packet.h>`), which `libc` covers only partly.

#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

pub mod bpf;
pub mod ethtool;
pub mod file;
pub mod netlink;
pub mod packet;
pub mod tx;
pub mod xdp;

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

    pub fn from_errno(call: &'static str, errno: i32) -> Self {
        Error {
            call,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Types the kernel may read or write as raw bytes through socket options.
///
/// # Safety
/// Implementors must be `repr(C)` (or primitive) and valid for every bit pattern, because
/// `getsockopt` fills them from kernel memory.
pub unsafe trait Pod: Copy + 'static {}

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

/// Opens a socket of any family; the descriptor is close-on-exec.
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
    // SAFETY: socket(2) takes plain integers; a non-negative return is a fresh descriptor we own.
    let fd = cvt(
        unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) },
        "socket",
    )?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets a socket option from a plain value.
pub fn setsockopt<T: Pod>(fd: BorrowedFd<'_>, level: i32, name: i32, value: &T) -> Result<()> {
    setsockopt_bytes(
        fd,
        level,
        name,
        value as *const T as *const u8,
        size_of::<T>(),
    )
}

/// Sets a socket option from a slice of plain values (filter programs, arrays).
pub fn setsockopt_slice<T: Pod>(
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
    // SAFETY: ptr/len describe memory borrowed for the duration of the call; the kernel only reads it.
    cvt(
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                ptr as *const libc::c_void,
                len as libc::socklen_t,
            )
        },
        "setsockopt",
    )
    .map(drop)
}

/// Reads a socket option into a plain value.
pub fn getsockopt<T: Pod>(fd: BorrowedFd<'_>, level: i32, name: i32) -> Result<T> {
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: value is writable for size_of::<T>() bytes and T is valid for any bit pattern (Pod).
    cvt(
        unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                level,
                name,
                value.as_mut_ptr() as *mut libc::c_void,
                &mut len,
            )
        },
        "getsockopt",
    )?;
    // SAFETY: zero-initialised and possibly overwritten by the kernel; any bit pattern is valid.
    Ok(unsafe { value.assume_init() })
}

/// The pending socket error (SO_ERROR), cleared by reading it.
pub fn socket_error(fd: BorrowedFd<'_>) -> Result<i32> {
    getsockopt::<i32>(fd, libc::SOL_SOCKET, libc::SO_ERROR)
}

/// Binds an AF_PACKET socket to an interface and an ethertype (network byte order is done here).
pub fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32, protocol: u16) -> Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a valid sockaddr_ll and its size is passed with it.
    cvt(
        unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        },
        "bind",
    )
    .map(drop)
}

/// Interface index by name; `None` when no such interface exists in this network namespace.
pub fn if_nametoindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// Names of the interfaces in the calling thread's network namespace.
pub fn interface_names() -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns a heap array terminated by a zero entry, freed below once.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return out;
        }
        let mut p = list;
        while (*p).if_index != 0 && !(*p).if_name.is_null() {
            out.push(
                std::ffi::CStr::from_ptr((*p).if_name)
                    .to_string_lossy()
                    .into_owned(),
            );
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    out
}

fn ifreq_for(name: &str) -> Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(Error::from_errno("ioctl", libc::ENODEV));
    }
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// Interface flags (IFF_UP, IFF_PROMISC, ...) through SIOCGIFFLAGS.
pub fn interface_flags(name: &str) -> Result<u32> {
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut ifr = ifreq_for(name)?;
    // SAFETY: SIOCGIFFLAGS reads and writes the ifreq we pass, which lives across the call.
    cvt(
        unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut ifr) },
        "ioctl(SIOCGIFFLAGS)",
    )?;
    // SAFETY: after SIOCGIFFLAGS the union holds ifru_flags.
    Ok(unsafe { ifr.ifr_ifru.ifru_flags } as u16 as u32)
}

/// Interface MTU through SIOCGIFMTU.
pub fn interface_mtu(name: &str) -> Result<u32> {
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut ifr = ifreq_for(name)?;
    // SAFETY: SIOCGIFMTU reads and writes the ifreq we pass, which lives across the call.
    cvt(
        unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU as _, &mut ifr) },
        "ioctl(SIOCGIFMTU)",
    )?;
    // SAFETY: after SIOCGIFMTU the union holds ifru_mtu.
    Ok(unsafe { ifr.ifr_ifru.ifru_mtu } as u32)
}

/// A generic ioctl on an interface request, used by the ethtool wrappers.
pub(crate) fn ioctl_ifreq_data(
    name: &str,
    request: libc::c_ulong,
    data: *mut libc::c_void,
    call: &'static str,
) -> Result<()> {
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_data = data as *mut libc::c_char;
    // SAFETY: the caller passes a pointer to a live buffer of the shape the request expects;
    // ifr lives across the call.
    cvt(
        unsafe { libc::ioctl(sock.as_raw_fd(), request as _, &mut ifr) },
        call,
    )
    .map(drop)
}

/// A shared memory mapping of a descriptor (a packet ring, a UMEM): unmapped on drop.
pub struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; synchronisation with the kernel is done by the
// ring protocols (acquire/release on status words) in the layers above.
unsafe impl Send for Mmap {}
// SAFETY: as above; &Mmap only hands out raw pointers.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `len` bytes of `fd` at `offset`, read-write and shared, pre-faulted.
    pub fn shared(fd: BorrowedFd<'_>, len: usize, offset: i64) -> Result<Mmap> {
        // SAFETY: a fresh mapping chosen by the kernel (addr NULL); fd is a live descriptor.
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

    /// Anonymous private memory, page aligned (an AF_XDP UMEM, test buffers).
    pub fn anonymous(len: usize) -> Result<Mmap> {
        // SAFETY: a fresh anonymous mapping chosen by the kernel.
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

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// A 32-bit word of the mapping for the status handshake with the kernel (ring block or
    /// frame status). Panics if `offset` is out of range or misaligned.
    pub fn atomic_u32(&self, offset: usize) -> &std::sync::atomic::AtomicU32 {
        assert!(
            offset + 4 <= self.len && offset.is_multiple_of(4),
            "status word out of range"
        );
        // SAFETY: in range and aligned (checked above); the mapping lives as long as &self and
        // AtomicU32 has the layout of u32, so concurrent kernel writes are well defined.
        unsafe { &*(self.ptr.add(offset) as *const std::sync::atomic::AtomicU32) }
    }

    /// Borrows `len` bytes at `offset`.
    ///
    /// # Safety
    /// Nobody (the kernel included) may write those bytes while the slice is alive: the caller
    /// owns them through the ring protocol (e.g. a block whose status says TP_STATUS_USER).
    pub unsafe fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len));
        // SAFETY: in range (checked); exclusivity from the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr.add(offset), len) }
    }

    /// Mutably borrows `len` bytes at `offset` (a TX frame being filled).
    ///
    /// # Safety
    /// As for [`Mmap::bytes`], and no other borrow of those bytes may exist.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self, offset: usize, len: usize) -> &mut [u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len));
        // SAFETY: in range (checked); exclusivity from the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(offset), len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len came from a successful mmap and are unmapped exactly once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// Waits for `events` on one descriptor; returns the revents (0 on timeout). EINTR is a timeout.
pub fn poll(fd: BorrowedFd<'_>, events: i16, timeout_ms: i32) -> Result<i16> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one pollfd, valid for the call.
    let ret = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if ret < 0 {
        let e = Error::last("poll");
        if e.errno() == Some(libc::EINTR) {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(if ret == 0 { 0 } else { pfd.revents })
}

/// Sends one buffer on a connected or bound socket.
pub fn send(fd: BorrowedFd<'_>, buf: &[u8], flags: i32) -> Result<usize> {
    // SAFETY: buf is valid for reading buf.len() bytes.
    cvt_size(
        unsafe {
            libc::send(
                fd.as_raw_fd(),
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                flags,
            )
        },
        "send",
    )
}

/// `sendto(fd, NULL, 0, flags, NULL, 0)`: tells the kernel to transmit a TX ring's queued frames.
pub fn send_kick(fd: BorrowedFd<'_>, flags: i32) -> Result<usize> {
    // SAFETY: a NULL buffer of length 0 and no address are valid arguments.
    cvt_size(
        unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                std::ptr::null(),
                0,
                flags,
                std::ptr::null(),
                0,
            )
        },
        "sendto",
    )
}

/// Sends a batch of single-buffer messages with sendmmsg; returns how many the kernel took.
pub fn sendmmsg(fd: BorrowedFd<'_>, bufs: &[&[u8]], flags: i32) -> Result<usize> {
    const MAX: usize = 64;
    let n = bufs.len().min(MAX);
    // SAFETY: iovec and mmsghdr are plain data; all-zero is valid.
    let mut iov: [libc::iovec; MAX] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MAX] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        iov[i].iov_base = bufs[i].as_ptr() as *mut libc::c_void;
        iov[i].iov_len = bufs[i].len();
        msgs[i].msg_hdr.msg_iov = &mut iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: msgs[..n] point at iovecs that point at borrowed buffers, all alive for the call;
    // the kernel only reads the buffers.
    let ret = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), n as u32, flags) };
    cvt(ret, "sendmmsg").map(|n| n as usize)
}

/// What one `recvmsg` on a packet socket returned.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecvInfo {
    /// Bytes copied into the buffer.
    pub caplen: usize,
    /// The packet's length before any truncation (MSG_TRUNC).
    pub len: usize,
    /// Packet type from the source address (PACKET_HOST, PACKET_OUTGOING, ...).
    pub pkttype: u8,
    /// Timestamp in nanoseconds since the epoch (SO_TIMESTAMPNS), 0 if absent.
    pub ts_ns: u64,
    /// PACKET_AUXDATA, when the socket asked for it.
    pub aux: Option<packet::TpacketAuxdata>,
}

/// One `recvmsg` on an AF_PACKET socket with MSG_TRUNC, decoding SO_TIMESTAMPNS and
/// PACKET_AUXDATA control messages. `cmsg` is scratch space for them (128 bytes is plenty).
pub fn recv_packet(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    cmsg: &mut [u64; 16],
    flags: i32,
) -> Result<RecvInfo> {
    // SAFETY: plain data; all-zero is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = &mut addr as *mut _ as *mut libc::c_void;
    msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = size_of_val(cmsg);
    // SAFETY: msg points at live, writable buffers (addr, buf, cmsg) sized as declared.
    let len = cvt_size(
        unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags | libc::MSG_TRUNC) },
        "recvmsg",
    )?;
    let mut info = RecvInfo {
        caplen: len.min(buf.len()),
        len,
        pkttype: addr.sll_pkttype,
        ..Default::default()
    };
    // SAFETY: walking the control buffer the kernel just filled, with the CMSG_* helpers that
    // bound every header by msg_controllen; data is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(data as *const libc::timespec);
                info.ts_ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
            } else if (*c).cmsg_level == packet::SOL_PACKET
                && (*c).cmsg_type == packet::PACKET_AUXDATA
            {
                info.aux = Some(std::ptr::read_unaligned(
                    data as *const packet::TpacketAuxdata,
                ));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(info)
}

/// Pins the calling thread to one CPU.
pub fn pin_current_thread(cpu: usize) -> Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET bounds-checks against its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * size_of::<libc::cpu_set_t>() {
            return Err(Error::from_errno("sched_setaffinity", libc::EINVAL));
        }
        libc::CPU_SET(cpu, &mut set);
        cvt(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            "sched_setaffinity",
        )
        .map(drop)
    }
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        cvt(
            libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set),
            "sched_getaffinity",
        )?;
        Ok((0..8 * size_of::<libc::cpu_set_t>())
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// Number of online CPUs.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as usize
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n < 1 {
        4096
    } else {
        n as usize
    }
}

pub fn geteuid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether the effective capability set holds `cap` (from /proc/self/status, no syscall needed).
pub fn has_capability(cap: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return geteuid() == 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .map(|mask| mask & (1u64 << cap) != 0)
        .unwrap_or(false)
}

/// User and system CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_time() -> (u64, u64) {
    rusage(libc::RUSAGE_THREAD)
}

/// User and system CPU time of waited-for children, in nanoseconds.
pub fn children_cpu_time() -> (u64, u64) {
    rusage(libc::RUSAGE_CHILDREN)
}

fn rusage(who: i32) -> (u64, u64) {
    // SAFETY: rusage is plain data filled by the kernel.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is writable for the call.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0, 0);
    }
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1_000;
    (ns(ru.ru_utime), ns(ru.ru_stime))
}

/// Moves the calling thread into the network namespace behind `fd` (e.g. /run/netns/NAME).
pub fn setns_net(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: setns takes a descriptor and a flag; it affects only the calling thread.
    cvt(
        unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) },
        "setns",
    )
    .map(drop)
}

/// Writes to a raw descriptor, retrying on EINTR; used for stdout-like sinks by fd number.
pub fn write_fd(fd: RawFd, buf: &[u8]) -> Result<usize> {
    loop {
        // SAFETY: buf is valid for reading buf.len() bytes; fd is owned by the caller.
        let ret = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if ret < 0 {
            let e = Error::last("write");
            if e.errno() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        return Ok(ret as usize);
    }
}

static STOP: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, Ordering::Relaxed);
    STOP.store(true, Ordering::Release);
}

/// Installs SIGINT and SIGTERM handlers that only set a flag ([`stop_requested`]), so a capture
/// ends through its normal path: final statistics, drained rings, summary, cleanup.
pub fn install_stop_handlers() -> Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction is plain data; the handler is async-signal-safe (two atomic stores).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as *const () as usize;
            sa.sa_flags = 0; // no SA_RESTART: blocking calls return EINTR and see the flag
            libc::sigemptyset(&mut sa.sa_mask);
            cvt(libc::sigaction(sig, &sa, std::ptr::null_mut()), "sigaction")?;
        }
    }
    Ok(())
}

/// Whether SIGINT/SIGTERM/SIGHUP arrived since [`install_stop_handlers`].
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Acquire)
}

/// The signal that asked to stop, if any.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s),
    }
}

/// Requests a stop as if a signal had arrived (used by embedders and tests).
pub fn request_stop() {
    STOP.store(true, Ordering::Release);
}

/// Clears a stop request (a driver that runs several captures in a row, such as a benchmark).
pub fn clear_stop() {
    STOP.store(false, Ordering::Release);
    STOP_SIGNAL.store(0, Ordering::Relaxed);
}

/// Clock reading in nanoseconds (CLOCK_REALTIME), the time base packet timestamps use.
pub fn realtime_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// Monotonic clock in nanoseconds.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: timespec is plain data filled by the kernel.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: ts is writable for the call.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until an absolute CLOCK_MONOTONIC time (rate pacing without drift).
pub fn sleep_until_monotonic(deadline_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: ts is a valid timespec; the remaining-time pointer may be NULL with TIMER_ABSTIME.
    unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    };
}

/// Mounts a fresh tmpfs at `target` with `options` (e.g. `huge=always,mode=0700`); `bench`
/// writes its capture files there so its runs measure the capture path, not a disk.
pub fn mount_tmpfs(target: &std::path::Path, options: &str) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| Error::from_errno("mount", libc::EINVAL))?;
    let opts = CString::new(options).map_err(|_| Error::from_errno("mount", libc::EINVAL))?;
    // SAFETY: all pointers are NUL-terminated strings that live across the call.
    cvt(
        unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                path.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                opts.as_ptr().cast(),
            )
        },
        "mount",
    )
    .map(drop)
}

/// Detaches the mount at `target` (lazily, so a file still open elsewhere cannot keep it).
pub fn unmount(target: &std::path::Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| Error::from_errno("umount2", libc::EINVAL))?;
    // SAFETY: path is a NUL-terminated string that lives across the call.
    cvt(
        unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) },
        "umount2",
    )
    .map(drop)
}
