//! Kernel drops of a live `ringcap flows -i` capture reach the collector: the options record's
//! ignoredPacketTotalCount (IE 164) is what the kernel really dropped, and the flow records
//! carry every packet it did not.
//!
//! Real drops, made on purpose: the capture has a ring of four 4 KiB blocks; its only worker
//! thread is frozen (a cgroup freezer of its own, [`ringcap_netlab::freeze`]) while far more
//! frames than the ring holds are sent into the veth pair, so the kernel drops the rest.
//! Then either
//! - the capture is told to stop (SIGINT) while the worker is still frozen, so no statistics
//!   tick of the capture sees the drops before its end, and thawed: it takes what the ring
//!   holds, and only its last IPFIX message can tell the drops; or
//! - the worker is thawed and the capture goes on: the statistics sent with the template
//!   refresh every second tell the drops while it runs.
//!
//! The export goes to a real nfcapd on the namespace's loopback; tcpdump captures the
//! messages on their way there and tshark's IPFIX dissector decodes them (nfdump shows the
//! flows but not the exporter's options records).

mod flows_common;
mod metrics_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flows_common::{free_udp_port, nfdump_flows, wait_started, Collector};
use metrics_common::{in_ns, signal, summary_counts, tcpdump_lo, Reaped, BIN};
use ringcap_netlab::freeze::{self, thread_named, FrozenThread};
use ringcap_netlab::tools::{stdout_of, tmpdir};
use ringcap_netlab::{skip, udp_frame, TestNet};

/// Frames sent while the worker is frozen: far more than four 4 KiB blocks hold.
const SENT: u32 = 2000;
/// The same for the recv path and AF_XDP: far more than the recv path's 4 MiB receive
/// buffer (8 MiB of the kernel's accounting, at several hundred bytes per small frame) or an
/// XDP socket's frames hold.
const SENT_MANY: u32 = 40_000;
/// Flows they make (the UDP source port varies).
const FLOWS: u16 = 16;

/// What tshark decodes in the IPFIX messages of `pcap`: the packet counts of the flow
/// records, and the exporter's statistics of every message that has them, in order.
struct Decoded {
    flow_packets: Vec<u64>,
    stats: Vec<Stats>,
}

/// One message's statistics: its frame number, ignoredPacketTotalCount, and the filter's
/// selectorIdTotalPktsObserved and selectorIdTotalPktsSelected (IPFIX only: NetFlow v9 has no
/// selector scope, so its messages carry no filter record).
#[derive(Debug, Clone, Copy)]
struct Stats {
    frame: u64,
    ignored: u64,
    observed: Option<u64>,
    selected: Option<u64>,
}

/// What tshark decodes in `pcap`; `growing` while tcpdump still writes to it.
fn tshark_ipfix(pcap: &Path, port: u16, growing: bool) -> Decoded {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .args(["-d", &format!("udp.port=={port},cflow")])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-e", "frame.number", "-e", "cflow.packets"])
        .args(["-e", "cflow.ignore_packets"])
        .args(["-e", "cflow.selector_id_total_pkts_observed"])
        .args(["-e", "cflow.selector_id_total_pkts_selected"]);
    let text = if growing {
        // tcpdump may be part way through writing a packet: what was read is still good.
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    } else {
        stdout_of(&mut cmd)
    };
    let nums = |s: &str| -> Vec<u64> {
        s.split(',')
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{v:?} in {s:?}")))
            .collect()
    };
    let mut d = Decoded {
        flow_packets: Vec::new(),
        stats: Vec::new(),
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "tshark line {line:?}");
        d.flow_packets.extend(nums(f[1]));
        let [ignored, observed, selected] = [nums(f[2]), nums(f[3]), nums(f[4])];
        if ignored.is_empty() {
            continue;
        }
        assert_eq!(ignored.len(), 1, "not one statistics record: {line}");
        assert!(
            observed.len() == selected.len() && observed.len() <= 1,
            "not one filter record in the message: {line}"
        );
        d.stats.push(Stats {
            frame: f[0].parse().unwrap(),
            ignored: ignored[0],
            observed: observed.first().copied(),
            selected: selected.first().copied(),
        });
    }
    d
}

/// How a run exports, and with how many workers.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// `--ipfix` or `--netflow9`.
    export: &'static str,
    workers: usize,
    /// `--mode`: `ring` (a ring of 16 KiB) or `recv` (the socket's default receive buffer,
    /// which holds a few hundred of the frames).
    mode: &'static str,
}

const IPFIX_ONE: Setup = Setup {
    export: "--ipfix",
    workers: 1,
    mode: "ring",
};

/// A live `flows` capture exporting to nfcapd in a fresh namespace, tcpdump capturing the
/// messages on their way, and its worker threads in a freezer.
struct Run {
    setup: Setup,
    // Dropped in this order: the worker thawed, the processes killed, the namespace last.
    worker: Option<FrozenThread>,
    flows: Reaped,
    dump: Reaped,
    nfcapd: Collector,
    started: String,
    wire: PathBuf,
    port: u16,
    dir: PathBuf,
    net: TestNet,
}

