//! The TPACKET_V3 receive ring (PACKET_RX_RING): setup, map, ready, release, teardown.
//!
//! The kernel fills one block at a time and hands it over by setting `block_status` to
//! TP_STATUS_USER (when full, or when the block timeout expires with packets in it). [`ready`]
//! reads that word with acquire ordering and lends the block out as a [`Block`];
//! [`release`] gives it back with a release store of TP_STATUS_KERNEL. Blocks are used in
//! order, so one index is all the state needed. Between the two, the kernel does not touch
//! the block: `release` takes `&mut self`, so no [`Block`] borrow can outlive it, and that is
//! the whole argument for the block borrow being safe.
//!
//! A block holds a chain of `tpacket3_hdr` records, each followed by a `sockaddr_ll` and the
//! packet; [`Block::frames`] walks the chain as [`Frame`]s, bounds-checked against the block, so
//! a corrupt offset ends the walk instead of reading outside.
//!
//! [`ready`]: RxRing::ready
//! [`release`]: RxRing::release

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Mmap;
use crate::packet::{self as pk, TpacketReq3};
use crate::Result;

/// Geometry of a TPACKET_V3 ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxLayout {
    /// Bytes per block: a multiple of the page size.
    pub block_size: u32,
    pub blocks: u32,
    /// Nominal frame size (TPACKET_V3 packs packets by their length; the kernel only checks
    /// this for consistency): a multiple of 16, at most the block size.
    pub frame_size: u32,
    /// Milliseconds after which the kernel retires a block that has packets but is not full.
    pub block_timeout_ms: u32,
}

impl RxLayout {
    /// Bytes of the whole ring.
    pub fn bytes(&self) -> usize {
        self.block_size as usize * self.blocks as usize
    }
}

/// A ring the kernel has allocated for a socket but this process has not mapped yet.
pub struct RxSetup {
    fd: Arc<OwnedFd>,
    layout: RxLayout,
}

/// A mapped TPACKET_V3 RX ring of one socket.
pub struct RxRing {
    // Field order is drop order: unmap before the socket reference goes.
    map: Mmap,
    block_size: usize,
    blocks: usize,
    cur: usize,
    _fd: Arc<OwnedFd>,
}

impl RxRing {
    /// setup: selects TPACKET_V3 and asks the kernel for the ring (PACKET_RX_RING, with the
    /// flow hash filled in). Must precede bind. ENOMEM/ENOBUFS: the kernel could not allocate
    /// the blocks; EINVAL: it refused the geometry.
    pub fn setup(fd: Arc<OwnedFd>, layout: &RxLayout) -> Result<RxSetup> {
        pk::set_version(fd.as_fd(), pk::TPACKET_V3)?;
        let req = TpacketReq3 {
            tp_block_size: layout.block_size,
            tp_block_nr: layout.blocks,
            tp_frame_size: layout.frame_size,
            tp_frame_nr: (layout.block_size / layout.frame_size.max(1)) * layout.blocks,
            tp_retire_blk_tov: layout.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: pk::TP_FT_REQ_FILL_RXHASH,
        };
        pk::set_rx_ring_v3(fd.as_fd(), &req)?;
        Ok(RxSetup {
            fd,
            layout: *layout,
        })
    }

    /// The current block, if the kernel has handed it over. Hand it back with
    /// [`RxRing::release`].
    #[inline]
    pub fn ready(&self) -> Option<Block<'_>> {
        let base = self.cur * self.block_size;
        let status = self
            .map
            .atomic_u32(base + pk::BD_BLOCK_STATUS)
            .load(Ordering::Acquire);
        if status & pk::TP_STATUS_USER == 0 {
            return None;
        }
        // SAFETY: TP_STATUS_USER (read with acquire) means the kernel has finished writing this
        // block and will not touch it until we store TP_STATUS_KERNEL in `release`, which takes
        // &mut self and so cannot run while the returned borrow of &self is alive. The range
        // is block `cur` < `blocks` of a mapping of blocks * block_size bytes.
        let bytes = unsafe { self.map.bytes(base, self.block_size) };
        Some(Block { bytes, status })
    }

    /// release: returns the current block to the kernel and moves to the next one.
    #[inline]
    pub fn release(&mut self) {
        let base = self.cur * self.block_size;
        self.map
            .atomic_u32(base + pk::BD_BLOCK_STATUS)
            .store(pk::TP_STATUS_KERNEL, Ordering::Release);
        self.cur += 1;
        if self.cur == self.blocks {
            self.cur = 0;
        }
    }

    /// Bytes of ring memory.
    pub fn memory(&self) -> usize {
        self.map.len()
    }

    /// teardown: unmaps the ring and drops this ring's reference to the socket (the kernel
    /// frees the blocks when the socket closes). Dropping does the same.
    pub fn teardown(self) {}
}

