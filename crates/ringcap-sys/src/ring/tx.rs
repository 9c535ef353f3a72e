//! A TPACKET_V2 transmit ring (PACKET_TX_RING): the safe face of the frame handshake.
//!
//! Lifecycle, as in netsniff-ng's `ring_tx.c`: **setup** (open a send-only packet socket →
//! select TPACKET_V2 → options: qdisc bypass, loss, copy → create the ring, halving the block
//! count on ENOMEM) → **map** (mmap, and the frame table) → bind. [`TxRing::open`] runs the three.
//! **Teardown** is drop: the ring is unmapped, then the socket closed.
//!
//! The handshake: user space owns a frame while its status is `TP_STATUS_AVAILABLE` (or
//! `TP_STATUS_WRONG_FORMAT`, a frame the kernel refused and handed back); it writes the frame
//! and its length, then stores `TP_STATUS_SEND_REQUEST` with release ordering. A `sendto` with no
//! buffer ([`TxRing::kick`]) makes the kernel transmit every requested frame from its own head
//! on; each frame turns `TP_STATUS_SENDING` and then `TP_STATUS_AVAILABLE` once the driver is done
//! with it. The kernel never touches a frame that is not requested, so a `&mut` borrow of an
//! available frame is exclusive.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use super::Mmap;
use crate::packet::{
    self, TpacketReq, PACKET_LOSS, PACKET_QDISC_BYPASS, SOL_PACKET, TP2_LEN, TP2_STATUS,
    TP_STATUS_AVAILABLE, TP_STATUS_SENDING, TP_STATUS_SEND_REQUEST, TP_STATUS_WRONG_FORMAT,
};
use crate::{Errno, Error, Event, Polled, Result};

/// Where frame data starts inside a TPACKET_V2 TX frame: `TPACKET2_HDRLEN - sizeof(sockaddr_ll)`
/// = TPACKET_ALIGN(sizeof(tpacket2_hdr)) = 32 (without PACKET_TX_HAS_OFF).
pub const TX_DATA_OFFSET: usize = 32;

/// Options for [`TxRing::open`].
#[derive(Debug, Clone, Copy)]
pub struct TxRingOptions {
    /// Bytes per frame slot: a multiple of 16, more than [`TX_DATA_OFFSET`], at most the block.
    pub frame_size: u32,
    /// Frame slots wanted (rounded to whole blocks; halved while the kernel says ENOMEM).
    pub frame_nr: u32,
    /// Block size: a multiple of the page size.
    pub block_size: u32,
    /// PACKET_QDISC_BYPASS: hand frames straight to the driver, skipping the qdisc layer.
    pub qdisc_bypass: bool,
    /// PACKET_LOSS: the kernel skips malformed frames (setting them available) instead of
    /// stopping the ring at them with `TP_STATUS_WRONG_FORMAT`.
    pub loss: bool,
    /// PACKET_VNET_HDR with `hdr_len` = the whole frame: the kernel copies each frame into the
    /// socket buffer instead of attaching the ring page as a zero-copy fragment. For small
    /// frames that is cheaper, and drivers that must not hold user pages (veth, which otherwise
    /// copies the fragment into a freshly allocated page for every frame) skip that work.
    /// Ignored (off) where the kernel refuses the option.
    pub copy: bool,
}

/// PACKET_VNET_HDR socket option, and the size of `struct virtio_net_hdr` that then precedes
/// every frame in a TX slot.
const PACKET_VNET_HDR: i32 = 15;
pub const VNET_HDR_LEN: usize = 10;

/// A TPACKET_V2 TX ring bound to one interface.
pub struct TxRing {
    // Field order is drop order: unmap before closing the socket.
    map: Mmap,
    fd: OwnedFd,
    /// Byte offset of every slot in the mapping, computed once at map time (netsniff-ng's
    /// frame table): the kernel lays frames out block by block, never across a block's end, so
    /// a slot's offset is a division and a modulo that the per-frame path must not pay.
    frames: Box<[usize]>,
    frame_size: usize,
    head: usize,
    qdisc_bypass: bool,
    /// Bytes of virtio_net_hdr before each frame (0 or 10).
    vnet: usize,
}

/// A TX ring the kernel has allocated on a socket, not mapped yet.
pub struct TxSetup {
    fd: OwnedFd,
    req: TpacketReq,
    qdisc_bypass: bool,
    vnet: usize,
}

/// What a frame slot holds from the user's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Ours to fill.
    Free,
    /// The kernel refused the frame we put there (only without PACKET_LOSS); ours again.
    Refused,
    /// Requested or being sent: the kernel's.
    Busy,
}

#[inline]
fn state_of(status: u32) -> SlotState {
    if status & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING) != 0 {
        SlotState::Busy
    } else if status & TP_STATUS_WRONG_FORMAT != 0 {
        SlotState::Refused
    } else {
        debug_assert_eq!(status, TP_STATUS_AVAILABLE);
        SlotState::Free
    }
}

