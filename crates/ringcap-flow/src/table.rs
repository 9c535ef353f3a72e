//! One worker's flow table: open addressing with linear probing, sized once at start.
//!
//! Two arrays: IPv4 flows in 64-byte entries — key, counters and times in one cache line — and
//! IPv6 and non-IP flows in 96-byte entries (see [`crate::entry`]). Each is sized for the whole
//! `max_flows` at a load of at most 2/3, the limit counting both, and has a control byte per
//! slot beside it (SwissTable-style: 0 empty, else eight bits of the flow's hash). A lookup
//! scans the control bytes eight at a time and reads only the entry whose byte matches, so a
//! packet touches one control line (64 slots, mostly cached: 1.9 MB for a million flows) and
//! the one entry it updates, never the entries of the other flows on its probe run. Deletion
//! shifts the following entries back (no tombstones), so probe runs stay short however many
//! flows come and go.
//!
//! Nothing here allocates after [`FlowTable::new`], which also writes every page so no page
//! fault lands on the hot path (the arrays are asked for in huge pages, so that a table far
//! larger than the caches does not add a TLB miss to each lookup). [`FlowTable::update`] takes
//! packets in groups, hashes the whole group first, then prefetches in two stages: a packet's
//! control bytes 48 packets before it is updated, and 24 packets before, the entry those bytes
//! say the lookup will end on. The misses of many packets overlap instead of queueing one
//! behind another. (Measured on a 1-million-flow table: 8 entries in flight cost ~10 % more
//! per packet than 16; 24 up to ~8 % less than 16, depending on how busy the shared machine's
//! memory is; 32 no less than 24. Measured in-process, two builds alternating in slices of a
//! few milliseconds.)
//!
//! Within the caches (10 k flows) the update is bound by instructions more than memory: a
//! table of 2 k or 5 k flows, whose entries fit L2, costs little less per packet than one of
//! 10 k. So the hot path is kept short — an all-IPv4 group runs a loop over one array, the
//! lookup tries the prefetched slot and nothing else (an empty slot's entry holds a key no
//! packet has, so the key alone says it is the flow), the nothing-due test is two compares —
//! and everything rarer (a lookup past the guess, a new flow, a timeout, FIN/RST) is out of
//! line. Prefetching still pays there: a table without it, or prefetching the home slot
//! only, measured 5–30 % slower at 10 k. Fewer instructions are not always faster: finding
//! each packet's slot while the group is hashed (13 % fewer instructions) measured 2–8 %
//! slower on a quiet machine, and prefetching every entry of the group then, 13–16 % slower.
//!
//! Expiry is amortised: [`FlowTable::expire`] advances a sweep cursor by as many slots as the
//! time since its last call is worth (the whole table once per [`Timeouts::sweep_period`]), so
//! the work per packet is bounded and a busy table is still swept on time. A packet that finds
//! its flow already past a timeout ends the old record first, so records never span a timeout
//! whatever the sweep's position. A full table evicts the longest-quiet of a few flows next to
//! a moving cursor (bounded work), reported as [`EndReason::Evicted`].

use crate::entry::{Entry, V4Entry, WideEntry};
use crate::key::{FlowKey, Hasher, Kind};
use crate::record::{tcp, EndReason, FlowRecord};

// The per-array half of the table, in its own file for size.
#[path = "slots.rs"]
mod slots;
use slots::{Probe, Slots};

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

/// Packets per group whose memory loads are started together.
const GROUP: usize = 256;
/// How many packets ahead of the one being updated the control bytes of its probe are
/// prefetched, and (`NEAR`) the entry where that probe will end: enough to cover a miss with
/// the work of the packets between, few enough that the lines are not pushed out again before
/// use. The entry's prefetch needs the control line already there to know which entry.
const FAR: usize = 48;
const NEAR: usize = 24;
/// Control bytes (both arrays) beyond which they get their own prefetch stage: half of L2.
const FAR_MIN_BYTES: usize = 256 << 10;
/// At most this many slots visited by one [`FlowTable::expire`] call (the rest carries over).
const MAX_SWEEP: u64 = 1 << 16;
/// Flows sampled when choosing one to evict.
const EVICT_SAMPLE: usize = 8;

