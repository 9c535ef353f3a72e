//! The generator's library API, in process (as `ringcap bench` can use it): sockets opened inside
//! a test namespace, frames counted at the other end of the veth pair.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ringcap_gen::{FrameSpec, GenConfig, Generator, Proto, Replay, Source, TxMode};
use ringcap_netlab::TestNet;

fn rx(net: &TestNet) -> u64 {
    net.counter(net.capture_if(), "rx_packets").unwrap()
}

fn generator(net: &TestNet, cfg: GenConfig) -> Generator {
    // Sockets are bound to the namespace they are opened in; the threads may run anywhere.
    let _in = net.enter().unwrap();
    Generator::new(cfg).unwrap()
}

#[test]
fn count_is_exact_on_ring_and_sendmmsg() {
    if !ringcap_netlab::can_run("count_is_exact_on_ring_and_sendmmsg") {
        return;
    }
    let net = TestNet::new().unwrap();
    for (mode, threads, n) in [
        (TxMode::Ring, 1, 1u64),
        (TxMode::Ring, 2, 10_001),
        (TxMode::Ring, 3, 777),
        (TxMode::Sendmmsg, 2, 5_003),
    ] {
        let mut cfg = GenConfig::new(
            net.peer_if(),
            Source::Template(FrameSpec::new(Proto::Udp, false)),
        );
        cfg.mode = mode;
        cfg.threads = Some(threads);
        cfg.count = Some(n);
        // A small ring, so slots are reused many times over.
        cfg.ring_frames = 64;
        let gen = generator(&net, cfg);
        assert_eq!(gen.threads(), threads.min(n as usize));
        let before = rx(&net);
        let r = gen.run(&AtomicBool::new(false), |_| {}).unwrap();
        assert_eq!(r.frames, n, "{mode:?} x{threads}");
        assert_eq!(r.bytes, n * 60);
        assert_eq!((r.refused, r.unsent), (0, 0));
        assert!(r.error().is_none());
        let want_mode = if mode == TxMode::Ring {
            "ring"
        } else {
            "sendmmsg"
        };
        assert!(r.threads.iter().all(|t| t.mode == want_mode));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(rx(&net) - before, n, "{mode:?} x{threads}");
    }
}

#[test]
fn stop_flag_ends_a_flood_with_exact_totals() {
    if !ringcap_netlab::can_run("stop_flag_ends_a_flood_with_exact_totals") {
        return;
    }
    let net = TestNet::new().unwrap();
    let mut cfg = GenConfig::new(
        net.peer_if(),
        Source::Template(FrameSpec::new(Proto::Syn, false)),
    );
    cfg.threads = Some(2);
    let gen = generator(&net, cfg);
    let before = rx(&net);
    let stop = AtomicBool::new(false);
    let mut ticks = 0;
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(1300));
            stop.store(true, Ordering::Relaxed);
        });
        gen.run(&stop, |t| {
            ticks += 1;
            assert_eq!(t.threads.len(), 2);
        })
        .unwrap()
    });
    assert!(r.frames > 0);
    assert!(ticks >= 1, "a tick about every second");
    assert!(r.elapsed_ns < 5_000_000_000);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rx(&net) - before, r.frames);
    assert_eq!(r.frames, r.threads.iter().map(|t| t.frames).sum::<u64>());
}

#[test]
fn replay_in_memory_loops() {
    if !ringcap_netlab::can_run("replay_in_memory_loops") {
        return;
    }
    let net = TestNet::new().unwrap();
    let frames: Vec<Vec<u8>> = (0..10)
        .map(|i| ringcap_netlab::udp_frame(i, 1, 60 + i as usize * 100))
        .collect();
    let replay = Replay::from_frames(frames.iter().map(|f| (0, f.as_slice())));
    let mut cfg = GenConfig::new(net.peer_if(), Source::Replay(replay.into()));
    cfg.loops = 3;
    cfg.threads = Some(1);
    let gen = generator(&net, cfg);
    let before = rx(&net);
    let r = gen.run(&AtomicBool::new(false), |_| {}).unwrap();
    assert_eq!(r.frames, 30);
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    assert_eq!(r.bytes, 3 * bytes);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rx(&net) - before, 30);
}

#[test]
fn interface_errors_name_the_fix() {
    if !ringcap_netlab::can_run("interface_errors_name_the_fix") {
        return;
    }
    let net = TestNet::new().unwrap();
    let _in = net.enter().unwrap();
    let src = || Source::Template(FrameSpec::new(Proto::Syn, false));
    let e = Generator::new(GenConfig::new("nope0", src()))
        .err()
        .unwrap();
    assert!(e.to_string().contains("rc0, rc1"), "{e}");
    net.ip(&["link", "set", net.peer_if(), "down"]).unwrap();
    let e = Generator::new(GenConfig::new(net.peer_if(), src()))
        .err()
        .unwrap();
    assert!(e.to_string().contains("ip link set rc1 up"), "{e}");
}
