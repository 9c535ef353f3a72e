//! What the engine's integration tests share: a handler that keeps our numbered frames, a
//! capture run that starts traffic once every worker takes packets, and the reconciliation check.

// Each test binary uses a part of this.
#![allow(dead_code)]

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringcap::{Batch, Capture, Config, Flow, Handler, Report};
use ringcap_netlab::{frame_seq, TestNet};

/// One of our numbered frames as a worker saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub worker: usize,
    pub seq: u32,
    pub data: Vec<u8>,
    pub len: u32,
    /// When the worker's batch was handed over.
    pub at: Instant,
}

/// The sequence number of one of our frames, also behind an 802.1Q tag (AF_XDP keeps tags in
/// the bytes; AF_PACKET strips them into the ring header).
pub fn seq_of(data: &[u8]) -> Option<u32> {
    if data.len() > 16 && data[12..14] == [0x81, 0x00] {
        return frame_seq(&[&data[..12], &data[16..]].concat());
    }
    frame_seq(data)
}

/// Keeps every numbered frame; `delay` after each batch makes a slow reader.
pub struct Collect {
    pub worker: usize,
    pub out: Arc<Mutex<Vec<Seen>>>,
    pub delay: Duration,
}

impl Handler for Collect {
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        let now = Instant::now();
        let mut out = self.out.lock().unwrap();
        for p in batch {
            if let Some(seq) = seq_of(p.data()) {
                out.push(Seen {
                    worker: self.worker,
                    seq,
                    data: p.data().to_vec(),
                    len: p.len(),
                    at: now,
                });
            }
        }
        drop(out);
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        Flow::Continue
    }
}

/// Runs a capture in the namespace; `traffic` runs once every worker takes packets.
pub fn capture(
    net: &TestNet,
    cfg: Config,
    delay: Duration,
    traffic: impl FnOnce(&TestNet) + Send,
) -> (Report, Vec<Seen>) {
    let _in = net.enter().unwrap();
    let cap = Capture::open(cfg).expect("open capture");
    let out = Arc::new(Mutex::new(Vec::new()));
    let handlers: Vec<Collect> = (0..cap.workers())
        .map(|worker| Collect {
            worker,
            out: out.clone(),
            delay,
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    let report = std::thread::scope(|s| {
        let h = s.spawn(move || cap.run_notify(handlers, move || tx.send(()).unwrap(), |_| {}));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("capture ready");
        traffic(net);
        h.join().unwrap().expect("run")
    });
    let seen = out.lock().unwrap().clone();
    (report, seen)
}

pub fn send(net: &TestNet, frames: &[Vec<u8>]) {
    let tx = net.sender().unwrap();
    for f in frames {
        tx.send(f).unwrap();
    }
}

/// Every worker and the total: kernel-seen = received + past -c + dropped, exactly.
pub fn check_reconciles(r: &Report) {
    for w in &r.workers {
        assert_eq!(
            w.kernel_packets,
            w.received + w.past_count + w.drops,
            "worker {} does not reconcile: {w:?} extra {:?}",
            w.worker,
            r.extra
        );
    }
    assert!(r.reconciles(), "{:?} {:?}", r.total, r.extra);
}

/// The interface's promiscuity count (`ip -d link`; packet-socket memberships do not show in
/// the PROMISC flag).
pub fn promiscuity(net: &TestNet) -> u32 {
    let out = net.ip(&["-d", "link", "show", "rc0"]).unwrap();
    let i = out.find("promiscuity ").expect("promiscuity in ip -d link");
    out[i + 12..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
