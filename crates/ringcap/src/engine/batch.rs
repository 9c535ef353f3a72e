//! What a handler sees: batches of zero-copy packet views, and what it answers.

use crate::packet::Packet;
use crate::ring::BlockIter;
use crate::stats::WorkerReport;

/// What a handler wants after a batch.
///
/// A handler reports an error by returning [`Flow::Fail`] with a one-line cause (or an `Err`
/// from [`Handler::finish`]); a handler that panics is treated the same way, with the panic's
/// message as the cause. Either ends the whole capture: the failing worker closes its intake,
/// counts what is left in its ring as unprocessed and closes its socket; the other workers are
/// drained and stopped; the report's reason is [`crate::EndReason::WorkerFailed`] naming the
/// worker, and every worker's counts are in the totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop the whole capture because the handler is done (e.g. `-G`/`-W` wrote its last
    /// file): a normal end.
    Done,
    /// Stop the whole capture because this handler failed (e.g. its output could not be
    /// written); the text says what failed, in one line. Packets of the batch it did not take
    /// count as unprocessed. The handler gets no more packets, and its
    /// [`finish`](Handler::finish) is still called.
    Fail(String),
}

/// Receives each worker's packets. One handler per worker, owned by that worker's thread, so it
/// needs no locking; it must not block for long, or the ring fills and the kernel drops.
pub trait Handler: Send {
    /// One batch: a retired ring block, an AF_XDP receive batch, or one `recv`ed packet.
    /// The packets borrow the ring and are valid only during the call.
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow;

    /// Called once in the worker thread after its last batch, with its final counts (including
    /// the kernel's), e.g. to flush and close files. An error fails the worker, as
    /// [`Flow::Fail`] does. Not called after the handler panicked.
    fn finish(&mut self, _report: &WorkerReport) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// A batch of zero-copy packet views. Iterate it; the engine counts what it yields (and walks
/// whatever the handler leaves, so counts never depend on the handler).
pub struct Batch<'a> {
    inner: Inner<'a>,
    pub(super) left: u32,
    pub(super) yielded: u32,
    pub(super) bytes: u64,
}

pub(super) enum Inner<'a> {
    Block(BlockIter<'a>),
    One(Option<Packet<'a>>),
    Slice(std::slice::Iter<'a, Packet<'a>>),
}

impl<'a> Batch<'a> {
    pub(super) fn new(inner: Inner<'a>, left: u32) -> Self {
        Batch {
            inner,
            left,
            yielded: 0,
            bytes: 0,
        }
    }

    /// A batch over packets the caller already holds (AF_XDP descriptors, tests).
    pub fn from_slice(pkts: &'a [Packet<'a>]) -> Self {
        Batch::new(Inner::Slice(pkts.iter()), pkts.len() as u32)
    }

    /// A batch over a TPACKET_V3 block laid out in memory (benchmarks, tests).
    pub fn from_block(block: &crate::ring::Block<'a>) -> Self {
        let it = block.packets();
        let n = it.remaining();
        Batch::new(Inner::Block(it), n)
    }

    /// Packets still to come in this batch.
    pub fn remaining(&self) -> u32 {
        self.left
    }

    /// Walks what the handler left (it counts as taken) and returns packets and bytes taken.
    pub(super) fn finish_counting(&mut self) -> (u32, u64) {
        for _ in self.by_ref() {}
        (self.yielded, self.bytes)
    }

    /// Packets and bytes the handler took so far.
    pub(super) fn taken(&self) -> (u32, u64) {
        (self.yielded, self.bytes)
    }
}

impl<'a> Iterator for Batch<'a> {
    type Item = Packet<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Packet<'a>> {
        if self.left == 0 {
            return None;
        }
        let p = match &mut self.inner {
            Inner::Block(it) => it.next(),
            Inner::One(p) => p.take(),
            Inner::Slice(it) => it.next().copied(),
        }?;
        self.left -= 1;
        self.yielded += 1;
        self.bytes += p.len() as u64;
        Some(p)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}
