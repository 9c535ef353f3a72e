//! The AF_PACKET ABI from `<linux/if_packet.h>`: constants, `repr(C)` structures and thin safe
//! wrappers for the socket options a capture or a TX ring needs.

use std::os::fd::BorrowedFd;

use crate::{getsockopt, setsockopt, setsockopt_slice, Pod, Result};

pub const SOL_PACKET: i32 = 263;
pub const ETH_P_ALL: u16 = 0x0003;
pub const ETH_P_IP: u16 = 0x0800;

pub const PACKET_ADD_MEMBERSHIP: i32 = 1;
pub const PACKET_DROP_MEMBERSHIP: i32 = 2;
pub const PACKET_RX_RING: i32 = 5;
pub const PACKET_STATISTICS: i32 = 6;
pub const PACKET_AUXDATA: i32 = 8;
pub const PACKET_VERSION: i32 = 10;
pub const PACKET_RESERVE: i32 = 12;
pub const PACKET_TX_RING: i32 = 13;
pub const PACKET_LOSS: i32 = 14;
pub const PACKET_TIMESTAMP: i32 = 17;
pub const PACKET_FANOUT: i32 = 18;
pub const PACKET_TX_HAS_OFF: i32 = 19;
pub const PACKET_QDISC_BYPASS: i32 = 20;
pub const PACKET_IGNORE_OUTGOING: i32 = 23;

pub const PACKET_MR_PROMISC: u16 = 1;

pub const TPACKET_V2: i32 = 1;
pub const TPACKET_V3: i32 = 2;
pub const TPACKET_ALIGNMENT: usize = 16;

pub const TP_STATUS_KERNEL: u32 = 0;
pub const TP_STATUS_USER: u32 = 1 << 0;
pub const TP_STATUS_COPY: u32 = 1 << 1;
pub const TP_STATUS_LOSING: u32 = 1 << 2;
pub const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub const TP_STATUS_BLK_TMO: u32 = 1 << 5;
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
pub const TP_STATUS_CSUM_VALID: u32 = 1 << 7;

// TX ring statuses.
pub const TP_STATUS_AVAILABLE: u32 = 0;
pub const TP_STATUS_SEND_REQUEST: u32 = 1 << 0;
pub const TP_STATUS_SENDING: u32 = 1 << 1;
pub const TP_STATUS_WRONG_FORMAT: u32 = 1 << 2;

pub const TP_FT_REQ_FILL_RXHASH: u32 = 1;

pub const PACKET_HOST: u8 = 0;
pub const PACKET_BROADCAST: u8 = 1;
pub const PACKET_MULTICAST: u8 = 2;
pub const PACKET_OTHERHOST: u8 = 3;
pub const PACKET_OUTGOING: u8 = 4;

pub const PACKET_FANOUT_HASH: u16 = 0;
pub const PACKET_FANOUT_LB: u16 = 1;
pub const PACKET_FANOUT_CPU: u16 = 2;
pub const PACKET_FANOUT_ROLLOVER: u16 = 3;
pub const PACKET_FANOUT_RND: u16 = 4;
pub const PACKET_FANOUT_QM: u16 = 5;
pub const PACKET_FANOUT_CBPF: u16 = 6;
pub const PACKET_FANOUT_EBPF: u16 = 7;
pub const PACKET_FANOUT_FLAG_ROLLOVER: u16 = 0x1000;
pub const PACKET_FANOUT_FLAG_UNIQUEID: u16 = 0x2000;
pub const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u16 = 0x4000;
pub const PACKET_FANOUT_FLAG_DEFRAG: u16 = 0x8000;

/// `struct tpacket_req3`: geometry of a TPACKET_V3 ring.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TpacketReq3 {
    pub tp_block_size: u32,
    pub tp_block_nr: u32,
    pub tp_frame_size: u32,
    pub tp_frame_nr: u32,
    pub tp_retire_blk_tov: u32,
    pub tp_sizeof_priv: u32,
    pub tp_feature_req_word: u32,
}
// SAFETY: repr(C) of u32s.
unsafe impl Pod for TpacketReq3 {}

/// `struct tpacket_req`: geometry of a TPACKET_V1/V2 ring (used for TX rings).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TpacketReq {
    pub tp_block_size: u32,
    pub tp_block_nr: u32,
    pub tp_frame_size: u32,
    pub tp_frame_nr: u32,
}
// SAFETY: repr(C) of u32s.
unsafe impl Pod for TpacketReq {}

/// `struct tpacket_stats_v3`; the kernel zeroes it on every read.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TpacketStatsV3 {
    /// Packets that reached the socket, including the dropped ones.
    pub tp_packets: u32,
    pub tp_drops: u32,
    pub tp_freeze_q_cnt: u32,
}
// SAFETY: repr(C) of u32s.
unsafe impl Pod for TpacketStatsV3 {}

/// `struct tpacket_auxdata` (PACKET_AUXDATA control message).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TpacketAuxdata {
    pub tp_status: u32,
    pub tp_len: u32,
    pub tp_snaplen: u32,
    pub tp_mac: u16,
    pub tp_net: u16,
    pub tp_vlan_tci: u16,
    pub tp_vlan_tpid: u16,
}
// SAFETY: repr(C) of integers without padding.
unsafe impl Pod for TpacketAuxdata {}

