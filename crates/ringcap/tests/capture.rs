//! The four receive paths against real AF_PACKET sockets on a veth pair in a private network
//! namespace: exactly-once delivery with the right bytes, fanout spreading, drops that still
//! reconcile, promiscuous mode, -c, wake-up coalescing under a flood, and an interface that
//! disappears mid-capture.
//! Needs root (CI is root); otherwise each test says it skips.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{capture, check_reconciles, promiscuity, send, Seen};

use ringcap::{Config, EndReason, Fanout, FanoutMode, Geometry, Mode};
use ringcap_netlab::{udp_frame, TestNet};

fn base(mode: Mode, threads: usize) -> Config {
    let cpus = ringcap_sys::allowed_cpus().unwrap();
    Config::new("rc0")
        .mode(mode)
        .workers(threads)
        .cpus(Some((0..threads).map(|i| cpus[i % cpus.len()]).collect()))
        .fanout(Fanout {
            mode: FanoutMode::Hash,
            ..Default::default()
        })
        .geometry(Geometry {
            block_size: 1 << 16,
            blocks: 16,
            ..Default::default()
        })
        // A safety net: a test that loses packets fails instead of hanging.
        .duration(Some(Duration::from_secs(20)))
}

#[test]
fn every_path_delivers_every_frame_once_with_the_right_bytes() {
    if !ringcap_netlab::can_run("every_path_delivers_every_frame_once") {
        return;
    }
    let n = 600u32;
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| udp_frame(i, (i % 97) as u16, 60 + (i as usize * 37) % (1514 - 60 + 1)))
        .collect();
    for (mode, threads) in [
        (Mode::Recv, 1),
        (Mode::Recv, 2),
        (Mode::Ring, 1),
        (Mode::Ring, 2),
    ] {
        let net = TestNet::new().unwrap();
        let cfg = base(mode, threads).count(Some(n as u64));
        let (report, seen) = capture(&net, cfg, Duration::ZERO, |net| send(net, &frames));
        assert_eq!(report.reason, EndReason::Count, "{mode} x{threads}");
        assert_eq!(report.total.received, n as u64, "{mode} x{threads}");
        assert_eq!(report.total.drops, 0);
        check_reconciles(&report);
        let mut by_seq: HashMap<u32, Seen> = HashMap::new();
        for s in seen {
            assert!(
                by_seq.insert(s.seq, s.clone()).is_none(),
                "{mode} x{threads}: frame {} twice",
                s.seq
            );
        }
        assert_eq!(by_seq.len(), n as usize, "{mode} x{threads}");
        for (i, f) in frames.iter().enumerate() {
            let s = &by_seq[&(i as u32)];
            assert_eq!(s.data, *f, "{mode} x{threads}: bytes of frame {i}");
            assert_eq!(
                s.len as usize,
                f.len(),
                "{mode} x{threads}: length of frame {i}"
            );
        }
    }
}

#[test]
fn hash_fanout_spreads_flows_and_keeps_each_flow_on_one_worker() {
    if !ringcap_netlab::can_run("hash_fanout_spreads_flows") {
        return;
    }
    let n = 800u32;
    let frames: Vec<Vec<u8>> = (0..n).map(|i| udp_frame(i, (i % 64) as u16, 80)).collect();
    let net = TestNet::new().unwrap();
    let (report, seen) = capture(
        &net,
        base(Mode::Ring, 2).count(Some(n as u64)),
        Duration::ZERO,
        |net| send(net, &frames),
    );
    check_reconciles(&report);
    assert_eq!(seen.len(), n as usize);
    for w in &report.workers {
        assert!(
            w.received > 0,
            "worker {} got nothing: {:?}",
            w.worker,
            report.workers
        );
    }
    let mut flow_worker: HashMap<u32, usize> = HashMap::new();
    for s in &seen {
        let flow = s.seq % 64;
        let w = *flow_worker.entry(flow).or_insert(s.worker);
        assert_eq!(w, s.worker, "flow {flow} on two workers");
    }
}

