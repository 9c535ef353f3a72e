//! One open-addressing array of a flow table: entries of one layout and their control bytes,
//! with the lookup, removal, eviction, sweep and flush that work on one array (the packet
//! pipeline across both arrays is in [`super`]).

use super::{check_at, due, emit, Sink, TableStats, Timeouts, EVICT_SAMPLE, MAX_SWEEP};
use crate::entry::Entry;
use crate::record::{tcp, EndReason};

/// The tag stored in an entry: the high half of its hash, which picks its home slot.
#[inline(always)]
fn tag_of(h: u64) -> u32 {
    (h >> 32) as u32
}

/// The control byte of a hash: one of 255 non-zero values (0 marks an empty slot), from bits
/// the home slot does not depend on, so the flows sharing a probe run rarely share one.
#[inline(always)]
fn ctrl_of(h: u64) -> u8 {
    ((h >> 8) as u8).max(1)
}

/// How far ahead of its position the sweep starts loading the entries that are due.
const SWEEP_AHEAD: usize = 128;

/// Slots the sweep tests at once: one line of check times, read without a branch per slot,
/// so a stretch with nothing due costs about an instruction a slot.
const SWEEP_GROUP: usize = 8;

/// The check time of an empty slot: never due, so the sweep needs no control byte to skip it.
/// Below 2^63 like every check time and clock reading, so that "due" is the sign of a
/// difference ([`sweep_bit`]).
const NEVER: u64 = i64::MAX as u64;

/// Top bit set exactly when a slot checked at `c` is due at `now` (`c <= now`, both below
/// 2^63): the sign of a difference, so a group's slots are tested with OR and no branch.
#[inline(always)]
fn sweep_bit(c: u64, now_plus_1: u64) -> u64 {
    c.wrapping_sub(now_plus_1)
}

/// Control bytes mirrored after the end of the array: the width of one [`Slots::group`] read.
pub(super) const MIRROR: usize = 8;

#[inline(always)]
fn splat(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// The high bit of each byte of `w` that is zero. Only the lowest flag is exact (a borrow
/// may flag a 0x01 byte above a zero one); [`Slots::find`] reads the entry before trusting a
/// match, and only the lowest empty flag is used.
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080
}

/// The byte index of the lowest flag in `m` (8 if none).
#[inline(always)]
fn first(m: u64) -> usize {
    (m.trailing_zeros() / 8) as usize
}

/// Where one packet's flow is looked for.
#[derive(Clone, Copy, Default)]
pub(super) struct Probe {
    pub(super) tag: u32,
    pub(super) ctrl: u8,
    /// In the IPv4 array (else the wide one).
    pub(super) v4: bool,
    /// Slot numbers in 32 bits keep a group's probes small beside the caches' other work.
    pub(super) home: u32,
    /// Where the entry was prefetched: the slot the lookup most likely ends on, tried first.
    pub(super) hint: u32,
}

/// One open-addressing array of entries of one layout, with a control byte per slot beside
/// it (SwissTable-style): a probe scans the bytes — 64 slots in one cache line — and reads an
/// entry only where its byte matches, so a lookup touches the one entry it updates and not
/// the entries of the other flows on its probe run.
pub(super) struct Slots<E: Entry> {
    /// 0: empty; otherwise [`ctrl_of`] the flow's hash.
    pub(super) ctrl: Vec<u8>,
    pub(super) slots: Vec<E>,
    /// Per slot, a time before which its flow cannot be due ([`check_at`]): the sweep reads
    /// this compact array and an entry only once its time has come, so a quiet sweep costs
    /// 8 bytes per slot and not an entry's cache lines. Written when a flow starts, and on
    /// FIN/RST (which bring the time forward); packets otherwise only push the real deadline
    /// later, so a stale time is early, never late, and the sweep then renews it. [`NEVER`]
    /// in an empty slot.
    pub(super) check: Vec<u64>,
    pub(super) len: usize,
    pub(super) sweep_pos: usize,
    /// Where the sweep's prefetching has looked up to: between [`SWEEP_AHEAD`] and a group
    /// more ahead of `sweep_pos` (wrapping), so that each slot is looked at once for it.
    pub(super) ahead_pos: usize,
    /// The time the sweep has covered up to (0: not started).
    pub(super) sweep_clock: u64,
    pub(super) evict_pos: usize,
}

