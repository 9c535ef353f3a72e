use std::collections::HashMap;

use super::*;
use crate::key::{FlowKey, Kind};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

fn key(n: u32) -> FlowKey {
    let mut k = FlowKey {
        kind: Kind::V4,
        proto: 17,
        src_port: (n % 60000) as u16,
        dst_port: 53,
        ethertype: 0x0800,
        vlan: crate::key::VLAN_NONE,
        ..FlowKey::default()
    };
    k.src[..4].copy_from_slice(&n.to_be_bytes());
    k.dst[..4].copy_from_slice(&[10, 0, 0, 1]);
    k
}

fn obs(n: u32, ts: u64, len: u32, flags: u8) -> Observation {
    Observation {
        key: key(n),
        ts_ns: ts,
        octets: len,
        l2_octets: len + 14,
        tcp_flags: flags,
    }
}

fn t(idle_s: u64, active_s: u64) -> Timeouts {
    Timeouts {
        idle_ns: idle_s * S,
        active_ns: active_s * S,
        fin_ns: S,
    }
}

#[test]
fn packets_of_one_flow_add_up_in_one_record() {
    let mut tab = FlowTable::with_hasher(100, t(15, 60), Hasher::fixed());
    let mut out = Vec::new();
    let pkts = [
        obs(1, 1000, 60, tcp::SYN),
        obs(1, 2000, 52, tcp::ACK),
        obs(1, 3000, 1500, tcp::ACK | tcp::PSH),
        obs(2, 2500, 100, 0),
    ];
    tab.update(&pkts, &mut |r: &FlowRecord| out.push(*r));
    assert!(out.is_empty());
    assert_eq!(tab.len(), 2);
    tab.flush(&mut |r: &FlowRecord| out.push(*r));
    out.sort_by_key(|r| r.key.src[3]);
    let r = &out[0];
    assert_eq!((r.packets, r.octets, r.l2_octets), (3, 1612, 1612 + 42));
    assert_eq!((r.first_ns, r.last_ns), (1000, 3000));
    assert_eq!(r.tcp_flags, tcp::SYN | tcp::ACK | tcp::PSH);
    assert_eq!(r.end, EndReason::Forced);
    assert_eq!(out[1].packets, 1);
    assert!(tab.is_empty());
    let st = tab.stats();
    assert_eq!((st.packets, st.records, st.record_packets), (4, 2, 4));
}

#[test]
fn a_packet_after_the_idle_timeout_starts_a_new_record() {
    let mut tab = FlowTable::with_hasher(100, t(2, 60), Hasher::fixed());
    let mut out = Vec::new();
    let mut sink = |r: &FlowRecord| out.push(*r);
    tab.update(&[obs(1, S, 100, 0), obs(1, S + 10 * MS, 100, 0)], &mut sink);
    tab.update(&[obs(1, 4 * S, 100, 0)], &mut sink);
    tab.flush(&mut sink);
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].packets, out[0].end), (2, EndReason::Idle));
    assert_eq!((out[1].packets, out[1].end), (1, EndReason::Forced));
}

#[test]
fn the_sweep_ends_idle_flows_without_traffic() {
    let tm = t(1, 60);
    let mut tab = FlowTable::with_hasher(1000, tm, Hasher::fixed());
    let mut out = Vec::new();
    let mut sink = |r: &FlowRecord| out.push(*r);
    let pkts: Vec<_> = (0..500).map(|i| obs(i, S, 64, 0)).collect();
    tab.update(&pkts, &mut sink);
    tab.expire(S, &mut sink);
    // Time passes in small steps with no packet: within the timeout plus one sweep period
    // every flow is reported, each exactly once.
    let mut now = S;
    while now < 2 * S + tm.sweep_period() + 10 * MS {
        now += 5 * MS;
        tab.expire(now, &mut sink);
    }
    assert_eq!(out.len(), 500);
    assert!(out
        .iter()
        .all(|r| r.end == EndReason::Idle && r.packets == 1));
    assert!(tab.is_empty());
}