#[inline(always)]
fn due<E: Entry>(e: &E, now: u64, t: &Timeouts) -> Option<EndReason> {
    let quiet = now.saturating_sub(e.last_ns());
    let age = now.saturating_sub(e.first_ns());
    let closing = e.tcp_flags() & (tcp::FIN | tcp::RST) != 0;
    // One branch on the common path (nothing due); which reason only when something is.
    if (quiet >= t.idle_ns) | (age >= t.active_ns) | (closing & (quiet >= t.fin_ns)) {
        Some(if quiet >= t.idle_ns {
            EndReason::Idle
        } else if closing && quiet >= t.fin_ns {
            EndReason::EndOfFlow
        } else {
            EndReason::Active
        })
    } else {
        None
    }
}

/// The earliest time `e` can become [`due`]: later packets only move it later, except a
/// first FIN or RST (see [`Slots::check`](slots::Slots)).
#[inline(always)]
fn check_at<E: Entry>(e: &E, t: &Timeouts) -> u64 {
    let idle = e.last_ns().saturating_add(t.idle_ns);
    let active = e.first_ns().saturating_add(t.active_ns);
    let mut at = idle.min(active);
    if e.tcp_flags() & (tcp::FIN | tcp::RST) != 0 {
        at = at.min(e.last_ns().saturating_add(t.fin_ns));
    }
    // The sweep's test needs times below 2^63 (see `slots::NEVER`); none is that late.
    at.min(i64::MAX as u64)
}

#[inline(always)]
fn emit<E: Entry>(stats: &mut TableStats, e: &E, end: EndReason, sink: &mut impl Sink) {
    stats.records += 1;
    stats.record_packets += e.packets();
    stats.record_octets += e.octets();
    stats.ended[end.index()] += 1;
    sink.record(&e.record(end));
}

/// The most flows a table holds: slot numbers fit 32 bits (at 2^31 flows a table takes about
/// 570 GB).
pub const MAX_FLOWS: usize = 1 << 31;

/// Slots of each array for a limit of `max` flows: a load of at most 2/3.
fn capacity_for(max: usize) -> usize {
    (max + max / 2 + 1).max(16).next_multiple_of(16)
}

/// A per-worker flow table holding at most `max_flows` flows: IPv4 flows in one array of
/// 64-byte entries, IPv6 and non-IP flows in another of 96-byte entries, each sized for the
/// whole limit at a load of at most 2/3, the limit counting both.
pub struct FlowTable {
    v4: Slots<V4Entry>,
    wide: Slots<WideEntry>,
    max: usize,
    hasher: Hasher,
    timeouts: Timeouts,
    stats: TableStats,
    /// Whether the control bytes are worth a prefetch stage of their own (beyond L2).
    far: bool,
    /// A group's probes and IPv4 keys between its stages, kept here so that no group pays
    /// for clearing them.
    scratch: Box<Scratch>,
}

struct Scratch {
    probes: [Probe; GROUP],
    k4: [[u64; 2]; GROUP],
}

impl FlowTable {
    /// A table for up to `max_flows` flows (at least 1), with random hash keys. Its memory is
    /// allocated and written here, once.
    pub fn new(max_flows: usize, timeouts: Timeouts) -> FlowTable {
        Self::with_hasher(max_flows, timeouts, Hasher::random())
    }

    pub fn with_hasher(max_flows: usize, timeouts: Timeouts, hasher: Hasher) -> FlowTable {
        let max = max_flows.clamp(1, MAX_FLOWS);
        let cap = capacity_for(max);
        FlowTable {
            far: 2 * cap > FAR_MIN_BYTES,
            scratch: Box::new(Scratch {
                probes: [Probe::default(); GROUP],
                k4: [[0; 2]; GROUP],
            }),
            v4: Slots::new(cap),
            wide: Slots::new(cap),
            max,
            hasher,
            timeouts,
            stats: TableStats::default(),
        }
    }