impl RxSetup {
    /// map: maps the ring the kernel allocated in [`RxRing::setup`].
    pub fn map(self) -> Result<RxRing> {
        let map = Mmap::shared(self.fd.as_fd(), self.layout.bytes(), 0)?;
        Ok(RxRing {
            map,
            block_size: self.layout.block_size as usize,
            blocks: self.layout.blocks as usize,
            cur: 0,
            _fd: self.fd,
        })
    }
}

/// Bytes of a `tpacket3_hdr` plus the start of the `sockaddr_ll` that follows (to
/// `sll_pkttype`): the fixed part of every record in a block.
pub const TP3_SPAN: usize = pk::TP3_SLL_PKTTYPE + 1;

/// A retired block, borrowed from the ring (or any bytes laid out as one).
#[derive(Clone, Copy)]
pub struct Block<'a> {
    bytes: &'a [u8],
    status: u32,
}

#[inline(always)]
fn u32_at(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(w) => u32::from_ne_bytes([w[0], w[1], w[2], w[3]]),
        None => 0,
    }
}

#[inline(always)]
fn rd32(h: &[u8; TP3_SPAN], off: usize) -> u32 {
    u32::from_ne_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]])
}

impl<'a> Block<'a> {
    /// Wraps bytes laid out as a TPACKET_V3 block (benchmarks and tests of the walker).
    pub fn from_bytes(bytes: &'a [u8]) -> Block<'a> {
        Block {
            status: u32_at(bytes, pk::BD_BLOCK_STATUS),
            bytes,
        }
    }

    #[inline]
    pub fn num_pkts(&self) -> u32 {
        u32_at(self.bytes, pk::BD_NUM_PKTS)
    }

    /// Bytes of the block the kernel filled (header and packets).
    #[inline]
    pub fn blk_len(&self) -> u32 {
        u32_at(self.bytes, pk::BD_BLK_LEN)
    }

    pub fn seq_num(&self) -> u64 {
        self.bytes
            .get(pk::BD_SEQ_NUM..pk::BD_SEQ_NUM + 8)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u64::from_ne_bytes)
    }

    /// The kernel dropped packets while this block was being filled.
    #[inline]
    pub fn losing(&self) -> bool {
        self.status & pk::TP_STATUS_LOSING != 0
    }

    /// The block's records, in order.
    #[inline]
    pub fn frames(&self) -> Frames<'a> {
        let n = self.num_pkts();
        Frames {
            bytes: self.bytes,
            off: if n == 0 {
                0
            } else {
                u32_at(self.bytes, pk::BD_OFFSET_TO_FIRST_PKT) as usize
            },
            left: n,
        }
    }
}

/// One record of a block: the kernel's header (read its fields at the `TP3_*` offsets of
/// [`crate::packet`]) and the captured bytes.
#[derive(Clone, Copy)]
pub struct Frame<'a> {
    pub hdr: &'a [u8; TP3_SPAN],
    pub data: &'a [u8],
}

/// Walks a block's `tpacket3_hdr` chain.
pub struct Frames<'a> {
    bytes: &'a [u8],
    off: usize,
    left: u32,
}

impl<'a> Frames<'a> {
    /// Records still to come (as the block header counts them).
    #[inline]
    pub fn remaining(&self) -> u32 {
        self.left
    }