#[test]
fn long_flows_are_cut_at_the_active_timeout_and_sum_exactly() {
    let mut tab = FlowTable::with_hasher(100, t(15, 1), Hasher::fixed());
    let mut out = Vec::new();
    let mut sink = |r: &FlowRecord| out.push(*r);
    let mut n = 0u64;
    let mut ts = S;
    while ts < 11 * S {
        tab.update(&[obs(7, ts, 100 + (n % 7) as u32, 0)], &mut sink);
        tab.expire(ts, &mut sink);
        n += 1;
        ts += 30 * MS;
    }
    tab.flush(&mut sink);
    assert!(out.len() >= 10, "{} records", out.len());
    assert_eq!(out.iter().map(|r| r.packets).sum::<u64>(), n);
    let bytes: u64 = (0..n).map(|i| 100 + i % 7).sum();
    assert_eq!(out.iter().map(|r| r.octets).sum::<u64>(), bytes);
    for r in &out[..out.len() - 1] {
        assert_eq!(r.end, EndReason::Active);
        assert!(r.last_ns - r.first_ns < S);
    }
    // Records follow each other without overlap.
    for w in out.windows(2) {
        assert!(w[0].last_ns < w[1].first_ns);
    }
}

#[test]
fn fin_ends_a_flow_once_it_is_quiet() {
    let mut tab = FlowTable::with_hasher(100, t(15, 60), Hasher::fixed());
    let mut out = Vec::new();
    let mut sink = |r: &FlowRecord| out.push(*r);
    tab.update(
        &[
            obs(1, S, 60, tcp::SYN),
            obs(1, S + MS, 52, tcp::ACK | tcp::FIN),
            obs(1, S + 2 * MS, 52, tcp::ACK),
        ],
        &mut sink,
    );
    let mut now = S;
    while now < 5 * S {
        now += 10 * MS;
        tab.expire(now, &mut sink);
    }
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].packets, out[0].end), (3, EndReason::EndOfFlow));
}

#[test]
fn a_full_table_evicts_and_reports_it() {
    let mut tab = FlowTable::with_hasher(4, t(15, 60), Hasher::fixed());
    let mut out = Vec::new();
    let mut sink = |r: &FlowRecord| out.push(*r);
    for i in 0..10u32 {
        tab.update(&[obs(i, S + i as u64 * MS, 64, 0)], &mut sink);
    }
    assert_eq!(tab.len(), 4);
    assert_eq!(out.len(), 6);
    assert!(out.iter().all(|r| r.end == EndReason::Evicted));
    assert_eq!(tab.stats().evicted(), 6);
    tab.flush(&mut |r: &FlowRecord| out.push(*r));
    assert_eq!(out.iter().map(|r| r.packets).sum::<u64>(), 10);
}

/// A tiny deterministic generator, so the model test needs no crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// An IPv6 key for flow `n` (the wide array).
fn key6(n: u32) -> FlowKey {
    let mut k = key(n);
    k.kind = Kind::V6;
    k.ethertype = crate::key::ETHERTYPE_IPV6;
    k.src = [0; 16];
    k.src[..2].copy_from_slice(&[0x20, 0x01]);
    k.src[12..].copy_from_slice(&n.to_be_bytes());
    k.dst = [0; 16];
    k.dst[15] = 1;
    k
}