    /// The other pipeline than the size picks, so tests can run both on any table.
    #[cfg(test)]
    pub(crate) fn set_far(&mut self, far: bool) {
        self.far = far;
    }

    /// Flows in the table now.
    pub fn len(&self) -> usize {
        self.v4.len + self.wide.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn max_flows(&self) -> usize {
        self.max
    }

    /// Bytes of memory the table holds.
    pub fn memory_bytes(&self) -> usize {
        self.v4.slots.len() * std::mem::size_of::<V4Entry>()
            + self.wide.slots.len() * std::mem::size_of::<WideEntry>()
            + self.v4.ctrl.len()
            + self.wide.ctrl.len()
            + (self.v4.check.len() + self.wide.check.len()) * std::mem::size_of::<u64>()
    }

    /// Bytes a table for `max_flows` flows would hold ([`FlowTable::memory_bytes`]), known
    /// before it is made: a caller checks a limit against the memory it has first, since the
    /// table writes all of it at once (and an allocation that fails aborts).
    pub fn memory_for(max_flows: usize) -> usize {
        let cap = capacity_for(max_flows.clamp(1, MAX_FLOWS));
        cap * (std::mem::size_of::<V4Entry>()
            + std::mem::size_of::<WideEntry>()
            + 2 * std::mem::size_of::<u64>())
            + 2 * (cap + slots::MIRROR)
    }

    pub fn stats(&self) -> &TableStats {
        &self.stats
    }

    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Accounts packets into their flows, emitting the records of flows that a packet finds
    /// past a timeout and of flows evicted to make room.
    pub fn update(&mut self, obs: &[Observation], sink: &mut impl Sink) {
        self.stats.packets += obs.len() as u64;
        for group in obs.chunks(GROUP) {
            if self.far {
                self.update_group::<true>(group, sink);
            } else {
                self.update_group::<false>(group, sink);
            }
        }
    }

    /// One group, software-pipelined: the whole group hashed first, then packet `j + FAR`'s
    /// control bytes (with `FAR_STAGE`) and packet `j + NEAR`'s entry start loading while
    /// packet `j` is worked on, so on a table far larger than the caches the misses of several
    /// packets overlap instead of queueing one behind another. A prefetch does not hold up the
    /// instructions after it (a plain load would, from the reorder window).
    #[inline(always)]
    fn update_group<const FAR_STAGE: bool>(&mut self, group: &[Observation], sink: &mut impl Sink) {
        let n = group.len();
        let Scratch { probes, k4 } = &mut *self.scratch;
        let mut wide = 0;
        for ((o, p), k) in group.iter().zip(probes.iter_mut()).zip(k4.iter_mut()) {
            if o.key.kind == Kind::V4 {
                *k = V4Entry::key_of(o);
                *p = self.v4.probe(V4Entry::hash_of(&self.hasher, k), true);
            } else {
                *p = self
                    .wide
                    .probe(WideEntry::hash_of(&self.hasher, &o.key), false);
                wide += 1;
            }
        }
        let probes = &mut probes[..n];
        let c = &mut Ctx::new(self.max, &self.timeouts, &mut self.stats);
        if wide == 0 {
            // IPv4 only (the usual case): one array, no choice per packet.
            let (v4, other) = (&mut self.v4, &mut self.wide);
            return run_group::<FAR_STAGE, _>(v4, other, c, group, k4, probes, sink);
        }
        if FAR_STAGE {
            for p in &probes[..FAR.min(n)] {
                prefetch_ctrl(&self.v4, &self.wide, p);
            }
        }
        for p in &mut probes[..NEAR.min(n)] {
            prefetch_entry(&self.v4, &self.wide, p);
        }
        for (j, o) in group.iter().enumerate() {
            if FAR_STAGE && j + FAR < n {
                prefetch_ctrl(&self.v4, &self.wide, &probes[j + FAR]);
            }
            if j + NEAR < n {
                prefetch_entry(&self.v4, &self.wide, &mut probes[j + NEAR]);
            }
            let p = &probes[j];
            if p.v4 {
                update_one(&mut self.v4, &mut self.wide, c, o, &k4[j], p, sink);
            } else {
                update_one(&mut self.wide, &mut self.v4, c, o, &o.key, p, sink);
            }
        }
    }

    /// Ends the flows that are past a timeout at `now` (ns since the epoch: the newest packet
    /// time, or the clock when the link is quiet), visiting as many slots as the time since the
    /// last call is worth.
    pub fn expire(&mut self, now_ns: u64, sink: &mut impl Sink) {
        self.v4
            .expire(now_ns, &self.timeouts, &mut self.stats, sink);
        self.wide
            .expire(now_ns, &self.timeouts, &mut self.stats, sink);
    }

    /// Ends every flow (end of capture): FIN/RST flows as ended, the others as forced.
    pub fn flush(&mut self, sink: &mut impl Sink) {
        self.v4.flush(&mut self.stats, sink);
        self.wide.flush(&mut self.stats, sink);
    }
}

#[inline(always)]
fn prefetch_ctrl(v4: &Slots<V4Entry>, wide: &Slots<WideEntry>, p: &Probe) {
    if p.v4 {
        v4.prefetch_ctrl(p);
    } else {
        wide.prefetch_ctrl(p);
    }
}

#[inline(always)]
fn prefetch_entry(v4: &Slots<V4Entry>, wide: &Slots<WideEntry>, p: &mut Probe) {
    if p.v4 {
        v4.prefetch_entry(p);
    } else {
        wide.prefetch_entry(p);
    }
}

/// What every packet's update reads besides its array, made once per call.
struct Ctx<'a> {
    max: usize,
    t: Timeouts,
    /// The shorter of the idle and FIN timeouts: a flow quiet for less is not due for either.
    soon_ns: u64,
    stats: &'a mut TableStats,
}

