//! One worker's flow table: open addressing with linear probing, sized once at start.
//!
//! Layout: a dense array of 32-bit tags (hash bits, 0 = empty) probed first, and beside it an
//! array of 128-byte slots (key, counters, times). A lookup walks tags — sixteen per cache line
//! — and touches a slot only when its tag matches, so a miss on a large table costs one slot
//! line, not one per probe. Deletion shifts the following entries back (no tombstones), so the
//! probe sequences stay short however many flows come and go.
//!
//! Nothing here allocates after [`FlowTable::new`], which also writes every page of both arrays
//! so no page fault lands on the hot path. [`FlowTable::update`] takes packets in groups and
//! starts the memory loads of a whole group before working on any of it: on a table far larger
//! than the caches, the misses of sixteen packets overlap instead of queueing one behind another.
//!
//! Expiry is amortised: [`FlowTable::expire`] advances a sweep cursor by as many slots as the
//! time since its last call is worth (the whole table once per [`Timeouts::sweep_period`]), so
//! the work per packet is bounded and a busy table is still swept on time. A packet that finds
//! its flow already past a timeout ends the old record first, so records never span a timeout
//! whatever the sweep's position.

use crate::key::{FlowKey, Hasher};
use crate::record::{tcp, EndReason, FlowRecord};

/// Receives the records a table emits.
pub trait Sink {
    fn record(&mut self, r: &FlowRecord);
}

impl<F: FnMut(&FlowRecord)> Sink for F {
    #[inline]
    fn record(&mut self, r: &FlowRecord) {
        self(r)
    }
}

/// When flows end, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// No packet for this long: the flow ended (`--idle-timeout`, 15 s).
    pub idle_ns: u64,
    /// A flow this old is reported and starts a new record (`--active-timeout`, 60 s).
    pub active_ns: u64,
    /// A TCP flow that carried FIN or RST ends once quiet this long (1 s): long enough for the
    /// last ACKs of a close to land in the same record.
    pub fin_ns: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            idle_ns: 15_000_000_000,
            active_ns: 60_000_000_000,
            fin_ns: 1_000_000_000,
        }
    }
}

impl Timeouts {
    /// How long one full sweep of the table takes: an eighth of the shorter timeout, between
    /// 10 ms and 2 s, so a flow is reported at most that late.
    pub fn sweep_period(&self) -> u64 {
        (self.idle_ns.min(self.active_ns) / 8).clamp(10_000_000, 2_000_000_000)
    }
}

/// What one packet contributes to its flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    pub key: FlowKey,
    pub ts_ns: u64,
    /// Layer-3 length (see [`FlowRecord::octets`]).
    pub octets: u32,
    /// Frame length on the wire, VLAN tags included.
    pub l2_octets: u32,
    pub tcp_flags: u8,
}

/// A table's counters since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Packets given to [`FlowTable::update`].
    pub packets: u64,
    /// Records started (a new flow, or a new piece of a flow after a timeout).
    pub flows: u64,
    /// Records emitted, and the packets in them.
    pub records: u64,
    pub record_packets: u64,
    pub record_octets: u64,
    /// Records emitted, by [`EndReason::index`].
    pub ended: [u64; 5],
}

impl TableStats {
    pub fn evicted(&self) -> u64 {
        self.ended[EndReason::Evicted.index()]
    }
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Slot {
    // First cache line: what a lookup compares and every packet updates.
    key: FlowKey,
    packets: u64,
    first_ns: u64,
    // Second line.
    octets: u64,
    l2_octets: u64,
    last_ns: u64,
    tcp_flags: u8,
}

impl Slot {
    #[inline(always)]
    fn start(o: &Observation) -> Slot {
        Slot {
            key: o.key,
            packets: 1,
            first_ns: o.ts_ns,
            octets: o.octets as u64,
            l2_octets: o.l2_octets as u64,
            last_ns: o.ts_ns,
            tcp_flags: o.tcp_flags,
        }
    }

    #[inline(always)]
    fn add(&mut self, o: &Observation) {
        self.packets += 1;
        self.octets += o.octets as u64;
        self.l2_octets += o.l2_octets as u64;
        self.last_ns = self.last_ns.max(o.ts_ns);
        self.tcp_flags |= o.tcp_flags;
    }