/// What the summary said at the end: its text and kernel, received and dropped.
struct Summary {
    err: String,
    kernel: u64,
    received: u64,
    dropped: u64,
}

impl Run {
    /// The capture with a ring of 16 KiB per worker, `--template-refresh refresh`, taking
    /// packets.
    fn start(name: &str, refresh: &str, setup: Setup) -> Run {
        let net = TestNet::new().unwrap();
        let dir = tmpdir(name);
        let port = free_udp_port(Some(&net));
        let nfcapd = Collector::nfcapd(Some(&net), &dir.join("nfcapd"), port);
        let wire = dir.join("ipfix.pcap");
        let dump = tcpdump_lo(&net, &wire, port);
        let mut cmd = in_ns(Some(&net), BIN);
        cmd.args(["flows", "-i", net.capture_if(), "--mode", setup.mode])
            .args(["--threads", &setup.workers.to_string(), "--no-pin"])
            .args([setup.export, &format!("127.0.0.1:{port}")]);
        if setup.mode == "ring" {
            // A ring of 16 KiB: a hundred or so of the frames fit, the rest are dropped.
            cmd.args(["--block-size", "4096", "--blocks", "4"]);
        }
        let mut flows = Reaped(Some(
            cmd.args(["--template-refresh", refresh])
                // Only the test's frames: no IPv6 chatter of the namespace's own.
                .args(["udp", "and", "net", "10.0.0.0/8"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ));
        // The start line comes once the worker takes packets.
        let started = wait_started(flows.child());
        assert!(started.contains("flows on"), "{started}");
        let pid = flows.child().id();
        let tids: Vec<String> = (0..setup.workers)
            .map(|w| thread_named(pid, &format!("ringcap-w{w}")))
            .collect();
        let tids: Vec<&str> = tids.iter().map(String::as_str).collect();
        let worker = Some(FrozenThread::threads(pid, &tids));
        Run {
            setup,
            net,
            dir,
            port,
            nfcapd,
            dump,
            wire,
            flows,
            started,
            worker,
        }
    }

    fn worker(&self) -> &FrozenThread {
        self.worker.as_ref().unwrap()
    }

    /// Frames [`Run::burst`] sends.
    fn sent(&self) -> u32 {
        if self.setup.mode == "ring" {
            SENT
        } else {
            SENT_MANY
        }
    }

    /// Freezes the worker and sends [`Run::sent`] frames: the ring (or receive buffer) fills,
    /// the kernel drops the rest.
    fn burst(&self) {
        self.worker().freeze();
        let tx = self.net.sender().unwrap();
        for i in 0..self.sent() {
            tx.send(&udp_frame(i, i as u16 % FLOWS, 100)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    /// Waits for the capture to end (after SIGINT, the worker thawed), then for the collector
    /// and tcpdump; the summary must add up, with drops.
    fn end(&mut self) -> Summary {
        let status = self.flows.take().wait().unwrap();
        self.worker = None;
        let err = format!("{}{}", self.started, flows_common::stderr_rest());
        assert!(status.success(), "{err}");
        assert!(err.contains("flow counts add up"), "{err}");
        let [kernel, received, past, dropped] = summary_counts(&err);
        assert_eq!(past, 0, "{err}");
        assert_eq!(
            kernel,
            u64::from(self.sent()),
            "the kernel saw every frame sent\n{err}"
        );
        assert!(
            dropped > 0,
            "the ring or receive buffer held all {} frames?\n{err}",
            self.sent()
        );
        assert!(received > 0, "{err}");
        assert_eq!(received + dropped, kernel, "{err}");
        std::thread::sleep(Duration::from_millis(300));
        self.nfcapd.stop();
        signal("-INT", &mut self.dump);
        let _ = self.dump.take().wait();
        Summary {
            err,
            kernel,
            received,
            dropped,
        }
    }

    /// What the collector learnt, by tshark and by nfdump, against the summary `s`; returns
    /// tshark's decoding.
    fn check_collector(&self, s: &Summary) -> Decoded {
        let err = &s.err;
        // tshark: the flow records carry every packet received, and the last statistics
        // record (the final one, sent after the last flow record) says how many the kernel
        // dropped.
        let d = tshark_ipfix(&self.wire, self.port, false);
        assert_eq!(
            d.flow_packets.iter().sum::<u64>(),
            s.received,
            "packets in the flow records tshark decoded: {:?}\n{err}",
            d.flow_packets
        );
        let last = *d
            .stats
            .last()
            .unwrap_or_else(|| panic!("no statistics record decoded\n{err}"));
        let frames: u64 = stdout_of(Command::new("tcpdump").args(["-n", "-r"]).arg(&self.wire))
            .lines()
            .count() as u64;
        assert_eq!(last.frame, frames, "the statistics are the last message");
        assert_eq!(
            last.ignored, s.dropped,
            "ignoredPacketTotalCount in the final statistics vs the summary's drops: {:?}\n{err}",
            d.stats
        );
        assert_eq!(
            d.flow_packets.iter().sum::<u64>() + last.ignored,
            u64::from(self.sent()),
            "what the collector learns accounts for every frame sent"
        );
        // The filter selected every frame the kernel saw (drops come after the filter); the
        // interface received at least those. NetFlow v9 carries no filter record.
        if self.setup.export == "--ipfix" {
            let (observed, selected) = (last.observed.unwrap(), last.selected.unwrap());
            assert_eq!(selected, s.kernel, "{last:?}\n{err}");
            assert!(observed >= selected, "{last:?}");
        } else {
            assert_eq!(last.selected, None, "{last:?}");
        }
        // nfdump, the other decoder: the same flows, the same packets.
        let nf = nfdump_flows(&self.nfcapd.dir);
        assert_eq!(nf.len(), d.flow_packets.len(), "{nf:?}");
        assert_eq!(nf.iter().map(|f| f.totals.packets).sum::<u64>(), s.received);
        d
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Thawed before the capture is killed, so it can die.
        self.worker = None;
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn can_run() -> bool {
    skip::root()
        && skip::tools(&[
            "nsenter", "ss", "kill", "tcpdump", "tshark", "nfcapd", "nfdump",
        ])
        && freeze::can_freeze()
}

/// Stopped while the worker is still frozen, with drops that no statistics tick of the
/// capture saw (its statistics loop ends with the stop): only the final statistics carry them.
#[test]
fn kernel_drops_of_a_live_capture_reach_the_collector() {
    if !can_run() {
        return;
    }
    stopped_while_frozen("flows-drops-end", IPFIX_ONE);
}

/// A capture stopped while its workers are frozen (templates and statistics at the start and
/// at the end only), then thawed: the collector's view against the summary.
fn stopped_while_frozen(name: &str, setup: Setup) {
    let mut run = Run::start(name, "600", setup);
    run.burst();
    signal("-INT", &mut run.flows);
    std::thread::sleep(Duration::from_millis(200));
    run.worker().thaw();
    let s = run.end();
    run.check_collector(&s);
}

/// Drops in the middle of a capture that goes on: the statistics sent with every template
/// refresh (--template-refresh 1) tell the collector of them while the capture runs.
#[test]
fn kernel_drops_reach_the_collector_while_the_capture_runs() {
    if !can_run() {
        return;
    }
    let mut run = Run::start("flows-drops-running", "1", IPFIX_ONE);
    run.burst();
    run.worker().thaw();
    // A refresh sent after a statistics tick read the drops, while the capture runs.
    let until = Instant::now() + Duration::from_secs(15);
    let during = loop {
        let d = tshark_ipfix(&run.wire, run.port, true);
        if let Some(s) = d.stats.iter().find(|s| s.ignored > 0) {
            break *s;
        }
        assert!(
            Instant::now() < until,
            "no statistics with drops while running: {:?}",
            d.stats
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        run.flows.child().try_wait().unwrap().is_none(),
        "the capture still runs"
    );
    signal("-INT", &mut run.flows);
    let s = run.end();
    // No frames after the burst: the drops told during the run are all there were.
    assert_eq!(during.ignored, s.dropped, "{during:?}\n{}", s.err);
    assert_eq!(during.selected, Some(s.kernel), "{during:?}\n{}", s.err);
    let d = run.check_collector(&s);
    assert!(during.frame < d.stats.last().unwrap().frame);
}

/// The same final statistics by NetFlow v9 (template 259 carries ignoredPacketTotalCount
/// there too) and with two workers, each with its own ring and both frozen: the drops of both
/// rings are summed into the one statistics record.
#[test]
fn kernel_drops_reach_the_collector_by_netflow9_and_from_two_workers() {
    if !can_run() {
        return;
    }
    for (name, setup) in [
        (
            "flows-drops-v9",
            Setup {
                export: "--netflow9",
                workers: 1,
                mode: "ring",
            },
        ),
        (
            "flows-drops-two",
            Setup {
                export: "--ipfix",
                workers: 2,
                mode: "ring",
            },
        ),
    ] {
        stopped_while_frozen(name, setup);
    }
}

/// The same by the recv path (one `recvfrom` per packet, no ring): the frozen worker leaves
/// the frames in the socket's receive buffer until it overflows, and the kernel's count of
/// what it dropped there reaches the collector the same way.
#[test]
fn kernel_drops_of_the_recv_path_reach_the_collector() {
    if !can_run() {
        return;
    }
    stopped_while_frozen(
        "flows-drops-recv",
        Setup {
            export: "--ipfix",
            workers: 1,
            mode: "recv",
        },
    );
}

/// The same by AF_XDP: the frozen worker refills no frames, the XDP socket's receive ring
/// runs full and the kernel counts what it could not deliver.
#[test]
fn kernel_drops_of_the_xdp_path_reach_the_collector() {
    if !can_run() {
        return;
    }
    stopped_while_frozen(
        "flows-drops-xdp",
        Setup {
            export: "--ipfix",
            workers: 1,
            mode: "xdp",
        },
    );
}