impl<'a> Ctx<'a> {
    #[inline(always)]
    fn new(max: usize, t: &Timeouts, stats: &'a mut TableStats) -> Self {
        Ctx {
            max,
            t: *t,
            soon_ns: t.idle_ns.min(t.fin_ns),
            stats,
        }
    }
}

/// A group whose packets all go to `mine`, pipelined as [`FlowTable::update_group`] says.
#[inline(always)]
fn run_group<const FAR_STAGE: bool, F: Entry>(
    mine: &mut Slots<V4Entry>,
    other: &mut Slots<F>,
    c: &mut Ctx<'_>,
    group: &[Observation],
    keys: &[[u64; 2]; GROUP],
    probes: &mut [Probe],
    sink: &mut impl Sink,
) {
    let n = probes.len().min(group.len());
    if FAR_STAGE {
        for p in &probes[..FAR.min(n)] {
            mine.prefetch_ctrl(p);
        }
    }
    for p in &mut probes[..NEAR.min(n)] {
        mine.prefetch_entry(p);
    }
    // The packets with a full stage distance after them: every stage runs, untested.
    let steady = n.saturating_sub(if FAR_STAGE { FAR } else { NEAR });
    for j in 0..steady {
        if FAR_STAGE {
            mine.prefetch_ctrl(&probes[j + FAR]);
        }
        mine.prefetch_entry(&mut probes[j + NEAR]);
        update_one(mine, other, c, &group[j], &keys[j], &probes[j], sink);
    }
    for j in steady..n {
        if j + NEAR < n {
            mine.prefetch_entry(&mut probes[j + NEAR]);
        }
        update_one(mine, other, c, &group[j], &keys[j], &probes[j], sink);
    }
}

