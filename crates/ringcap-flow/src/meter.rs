//! One worker's metering: header summary → flow key → table, and the records handed to the
//! exporter thread in chunks through a bounded queue.
//!
//! The worker never waits on the exporter: a chunk that finds the queue full is counted as lost
//! (records, packets, octets — reported in the summary and to the collectors as notSent*), not
//! queued. Only at the very end, when the table is flushed, does the worker wait for room, since
//! the capture is over and nothing can be dropped by waiting.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use crate::export::Counters;
use crate::key::FlowKey;
use crate::record::FlowRecord;
use crate::table::{FlowTable, Observation, Sink, TableStats};
use crate::wire;

/// Records per chunk handed to the exporter.
pub const CHUNK: usize = 256;
/// Packets gathered before the table takes them as one group: as many as the table pipelines
/// (its groups are 256), so its prefetches have packets to run ahead of.
const PENDING: usize = 256;

pub(crate) type Pool = Arc<Mutex<Vec<Vec<FlowRecord>>>>;

/// The workers' end of the export queue (clone one per worker).
#[derive(Clone)]
pub struct Queue {
    pub(crate) tx: SyncSender<Vec<FlowRecord>>,
    pub(crate) pool: Pool,
    pub(crate) counters: Arc<Counters>,
}

struct Emitter {
    chunk: Vec<FlowRecord>,
    queue: Queue,
    lost_records: u64,
    lost_packets: u64,
    lost_octets: u64,
}

impl Emitter {
    fn handoff(&mut self, wait: bool) {
        if self.chunk.is_empty() {
            return;
        }
        let fresh = self
            .queue
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.chunk, fresh);
        let refused = if wait {
            self.queue.tx.send(full).err().map(|e| e.0)
        } else {
            match self.queue.tx.try_send(full) {
                Ok(()) => None,
                Err(TrySendError::Full(c)) | Err(TrySendError::Disconnected(c)) => Some(c),
            }
        };
        if let Some(mut c) = refused {
            self.lost_records += c.len() as u64;
            self.lost_packets += c.iter().map(|r| r.packets).sum::<u64>();
            self.lost_octets += c.iter().map(|r| r.octets).sum::<u64>();
            c.clear();
            if let Ok(mut p) = self.queue.pool.lock() {
                p.push(c);
            }
        }
    }
}

impl Sink for Emitter {
    #[inline]
    fn record(&mut self, r: &FlowRecord) {
        self.chunk.push(*r);
        if self.chunk.len() >= CHUNK {
            self.handoff(false);
        }
    }
}

/// What a worker's meter did, for the end-of-capture summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeterReport {
    pub table: TableStats,
    /// Records and packets emitted while the capture ran (timeouts, FIN/RST, evictions).
    pub expired_records: u64,
    pub expired_packets: u64,
    /// Records and packets still in the table at the end, flushed then.
    pub flushed_records: u64,
    pub flushed_packets: u64,
    /// Records (and their packets and octets) lost at a full export queue.
    pub lost_records: u64,
    pub lost_packets: u64,
    pub lost_octets: u64,
    pub max_flows: usize,
    pub memory_bytes: usize,
}

/// A worker's meter: owns its table; no locks or shared writes per packet.
pub struct Meter {
    table: FlowTable,
    pending: Vec<Observation>,
    emit: Emitter,
    idx: usize,
    finished: Option<MeterReport>,
}

impl Meter {
    /// Meter number `idx` (its slot in the shared counters) with its table.
    pub fn new(idx: usize, table: FlowTable, queue: Queue) -> Meter {
        Meter {
            table,
            pending: Vec::with_capacity(PENDING),
            emit: Emitter {
                chunk: Vec::with_capacity(CHUNK),
                queue,
                lost_records: 0,
                lost_packets: 0,
                lost_octets: 0,
            },
            idx,
            finished: None,
        }
    }

    /// An Ethernet frame. `wire_len`: its length on the wire as the capture reports it; `vlan`:
    /// a VLAN id the capture stripped from the frame and reported beside it (those 4 bytes
    /// count in the layer-2 octets).
    #[inline]
    pub fn ethernet(&mut self, ts_ns: u64, wire_len: u32, vlan: Option<u16>, frame: &[u8]) {
        let s = wire::summarize(frame);
        let l2 = wire_len + if vlan.is_some() { 4 } else { 0 };
        self.observe(Observation {
            key: FlowKey::from_summary(&s, vlan),
            ts_ns,
            octets: s.l3_len,
            l2_octets: l2,
            tcp_flags: s.tcp_flags,
        });
    }

    /// A packet starting at its IP header (raw-IP capture files).
    #[inline]
    pub fn ip(&mut self, ts_ns: u64, wire_len: u32, packet: &[u8]) {
        let s = wire::summarize_ip(packet);
        self.observe(Observation {
            key: FlowKey::from_summary(&s, None),
            ts_ns,
            octets: s.l3_len,
            l2_octets: wire_len,
            tcp_flags: s.tcp_flags,
        });
    }

    #[inline]
    pub fn observe(&mut self, o: Observation) {
        self.pending.push(o);
        if self.pending.len() == PENDING {
            self.drain();
        }
    }

    fn drain(&mut self) {
        if !self.pending.is_empty() {
            self.table.update(&self.pending, &mut self.emit);
            self.pending.clear();
        }
    }

    /// After a batch of packets, or when the link is quiet: ends the flows that are due at
    /// `now_ns` (a bounded sweep), hands the records made so far to the exporter, and
    /// publishes the counters.
    pub fn end_batch(&mut self, now_ns: u64) {
        self.drain();
        self.table.expire(now_ns, &mut self.emit);
        self.emit.handoff(false);
        self.publish();
    }

    fn publish(&self) {
        let Some(c) = self.emit.queue.counters.workers.get(self.idx) else {
            return;
        };
        let st = self.table.stats();
        c.packets.store(st.packets, Relaxed);
        c.flows.store(st.flows, Relaxed);
        c.records.store(st.records, Relaxed);
        c.lost_records.store(self.emit.lost_records, Relaxed);
        c.lost_packets.store(self.emit.lost_packets, Relaxed);
        c.lost_octets.store(self.emit.lost_octets, Relaxed);
        c.evicted.store(st.evicted(), Relaxed);
        c.in_table.store(self.table.len() as u64, Relaxed);
    }

    /// End of capture: every flow still open becomes a record, all handed to the exporter
    /// (waiting for room in the queue if need be). Idempotent.
    pub fn finish(&mut self) -> MeterReport {
        if let Some(r) = self.finished {
            return r;
        }
        self.drain();
        let before = *self.table.stats();
        self.table.flush(&mut self.emit);
        self.emit.handoff(true);
        self.publish();
        let st = *self.table.stats();
        let r = MeterReport {
            table: st,
            expired_records: before.records,
            expired_packets: before.record_packets,
            flushed_records: st.records - before.records,
            flushed_packets: st.record_packets - before.record_packets,
            lost_records: self.emit.lost_records,
            lost_packets: self.emit.lost_packets,
            lost_octets: self.emit.lost_octets,
            max_flows: self.table.max_flows(),
            memory_bytes: self.table.memory_bytes(),
        };
        self.finished = Some(r);
        r
    }

    pub fn table(&self) -> &FlowTable {
        &self.table
    }
}