    /// Whether the flow has ended by `now`, and why.
    #[inline(always)]
    fn due(&self, now: u64, t: &Timeouts) -> Option<EndReason> {
        let quiet = now.saturating_sub(self.last_ns);
        if quiet >= t.idle_ns {
            Some(EndReason::Idle)
        } else if self.tcp_flags & (tcp::FIN | tcp::RST) != 0 && quiet >= t.fin_ns {
            Some(EndReason::EndOfFlow)
        } else if now.saturating_sub(self.first_ns) >= t.active_ns {
            Some(EndReason::Active)
        } else {
            None
        }
    }
}

/// Packets per group whose memory loads are started together.
const GROUP: usize = 16;
/// At most this many slots visited by one [`FlowTable::expire`] call (the rest carries over).
const MAX_SWEEP: u64 = 1 << 16;
/// Flows sampled when choosing one to evict.
const EVICT_SAMPLE: usize = 8;

#[inline(always)]
fn emit(stats: &mut TableStats, s: &Slot, end: EndReason, sink: &mut impl Sink) {
    stats.records += 1;
    stats.record_packets += s.packets;
    stats.record_octets += s.octets;
    stats.ended[end.index()] += 1;
    sink.record(&FlowRecord {
        key: s.key,
        packets: s.packets,
        octets: s.octets,
        l2_octets: s.l2_octets,
        first_ns: s.first_ns,
        last_ns: s.last_ns,
        tcp_flags: s.tcp_flags,
        end,
    });
}

/// A per-worker flow table holding at most `max_flows` flows.
pub struct FlowTable {
    tags: Vec<u32>,
    slots: Vec<Slot>,
    len: usize,
    max: usize,
    hasher: Hasher,
    timeouts: Timeouts,
    sweep_pos: usize,
    /// The time the sweep has covered up to (0: not started).
    sweep_clock: u64,
    evict_pos: usize,
    stats: TableStats,
}

impl FlowTable {
    /// A table for up to `max_flows` flows (at least 1), with random hash keys. The arrays are
    /// sized for a load of at most 3/4 and written once, here.
    pub fn new(max_flows: usize, timeouts: Timeouts) -> FlowTable {
        Self::with_hasher(max_flows, timeouts, Hasher::random())
    }

    pub fn with_hasher(max_flows: usize, timeouts: Timeouts, hasher: Hasher) -> FlowTable {
        let max = max_flows.max(1);
        let cap = (max + max / 3 + 1).max(16).next_multiple_of(16);
        // `resize` writes every element (unlike `vec![0; n]`, which maps zero pages lazily),
        // so the page faults happen now and not on the first packets.
        let mut tags = Vec::with_capacity(cap);
        tags.resize(cap, 0u32);
        let mut slots = Vec::with_capacity(cap);
        slots.resize(cap, Slot::default());
        FlowTable {
            tags,
            slots,
            len: 0,
            max,
            hasher,
            timeouts,
            sweep_pos: 0,
            sweep_clock: 0,
            evict_pos: 0,
            stats: TableStats::default(),
        }
    }

    /// Flows in the table now.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn max_flows(&self) -> usize {
        self.max
    }

    /// Bytes of memory the table holds.
    pub fn memory_bytes(&self) -> usize {
        self.tags.len() * (4 + std::mem::size_of::<Slot>())
    }

