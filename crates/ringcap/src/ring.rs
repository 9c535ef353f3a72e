//! The TPACKET_V3 receive path of one worker: the ring (in [`ringcap_sys::ring::rx`], where its
//! block borrow is) set up from the capture's [`Geometry`], with the kernel's refusals turned
//! into errors that say what to change, and its blocks walked as [`Packet`] views.
//!
//! The worker takes the current block with [`RxRing::ready`] (an acquire load of the block's
//! status), hands its packets to the handler, and gives it back with [`RxRing::release`] (a
//! release store); `poll` is only called when the next block is still the kernel's.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use ringcap_sys::ring::rx;
use ringcap_sys::Errno;

use crate::config::Geometry;
use crate::packet::Packet;
use crate::{Error, Result};

pub use ringcap_sys::ring::rx::synthetic_block;

/// A mapped TPACKET_V3 RX ring of one socket; unmapped on drop.
pub struct RxRing(rx::RxRing);

impl RxRing {
    /// Sets up and maps the ring on `fd`. Must precede bind.
    pub fn create(fd: Arc<OwnedFd>, g: &Geometry) -> Result<RxRing> {
        let layout = rx::RxLayout {
            block_size: g.block_size,
            blocks: g.blocks,
            frame_size: g.frame_size,
            block_timeout_ms: g.block_timeout_ms,
        };
        let refused = |source| Error::RingRefused {
            bytes: g.ring_bytes(),
            blocks: g.blocks,
            block_size: g.block_size,
            source,
        };
        let setup = rx::RxRing::setup(fd, &layout).map_err(|e| match e.errno() {
            Some(Errno::ENOMEM) | Some(Errno::ENOBUFS) => refused(e),
            Some(Errno::EINVAL) => Error::Geometry(format!(
                "the kernel rejected the ring ({} blocks of {} bytes, frames of {}): {e}",
                g.blocks, g.block_size, g.frame_size
            )),
            _ => Error::Sys(e),
        })?;
        Ok(RxRing(setup.map().map_err(refused)?))
    }

    /// The current block, if the kernel has handed it over. Hand it back with
    /// [`RxRing::release`].
    #[inline]
    pub fn ready(&self) -> Option<Block<'_>> {
        self.0.ready().map(Block)
    }

    /// Returns the current block to the kernel and moves to the next one.
    #[inline]
    pub fn release(&mut self) {
        self.0.release()
    }
}

/// A retired block, borrowed from the ring (or bytes laid out as one, for benchmarks).
pub struct Block<'a>(rx::Block<'a>);

impl<'a> Block<'a> {
    /// Wraps bytes laid out as a TPACKET_V3 block (for benchmarks and tests).
    pub fn from_bytes(bytes: &'a [u8]) -> Block<'a> {
        Block(rx::Block::from_bytes(bytes))
    }

    pub fn num_pkts(&self) -> u32 {
        self.0.num_pkts()
    }

    /// Bytes of the block the kernel filled (header and packets).
    #[inline]
    pub fn blk_len(&self) -> u32 {
        self.0.blk_len()
    }

    pub fn seq_num(&self) -> u64 {
        self.0.seq_num()
    }

    /// The kernel dropped packets while this block was being filled.
    #[inline]
    pub fn losing(&self) -> bool {
        self.0.losing()
    }

    #[inline]
    pub fn packets(&self) -> BlockIter<'a> {
        BlockIter(self.0.frames())
    }
}

/// Walks a block's packets as zero-copy views.
pub struct BlockIter<'a>(rx::Frames<'a>);

impl BlockIter<'_> {
    #[inline]
    pub fn remaining(&self) -> u32 {
        self.0.remaining()
    }
}

impl<'a> Iterator for BlockIter<'a> {
    type Item = Packet<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Packet<'a>> {
        self.0.next_with(Packet::from_tp3)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
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
