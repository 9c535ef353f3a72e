//! Sockets and interfaces: the packet socket, bind, interface names, flags and MTU, poll, send
//! and receive, and the receive-side socket options of the one-packet-per-`recvmsg` path.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::{cvt, cvt_size, getsockopt, packet, setsockopt, socket, Errno, Error, Result};

/// Interface flag: administratively up (`IFF_UP`).
pub const IFF_UP: u32 = libc::IFF_UP as u32;
/// Interface flag: promiscuous (`IFF_PROMISC`).
pub const IFF_PROMISC: u32 = libc::IFF_PROMISC as u32;

/// Opens an AF_PACKET raw socket with protocol 0: it receives nothing until it is bound with a
/// protocol (so a capture can put its filter and fanout in place first), and a socket that is
/// only ever bound with protocol 0 sends without queueing received packets.
pub fn packet_socket() -> Result<OwnedFd> {
    socket(libc::AF_PACKET, libc::SOCK_RAW, 0)
}

/// The pending socket error (SO_ERROR), cleared by reading it; `None` when there is none.
pub fn socket_error(fd: BorrowedFd<'_>) -> Result<Option<Errno>> {
    let e = getsockopt::<i32>(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((e != 0).then_some(Errno(e)))
}

/// Binds an AF_PACKET socket to an interface and an ethertype (network byte order is done here).
pub fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32, protocol: u16) -> Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a valid sockaddr_ll that lives across the call and its size is passed
    // with it.
    let ret = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    cvt(ret, "bind").map(drop)
}

/// Interface index by name; `None` when no such interface exists in this network namespace.
pub fn if_nametoindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string that lives across the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// Names of the interfaces in the calling thread's network namespace.
pub fn interface_names() -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns a heap array terminated by a zero entry (or NULL); we read
    // entries up to the terminator, copy each name out, and free the array once.
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
        return Err(Error::from_errno("ioctl", Errno::ENODEV));
    }
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// Interface flags ([`IFF_UP`], [`IFF_PROMISC`], ...) through SIOCGIFFLAGS.
pub fn interface_flags(name: &str) -> Result<u32> {
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut ifr = ifreq_for(name)?;
    // SAFETY: SIOCGIFFLAGS reads and writes the ifreq we pass, which lives across the call.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut ifr) };
    cvt(ret, "ioctl(SIOCGIFFLAGS)")?;
    // SAFETY: after SIOCGIFFLAGS the union holds ifru_flags.
    Ok(unsafe { ifr.ifr_ifru.ifru_flags } as u16 as u32)
}

/// Interface MTU through SIOCGIFMTU.
pub fn interface_mtu(name: &str) -> Result<u32> {
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut ifr = ifreq_for(name)?;
    // SAFETY: SIOCGIFMTU reads and writes the ifreq we pass, which lives across the call.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU as _, &mut ifr) };
    cvt(ret, "ioctl(SIOCGIFMTU)")?;
    // SAFETY: after SIOCGIFMTU the union holds ifru_mtu.
    Ok(unsafe { ifr.ifr_ifru.ifru_mtu } as u32)
}

/// An ioctl on an interface request whose data pointer is a `[u32]` buffer (the ethtool
/// requests, which are all laid out in 32-bit words).
///
/// # Safety
/// `buf` must be at least as large as the structure that `request` (with the command in
/// `buf[0]`) makes the kernel read and write.
pub(crate) unsafe fn ioctl_ifreq_words(
    name: &str,
    request: libc::c_ulong,
    buf: &mut [u32],
    call: &'static str,
) -> Result<()> {
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_data = buf.as_mut_ptr() as *mut libc::c_char;
    // SAFETY: buf is live and large enough for the request (the caller's contract); ifr lives
    // across the call.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, &mut ifr) };
    cvt(ret, call).map(drop)
}

/// What to wait for in [`poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// POLLIN: data to read (a retired ring block, a received packet, RX descriptors).
    Readable,
    /// POLLOUT: room to write (a free TX ring frame, socket buffer space).
    Writable,
}