/// `struct packet_mreq`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketMreq {
    pub mr_ifindex: i32,
    pub mr_type: u16,
    pub mr_alen: u16,
    pub mr_address: [u8; 8],
}
// SAFETY: repr(C) of integers without padding.
unsafe impl Pod for PacketMreq {}

/// `struct sock_filter`: one classic BPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}
// SAFETY: repr(C) of integers without padding.
unsafe impl Pod for SockFilter {}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}
// SAFETY: repr(C); the pointer is only passed to the kernel, never dereferenced here.
unsafe impl Pod for SockFprog {}

// Byte offsets inside `struct tpacket_block_desc` (version, offset_to_priv, then tpacket_hdr_v1).
pub const BD_BLOCK_STATUS: usize = 8;
pub const BD_NUM_PKTS: usize = 12;
pub const BD_OFFSET_TO_FIRST_PKT: usize = 16;
pub const BD_BLK_LEN: usize = 20;
pub const BD_SEQ_NUM: usize = 24;
pub const BD_HEADER_LEN: usize = 48;

// Byte offsets inside `struct tpacket3_hdr`.
pub const TP3_NEXT_OFFSET: usize = 0;
pub const TP3_SEC: usize = 4;
pub const TP3_NSEC: usize = 8;
pub const TP3_SNAPLEN: usize = 12;
pub const TP3_LEN: usize = 16;
pub const TP3_STATUS: usize = 20;
pub const TP3_MAC: usize = 24;
pub const TP3_NET: usize = 26;
pub const TP3_RXHASH: usize = 28;
pub const TP3_VLAN_TCI: usize = 32;
pub const TP3_VLAN_TPID: usize = 36;
/// sizeof(struct tpacket3_hdr); the sockaddr_ll follows at this (16-aligned) offset.
pub const TP3_HDRLEN: usize = 48;
/// Offset of sll_pkttype inside the sockaddr_ll that follows the header.
pub const TP3_SLL_PKTTYPE: usize = TP3_HDRLEN + 10;

// Byte offsets inside `struct tpacket2_hdr` (TX rings).
pub const TP2_STATUS: usize = 0;
pub const TP2_LEN: usize = 4;
pub const TP2_SNAPLEN: usize = 8;
pub const TP2_MAC: usize = 12;
pub const TP2_NET: usize = 14;
/// sizeof(struct tpacket2_hdr) = 32; frame data for TX starts at TPACKET_ALIGN(32) + ... (see tx).
pub const TP2_HDRLEN: usize = 32;

/// Selects the ring ABI version (must precede PACKET_RX_RING/PACKET_TX_RING). Crate-private
/// like the ring setters: only the ring module's setup step may create (or, by freeing,
/// replace) a ring, so a mapping always matches the ring the kernel has.
pub(crate) fn set_version(fd: BorrowedFd<'_>, version: i32) -> Result<()> {
    setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version)
}

pub(crate) fn set_rx_ring_v3(fd: BorrowedFd<'_>, req: &TpacketReq3) -> Result<()> {
    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req)
}

pub(crate) fn set_tx_ring(fd: BorrowedFd<'_>, req: &TpacketReq) -> Result<()> {
    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, req)
}

/// Reads (and thereby resets) the socket's packet statistics.
pub fn statistics(fd: BorrowedFd<'_>) -> Result<TpacketStatsV3> {
    getsockopt(fd, SOL_PACKET, PACKET_STATISTICS)
}

/// Joins (or creates) a fanout group with the integer form `id | (type_flags << 16)`.
pub fn join_fanout(fd: BorrowedFd<'_>, id: u16, type_flags: u16) -> Result<()> {
    let arg: u32 = id as u32 | ((type_flags as u32) << 16);
    setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg)
}

/// The group id and mode of the socket's fanout group (after a UNIQUEID join the kernel's id).
pub fn fanout_group(fd: BorrowedFd<'_>) -> Result<(u16, u16)> {
    let v: u32 = getsockopt(fd, SOL_PACKET, PACKET_FANOUT)?;
    Ok((v as u16, (v >> 16) as u16))
}

/// Adds promiscuous membership; it ends with the socket, so the interface is never left promiscuous.
pub fn add_promisc(fd: BorrowedFd<'_>, ifindex: u32) -> Result<()> {
    let mreq = PacketMreq {
        mr_ifindex: ifindex as i32,
        mr_type: PACKET_MR_PROMISC,
        ..Default::default()
    };
    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq)
}

/// Sets an integer option (a flag, a count). Options that take structures (rings, UMEM,
/// filters, memberships) have typed setters; the kernel refuses those with an int (EINVAL).
pub fn set_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> Result<()> {
    setsockopt(fd, level, name, &value)
}

/// Attaches a classic BPF program (SO_ATTACH_FILTER); it replaces any program attached before.
pub fn attach_filter(fd: BorrowedFd<'_>, prog: &[SockFilter]) -> Result<()> {
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// Removes the attached program (SO_DETACH_FILTER).
pub fn detach_filter(fd: BorrowedFd<'_>) -> Result<()> {
    setsockopt_slice::<i32>(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &[0])
}

/// The one-instruction program `ret #0`: accepts nothing.
pub const REJECT_ALL: [SockFilter; 1] = [SockFilter {
    code: 0x06,
    jt: 0,
    jf: 0,
    k: 0,
}];
