//! A worker whose handler panics or returns an error ends the whole capture, on real AF_PACKET
//! rings in a private network namespace with traffic flowing to two workers: the capture ends
//! promptly, the report names the worker and the cause, every worker's counts are in the
//! totals, the failed worker's socket is closed while the other still runs, and counts that
//! cannot be final are never claimed to reconcile.
//! Needs root (CI is root); otherwise each test says it skips.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::check_reconciles;
use ringcap::{Batch, Capture, Config, EndReason, Fanout, FanoutMode, Flow, Handler, Report};
use ringcap::{Geometry, Mode};
use ringcap_netlab::{udp_frame, TestNet};

/// Two ring workers in a hash fanout group on rc0; many flows reach both.
fn two_workers() -> Config {
    let cpus = ringcap::process::allowed_cpus().unwrap();
    Config::new("rc0")
        .mode(Mode::Ring)
        .workers(2)
        .cpus(Some(vec![cpus[0], cpus[1 % cpus.len()]]))
        .fanout(Fanout {
            mode: FanoutMode::Hash,
            ..Default::default()
        })
        .geometry(Geometry {
            block_size: 1 << 16,
            blocks: 16,
            ..Default::default()
        })
        // A safety net: a capture that does not end on the failure fails the test, not hangs.
        .duration(Some(Duration::from_secs(20)))
}

/// How a test handler misbehaves once it has seen `after` packets.
#[derive(Clone, Copy, PartialEq)]
enum Misdeed {
    None,
    Panic,
    Fail,
    /// Blocks in `batch` until the test lets it go (a worker that is still busy).
    Block,
    /// Panics when dropped, after the worker's last step.
    PanicOnDrop,
}

struct Tester {
    worker: usize,
    misdeed: Misdeed,
    after: u64,
    /// Packets this handler was handed, as it counted them.
    seen: Arc<AtomicU64>,
    /// The other worker's count: the misdeed waits until it has seen traffic too, so the
    /// failure happens with both workers taking packets.
    other: Arc<AtomicU64>,
    release: Option<mpsc::Receiver<()>>,
}

impl Handler for Tester {
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        for _ in batch {
            let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
            let gated = matches!(self.misdeed, Misdeed::Panic | Misdeed::Fail);
            if n < self.after || (gated && self.other.load(Ordering::Relaxed) == 0) {
                continue;
            }
            match self.misdeed {
                Misdeed::Panic => panic!("boom at packet {n} of worker {}", self.worker),
                Misdeed::Fail => return Flow::Fail(format!("disk on fire at packet {n}")),
                Misdeed::Block => {
                    if let Some(rx) = self.release.take() {
                        let _ = rx.recv_timeout(Duration::from_secs(15));
                    }
                }
                Misdeed::None | Misdeed::PanicOnDrop => {}
            }
        }
        Flow::Continue
    }
}

impl Drop for Tester {
    fn drop(&mut self) {
        if self.misdeed == Misdeed::PanicOnDrop && !std::thread::panicking() {
            panic!("dropping the handler of worker {}", self.worker);
        }
    }
}

struct Outcome {
    report: Report,
    /// Packets each handler counted itself.
    seen: Vec<u64>,
    /// From the moment the capture was asked to stop (the failure) to `run` returning.
    stop_to_end: Duration,
}