/// Many flows on a small table: collisions, evictions, expiries and backward shifts all
/// happen; per key, the records must carry exactly the packets and bytes sent. `far`: with
/// the control-byte prefetch stage (else without), whatever the table's size would pick;
/// `v6_every`: every so many flows are IPv6 (0: none), so groups mix both arrays.
fn model(far: bool, v6_every: u32) {
    let mut tab = FlowTable::with_hasher(300, t(1, 3), Hasher::fixed());
    tab.set_far(far);
    let mut got: HashMap<FlowKey, (u64, u64)> = HashMap::new();
    let mut want: HashMap<FlowKey, (u64, u64)> = HashMap::new();
    let mut rng = Lcg(42);
    let mut ts = S;
    let mut batch = Vec::new();
    for b in 0..2000u32 {
        batch.clear();
        // 250 keys in use at a time, a window moving on: old flows go idle, and new ones come
        // faster than idle ones leave, so the table fills and evicts too. Some batches are
        // larger than a group, so a group's pipeline runs full and its tail too.
        let base = b / 20 * 25;
        let big = b % 7 == 0;
        let count = if big {
            300 + rng.next() % 300
        } else {
            rng.next() % 40
        };
        // A big batch spans as much time as a small one.
        let step = if big { MS / 16 } else { MS };
        for _ in 0..count {
            let n = base + (rng.next() % 250) as u32;
            let len = 40 + (rng.next() % 1400) as u32;
            ts += rng.next() % 2 * step;
            let mut o = obs(n, ts, len, 0);
            if v6_every > 0 && n.is_multiple_of(v6_every) {
                o.key = key6(n);
            }
            batch.push(o);
            let e = want.entry(o.key).or_default();
            e.0 += 1;
            e.1 += len as u64;
        }
        let mut sink = |r: &FlowRecord| {
            let e = got.entry(r.key).or_default();
            e.0 += r.packets;
            e.1 += r.octets;
        };
        tab.update(&batch, &mut sink);
        tab.expire(ts, &mut sink);
        assert!(tab.len() <= 300);
    }
    let st = *tab.stats();
    assert!(st.evicted() > 0, "{st:?}");
    assert!(st.ended[EndReason::Idle.index()] > 0, "{st:?}");
    tab.flush(&mut |r: &FlowRecord| {
        let e = got.entry(r.key).or_default();
        e.0 += r.packets;
        e.1 += r.octets;
    });
    assert_eq!(got, want);
}

#[test]
fn against_a_hash_map_model_with_churn_and_eviction() {
    model(false, 0);
}

#[test]
fn against_the_model_with_the_control_byte_stage() {
    model(true, 0);
}

#[test]
fn against_the_model_with_ipv4_and_ipv6_in_one_group() {
    model(false, 3);
    model(true, 5);
}

#[test]
fn a_packet_quiet_past_the_fin_timeout_without_fin_stays_in_its_record() {
    // The quick check compares with the shorter of the idle and FIN timeouts; a flow without
    // FIN quiet for longer than the FIN timeout (but not idle) must only be added to.
    let mut tab = FlowTable::with_hasher(100, t(15, 60), Hasher::fixed());
    let mut out = Vec::new();
    for i in 0..5 {
        tab.update(&[obs(1, S + i * 3 * S, 100, 0)], &mut |r: &FlowRecord| {
            out.push(*r)
        });
    }
    // Out of order: older than the flow's last packet (and than its first).
    tab.update(&[obs(1, S / 2, 100, 0)], &mut |r: &FlowRecord| out.push(*r));
    assert!(out.is_empty(), "{out:?}");
    tab.flush(&mut |r: &FlowRecord| out.push(*r));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].packets, 6);
    assert_eq!((out[0].first_ns, out[0].last_ns), (S, 13 * S));
}

#[test]
fn every_flow_stays_findable_after_removals() {
    findable(false);
    findable(true);
}

fn findable(far: bool) {
    // Fill a table to its limit, end half the flows by time, then touch the rest: none may be
    // created anew (which would mean a removal broke a probe sequence).
    let mut tab = FlowTable::with_hasher(2000, t(1, 60), Hasher::fixed());
    tab.set_far(far);
    let mut sink = |_: &FlowRecord| {};
    let old: Vec<_> = (0..1000).map(|i| obs(i, S, 64, 0)).collect();
    tab.update(&old, &mut sink);
    let young: Vec<_> = (1000..2000).map(|i| obs(i, 2 * S, 64, 0)).collect();
    tab.update(&young, &mut sink);
    tab.expire(2 * S, &mut sink);
    for step in 1..=36 {
        tab.expire(2 * S + step * 25 * MS, &mut sink);
    }
    assert_eq!(tab.len(), 1000);
    let flows = tab.stats().flows;
    let again: Vec<_> = (1000..2000)
        .map(|i| obs(i, 2 * S + 950 * MS, 64, 0))
        .collect();
    tab.update(&again, &mut sink);
    assert_eq!(tab.stats().flows, flows);
    assert_eq!(tab.len(), 1000);
}

