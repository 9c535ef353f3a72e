//! Replay timing over hostile timestamps, as property tests: any sequence of timestamps (0,
//! the ends of pcap's 32-bit seconds, 64-bit pcapng units, huge nanosecond fractions, going
//! backwards) and any loop count either gives the exact `--timing file` schedule or is refused
//! with one line; nothing wraps or panics. Every value is checked against the same arithmetic
//! done in 128 bits.

use proptest::prelude::*;
use ringcap_gen::replay::MAX_SCHEDULE_NS;
use ringcap_gen::{Replay, ReplayError};
use ringcap_netlab::craft;

const FRAME: [u8; 60] = [0xab; 60];

/// Timestamps in nanoseconds, weighted towards the edges.
fn stamp() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(i64::MAX as u64),
        Just(i64::MAX as u64 + 1),
        Just(u32::MAX as u64 * 1_000_000_000 + 999_999_999),
        Just(u32::MAX as u64 * 1_000_000_000 + u32::MAX as u64),
        0u64..2_000_000_000,
        any::<u64>(),
    ]
}

fn loops() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(2u64),
        Just(u64::MAX),
        1u64..1000,
        any::<u64>(),
    ]
}

/// What the offsets must be: from the first frame, never negative, never going back.
fn offsets(ts: &[u64]) -> Vec<u128> {
    let first = ts[0] as u128;
    let mut max = 0u128;
    ts.iter()
        .map(|&t| {
            max = max.max((t as u128).saturating_sub(first));
            max
        })
        .collect()
}

fn replay(ts: &[u64]) -> Replay {
    Replay::from_frames(ts.iter().map(|&t| (t, &FRAME[..])))
}

/// The schedule in 128 bits: (period of one loop, length of `loops` loops).
fn schedule(off: &[u128], loops: u64) -> (u128, u128) {
    let span = *off.last().unwrap();
    let gap = if off.len() > 1 {
        span / (off.len() as u128 - 1)
    } else {
        0
    };
    let period = span + gap;
    let total = match loops {
        0 => period,
        n => (n as u128 - 1) * period + span,
    };
    (period, total)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn offsets_start_at_zero_and_never_go_back(ts in proptest::collection::vec(stamp(), 1..40)) {
        let r = replay(&ts);
        let want = offsets(&ts);
        let got: Vec<u128> = r.frames.iter().map(|f| f.time_ns as u128).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(r.frames[0].time_ns, 0);
    }

    #[test]
    fn the_schedule_is_exact_or_refused(
        ts in proptest::collection::vec(stamp(), 1..20),
        loops in loops(),
        pick in any::<usize>(),
        later in any::<u64>(),
    ) {
        let r = replay(&ts);
        let off = offsets(&ts);
        let (period, total) = schedule(&off, loops);
        match r.check_timing(loops) {
            Ok(len) => {
                prop_assert!(total <= MAX_SCHEDULE_NS as u128);
                prop_assert_eq!(len as u128, total);
                // Every frame of the first, a middle and the last loop is due exactly when the
                // file says, within the schedule.
                let last = if loops == 0 { 1 } else { loops - 1 };
                for k in [0, last / 2, last] {
                    for i in [0, pick % off.len(), off.len() - 1] {
                        let t = r.time_in_loop(k, i) as u128;
                        prop_assert_eq!(t, k as u128 * period + off[i]);
                        if loops > 0 {
                            prop_assert!(t <= total);
                        }
                    }
                }
            }
            Err(e) => {
                prop_assert!(total > MAX_SCHEDULE_NS as u128, "refused {total}: {e}");
                let msg = e.to_string();
                let is_timing = matches!(e, ReplayError::Timing { .. });
                prop_assert!(is_timing, "{msg}");
                prop_assert!(msg.starts_with("--timing file cannot keep this timing"), "{msg}");
                prop_assert!(!msg.contains('\n'), "{msg}");
            }
        }
        // Past any schedule (an endless --loop 0 after centuries): saturates, never wraps.
        let i = pick % off.len();
        let exact = later as u128 * period + off[i];
        prop_assert_eq!(r.time_in_loop(later, i) as u128, exact.min(u64::MAX as u128));
    }

    /// pcap files with any 32-bit seconds and fraction, micro or nano: they load, their
    /// offsets are exact, and one pass always fits (pcap time ends in 2106).
    #[test]
    fn any_pcap_timestamps_load(
        nano in any::<bool>(),
        recs in proptest::collection::vec(
            (prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
             prop_oneof![Just(0u32), Just(999_999), Just(999_999_999), Just(u32::MAX), any::<u32>()]),
            1..20),
        loops in loops(),
    ) {
        let dir = ringcap_netlab::tools::tmpdir("replay-pcap");
        let path = dir.join("t.pcap");
        let recs3: Vec<(u32, u32, &[u8])> = recs.iter().map(|&(s, f)| (s, f, &FRAME[..])).collect();
        std::fs::write(&path, craft::pcap(nano, &recs3)).unwrap();
        let r = Replay::load(&path).unwrap();
        let ts: Vec<u64> = recs
            .iter()
            .map(|&(s, f)| s as u64 * 1_000_000_000 + if nano { f as u64 } else { f as u64 * 1000 })
            .collect();
        let got: Vec<u128> = r.frames.iter().map(|f| f.time_ns as u128).collect();
        prop_assert_eq!(got, offsets(&ts));
        prop_assert!(r.check_timing(1).is_ok());
        let (_, total) = schedule(&offsets(&ts), loops);
        prop_assert_eq!(r.check_timing(loops).is_ok(), total <= MAX_SCHEDULE_NS as u128);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// pcapng with any resolution and 64-bit timestamps: loads, offsets monotonic, the
    /// schedule checked like any other.
    #[test]
    fn any_pcapng_timestamps_load(
        tsresol in prop_oneof![Just(6u8), Just(9u8), Just(0u8), Just(19u8), Just(0x80u8), Just(0x80u8 | 63), any::<u8>()],
        units in proptest::collection::vec(prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()], 1..12),
        loops in loops(),
    ) {
        let dir = ringcap_netlab::tools::tmpdir("replay-pcapng");
        let path = dir.join("t.pcapng");
        let recs: Vec<(u64, &[u8])> = units.iter().map(|&u| (u, &FRAME[..])).collect();
        std::fs::write(&path, craft::pcapng(tsresol, &recs)).unwrap();
        let r = Replay::load(&path).unwrap();
        prop_assert_eq!(r.frames.len(), units.len());
        prop_assert_eq!(r.frames[0].time_ns, 0);
        prop_assert!(r.frames.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
        let off: Vec<u128> = r.frames.iter().map(|f| f.time_ns as u128).collect();
        let (_, total) = schedule(&off, loops);
        prop_assert_eq!(r.check_timing(loops).is_ok(), total <= MAX_SCHEDULE_NS as u128);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