/// Runs a two-worker capture; worker `bad` misbehaves as told once it has seen `after`
/// packets. Numbered frames of 97 flows go in until the capture stops (at most `max`).
/// `during` runs on the test thread (inside the namespace) once the capture stopped.
fn run(
    net: &TestNet,
    cfg: Config,
    bad: usize,
    misdeed: Misdeed,
    after: u64,
    max: u32,
    during: impl FnOnce(&TestNet),
) -> Outcome {
    let _in = net.enter().unwrap();
    let cap = Capture::open(cfg).expect("open capture");
    let stop = cap.stop_handle();
    let seen: Vec<Arc<AtomicU64>> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let handlers: Vec<Tester> = (0..2)
        .map(|w| Tester {
            worker: w,
            misdeed: if w == bad { misdeed } else { Misdeed::None },
            after,
            seen: seen[w].clone(),
            other: seen[1 - w].clone(),
            release: None,
        })
        .collect();
    let (ready_tx, ready_rx) = mpsc::channel();
    let ended = Arc::new(Mutex::new(None));
    let (report, stopped_at) = std::thread::scope(|s| {
        let ended2 = ended.clone();
        let h = s.spawn(move || {
            let r = cap.run_notify(handlers, move || ready_tx.send(()).unwrap(), |_| {});
            *ended2.lock().unwrap() = Some(Instant::now());
            r
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("capture ready");
        let tx = net.sender().unwrap();
        for i in 0..max {
            if stop.is_stopped() {
                break;
            }
            tx.send(&udp_frame(i, (i % 97) as u16, 200)).unwrap();
        }
        let until = Instant::now() + Duration::from_secs(15);
        while !stop.is_stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        let stopped_at = Instant::now();
        during(net);
        (h.join().unwrap().expect("run"), stopped_at)
    });
    let end = ended.lock().unwrap().expect("run returned");
    Outcome {
        report,
        seen: seen.iter().map(|s| s.load(Ordering::Relaxed)).collect(),
        stop_to_end: end.saturating_duration_since(stopped_at),
    }
}

/// What every failure must leave: the reason names the worker, both workers are in the report
/// with the counts their handlers saw, and the totals are their sums.
fn check_failure(o: &Outcome, bad: usize, cause_has: &[&str]) {
    let r = &o.report;
    match &r.reason {
        EndReason::WorkerFailed { worker, cause } => {
            assert_eq!(*worker, bad, "{:?}", r.reason);
            for part in cause_has {
                assert!(cause.contains(part), "cause {cause:?} lacks {part:?}");
            }
        }
        other => panic!("ended with {other:?}, not the failure"),
    }
    assert!(
        r.reason
            .to_string()
            .starts_with(&format!("worker {bad} failed: ")),
        "{}",
        r.reason
    );
    assert_eq!(r.workers.len(), 2);
    for (i, w) in r.workers.iter().enumerate() {
        assert_eq!(w.worker, i);
        assert_eq!(w.failure.is_some(), i == bad, "worker {i}: {:?}", w.failure);
    }
    let sum = |f: fn(&ringcap::WorkerReport) -> u64| r.workers.iter().map(f).sum::<u64>();
    assert_eq!(r.total.received, sum(|w| w.received));
    assert_eq!(r.total.kernel_packets, sum(|w| w.kernel_packets));
    assert_eq!(r.total.drops, sum(|w| w.drops));
    assert_eq!(r.total.past_count, sum(|w| w.past_count));
    assert!(
        r.problems()
            .iter()
            .any(|p| p.starts_with(&format!("worker {bad}: failed: "))),
        "{:?}",
        r.problems()
    );
    // Prompt: the stop protocol (a wake-up of at most 100 ms, a drain of about 50 ms), not the
    // 20 s safety net. A bound on liveness, not a measure of speed.
    assert!(
        o.stop_to_end < Duration::from_secs(5),
        "the capture took {:?} to end after the failure",
        o.stop_to_end
    );
}

#[test]
fn a_panicking_handler_ends_the_capture_and_every_count_is_kept() {
    if !ringcap_netlab::can_run("a_panicking_handler_ends_the_capture") {
        return;
    }
    let net = TestNet::new().unwrap();
    let o = run(&net, two_workers(), 1, Misdeed::Panic, 200, 20_000, |_| {});
    // It panicked on the packet it saw last (the 200th, or later if worker 0 had none yet).
    let at = format!("boom at packet {} of worker 1", o.seen[1]);
    check_failure(&o, 1, &["panicked", &at]);
    assert!(o.seen[1] >= 200);
    let r = &o.report;
    // The packets up to the panic (the one it panicked on included) are received; the rest of
    // its ring counts as unprocessed, so the worker still reconciles.
    assert_eq!(r.workers[1].received, o.seen[1], "{:?}", r.workers[1]);
    assert!(r.workers[0].received > 0, "worker 0 got no traffic");
    assert_eq!(r.workers[0].received, o.seen[0]);
    assert!(r.workers.iter().all(|w| w.complete));
    check_reconciles(r);
}

#[test]
fn a_handler_error_ends_the_capture_and_every_count_is_kept() {
    if !ringcap_netlab::can_run("a_handler_error_ends_the_capture") {
        return;
    }
    let net = TestNet::new().unwrap();
    let o = run(&net, two_workers(), 0, Misdeed::Fail, 150, 20_000, |_| {});
    let at = format!("disk on fire at packet {}", o.seen[0]);
    check_failure(&o, 0, &[&at]);
    assert!(o.seen[0] >= 150);
    let r = &o.report;
    assert_eq!(r.workers[0].received, o.seen[0], "{:?}", r.workers[0]);
    assert!(r.workers[1].received > 0, "worker 1 got no traffic");
    assert_eq!(r.workers[1].received, o.seen[1]);
    check_reconciles(r);
}

/// Packet sockets bound to `ifindex` in the calling thread's network namespace.
fn packet_sockets(ifindex: u32) -> usize {
    let text = std::fs::read_to_string("/proc/thread-self/net/packet").unwrap();
    text.lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(4) == Some(&ifindex.to_string()))
        .count()
}

#[test]
fn a_failed_worker_closes_its_socket_while_the_others_still_run() {
    if !ringcap_netlab::can_run("a_failed_worker_closes_its_socket") {
        return;
    }
    let net = TestNet::new().unwrap();
    let _in = net.enter().unwrap();
    let ifindex = ringcap_sys::if_nametoindex("rc0").unwrap();
    let cap = Capture::open(two_workers()).expect("open capture");
    let stop = cap.stop_handle();
    assert_eq!(packet_sockets(ifindex), 2);
    let (release_tx, release_rx) = mpsc::channel();
    let mut release_rx = Some(release_rx);
    let seen: Vec<Arc<AtomicU64>> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
    // Worker 0 is busy in its first batch until released; worker 1 fails on its first packet
    // after that.
    let handlers: Vec<Tester> = (0..2)
        .map(|w| Tester {
            worker: w,
            misdeed: if w == 0 {
                Misdeed::Block
            } else {
                Misdeed::Fail
            },
            after: 1,
            seen: seen[w].clone(),
            other: seen[1 - w].clone(),
            release: if w == 0 { release_rx.take() } else { None },
        })
        .collect();
    let (ready_tx, ready_rx) = mpsc::channel();
    let report = std::thread::scope(|s| {
        let h =
            s.spawn(move || cap.run_notify(handlers, move || ready_tx.send(()).unwrap(), |_| {}));
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let tx = net.sender().unwrap();
        for i in 0..20_000u32 {
            if stop.is_stopped() {
                break;
            }
            tx.send(&udp_frame(i, (i % 97) as u16, 200)).unwrap();
        }
        let until = Instant::now() + Duration::from_secs(10);
        while !stop.is_stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(stop.is_stopped(), "worker 1 never failed");
        assert!(
            seen[0].load(Ordering::Relaxed) > 0,
            "worker 0 got no traffic"
        );
        // Worker 0 is still inside its handler; worker 1's socket must go.
        let until = Instant::now() + Duration::from_secs(5);
        while packet_sockets(ifindex) > 1 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        let left = packet_sockets(ifindex);
        release_tx.send(()).unwrap();
        assert_eq!(left, 1, "the failed worker's socket is still open");
        h.join().unwrap().expect("run")
    });
    assert!(
        matches!(&report.reason, EndReason::WorkerFailed { worker: 1, cause } if cause.contains("disk on fire")),
        "{:?}",
        report.reason
    );
    assert_eq!(report.workers[0].received, seen[0].load(Ordering::Relaxed));
    check_reconciles(&report);
    assert_eq!(packet_sockets(ifindex), 0);
}

#[test]
fn a_worker_thread_that_dies_is_reported_and_never_claimed_to_reconcile() {
    if !ringcap_netlab::can_run("a_worker_thread_that_dies_is_reported") {
        return;
    }
    // The handler of worker 1 panics when dropped, after the worker's last step: the thread
    // dies with its report. What survives (its published counts, the kernel's) is reported.
    let net = TestNet::new().unwrap();
    let cfg = two_workers().count(Some(300));
    let o = run(&net, cfg, 1, Misdeed::PanicOnDrop, u64::MAX, 20_000, |_| {});
    let r = &o.report;
    assert_eq!(r.reason, EndReason::Count);
    assert_eq!(r.workers.len(), 2);
    let w1 = &r.workers[1];
    assert!(!w1.complete);
    let f = w1.failure.as_deref().unwrap_or_default();
    assert!(
        f.contains("panicked") && f.contains("dropping the handler of worker 1"),
        "{f:?}"
    );
    assert_eq!(w1.received, o.seen[1], "its published count");
    assert!(w1.kernel_packets >= w1.received, "{w1:?}");
    assert_eq!(r.total.received, r.workers[0].received + w1.received);
    assert_eq!(r.total.received, 300);
    assert!(r.workers[0].reconciles());
    assert!(!r.reconciles(), "incomplete counts claimed to reconcile");
    assert!(
        r.problems()
            .iter()
            .any(|p| p.starts_with("worker 1: failed: ")),
        "{:?}",
        r.problems()
    );
}