#[test]
fn a_ring_too_small_for_the_sender_drops_and_still_reconciles() {
    if !ringcap_netlab::can_run("a_ring_too_small_drops") {
        return;
    }
    let frames: Vec<Vec<u8>> = (0..3000u32).map(|i| udp_frame(i, 1, 1000)).collect();
    let net = TestNet::new().unwrap();
    let cfg = base(Mode::Ring, 1)
        .geometry(Geometry {
            block_size: 4096,
            blocks: 2,
            frame_size: 2048,
            block_timeout_ms: 4,
        })
        .duration(Some(Duration::from_millis(1500)));
    // A reader that sleeps 20 ms per block cannot keep up with a sender flat out.
    let (report, seen) = capture(&net, cfg, Duration::from_millis(20), |net| {
        send(net, &frames)
    });
    check_reconciles(&report);
    assert!(report.total.drops > 0, "no drops: {:?}", report.total);
    assert_eq!(report.total.received as usize, seen.len());
    assert_eq!(
        report.total.kernel_packets, 3000,
        "the kernel counted every frame sent: {:?}",
        report.total
    );
}

#[test]
fn recv_mode_with_a_slow_reader_drops_and_reconciles() {
    if !ringcap_netlab::can_run("recv_mode_drops") {
        return;
    }
    // 12000 frames of 1400 bytes are far more than the 4 MiB receive buffer holds while the
    // reader takes 1 ms per packet.
    let frames: Vec<Vec<u8>> = (0..12000u32).map(|i| udp_frame(i, 1, 1400)).collect();
    let net = TestNet::new().unwrap();
    let cfg = base(Mode::Recv, 1).duration(Some(Duration::from_millis(1000)));
    let (report, _) = capture(&net, cfg, Duration::from_millis(1), |net| {
        send(net, &frames)
    });
    check_reconciles(&report);
    assert_eq!(report.total.kernel_packets, 12000, "{:?}", report.total);
    assert!(report.total.drops > 0, "{:?}", report.total);
}

#[test]
fn count_stops_after_exactly_n_and_reports_the_rest() {
    if !ringcap_netlab::can_run("count_stops_after_exactly_n") {
        return;
    }
    let frames: Vec<Vec<u8>> = (0..300u32)
        .map(|i| udp_frame(i, (i % 16) as u16, 64))
        .collect();
    for (mode, threads) in [(Mode::Ring, 2), (Mode::Recv, 2)] {
        let net = TestNet::new().unwrap();
        let (report, seen) = capture(
            &net,
            base(mode, threads).count(Some(100)),
            Duration::ZERO,
            |net| send(net, &frames),
        );
        assert_eq!(report.reason, EndReason::Count);
        assert_eq!(report.total.received, 100, "{mode}");
        assert_eq!(seen.len(), 100, "{mode}");
        check_reconciles(&report);
    }
}

#[test]
fn promiscuous_during_the_capture_and_not_after() {
    if !ringcap_netlab::can_run("promiscuous_during_the_capture") {
        return;
    }
    let net = TestNet::new().unwrap();
    assert_eq!(promiscuity(&net), 0);
    let during = Arc::new(Mutex::new(0));
    let d2 = during.clone();
    let (report, _) = capture(
        &net,
        base(Mode::Ring, 2).duration(Some(Duration::from_millis(300))),
        Duration::ZERO,
        move |net| *d2.lock().unwrap() = promiscuity(net),
    );
    check_reconciles(&report);
    assert!(
        *during.lock().unwrap() > 0,
        "not promiscuous during the capture"
    );
    assert_eq!(promiscuity(&net), 0, "left promiscuous");

    let during = Arc::new(Mutex::new(99));
    let d2 = during.clone();
    capture(
        &net,
        base(Mode::Ring, 1)
            .promisc(false)
            .duration(Some(Duration::from_millis(300))),
        Duration::ZERO,
        move |net| *d2.lock().unwrap() = promiscuity(net),
    );
    assert_eq!(
        *during.lock().unwrap(),
        0,
        "--no-promisc still set promiscuous mode"
    );
}

