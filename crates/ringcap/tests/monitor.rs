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