    /// The next record, handed to `view` (header, captured bytes) to build what the caller
    /// walks with: the engine's packet views are built right here, with no intermediate
    /// value between the walk and the view (which keeps the walk's state in registers).
    #[inline(always)]
    pub fn next_with<T>(
        &mut self,
        view: impl FnOnce(&'a [u8; TP3_SPAN], &'a [u8]) -> T,
    ) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        let b = self.bytes;
        let off = self.off;
        // The header and the sockaddr_ll after it, as one fixed-size array: every field read
        // below is then free of bounds checks.
        let Some(h) = b
            .get(off..off + TP3_SPAN)
            .and_then(|h| <&[u8; TP3_SPAN]>::try_from(h).ok())
        else {
            // A corrupt offset would be a kernel bug; stop walking rather than read outside.
            self.left = 0;
            return None;
        };
        let next = rd32(h, pk::TP3_NEXT_OFFSET) as usize;
        let snaplen = rd32(h, pk::TP3_SNAPLEN) as usize;
        let start = off + u16::from_ne_bytes([h[pk::TP3_MAC], h[pk::TP3_MAC + 1]]) as usize;
        let data = b.get(start..start + snaplen).unwrap_or(&[]);
        self.left -= 1;
        self.off = off + next;
        if next == 0 {
            self.left = 0;
        }
        Some(view(h, data))
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Frame<'a>> {
        self.next_with(|hdr, data| Frame { hdr, data })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// Lays packets out in a buffer as the kernel does in a TPACKET_V3 block (benchmarks and tests
/// of the walker without a socket); returns how many fitted.
pub fn synthetic_block(buf: &mut [u8], frames: &[&[u8]]) -> usize {
    buf.fill(0);
    let first = 48usize; // ALIGN8(sizeof(tpacket_block_desc))
    let mac_off = 48 + 32 + 2; // header + sockaddr_ll space, aligned so the IP header is 16-aligned
    let mut off = first;
    let mut count = 0;
    let mut last = 0;
    for f in frames {
        let rec = (mac_off + f.len() + 15) & !15;
        if off + rec > buf.len() {
            break;
        }
        let h = &mut buf[off..];
        h[pk::TP3_SEC..pk::TP3_SEC + 4].copy_from_slice(&1u32.to_ne_bytes());
        h[pk::TP3_SNAPLEN..pk::TP3_SNAPLEN + 4].copy_from_slice(&(f.len() as u32).to_ne_bytes());
        h[pk::TP3_LEN..pk::TP3_LEN + 4].copy_from_slice(&(f.len() as u32).to_ne_bytes());
        h[pk::TP3_STATUS..pk::TP3_STATUS + 4].copy_from_slice(&pk::TP_STATUS_USER.to_ne_bytes());
        h[pk::TP3_MAC..pk::TP3_MAC + 2].copy_from_slice(&(mac_off as u16).to_ne_bytes());
        h[mac_off..mac_off + f.len()].copy_from_slice(f);
        if count > 0 {
            let prev_next = (off - last) as u32;
            buf[last..last + 4].copy_from_slice(&prev_next.to_ne_bytes());
        }
        last = off;
        off += rec;
        count += 1;
    }
    buf[pk::BD_BLOCK_STATUS..pk::BD_BLOCK_STATUS + 4]
        .copy_from_slice(&pk::TP_STATUS_USER.to_ne_bytes());
    buf[pk::BD_NUM_PKTS..pk::BD_NUM_PKTS + 4].copy_from_slice(&(count as u32).to_ne_bytes());
    buf[pk::BD_OFFSET_TO_FIRST_PKT..pk::BD_OFFSET_TO_FIRST_PKT + 4]
        .copy_from_slice(&(first as u32).to_ne_bytes());
    buf[pk::BD_BLK_LEN..pk::BD_BLK_LEN + 4].copy_from_slice(&(off as u32).to_ne_bytes());
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_a_synthetic_block() {
        let frames: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 60 + i as usize]).collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut buf = vec![0u8; 4096];
        assert_eq!(synthetic_block(&mut buf, &refs), 10);
        let block = Block::from_bytes(&buf);
        assert_eq!(block.num_pkts(), 10);
        assert!(!block.losing());
        let got: Vec<_> = block.frames().collect();
        assert_eq!(got.len(), 10);
        for (i, f) in got.iter().enumerate() {
            assert_eq!(f.data, frames[i].as_slice());
            assert_eq!(rd32(f.hdr, pk::TP3_LEN) as usize, frames[i].len());
            assert_eq!(rd32(f.hdr, pk::TP3_SEC), 1);
        }
    }

    #[test]
    fn a_block_that_does_not_fit_stops_early() {
        let frames = [vec![1u8; 1000], vec![2u8; 1000], vec![3u8; 1000]];
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut buf = vec![0u8; 2048];
        assert_eq!(synthetic_block(&mut buf, &refs), 1);
        assert_eq!(Block::from_bytes(&buf).frames().count(), 1);
    }

    #[test]
    fn a_corrupt_offset_ends_the_walk_inside_the_block() {
        let frame = [7u8; 60];
        let mut buf = vec![0u8; 4096];
        assert_eq!(synthetic_block(&mut buf, &[&frame, &frame, &frame]), 3);
        // The first record's next offset now points past the end of the block.
        buf[48..52].copy_from_slice(&5000u32.to_ne_bytes());
        let got: Vec<_> = Block::from_bytes(&buf).frames().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, &frame);
    }

    #[test]
    fn a_short_buffer_is_an_empty_block() {
        let block = Block::from_bytes(&[0u8; 8]);
        assert_eq!(block.num_pkts(), 0);
        assert_eq!(block.frames().count(), 0);
    }
}

#[cfg(test)]
mod socket_tests {
    use super::*;
    use crate::Errno;

    #[test]
    fn setup_map_ready_teardown_on_a_real_socket() {
        if !crate::ring::can_run("setup_map_ready_teardown_on_a_real_socket") {
            return;
        }
        let fd = Arc::new(crate::packet_socket().unwrap());
        let layout = RxLayout {
            block_size: 1 << 16,
            blocks: 4,
            frame_size: 2048,
            block_timeout_ms: 10,
        };
        let ring = RxRing::setup(fd.clone(), &layout).unwrap().map().unwrap();
        assert_eq!(ring.memory(), 4 << 16);
        // Not bound: the kernel has handed nothing over.
        assert!(ring.ready().is_none());
        // The socket has a ring: a second one is refused, so a mapping always matches the
        // ring the kernel has.
        let e = RxRing::setup(fd.clone(), &layout).err().unwrap();
        assert_eq!(e.errno(), Some(Errno::EBUSY));
        ring.teardown();
    }
}