#[test]
fn an_interface_that_disappears_ends_the_capture_with_counts_that_add_up() {
    if !ringcap_netlab::can_run("an_interface_that_disappears") {
        return;
    }
    let frames: Vec<Vec<u8>> = (0..50u32).map(|i| udp_frame(i, 3, 100)).collect();
    for mode in [Mode::Ring, Mode::Recv] {
        let net = TestNet::new().unwrap();
        let started = Instant::now();
        let (report, seen) = capture(
            &net,
            base(mode, 1).duration(Some(Duration::from_secs(20))),
            Duration::ZERO,
            |net| {
                send(net, &frames);
                std::thread::sleep(Duration::from_millis(100));
                net.delete_capture_if().unwrap();
            },
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{mode}: did not stop"
        );
        assert!(
            matches!(report.reason, EndReason::InterfaceGone(_)),
            "{mode}: {:?}",
            report.reason
        );
        assert!(report.reason.is_error());
        assert_eq!(seen.len(), 50, "{mode}");
        check_reconciles(&report);
    }
}

#[test]
fn a_single_packet_shows_up_within_ten_milliseconds_at_default_timeout() {
    if !ringcap_netlab::can_run("a_single_packet_shows_up_quickly") {
        return;
    }
    let net = TestNet::new().unwrap();
    let cfg = base(Mode::Ring, 1)
        .geometry(Geometry::default())
        .count(Some(15));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s2 = sent.clone();
    let (_, seen) = capture(&net, cfg, Duration::ZERO, move |net| {
        let tx = net.sender().unwrap();
        for i in 0..15u32 {
            std::thread::sleep(Duration::from_millis(30));
            s2.lock().unwrap().push(Instant::now());
            tx.send(&udp_frame(i, 1, 64)).unwrap();
        }
    });
    let sent = sent.lock().unwrap();
    let mut lat: Vec<Duration> = seen.iter().map(|s| s.at - sent[s.seq as usize]).collect();
    lat.sort();
    let median = lat[lat.len() / 2];
    eprintln!(
        "single-packet latency: median {median:?}, max {:?}",
        lat.last().unwrap()
    );
    assert!(
        median <= Duration::from_millis(10),
        "median latency {median:?}"
    );
}

/// Under a flood a ring worker coalesces its wake-ups: many blocks per poll, and still every
/// frame exactly once with counts that add up. With coalescing off it polls about once a block.
#[test]
fn a_flood_coalesces_wakeups_and_loses_nothing() {
    if !ringcap_netlab::can_run("a_flood_coalesces_wakeups") {
        return;
    }
    let net = TestNet::new().unwrap();
    let n = 60_000u32;
    let frames: Vec<Vec<u8>> = (0..n).map(|i| udp_frame(i, (i % 64) as u16, 200)).collect();
    let mut polls = Vec::new();
    for coalesce in [Duration::ZERO, Duration::from_millis(20)] {
        // 64 KiB blocks hold about 220 of these frames; 256 of them give a 16 MiB ring, room
        // for the whole flood, so a busy test machine cannot turn a late worker into drops.
        let cfg = base(Mode::Ring, 1)
            .geometry(Geometry {
                block_size: 1 << 16,
                blocks: 256,
                ..Default::default()
            })
            .count(Some(u64::from(n)))
            .coalesce(coalesce);
        let frames = &frames;
        let (report, seen) = capture(&net, cfg, Duration::ZERO, move |net| send(net, frames));
        check_reconciles(&report);
        let w = &report.workers[0];
        assert_eq!(w.drops, 0, "coalesce {coalesce:?}: {w:?}");
        assert_eq!(seen.len(), n as usize, "coalesce {coalesce:?}");
        let mut seqs: Vec<u32> = seen.iter().map(|s| s.seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), n as usize, "every frame exactly once");
        eprintln!(
            "coalesce {coalesce:?}: {} blocks, {} polls",
            w.batches, w.polls
        );
        polls.push((w.batches, w.polls));
    }
    let (off, on) = (polls[0], polls[1]);
    assert!(
        on.1 * 3 < off.1,
        "coalescing should cut the polls: off {off:?}, on {on:?} (blocks, polls)"
    );
}