/// What [`poll`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// Nothing within the timeout (or a signal interrupted the wait).
    TimedOut,
    /// The awaited event.
    Ready,
    /// POLLERR, POLLHUP or POLLNVAL: the socket failed (look at [`socket_error`]) or the
    /// interface went away.
    Failed,
}

/// Waits for `event` on one descriptor, up to `timeout_ms` (-1: no limit).
pub fn poll(fd: BorrowedFd<'_>, event: Event, timeout_ms: i32) -> Result<Polled> {
    let events = match event {
        Event::Readable => libc::POLLIN,
        Event::Writable => libc::POLLOUT,
    };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one pollfd, valid and writable for the call.
    let ret = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if ret < 0 {
        let e = Error::last("poll");
        if e.errno() == Some(Errno::EINTR) {
            return Ok(Polled::TimedOut);
        }
        return Err(e);
    }
    Ok(if ret == 0 || pfd.revents == 0 {
        Polled::TimedOut
    } else if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        Polled::Failed
    } else {
        Polled::Ready
    })
}

/// Sends one buffer on a connected or bound socket.
pub fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is valid for reading buf.len() bytes across the call.
    let ret = unsafe {
        libc::send(
            fd.as_raw_fd(),
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            0,
        )
    };
    cvt_size(ret, "send")
}

/// `sendto(fd, NULL, 0, flags, NULL, 0)`: tells the kernel to transmit a TX ring's queued
/// frames; without `wait` (MSG_DONTWAIT) it returns once they are handed to the driver.
pub(crate) fn send_kick(fd: BorrowedFd<'_>, wait: bool) -> Result<usize> {
    let flags = if wait { 0 } else { libc::MSG_DONTWAIT };
    // SAFETY: a NULL buffer of length 0 and no address are valid arguments.
    let ret = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            std::ptr::null(),
            0,
            flags,
            std::ptr::null(),
            0,
        )
    };
    cvt_size(ret, "sendto")
}

/// Sends a batch of single-buffer messages with sendmmsg; returns how many the kernel took.
pub fn sendmmsg(fd: BorrowedFd<'_>, bufs: &[&[u8]]) -> Result<usize> {
    const MAX: usize = 64;
    let n = bufs.len().min(MAX);
    // SAFETY: iovec is plain data; all-zero is valid.
    let mut iov: [libc::iovec; MAX] = unsafe { std::mem::zeroed() };
    // SAFETY: mmsghdr is plain data; all-zero is valid.
    let mut msgs: [libc::mmsghdr; MAX] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        iov[i].iov_base = bufs[i].as_ptr() as *mut libc::c_void;
        iov[i].iov_len = bufs[i].len();
        msgs[i].msg_hdr.msg_iov = &mut iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: msgs[..n] point at iovecs that point at borrowed buffers, all alive for the call;
    // the kernel only reads the buffers.
    let ret = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
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
/// `dontwait` (MSG_DONTWAIT) returns EAGAIN at once instead of waiting (draining).
pub fn recv_packet(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    cmsg: &mut [u64; 16],
    dontwait: bool,
) -> Result<RecvInfo> {
    let flags = libc::MSG_TRUNC | if dontwait { libc::MSG_DONTWAIT } else { 0 };
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
    let ret = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) };
    let len = cvt_size(ret, "recvmsg")?;
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

/// SO_TIMESTAMPNS: a nanosecond receive timestamp with every packet [`recv_packet`] returns.
pub fn enable_timestamps_ns(fd: BorrowedFd<'_>) -> Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32)
}

#[repr(transparent)]
#[derive(Clone, Copy)]
struct Timeval(libc::timeval);
// SAFETY: timeval is two integers, valid for any bit pattern.
unsafe impl crate::Pod for Timeval {}

/// SO_RCVTIMEO: a blocking receive returns EAGAIN after `timeout` (so a waiting thread notices
/// a stop request now and then).
pub fn set_recv_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> Result<()> {
    let tv = Timeval(libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    });
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// The socket's receive buffer: SO_RCVBUFFORCE (root may go past net.core.rmem_max), else
/// SO_RCVBUF (capped by rmem_max). The kernel doubles the value for its bookkeeping.
pub fn set_recv_buffer(fd: BorrowedFd<'_>, bytes: i32) -> Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &bytes)
        .or_else(|_| setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &bytes))
}