impl<E: Entry> Slots<E> {
    pub(super) fn new(cap: usize) -> Self {
        // `resize` writes every element (unlike `vec![..; n]` of zeros, which maps zero pages
        // lazily), so the page faults happen now and not on the first packets.
        let mut slots = Vec::with_capacity(cap);
        let mut ctrl = Vec::with_capacity(cap);
        let mut check = Vec::with_capacity(cap);
        // Huge pages where the system grants them on request: a table beyond the caches then
        // costs a cache miss per lookup and not a TLB miss as well. Only speed depends on it.
        let _ = ringcap_sys::hint::advise_huge_pages(&mut slots);
        let _ = ringcap_sys::hint::advise_huge_pages(&mut ctrl);
        let _ = ringcap_sys::hint::advise_huge_pages(&mut check);
        slots.resize(cap, E::vacant());
        ctrl.resize(cap + MIRROR, 0);
        check.resize(cap, NEVER);
        Slots {
            ctrl,
            slots,
            check,
            len: 0,
            sweep_pos: 0,
            ahead_pos: 0,
            sweep_clock: 0,
            evict_pos: 0,
        }
    }

    #[inline(always)]
    pub(super) fn home(&self, tag: u32) -> usize {
        ((tag as u64 * self.slots.len() as u64) >> 32) as usize
    }

    #[inline(always)]
    pub(super) fn probe(&self, h: u64, v4: bool) -> Probe {
        let tag = tag_of(h);
        let home = self.home(tag) as u32;
        Probe {
            tag,
            ctrl: ctrl_of(h),
            v4,
            home,
            hint: home,
        }
    }

    /// Starts loading the control bytes a lookup from `p` reads first.
    #[inline(always)]
    pub(super) fn prefetch_ctrl(&self, p: &Probe) {
        ringcap_sys::hint::prefetch(&self.ctrl[p.home as usize]);
    }

    /// Starts loading the entry where a lookup from `p` will most likely end: the first slot
    /// whose control byte matches or is empty. (A hint only: packets updated before this one
    /// may still move entries; [`Slots::find`] decides.)
    #[inline(always)]
    pub(super) fn prefetch_entry(&self, p: &mut Probe) {
        let home = p.home as usize;
        let w = self.group(home);
        let m = zero_bytes(w) | zero_bytes(w ^ splat(p.ctrl));
        // Nothing in the eight slots from home (a long run, rare): `first` says 8, and the
        // entry after them is as good a guess as any.
        let f = first(m);
        let i = self.wrap(home + f);
        self.slots[i].prefetch();
        // An empty slot there: a new flow, whose insert also writes the slot's check time
        // (a line of its own, as far from the caches as the entry).
        if f < 8 && (w >> (8 * f)) as u8 == 0 {
            ringcap_sys::hint::prefetch(&self.check[i]);
        }
        p.hint = i as u32;
    }

    #[inline(always)]
    pub(super) fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// `i` folded back into the table (`i` < twice its size).
    #[inline(always)]
    pub(super) fn wrap(&self, i: usize) -> usize {
        if i >= self.slots.len() {
            i - self.slots.len()
        } else {
            i
        }
    }

    /// The control bytes of slots `i..i + 8` (wrapping), lowest slot in the lowest byte.
    #[inline(always)]
    pub(super) fn group(&self, i: usize) -> u64 {
        let b: [u8; 8] = self.ctrl[i..i + 8].try_into().unwrap_or_default();
        u64::from_le_bytes(b)
    }

