//! rtnetlink, for attaching and detaching XDP programs and reading which one an interface has:
//! RTM_SETLINK with a nested IFLA_XDP {IFLA_XDP_FD, IFLA_XDP_FLAGS, IFLA_XDP_EXPECTED_FD} and
//! RTM_GETLINK reading IFLA_XDP {IFLA_XDP_ATTACHED, IFLA_XDP_PROG_ID, ...}.
//!
//! The socket asks for extended acknowledgements, so a refusal carries the kernel's own words
//! (e.g. "Native and generic XDP can't be active at the same time.").
//!
//! A [`Netlink`] socket belongs to the network namespace it was opened in, whatever thread
//! uses it later: keep one to detach a program from the right interface at the end.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::{cvt_size, setsockopt, socket, Errno, Error, Result};

pub const NETLINK_ROUTE: i32 = 0;
const SOL_NETLINK: i32 = 270;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;

const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

pub const IFLA_NUM_RX_QUEUES: u16 = 32;
pub const IFLA_XDP: u16 = 43;
pub const IFLA_XDP_FD: u16 = 1;
pub const IFLA_XDP_ATTACHED: u16 = 2;
pub const IFLA_XDP_FLAGS: u16 = 3;
pub const IFLA_XDP_PROG_ID: u16 = 4;
pub const IFLA_XDP_DRV_PROG_ID: u16 = 5;
pub const IFLA_XDP_SKB_PROG_ID: u16 = 6;
pub const IFLA_XDP_HW_PROG_ID: u16 = 7;
pub const IFLA_XDP_EXPECTED_FD: u16 = 8;

pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
pub const XDP_FLAGS_HW_MODE: u32 = 1 << 3;
pub const XDP_FLAGS_REPLACE: u32 = 1 << 4;

pub const XDP_ATTACHED_NONE: u8 = 0;
pub const XDP_ATTACHED_DRV: u8 = 1;
pub const XDP_ATTACHED_SKB: u8 = 2;
pub const XDP_ATTACHED_HW: u8 = 3;
pub const XDP_ATTACHED_MULTI: u8 = 4;

/// A netlink request the kernel refused: the errno, and the extended-ack message if it sent one.
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
pub struct NetlinkError {
    #[source]
    pub error: Error,
    pub message: Option<String>,
}

impl From<Error> for NetlinkError {
    fn from(error: Error) -> Self {
        NetlinkError {
            error,
            message: None,
        }
    }
}

/// What IFLA_XDP says about an interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpState {
    /// XDP_ATTACHED_NONE, _DRV, _SKB, _HW or _MULTI.
    pub attached: u8,
    /// The program id when exactly one program is attached.
    pub prog_id: u32,
    pub drv_prog_id: u32,
    pub skb_prog_id: u32,
    pub hw_prog_id: u32,
}

impl XdpState {
    /// Ids of every attached program (native, generic, offloaded).
    pub fn prog_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = [
            self.prog_id,
            self.drv_prog_id,
            self.skb_prog_id,
            self.hw_prog_id,
        ]
        .into_iter()
        .filter(|&id| id != 0)
        .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// What RTM_GETLINK told about an interface (the parts ringcap uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkInfo {
    pub xdp: XdpState,
    /// IFLA_NUM_RX_QUEUES: RX queues the device was created with.
    pub num_rx_queues: u32,
}

