//! Buffers of whole records that travel from a producer (a capture worker, the merger) to a
//! consumer (a writer thread, the merger) and back, and the messages that carry them.
//!
//! Every buffer is allocated once, when the sink opens, and recycled through a bounded channel
//! per producer: a producer that finds none free counts what it could not take instead of
//! waiting, so memory is bounded and a slow output never stalls a capture ring.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use ringcap_pcap::IfStats;

/// Serialised records (in the output's record format) and what the consumer needs to know
/// about them without walking them.
pub(crate) struct Chunk {
    /// Allocated once at its full size; `buf[..len]` holds whole records.
    pub buf: Vec<u8>,
    pub len: usize,
    pub records: u64,
    /// Timestamp of the first record.
    pub first_ts: u64,
    /// Greatest timestamp of its records.
    pub max_ts: u64,
}

impl Chunk {
    pub fn new(size: usize) -> Chunk {
        Chunk {
            buf: vec![0u8; size],
            len: 0,
            records: 0,
            first_ts: 0,
            max_ts: 0,
        }
    }

    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    #[inline]
    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.records = 0;
        self.first_ts = 0;
        self.max_ts = 0;
    }
}

/// What a producer tells its consumer at its end.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProducerEnd {
    /// The kernel's counts for this producer's interface (pcapng statistics block).
    pub stats: IfStats,
    /// Records it put into chunks.
    pub taken: u64,
    /// Records it could not take: no free chunk (the output was behind).
    pub behind: u64,
}

pub(crate) enum Msg {
    Chunk { from: usize, chunk: Chunk },
    Finish { from: usize, end: ProducerEnd },
}

/// A producer's pool: `n` chunks of `size` bytes, all free at first.
pub(crate) fn pool(n: usize, size: usize) -> (SyncSender<Chunk>, Receiver<Chunk>) {
    let (tx, rx) = sync_channel(n);
    for _ in 0..n {
        // The channel has room for all n.
        let _ = tx.try_send(Chunk::new(size));
    }
    (tx, rx)
}
