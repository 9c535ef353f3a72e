//! The TPACKET_V3 receive ring: set up the layout, create it, map it, walk retired blocks.
//!
//! The kernel fills one block at a time and hands it over by setting `block_status` to
//! TP_STATUS_USER (when full, or when the block timeout expires with packets in it). The worker
//! reads that word with acquire ordering, walks the block's `tpacket3_hdr` chain as zero-copy
//! [`Packet`] views, and gives the block back with a release store of TP_STATUS_KERNEL. Blocks
//! are used in order, so one index is all the state needed; `poll` is only called when the next
//! block is still the kernel's.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringcap_sys::packet as pk;
use ringcap_sys::Mmap;

use crate::config::Geometry;
use crate::packet::Packet;
use crate::{Error, Result};

/// A mapped TPACKET_V3 RX ring of one socket; unmapped on drop (before the socket closes).
pub struct RxRing {
    map: Mmap,
    block_size: usize,
    blocks: usize,
    cur: usize,
    // Keeps the socket alive as long as the mapping.
    _fd: Arc<OwnedFd>,
}

impl RxRing {
    /// Selects TPACKET_V3, asks for the ring and maps it. Must precede bind.
    pub fn create(fd: Arc<OwnedFd>, g: &Geometry) -> Result<RxRing> {
        pk::set_version(fd.as_fd(), pk::TPACKET_V3)?;
        let req = pk::TpacketReq3 {
            tp_block_size: g.block_size,
            tp_block_nr: g.blocks,
            tp_frame_size: g.frame_size,
            tp_frame_nr: (g.block_size / g.frame_size) * g.blocks,
            tp_retire_blk_tov: g.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: pk::TP_FT_REQ_FILL_RXHASH,
        };
        let refused = |source| Error::RingRefused {
            bytes: g.ring_bytes(),
            blocks: g.blocks,
            block_size: g.block_size,
            source,
        };
        pk::set_rx_ring_v3(fd.as_fd(), &req).map_err(|e| match e.errno() {
            Some(libc::ENOMEM) | Some(libc::ENOBUFS) => refused(e),
            Some(libc::EINVAL) => Error::Geometry(format!(
                "the kernel rejected the ring ({} blocks of {} bytes, frames of {}): {e}",
                g.blocks, g.block_size, g.frame_size
            )),
            _ => Error::Sys(e),
        })?;
        let map = Mmap::shared(fd.as_fd(), g.ring_bytes() as usize, 0).map_err(refused)?;
        Ok(RxRing {
            map,
            block_size: g.block_size as usize,
            blocks: g.blocks as usize,
            cur: 0,
            _fd: fd,
        })
    }

    /// The current block, if the kernel has handed it over. Hand it back with [`RxRing::release`].
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
        // &mut self and so cannot run while the returned borrow is alive.
        let bytes = unsafe { self.map.bytes(base, self.block_size) };
        Some(Block { bytes, status })
    }

    /// Returns the current block to the kernel and moves to the next one.
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
}

/// A retired block, borrowed from the ring.
pub struct Block<'a> {
    bytes: &'a [u8],
    status: u32,
}

use crate::packet::TP3_SPAN as HDR_SPAN;

#[inline(always)]
fn rd32(h: &[u8; HDR_SPAN], off: usize) -> u32 {
    u32::from_ne_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]])
}

#[inline(always)]
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl<'a> Block<'a> {
    /// Wraps bytes laid out as a TPACKET_V3 block (for benchmarks and tests).
    pub fn from_bytes(bytes: &'a [u8]) -> Block<'a> {
        Block {
            status: u32_at(bytes, pk::BD_BLOCK_STATUS),
            bytes,
        }
    }

    pub fn num_pkts(&self) -> u32 {
        u32_at(self.bytes, pk::BD_NUM_PKTS)
    }

    /// Bytes of the block the kernel filled (header and packets).
    pub fn blk_len(&self) -> u32 {
        u32_at(self.bytes, pk::BD_BLK_LEN)
    }

    pub fn seq_num(&self) -> u64 {
        let b = self.bytes;
        u64::from_ne_bytes(b[pk::BD_SEQ_NUM..pk::BD_SEQ_NUM + 8].try_into().unwrap())
    }

    /// The kernel dropped packets while this block was being filled.
    pub fn losing(&self) -> bool {
        self.status & pk::TP_STATUS_LOSING != 0
    }

    pub fn packets(&self) -> BlockIter<'a> {
        let n = self.num_pkts();
        BlockIter {
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

/// Walks a block's `tpacket3_hdr` chain.
pub struct BlockIter<'a> {
    bytes: &'a [u8],
    off: usize,
    left: u32,
}

impl<'a> BlockIter<'a> {
    pub fn remaining(&self) -> u32 {
        self.left
    }
}

impl<'a> Iterator for BlockIter<'a> {
    type Item = Packet<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Packet<'a>> {
        if self.left == 0 {
            return None;
        }
        let b = self.bytes;
        let off = self.off;
        // The header and the sockaddr_ll after it, as one fixed-size array: every field read
        // below is then free of bounds checks.
        let Some(h) = b
            .get(off..off + HDR_SPAN)
            .and_then(|h| <&[u8; HDR_SPAN]>::try_from(h).ok())
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
        Some(Packet::from_tp3(h, data))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// Lays packets out in a buffer as the kernel does in a TPACKET_V3 block (for benchmarks and
/// tests of the walker without a socket).
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
        h[4..8].copy_from_slice(&1u32.to_ne_bytes());
        h[12..16].copy_from_slice(&(f.len() as u32).to_ne_bytes());
        h[16..20].copy_from_slice(&(f.len() as u32).to_ne_bytes());
        h[20..24].copy_from_slice(&pk::TP_STATUS_USER.to_ne_bytes());
        h[24..26].copy_from_slice(&(mac_off as u16).to_ne_bytes());
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
        let got: Vec<_> = block.packets().collect();
        assert_eq!(got.len(), 10);
        for (i, p) in got.iter().enumerate() {
            assert_eq!(p.data(), frames[i].as_slice());
            assert_eq!(p.len() as usize, frames[i].len());
            assert_eq!(p.ts_ns(), 1_000_000_000);
        }
    }

    #[test]
    fn a_block_that_does_not_fit_stops_early() {
        let frames = [vec![1u8; 1000], vec![2u8; 1000], vec![3u8; 1000]];
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut buf = vec![0u8; 2048];
        assert_eq!(synthetic_block(&mut buf, &refs), 1);
        assert_eq!(Block::from_bytes(&buf).packets().count(), 1);
    }
}