#[test]
fn the_sweep_is_never_late_however_packets_moved_a_deadline() {
    // The sweep reads an entry only once its check time has come; that time is set when a
    // flow starts and must never let a flow be reported later than its deadline plus one
    // sweep period, whether packets pushed the idle deadline on (renewed by the sweep), a
    // FIN brought it forward, or the active timeout comes first.
    let tm = Timeouts {
        idle_ns: 2 * S,
        active_ns: 5 * S,
        fin_ns: S / 2,
    };
    let mut tab = FlowTable::with_hasher(1000, tm, Hasher::fixed());
    let now = std::cell::Cell::new(S);
    let mut out: Vec<(FlowRecord, u64)> = Vec::new();
    let mut sink = |r: &FlowRecord| out.push((*r, now.get()));
    // Flow 1: a packet every 100 ms for 3 s, then quiet (idle, renewed several times).
    // Flow 2: the same until a FIN at 0.5 s (ends half a second later, before its start's
    // idle check time).
    // Flow 3: a packet every 100 ms for 8 s (cut by the active timeout at 5 s, via the sweep
    // or the next packet, then idle at the end).
    // Flow 4: one packet (idle at its first check time).
    let mut ts = S;
    while now.get() < 14 * S {
        let t0 = now.get();
        let mut batch = Vec::new();
        while ts <= t0 {
            let e = ts - S;
            if e < 3 * S {
                batch.push(obs(1, ts, 100, 0));
            }
            if e <= S / 2 {
                let f = if e == S / 2 { tcp::FIN } else { 0 };
                batch.push(obs(2, ts, 100, f));
            }
            if e < 8 * S {
                batch.push(obs(3, ts, 100, 0));
            }
            if e == 0 {
                batch.push(obs(4, ts, 100, 0));
            }
            ts += 100 * MS;
        }
        tab.update(&batch, &mut sink);
        tab.expire(t0, &mut sink);
        now.set(t0 + 10 * MS);
    }
    let period = tm.sweep_period();
    let mut ends = HashMap::new();
    for (r, at) in &out {
        let deadline = match r.end {
            EndReason::Idle => r.last_ns + tm.idle_ns,
            EndReason::EndOfFlow => r.last_ns + tm.fin_ns,
            EndReason::Active => r.first_ns + tm.active_ns,
            e => panic!("unexpected end {e:?}"),
        };
        // An active cut made by a packet is reported at that packet, past the deadline by
        // less than the packet spacing; a sweep's report by at most one period and a step.
        assert!(
            *at >= deadline && *at <= deadline + period + 100 * MS,
            "{:?} reported at {} for a deadline {}",
            r.end,
            at,
            deadline
        );
        let n = u32::from_be_bytes(r.key.src[..4].try_into().unwrap());
        ends.entry(n).or_insert_with(Vec::new).push(r.end);
    }
    assert_eq!(ends[&1], [EndReason::Idle]);
    assert_eq!(ends[&2], [EndReason::EndOfFlow]);
    assert_eq!(ends[&3], [EndReason::Active, EndReason::Idle]);
    assert_eq!(ends[&4], [EndReason::Idle]);
    assert!(tab.is_empty());
}