    #[inline(always)]
    pub(super) fn set_ctrl(&mut self, i: usize, c: u8) {
        self.ctrl[i] = c;
        // The copy of the first bytes after the end, so that eight bytes read from any slot
        // wrap around as the probe does.
        if i < MIRROR {
            let cap = self.slots.len();
            self.ctrl[cap + i] = c;
        }
    }

    /// Finds the flow from `p.home` on; `Err` with the empty slot where it would go. Eight
    /// control bytes at a time: the slots whose byte matches, up to the first empty one, are
    /// the only entries read (almost always one, the flow's own), with no branch per slot.
    /// (The update tries the prefetched slot, [`Probe::hint`], before this.)
    #[inline(always)]
    pub(super) fn find(&self, p: &Probe, key: &E::Key) -> Result<usize, usize> {
        let want = splat(p.ctrl);
        let mut i = p.home as usize;
        loop {
            let w = self.group(i);
            let empty = zero_bytes(w);
            // Bytes below the first empty one (all eight when none is empty).
            let before = (empty & empty.wrapping_neg()).wrapping_sub(1);
            let mut cand = zero_bytes(w ^ want) & before;
            while cand != 0 {
                let j = self.wrap(i + first(cand));
                if self.slots[j].matches(key) {
                    return Ok(j);
                }
                cand &= cand - 1;
            }
            if empty != 0 {
                return Err(self.wrap(i + first(empty)));
            }
            i = self.wrap(i + MIRROR);
        }
    }

    /// Removes the entry at `hole`, shifting back the entries after it that may move closer to
    /// their home slot, so that no probe sequence has a gap.
    pub(super) fn remove_at(&mut self, mut hole: usize) {
        let cap = self.slots.len();
        let mut j = hole;
        loop {
            j = self.next(j);
            if self.ctrl[j] == 0 {
                break;
            }
            let h = self.home(self.slots[j].tag());
            let from_home = if j >= h { j - h } else { j + cap - h };
            let from_hole = if j >= hole { j - hole } else { j + cap - hole };
            if from_home >= from_hole {
                self.slots[hole] = self.slots[j];
                self.check[hole] = self.check[j];
                self.set_ctrl(hole, self.ctrl[j]);
                hole = j;
            }
        }
        self.set_ctrl(hole, 0);
        self.check[hole] = NEVER;
        self.slots[hole] = E::vacant();
        self.len -= 1;
    }