/// Byte offsets of `frame_nr` slots of `frame_size` bytes packed `block_size / frame_size` to a
/// block, blocks back to back.
fn frame_table(block_size: usize, frame_size: usize, frame_nr: usize) -> Box<[usize]> {
    let per_block = block_size / frame_size;
    (0..frame_nr)
        .map(|slot| (slot / per_block) * block_size + (slot % per_block) * frame_size)
        .collect()
}

impl TxRing {
    /// Opens a send-only AF_PACKET socket with a TX ring on interface `ifindex`: setup, map,
    /// bind.
    pub fn open(ifindex: u32, opts: &TxRingOptions) -> Result<TxRing> {
        let ring = TxRing::setup(opts)?.map()?;
        ring.bind(ifindex)?;
        Ok(ring)
    }

    /// setup: a send-only packet socket with TPACKET_V2, the options, and the ring created in
    /// the kernel (the block count halved while the kernel says ENOMEM).
    pub fn setup(opts: &TxRingOptions) -> Result<TxSetup> {
        let fs = opts.frame_size as usize;
        if fs & (packet::TPACKET_ALIGNMENT - 1) != 0
            || fs <= TX_DATA_OFFSET
            || opts.block_size == 0
            || opts.block_size & (crate::page_size() as u32 - 1) != 0
            || opts.frame_size > opts.block_size
        {
            return Err(Error::from_errno(
                "setsockopt(PACKET_TX_RING)",
                Errno::EINVAL,
            ));
        }
        // Protocol 0 and never bound with another: the socket never queues received packets.
        let fd = crate::packet_socket()?;
        packet::set_version(fd.as_fd(), packet::TPACKET_V2)?;
        // Qdisc bypass exists since Linux 3.14; if refused, frames go through the qdisc.
        let qdisc_bypass = opts.qdisc_bypass
            && packet::set_int(fd.as_fd(), SOL_PACKET, PACKET_QDISC_BYPASS, 1).is_ok();
        if opts.loss {
            packet::set_int(fd.as_fd(), SOL_PACKET, PACKET_LOSS, 1)?;
        }
        let vnet =
            if opts.copy && packet::set_int(fd.as_fd(), SOL_PACKET, PACKET_VNET_HDR, 1).is_ok() {
                VNET_HDR_LEN
            } else {
                0
            };
        let per_block = opts.block_size / opts.frame_size;
        let mut blocks = opts.frame_nr.div_ceil(per_block).max(1);
        let req = loop {
            let req = TpacketReq {
                tp_block_size: opts.block_size,
                tp_block_nr: blocks,
                tp_frame_size: opts.frame_size,
                tp_frame_nr: blocks * per_block,
            };
            match packet::set_tx_ring(fd.as_fd(), &req) {
                Ok(()) => break req,
                Err(e) if e.errno() == Some(Errno::ENOMEM) && blocks > 1 => blocks /= 2,
                Err(e) => {
                    return Err(Error {
                        call: "setsockopt(PACKET_TX_RING)",
                        source: e.source,
                    })
                }
            }
        };
        Ok(TxSetup {
            fd,
            req,
            qdisc_bypass,
            vnet,
        })
    }

    /// Binds the ring's socket to interface `ifindex` (protocol 0: send only).
    pub fn bind(&self, ifindex: u32) -> Result<()> {
        crate::bind_packet(self.fd.as_fd(), ifindex, 0)
    }

    /// teardown: unmaps the ring and closes its socket (frames still requested may be dropped
    /// by the kernel). Dropping does the same.
    pub fn teardown(self) {}

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Number of frame slots.
    pub fn frame_nr(&self) -> usize {
        self.frames.len()
    }

    /// The largest frame a slot holds.
    pub fn max_frame_len(&self) -> usize {
        (self.frame_size - TX_DATA_OFFSET - self.vnet).min(u16::MAX as usize)
    }

    /// Whether frames are copied into socket buffers (see [`TxRingOptions::copy`]).
    pub fn copies(&self) -> bool {
        self.vnet > 0
    }

    /// Ring memory in bytes.
    pub fn memory(&self) -> usize {
        self.map.len()
    }

    /// Whether PACKET_QDISC_BYPASS took effect.
    pub fn qdisc_bypass(&self) -> bool {
        self.qdisc_bypass
    }

    /// The slot the next [`TxRing::submit`] fills.
    pub fn head(&self) -> usize {
        self.head
    }

    /// Byte offset of a slot in the mapping, from the frame table. Panics past the last slot.
    #[inline]
    fn frame_offset(&self, slot: usize) -> usize {
        self.frames[slot]
    }

    #[inline]
    fn status_word(&self, slot: usize) -> &AtomicU32 {
        self.map.atomic_u32(self.frame_offset(slot) + TP2_STATUS)
    }