    pub fn stats(&self) -> &TableStats {
        &self.stats
    }

    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    #[inline(always)]
    fn home(&self, tag: u32) -> usize {
        ((tag as u64 * self.tags.len() as u64) >> 32) as usize
    }

    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.tags.len() {
            0
        } else {
            i + 1
        }
    }

    /// Accounts packets into their flows, emitting the records of flows that a packet finds
    /// past a timeout and of flows evicted to make room.
    pub fn update(&mut self, obs: &[Observation], sink: &mut impl Sink) {
        for group in obs.chunks(GROUP) {
            let mut tags = [0u32; GROUP];
            let mut pos = [0usize; GROUP];
            for (j, o) in group.iter().enumerate() {
                let tag = (self.hasher.hash(&o.key) >> 32) as u32 | 1;
                let i = self.home(tag);
                tags[j] = tag;
                pos[j] = i;
                // Start the loads now; the values are not needed yet, only the cache lines.
                std::hint::black_box(self.tags[i]);
                std::hint::black_box(self.slots[i].packets);
                std::hint::black_box(self.slots[i].last_ns);
            }
            for (j, o) in group.iter().enumerate() {
                self.update_one(o, tags[j], pos[j], sink);
            }
        }
    }

    #[inline(always)]
    fn update_one(&mut self, o: &Observation, tag: u32, mut i: usize, sink: &mut impl Sink) {
        self.stats.packets += 1;
        loop {
            let t = self.tags[i];
            if t == 0 {
                break;
            }
            if t == tag && self.slots[i].key == o.key {
                let s = &mut self.slots[i];
                match s.due(o.ts_ns, &self.timeouts) {
                    None => s.add(o),
                    Some(end) => {
                        emit(&mut self.stats, s, end, sink);
                        *s = Slot::start(o);
                        self.stats.flows += 1;
                    }
                }
                return;
            }
            i = self.next(i);
        }
        if self.len >= self.max {
            self.evict_one(sink);
            // Removing shifted entries back: find the empty slot again.
            i = self.home(tag);
            while self.tags[i] != 0 {
                i = self.next(i);
            }
        }
        self.tags[i] = tag;
        self.slots[i] = Slot::start(o);
        self.len += 1;
        self.stats.flows += 1;
    }

    /// Removes the entry at `hole`, shifting back the entries after it that may move closer to
    /// their home slot, so that no probe sequence has a gap.
    fn remove_at(&mut self, mut hole: usize) {
        let cap = self.tags.len();
        let mut j = hole;
        loop {
            j = self.next(j);
            let t = self.tags[j];
            if t == 0 {
                break;
            }
            let h = self.home(t);
            let from_home = if j >= h { j - h } else { j + cap - h };
            let from_hole = if j >= hole { j - hole } else { j + cap - hole };
            if from_home >= from_hole {
                self.tags[hole] = t;
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.tags[hole] = 0;
        self.len -= 1;
    }

    /// Makes room: of the next few flows after the eviction cursor, the one quiet the longest
    /// is reported with [`EndReason::Evicted`] and removed. Bounded work whatever the size.
    fn evict_one(&mut self, sink: &mut impl Sink) {
        let cap = self.tags.len();
        let mut i = self.evict_pos;
        let mut best: Option<usize> = None;
        let mut seen = 0;
        for _ in 0..cap {
            if self.tags[i] != 0 {
                seen += 1;
                if best.map_or(true, |b| self.slots[i].last_ns < self.slots[b].last_ns) {
                    best = Some(i);
                }
                if seen == EVICT_SAMPLE {
                    break;
                }
            }
            i = self.next(i);
        }
        self.evict_pos = self.next(i);
        if let Some(b) = best {
            emit(&mut self.stats, &self.slots[b], EndReason::Evicted, sink);
            self.remove_at(b);
        }
    }

    /// Ends the flows that are past a timeout at `now` (ns since the epoch: the newest packet
    /// time, or the clock when the link is quiet), visiting as many slots as the time since the
    /// last call is worth.
    pub fn expire(&mut self, now_ns: u64, sink: &mut impl Sink) {
        if self.sweep_clock == 0 || now_ns < self.sweep_clock {
            self.sweep_clock = now_ns;
            return;
        }
        let cap = self.tags.len() as u64;
        let period = self.timeouts.sweep_period();
        // A lag beyond one full sweep is forgotten: one sweep ends every flow that is due.
        let clock = self.sweep_clock.max(now_ns.saturating_sub(period));
        let due = (cap as u128 * (now_ns - clock) as u128 / period as u128) as u64;
        if due == 0 {
            return;
        }
        let visits = due.min(MAX_SWEEP);
        // The clock moves by what those visits are worth, so fractions and the work left over
        // by MAX_SWEEP carry to the next call.
        self.sweep_clock = clock + (visits as u128 * period as u128 / cap as u128) as u64;
        // Removals do not count as visits (an entry may shift into the slot, which is looked
        // at again); they are bounded by the flows in the table.
        let mut visited = 0;
        while visited < visits {
            let i = self.sweep_pos;
            if self.tags[i] != 0 {
                if let Some(end) = self.slots[i].due(now_ns, &self.timeouts) {
                    emit(&mut self.stats, &self.slots[i], end, sink);
                    self.remove_at(i);
                    continue;
                }
            }
            self.sweep_pos = self.next(i);
            visited += 1;
        }
    }

    /// Ends every flow (end of capture): FIN/RST flows as ended, the others as forced.
    pub fn flush(&mut self, sink: &mut impl Sink) {
        for i in 0..self.tags.len() {
            if self.tags[i] == 0 {
                continue;
            }
            let s = &self.slots[i];
            let end = if s.tcp_flags & (tcp::FIN | tcp::RST) != 0 {
                EndReason::EndOfFlow
            } else {
                EndReason::Forced
            };
            emit(&mut self.stats, s, end, sink);
            self.tags[i] = 0;
        }
        self.len = 0;
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