    /// Of the next few flows after the eviction cursor, the one quiet the longest is reported
    /// with [`EndReason::Evicted`] and removed. Bounded work whatever the size.
    pub(super) fn evict_one(&mut self, stats: &mut TableStats, sink: &mut impl Sink) {
        let mut i = self.evict_pos;
        let mut best: Option<usize> = None;
        let mut seen = 0;
        for _ in 0..self.slots.len() {
            if self.ctrl[i] != 0 {
                seen += 1;
                if best.is_none_or(|b| self.slots[i].last_ns() < self.slots[b].last_ns()) {
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
            emit(stats, &self.slots[b], EndReason::Evicted, sink);
            self.remove_at(b);
        }
    }

    pub(super) fn expire(
        &mut self,
        now: u64,
        t: &Timeouts,
        stats: &mut TableStats,
        sink: &mut impl Sink,
    ) {
        if self.sweep_clock == 0 || now < self.sweep_clock {
            self.sweep_clock = now;
            return;
        }
        let cap = self.slots.len();
        let period = t.sweep_period();
        // A lag beyond one full sweep is forgotten: one sweep ends every flow that is due.
        let clock = self.sweep_clock.max(now.saturating_sub(period));
        let due_visits = (cap as u128 * (now - clock) as u128 / period as u128) as u64;
        if due_visits == 0 {
            return;
        }
        let visits = due_visits.min(MAX_SWEEP);
        // The clock moves by what those visits are worth, so fractions and the work left over
        // by MAX_SWEEP carry to the next call.
        self.sweep_clock = clock + (visits as u128 * period as u128 / cap as u128) as u64;
        if self.len == 0 {
            // Nothing to end (the other array of an all-IPv4 or all-IPv6 run): the cursor
            // moves as if it had looked.
            self.sweep_pos = ((self.sweep_pos as u64 + visits) % cap as u64) as usize;
            self.ahead_pos = self.sweep_pos;
            return;
        }
        // A clock past 2^63 ns (a capture file's nonsense time) counts as 2^63 - 1 ns.
        let now1 = now.min(NEVER - 1) + 1;
        // Prefetching needs room to run ahead of the sweep and wrap without catching it.
        let ahead = cap >= 4 * (SWEEP_AHEAD + SWEEP_GROUP);
        // Removals do not count as visits (an entry may shift into the slot, which is looked
        // at again); they are bounded by the flows in the table.
        let mut visited = 0;
        while visited < visits {
            let i = self.sweep_pos;
            if ahead {
                self.prefetch_due(i, now1);
            }
            let n = SWEEP_GROUP.min(cap - i).min((visits - visited) as usize);
            let any = self.check[i..i + n]
                .iter()
                .fold(0, |a, &c| a | sweep_bit(c, now1));
            if any >> 63 == 0 {
                self.sweep_pos = if i + n == cap { 0 } else { i + n };
                visited += n as u64;
                continue;
            }
            // The first slot whose time has come (occupied: an empty one's never comes).
            let k = self.check[i..i + n]
                .iter()
                .position(|&c| sweep_bit(c, now1) >> 63 != 0)
                .unwrap_or(n - 1);
            let j = i + k;
            visited += k as u64;
            self.sweep_pos = j;
            if let Some(end) = due(&self.slots[j], now, t) {
                emit(stats, &self.slots[j], end, sink);
                self.remove_at(j);
                continue;
            }
            self.check[j] = check_at(&self.slots[j], t);
            self.sweep_pos = self.next(j);
            visited += 1;
        }
    }

    /// The entries the sweep will read are scattered far beyond the caches (one per flow that
    /// is due): this starts loading them [`SWEEP_AHEAD`] slots before the sweep gets there, so
    /// their misses overlap instead of each stalling the sweep in turn. Removals may shift an
    /// entry back a slot before it is read; a prefetch is only a hint.
    #[inline(always)]
    fn prefetch_due(&mut self, sweep: usize, now1: u64) {
        let cap = self.slots.len();
        loop {
            let lead = if self.ahead_pos >= sweep {
                self.ahead_pos - sweep
            } else {
                self.ahead_pos + cap - sweep
            };
            // Far past the lead it keeps: the sweep jumped (a table emptied meanwhile).
            if lead > SWEEP_AHEAD + SWEEP_GROUP {
                self.ahead_pos = sweep;
                continue;
            }
            if lead >= SWEEP_AHEAD {
                return;
            }
            let a = self.ahead_pos;
            let n = SWEEP_GROUP.min(cap - a);
            let any = self.check[a..a + n]
                .iter()
                .fold(0, |x, &c| x | sweep_bit(c, now1));
            if any >> 63 != 0 {
                for k in 0..n {
                    if sweep_bit(self.check[a + k], now1) >> 63 != 0 {
                        self.slots[a + k].prefetch();
                        // Its removal reads the next entry too, to see whether it moves back.
                        self.slots[self.next(a + k)].prefetch();
                    }
                }
            }
            self.ahead_pos = if a + n == cap { 0 } else { a + n };
        }
    }

    pub(super) fn flush(&mut self, stats: &mut TableStats, sink: &mut impl Sink) {
        for i in 0..self.slots.len() {
            if self.ctrl[i] == 0 {
                continue;
            }
            let e = &self.slots[i];
            let end = if e.tcp_flags() & (tcp::FIN | tcp::RST) != 0 {
                EndReason::EndOfFlow
            } else {
                EndReason::Forced
            };
            emit(stats, e, end, sink);
            self.set_ctrl(i, 0);
            self.check[i] = NEVER;
            self.slots[i] = E::vacant();
        }
        self.len = 0;
    }
}