    /// The state of one slot (acquire: a free slot's bytes are then ours to write).
    #[inline]
    pub fn state(&self, slot: usize) -> SlotState {
        state_of(self.status_word(slot).load(Ordering::Acquire))
    }

    /// The state of the head slot.
    #[inline]
    pub fn head_state(&self) -> SlotState {
        self.state(self.head)
    }

    /// Slots the kernel still holds (requested or being sent).
    pub fn busy(&self) -> usize {
        (0..self.frames.len())
            .filter(|&s| self.state(s) == SlotState::Busy)
            .count()
    }

    /// The data area of a slot the kernel does not hold; `None` while it is busy (or past the
    /// last slot).
    #[inline]
    pub fn data_mut(&mut self, slot: usize) -> Option<&mut [u8]> {
        let base = *self.frames.get(slot)?;
        if self.state(slot) == SlotState::Busy {
            return None;
        }
        let off = base + TX_DATA_OFFSET + self.vnet;
        let len = self.frame_size - TX_DATA_OFFSET - self.vnet;
        // SAFETY: the slot is free or refused (checked with acquire above), so the kernel does
        // not read or write it until we request it; `&mut self` makes this the only borrow.
        // The range lies inside the slot, which the frame table puts inside the mapping.
        Some(unsafe { self.map.bytes_mut(off, len) })
    }

    /// Marks the head slot (already filled through [`TxRing::data_mut`]) as `len` bytes to send
    /// and moves the head on. Returns false (and does nothing) if the head slot is busy or `len`
    /// does not fit.
    #[inline]
    pub fn submit(&mut self, len: usize) -> bool {
        if len > self.max_frame_len() || self.head_state() == SlotState::Busy {
            return false;
        }
        let base = self.frame_offset(self.head);
        if self.vnet > 0 {
            // struct virtio_net_hdr: no checksum offload, no GSO, hdr_len (little endian) = the
            // whole frame, so the kernel copies all of it.
            // SAFETY: the head slot is not busy (checked above), so the kernel does not touch
            // it; `&mut self` makes this the only borrow.
            let h = unsafe { self.map.bytes_mut(base + TX_DATA_OFFSET, VNET_HDR_LEN) };
            h.fill(0);
            h[2..4].copy_from_slice(&(len as u16).to_le_bytes());
        }
        self.map
            .atomic_u32(base + TP2_LEN)
            .store((len + self.vnet) as u32, Ordering::Relaxed);
        // Release: the frame bytes and length are visible before the kernel sees the request.
        self.map
            .atomic_u32(base + TP2_STATUS)
            .store(TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head += 1;
        if self.head == self.frames.len() {
            self.head = 0;
        }
        true
    }

    /// Clears a refused slot's status back to available (after counting it).
    pub fn clear_refused(&mut self, slot: usize) {
        if self.state(slot) == SlotState::Refused {
            self.status_word(slot)
                .store(TP_STATUS_AVAILABLE, Ordering::Release);
        }
    }

    /// Asks the kernel to send every requested frame. With `wait` false (MSG_DONTWAIT) it returns
    /// once they are handed to the driver; with `wait` true, once they are all completed.
    pub fn kick(&self, wait: bool) -> Result<usize> {
        crate::net::send_kick(self.fd.as_fd(), wait)
    }

    /// Waits up to `timeout_ms` for the kernel's current frame to become available (POLLOUT).
    pub fn wait_writable(&self, timeout_ms: i32) -> Result<bool> {
        Ok(crate::poll(self.fd.as_fd(), Event::Writable, timeout_ms)? == Polled::Ready)
    }
}

impl TxSetup {
    /// map: maps the ring and builds its frame table.
    pub fn map(self) -> Result<TxRing> {
        let block_size = self.req.tp_block_size as usize;
        let len = block_size * self.req.tp_block_nr as usize;
        let map = Mmap::shared(self.fd.as_fd(), len, 0)?;
        let frame_size = self.req.tp_frame_size as usize;
        let frames = frame_table(block_size, frame_size, self.req.tp_frame_nr as usize);
        debug_assert!(frames.iter().all(|&off| off + frame_size <= len));
        Ok(TxRing {
            map,
            fd: self.fd,
            frames,
            frame_size,
            head: 0,
            qdisc_bypass: self.qdisc_bypass,
            vnet: self.vnet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::frame_table;

    #[test]
    fn frames_never_cross_a_block_end() {
        // 4096-byte blocks of three 1280-byte frames: 256 bytes unused at each block's end.
        let t = frame_table(4096, 1280, 7);
        assert_eq!(&t[..], &[0, 1280, 2560, 4096, 5376, 6656, 8192]);
    }

    #[test]
    fn whole_blocks_are_back_to_back() {
        let t = frame_table(8192, 2048, 8);
        assert_eq!(&t[..], &(0..8).map(|i| i * 2048).collect::<Vec<_>>()[..]);
    }
}