#[test]
fn every_flow_of_a_sparse_table_ends_on_time() {
    // Thousands of short flows, IPv4 and IPv6, in tables mostly empty: the sweep skips
    // stretches of slots a chunk at a time, stops at each slot whose check time has come,
    // removes around it and wraps at the end of each array. Every flow must be reported once,
    // never before its idle deadline and never later than one sweep period (and a step) after.
    let tm = t(1, 60);
    let mut tab = FlowTable::with_hasher(20_000, tm, Hasher::fixed());
    let step = 7 * MS;
    let now = std::cell::Cell::new(S);
    let mut out: Vec<(FlowRecord, u64)> = Vec::new();
    let mut sink = |r: &FlowRecord| out.push((*r, now.get()));
    let mut rng = Lcg(7);
    let mut sent: HashMap<FlowKey, u64> = HashMap::new();
    let mut n = 0u32;
    while now.get() < 7 * S {
        let t0 = now.get();
        let mut batch = Vec::new();
        if t0 < 4 * S {
            for _ in 0..rng.next() % 60 {
                // Some flows get a second packet a little later (a renewed deadline).
                let id = if n > 50 && rng.next().is_multiple_of(4) {
                    n - 1 - (rng.next() % 50) as u32
                } else {
                    n += 1;
                    n
                };
                let mut o = obs(id, t0, 100, 0);
                if id % 3 == 0 {
                    o.key = key6(id);
                }
                sent.insert(o.key, t0);
                batch.push(o);
            }
        }
        tab.update(&batch, &mut sink);
        tab.expire(t0, &mut sink);
        now.set(t0 + step);
    }
    let period = tm.sweep_period();
    assert!(tab.is_empty(), "{} flows never ended", tab.len());
    assert_eq!(out.len(), sent.len());
    for (r, at) in &out {
        assert_eq!(r.end, EndReason::Idle);
        assert_eq!(
            r.last_ns, sent[&r.key],
            "one record per flow, with its last packet"
        );
        let deadline = r.last_ns + tm.idle_ns;
        assert!(
            *at >= deadline && *at <= deadline + period + step,
            "reported at {at} for a deadline {deadline}"
        );
    }
}

#[test]
fn a_flow_seen_again_after_a_flush_or_a_removal_starts_a_new_record() {
    // An emptied slot still sits where the flow's next lookup is prefetched; the packet must
    // open a new flow there, not count into the ended one.
    for far in [false, true] {
        let mut tab = FlowTable::with_hasher(100, t(1, 60), Hasher::fixed());
        tab.set_far(far);
        let mut out = Vec::new();
        tab.update(
            &[obs(7, S, 100, 0), obs(8, S, 60, 0)],
            &mut |r: &FlowRecord| out.push(*r),
        );
        tab.flush(&mut |r: &FlowRecord| out.push(*r));
        assert_eq!(out.len(), 2);
        tab.update(&[obs(7, 2 * S, 200, 0)], &mut |r: &FlowRecord| out.push(*r));
        assert_eq!(tab.len(), 1);
        assert_eq!(tab.stats().flows, 3);
        // Removed by the sweep this time, then seen again.
        for step in 1..=20 {
            tab.expire(2 * S + step * 100 * MS, &mut |r: &FlowRecord| out.push(*r));
        }
        assert_eq!(out.len(), 3, "{out:?}");
        tab.update(&[obs(7, 5 * S, 300, 0)], &mut |r: &FlowRecord| out.push(*r));
        tab.flush(&mut |r: &FlowRecord| out.push(*r));
        let sevens: Vec<_> = out
            .iter()
            .filter(|r| r.key == key(7))
            .map(|r| (r.packets, r.octets))
            .collect();
        assert_eq!(sevens, [(1, 100), (1, 200), (1, 300)]);
    }
}

/// The memory a limit will take is known before the table is made, exactly.
#[test]
fn memory_for_a_limit_is_the_tables_memory() {
    for n in [0, 1, 15, 100, 10_000, 262_144] {
        let t = FlowTable::new(n, Timeouts::default());
        assert_eq!(FlowTable::memory_for(n), t.memory_bytes(), "{n}");
    }
    // Beyond the limit, what the limit takes.
    assert_eq!(
        FlowTable::memory_for(usize::MAX),
        FlowTable::memory_for(MAX_FLOWS)
    );
}