/// One packet into `mine` (the array of its layout); `other` is only a source of room when
/// the table is full and `mine` is empty.
#[inline(always)]
fn update_one<E: Entry, F: Entry>(
    mine: &mut Slots<E>,
    other: &mut Slots<F>,
    c: &mut Ctx<'_>,
    o: &Observation,
    key: &E::Key,
    p: &Probe,
    sink: &mut impl Sink,
) {
    // The flow is almost always where its entry was prefetched. A key is in the table at most
    // once and an empty slot's entry matches no key, so an entry holding it is the flow,
    // whatever moved since the hint.
    let h = p.hint as usize;
    if mine.slots[h].matches(key) {
        account(mine, c, h, o, key, p, sink);
    } else {
        update_slow(mine, other, c, o, key, p, sink);
    }
}

/// The packet's flow is in slot `i`: its counters take the packet.
#[inline(always)]
fn account<E: Entry>(
    mine: &mut Slots<E>,
    c: &mut Ctx<'_>,
    i: usize,
    o: &Observation,
    key: &E::Key,
    p: &Probe,
    sink: &mut impl Sink,
) {
    let e = &mut mine.slots[i];
    // The common case in two compares: quiet for less than the shortest timeout that can
    // apply and younger than the active one, so nothing is due. (A packet older than the
    // flow's times, out of order, wraps to a large difference and takes the exact path.)
    let quiet = o.ts_ns.wrapping_sub(e.last_ns());
    let age = o.ts_ns.wrapping_sub(e.first_ns());
    if (quiet < c.soon_ns) & (age < c.t.active_ns) {
        e.add(o);
        if o.tcp_flags & (tcp::FIN | tcp::RST) != 0 {
            mine.check[i] = check_at(e, &c.t);
        }
    } else {
        restart_or_add(mine, c, i, o, key, p, sink);
    }
}

/// A lookup past its first guess: the probe run from home, then the packet added to the flow
/// found, or a new flow.
#[inline(never)]
fn update_slow<E: Entry, F: Entry>(
    mine: &mut Slots<E>,
    other: &mut Slots<F>,
    c: &mut Ctx<'_>,
    o: &Observation,
    key: &E::Key,
    p: &Probe,
    sink: &mut impl Sink,
) {
    match mine.find(p, key) {
        Ok(i) => account(mine, c, i, o, key, p, sink),
        Err(i) => insert(mine, other, c, i, o, key, p, sink),
    }
}

/// A packet of a flow that may be past a timeout: its record ends and a new one starts with
/// this packet, or (a FIN flow still within its grace) the packet is simply added.
#[cold]
#[inline(never)]
fn restart_or_add<E: Entry>(
    mine: &mut Slots<E>,
    c: &mut Ctx<'_>,
    i: usize,
    o: &Observation,
    key: &E::Key,
    p: &Probe,
    sink: &mut impl Sink,
) {
    let e = &mut mine.slots[i];
    match due(e, o.ts_ns, &c.t) {
        None => e.add(o),
        Some(end) => {
            emit(c.stats, e, end, sink);
            *e = E::start(p.tag, key, o);
            c.stats.flows += 1;
        }
    }
    mine.check[i] = check_at(e, &c.t);
}

/// A packet of a flow not in the table: it goes in empty slot `i`, or, the table being full,
/// where a flow evicted to make room leaves one.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn insert<E: Entry, F: Entry>(
    mine: &mut Slots<E>,
    other: &mut Slots<F>,
    c: &mut Ctx<'_>,
    i: usize,
    o: &Observation,
    key: &E::Key,
    p: &Probe,
    sink: &mut impl Sink,
) {
    let i = if mine.len + other.len >= c.max {
        if mine.len > 0 {
            mine.evict_one(c.stats, sink);
        } else {
            other.evict_one(c.stats, sink);
        }
        // Removing shifted entries back: find the empty slot again.
        mine.find(p, key).unwrap_err()
    } else {
        i
    };
    mine.slots[i] = E::start(p.tag, key, o);
    mine.check[i] = check_at(&mine.slots[i], &c.t);
    mine.set_ctrl(i, p.ctrl);
    mine.len += 1;
    c.stats.flows += 1;
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