/// An rtnetlink socket (NETLINK_ROUTE) with extended acks; bound to the namespace it was
/// opened in.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, ifindex: u32) -> Msg {
        let mut b = Vec::with_capacity(128);
        b.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set in finish()
        b.extend_from_slice(&ty.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
                                                  // struct ifinfomsg: family, pad, type, index, flags, change.
        b.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        b.extend_from_slice(&(ifindex as i32).to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        Msg(b)
    }

    fn attr(&mut self, ty: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(payload);
        while self.0.len() & 3 != 0 {
            self.0.push(0);
        }
    }

    /// Starts a nested attribute; returns where its length goes.
    fn begin_nest(&mut self, ty: u16) -> usize {
        let at = self.0.len();
        self.0.extend_from_slice(&0u16.to_ne_bytes());
        self.0.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end_nest(&mut self, at: usize) {
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

fn rd16(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Walks netlink attributes: (type without flags, payload).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = rd16(b, 0) as usize;
        if len < 4 || len > b.len() {
            return None;
        }
        let item = (rd16(b, 2) & NLA_TYPE_MASK, &b[4..len]);
        let next = (len + 3) & !3;
        b = &b[next.min(b.len())..];
        Some(item)
    })
}

impl Netlink {
    pub fn open() -> Result<Netlink> {
        let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW, NETLINK_ROUTE)?;
        // Best effort: older kernels lack these and still work, only with terser errors.
        let _ = setsockopt(fd.as_fd(), SOL_NETLINK, NETLINK_EXT_ACK, &1i32);
        let _ = setsockopt(fd.as_fd(), SOL_NETLINK, NETLINK_CAP_ACK, &1i32);
        Ok(Netlink { fd, seq: 1 })
    }

    fn send(&mut self, msg: &[u8]) -> Result<()> {
        // SAFETY: sockaddr_nl is plain data; all-zero (pid 0, groups 0) addresses the kernel.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: msg and addr are valid for reading for the call.
        cvt_size(
            unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr() as *const libc::c_void,
                    msg.len(),
                    0,
                    &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                    size_of::<libc::sockaddr_nl>() as u32,
                )
            },
            "sendto(netlink)",
        )
        .map(drop)
    }

    fn recv<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        loop {
            // SAFETY: buf is writable for buf.len() bytes.
            let r = cvt_size(
                unsafe {
                    libc::recv(
                        self.fd.as_raw_fd(),
                        buf.as_mut_ptr() as *mut libc::c_void,
                        buf.len(),
                        0,
                    )
                },
                "recv(netlink)",
            );
            match r {
                Ok(n) => return Ok(&buf[..n]),
                Err(e) if e.errno() == Some(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one request and reads replies with its sequence number until the ack (or, for a
    /// request without ack, the first reply), handing each reply's payload to `on_reply`.
    fn transact(
        &mut self,
        msg: Msg,
        call: &'static str,
        mut on_reply: impl FnMut(u16, &[u8]),
    ) -> std::result::Result<(), NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut bytes = msg.finish();
        bytes[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.send(&bytes)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let data = self.recv(&mut buf)?;
            let mut off = 0;
            while off + 16 <= data.len() {
                let len = rd32(data, off) as usize;
                if len < 16 || off + len > data.len() {
                    break;
                }
                let ty = rd16(data, off + 4);
                let flags = rd16(data, off + 6);
                let mseq = rd32(data, off + 8);
                let body = &data[off + 16..off + len];
                off += (len + 3) & !3;
                if mseq != seq {
                    continue;
                }
                match ty {
                    NLMSG_ERROR => {
                        let errno = -(rd32(body, 0) as i32);
                        if errno == 0 {
                            return Ok(());
                        }
                        // With NETLINK_CAP_ACK only the original header follows the error.
                        let message = if flags & NLM_F_ACK_TLVS != 0 && body.len() > 20 {
                            attrs(&body[20..])
                                .find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
                                .map(|(_, p)| {
                                    let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
                                    String::from_utf8_lossy(&p[..end]).into_owned()
                                })
                        } else {
                            None
                        };
                        return Err(NetlinkError {
                            error: Error::from_errno(call, Errno(errno)),
                            message,
                        });
                    }
                    NLMSG_DONE => return Ok(()),
                    _ => on_reply(ty, body),
                }
            }
        }
    }

    /// RTM_GETLINK for one interface: its XDP state and RX queue count.
    pub fn link_info(&mut self, ifindex: u32) -> std::result::Result<LinkInfo, NetlinkError> {
        let msg = Msg::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 0, ifindex);
        let mut info = LinkInfo::default();
        self.transact(msg, "netlink(RTM_GETLINK)", |ty, body| {
            if ty != RTM_NEWLINK || body.len() < 16 {
                return;
            }
            for (t, p) in attrs(&body[16..]) {
                match t {
                    IFLA_NUM_RX_QUEUES if p.len() >= 4 => info.num_rx_queues = rd32(p, 0),
                    IFLA_XDP => {
                        for (x, q) in attrs(p) {
                            match x {
                                IFLA_XDP_ATTACHED if !q.is_empty() => info.xdp.attached = q[0],
                                IFLA_XDP_PROG_ID if q.len() >= 4 => info.xdp.prog_id = rd32(q, 0),
                                IFLA_XDP_DRV_PROG_ID if q.len() >= 4 => {
                                    info.xdp.drv_prog_id = rd32(q, 0)
                                }
                                IFLA_XDP_SKB_PROG_ID if q.len() >= 4 => {
                                    info.xdp.skb_prog_id = rd32(q, 0)
                                }
                                IFLA_XDP_HW_PROG_ID if q.len() >= 4 => {
                                    info.xdp.hw_prog_id = rd32(q, 0)
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        })?;
        Ok(info)
    }

    /// RTM_SETLINK with IFLA_XDP: attaches `prog_fd` (or detaches with -1) in the mode named by
    /// `flags` (XDP_FLAGS_DRV_MODE / _SKB_MODE, plus _UPDATE_IF_NOEXIST to refuse replacing any
    /// program, or _REPLACE with `expected_fd` to act only if that program is the one attached).
    pub fn set_xdp(
        &mut self,
        ifindex: u32,
        prog_fd: i32,
        flags: u32,
        expected_fd: Option<i32>,
    ) -> std::result::Result<(), NetlinkError> {
        let mut msg = Msg::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 0, ifindex);
        let nest = msg.begin_nest(IFLA_XDP);
        msg.attr(IFLA_XDP_FD, &prog_fd.to_ne_bytes());
        if flags != 0 {
            msg.attr(IFLA_XDP_FLAGS, &flags.to_ne_bytes());
        }
        if let Some(fd) = expected_fd {
            msg.attr(IFLA_XDP_EXPECTED_FD, &fd.to_ne_bytes());
        }
        msg.end_nest(nest);
        self.transact(msg, "netlink(RTM_SETLINK IFLA_XDP)", |_, _| {})
    }
}
