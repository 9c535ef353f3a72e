//! The live view ([`ringcap::Capture::monitor`]) on real sockets: a stalled worker's ring fills
//! up block by block and the view shows it; after the run the view's counts are the report's,
//! exactly. Needs root (CI is root); otherwise each test says it skips.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringcap::{Batch, Capture, Config, EndReason, Flow, Geometry, Handler, Mode};
use ringcap_netlab::{udp_frame, TestNet};

/// Sleeps in its first `stalls` batches: the kernel keeps filling the ring meanwhile.
struct Stalling {
    stalls: Arc<AtomicU32>,
}

impl Handler for Stalling {
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        for _ in batch.by_ref() {}
        if self
            .stalls
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            std::thread::sleep(Duration::from_millis(700));
        }
        Flow::Continue
    }
}

#[test]
fn a_stalled_worker_shows_ring_fill_and_the_final_view_is_the_report() {
    if !ringcap_netlab::can_run("a_stalled_worker_shows_ring_fill") {
        return;
    }
    let net = TestNet::new().unwrap();
    let _in = net.enter().unwrap();
    // Small blocks retired after 1 ms: a few frames fill one, so a stall leaves many waiting.
    let cfg = Config::new("rc0")
        .mode(Mode::Ring)
        .workers(1)
        .geometry(Geometry {
            block_size: 1 << 12,
            blocks: 64,
            frame_size: 2048,
            block_timeout_ms: 1,
        })
        .duration(Some(Duration::from_secs(20)));
    let capture = Capture::open(cfg).unwrap();
    let monitor = capture.monitor();
    let before = monitor.snapshot();
    assert!(!before.running && before.ended.is_none());
    assert_eq!(before.ring_blocks, Some(64));
    assert_eq!(before.workers.len(), 1);
    assert_eq!(before.workers[0].received, 0);
    let stop = capture.stop_handle();
    let stalls = Arc::new(AtomicU32::new(2));
    let handler = Stalling {
        stalls: stalls.clone(),
    };
    let tx = net.sender().unwrap();
    let (report, max_fill, running_seen) = std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let h = s.spawn(move || {
            capture.run_notify(vec![handler], move || ready_tx.send(()).unwrap(), |_| {})
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let running_seen = monitor.snapshot().running;
        let mut max_fill = 0;
        let until = Instant::now() + Duration::from_secs(3);
        let mut i = 0u32;
        while Instant::now() < until {
            // About one 4 KiB block every few frames of 1000 bytes.
            for _ in 0..4 {
                tx.send(&udp_frame(i, 1, 1000)).unwrap();
                i += 1;
            }
            std::thread::sleep(Duration::from_millis(10));
            let w = &monitor.snapshot().workers[0];
            max_fill = max_fill.max(w.ring_blocks_waiting.unwrap());
        }
        std::thread::sleep(Duration::from_millis(200));
        stop.stop(EndReason::Duration);
        (h.join().unwrap().unwrap(), max_fill, running_seen)
    });
    assert!(
        running_seen,
        "the view says the capture runs once it takes packets"
    );
    assert_eq!(
        stalls.load(Ordering::Acquire),
        0,
        "the handler stalled twice"
    );
    // The first stall ends with many blocks retired and waiting; the second stall keeps the
    // published count where the view can see it.
    assert!(
        max_fill >= 5,
        "the view never saw the ring fill up (max {max_fill} blocks)"
    );
    let after = monitor.snapshot();
    assert!(!after.running);
    assert_eq!(after.ended, Some(EndReason::Duration));
    let (w, r) = (&after.workers[0], &report.workers[0]);
    assert!(report.reconciles(), "{report:?}");
    assert_eq!(w.received, r.received);
    assert_eq!(w.bytes, r.bytes);
    assert_eq!(w.past_count, r.past_count);
    assert_eq!(w.kernel_packets, r.kernel_packets);
    assert_eq!(w.drops, r.drops);
    assert_eq!(w.freezes, r.freezes);
    assert_eq!(w.ring_blocks_waiting, Some(0));
    assert!(w.received > 0);
}

/// Counts what it is handed.
struct Count(Arc<AtomicU32>);

impl Handler for Count {
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        let n = batch.by_ref().count() as u32;
        self.0.fetch_add(n, Ordering::AcqRel);
        Flow::Continue
    }
}

/// "Running" means frames sent now are captured: an exporter (the `ringcap_capture_running`
/// gauge) or a test waiting for it may start traffic at once. With AF_XDP and a filter the
/// program runs from the capture's opening, but a queue's socket joins the XSKMAP only when its
/// worker starts; a match before that goes to the host, in no count (CI once lost 40 of 50
/// frames sent the moment the gauge said 1). Frames sent the moment the view says running are
/// all received, however quickly they follow.
#[test]
fn frames_sent_once_the_view_says_running_are_all_captured_by_af_xdp() {
    if !ringcap_netlab::can_run("frames_sent_once_the_view_says_running_are_all_captured") {
        return;
    }
    let prog = {
        let services = ringcap_filter::Services::well_known();
        let opts = ringcap_filter::Options::new(ringcap_filter::LinkType::Ethernet, &services);
        ringcap_filter::compile("udp", &opts)
    }
    .unwrap();
    for round in 0..5 {
        let net = TestNet::new().unwrap();
        let _in = net.enter().unwrap();
        let cfg = Config::new("rc0")
            .mode(Mode::Xdp)
            .pin(false)
            .filter(Some(prog.clone()))
            .duration(Some(Duration::from_secs(20)));
        let capture = Capture::open(cfg).unwrap();
        let monitor = capture.monitor();
        let stop = capture.stop_handle();
        let counts: Vec<Arc<AtomicU32>> = (0..capture.workers())
            .map(|_| Arc::new(AtomicU32::new(0)))
            .collect();
        let handlers = counts.iter().map(|c| Count(c.clone())).collect();
        let tx = net.sender().unwrap();
        let report = std::thread::scope(|s| {
            let h = s.spawn(move || capture.run(handlers, |_| {}));
            let until = Instant::now() + Duration::from_secs(10);
            while !monitor.snapshot().running {
                assert!(Instant::now() < until, "the view never said running");
                std::hint::spin_loop();
            }
            for i in 0..50 {
                tx.send(&udp_frame(i, 1, 100)).unwrap();
            }
            let until = Instant::now() + Duration::from_secs(5);
            while counts
                .iter()
                .map(|c| c.load(Ordering::Acquire))
                .sum::<u32>()
                < 50
                && Instant::now() < until
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            stop.stop(EndReason::Duration);
            h.join().unwrap().unwrap()
        });
        assert_eq!(report.total.received, 50, "round {round}: {report:?}");
    }
}
