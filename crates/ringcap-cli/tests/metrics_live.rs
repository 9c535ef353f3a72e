//! `--metrics` while things happen that the test made happen, read back through a real
//! Prometheus server (and `/metrics` with curl where the moment matters): a capture past `-c`
//! whose output is held up, `flows` against what nfcapd/nfdump and a packet capture of the
//! export messages saw, and `bench` during its run against its own report.

mod flows_common;
mod metrics_common;

use metrics_common::{
    curl, free_tcp_port, in_ns, lint, metric, metric_with, scrape_until, signal, summary_counts,
    tcpdump_lo, wait_serving, Prometheus, Reaped, BIN,
};
use ringcap_netlab::freeze::{self, thread_named, FrozenThread};
use ringcap_netlab::tools::tmpdir;
use ringcap_netlab::{skip, udp_frame, TestNet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A number from the line of `text` that starts with `prefix`: the word before `suffix`.
fn number_before(text: &str, prefix: &str, suffix: &str) -> u64 {
    text.lines()
        .filter(|l| l.contains(prefix))
        .find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words
                .windows(2)
                .find(|w| w[1].starts_with(suffix))
                .and_then(|w| w[0].parse().ok())
        })
        .unwrap_or_else(|| panic!("no '<n> {suffix}' on a line with {prefix:?}:\n{text}"))
}

/// Packets in a capture file, as tcpdump reads them.
fn packets_in(file: &std::path::Path) -> u64 {
    let out = Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(file)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count() as u64
}

/// `flows --metrics` with a table too small for the traffic: the flows in the tables, the
/// records exported, the flows evicted and the IPFIX messages sent, as Prometheus scraped them
/// once every flow has ended, are what the collector received (nfdump's records and packets,
/// tcpdump's count of the messages on the wire) and what the summary says at the end.
#[test]
fn flows_metrics_agree_with_the_collector() {
    if !skip::root()
        || !skip::tools(&[
            "prometheus",
            "promtool",
            "curl",
            "nsenter",
            "nfcapd",
            "nfdump",
            "tcpdump",
            "ss",
            "kill",
        ])
    {
        return;
    }
    use flows_common::{v4, Collector, Traffic};
    const FLOWS: u16 = 40;
    let net = TestNet::new().unwrap();
    let dir = tmpdir("metrics-flows");
    let port = flows_common::free_udp_port(Some(&net));
    let mut nfcapd = Collector::nfcapd(Some(&net), &dir.join("nfcapd"), port);
    let wire = dir.join("ipfix.pcap");
    let mut dump = tcpdump_lo(&net, &wire, port);
    let mport = free_tcp_port(Some(&net));
    let collector = format!("127.0.0.1:{port}");
    let mut flows = Reaped(Some(
        in_ns(Some(&net), BIN)
            .args([
                "flows",
                "-i",
                net.capture_if(),
                "--threads",
                "2",
                "--no-pin",
            ])
            .args(["--ipfix", &collector, "--max-flows", "8"])
            .args(["--idle-timeout", "1", "--template-refresh", "600", "-q"])
            .args(["--metrics", &format!("127.0.0.1:{mport}")])
            // Only the test's flows: no IPv6 chatter of the namespace's own.
            .args(["udp", "and", "net", "10.0.0.0/8"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_serving(Some(&net), mport, &mut flows);
    scrape_until(Some(&net), mport, |t| {
        metric(t, "ringcap_capture_running") == 1.0
    });
    let prom = Prometheus::start(Some(&net), &dir, &format!("127.0.0.1:{mport}"));

    // 40 flows of 3 packets, one after the other: 20 or so per worker, tables of 8.
    let mut t = Traffic::default();
    for i in 0..FLOWS {
        for size in [20, 200, 600] {
            t.packet(17, v4("10.9.0.1"), 2000 + i, v4("10.9.1.1"), 53, 0, size, 0);
        }
    }
    flows_common::send_all(&net, &t.frames);
    // Every flow ends (evicted, or idle for 1 s) and its record is exported.
    let text = scrape_until(Some(&net), mport, |t| {
        metric(t, "ringcap_flows_active") == 0.0
            && metric(t, "ringcap_flows_exported_total") == f64::from(FLOWS)
    });
    lint(&text);
    let evicted = metric(&text, "ringcap_flows_evicted_total");
    assert!(evicted > 0.0, "tables of 8 evict:\n{text}");
    let sel = format!("{{collector=\"{collector}\",protocol=\"ipfix\"}}");
    // The messages sent settle once the last record is out.
    std::thread::sleep(Duration::from_millis(500));
    let text = curl(Some(&net), &format!("http://127.0.0.1:{mport}/metrics")).unwrap();
    let sent = metric_with(
        &text,
        "ringcap_flow_export_messages_sent_total",
        &format!("collector=\"{collector}\""),
    );
    assert!(sent > 0.0, "{text}");
    assert_eq!(
        metric(&text, "ringcap_flow_export_messages_failed_total"),
        0.0
    );
    // Prometheus scraped the same.
    prom.wait_for("sum(ringcap_flows_exported_total)", f64::from(FLOWS));
    prom.wait_for(
        &format!("ringcap_flow_export_messages_sent_total{sel}"),
        sent,
    );
    prom.wait_for("sum(ringcap_flows_evicted_total)", evicted);
    prom.wait_for("sum(ringcap_flows_active)", 0.0);
    assert_eq!(
        prom.query("ringcap_flows_exported_total").len(),
        2,
        "per worker"
    );
    // The messages on the wire so far: as many as the counter says.
    assert_eq!(
        packets_in(&wire) as f64,
        sent,
        "tcpdump on lo vs the counter"
    );

    signal("-INT", &mut flows);
    let out = flows.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("flow counts add up"), "{err}");
    // At the end one more message: templates and the exporter's statistics.
    let at_end = number_before(&err, &format!("ipfix {collector}:"), "messages");
    assert_eq!(at_end as f64, sent + 1.0, "{err}");
    assert_eq!(
        number_before(&err, "evicted by a full table", "flows") as f64,
        evicted,
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(300));
    nfcapd.stop();
    signal("-INT", &mut dump);
    let _ = dump.take().wait();
    assert_eq!(packets_in(&wire), at_end, "tcpdump on lo vs the summary");
    let nf = flows_common::nfdump_flows(&nfcapd.dir);
    assert_eq!(nf.len(), usize::from(FLOWS), "records nfdump decoded");
    assert_eq!(
        nf.iter().map(|f| f.totals.packets).sum::<u64>(),
        t.packets(),
        "packets in them"
    );
    assert_eq!(
        flows_common::sum_by_flow(&nf),
        flows_common::without_l2(&t.flows)
    );
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-c` reached with frames still in the ring: they are counted past `-c`, and since the
/// capture's standard output (`-w -`) is not being read, the process stays up after the
/// capture has ended, so Prometheus scrapes the final counts: received `-c`, the rest past
/// `-c`, nothing dropped, the capture no longer running. The summary says the same.
#[test]
fn past_count_is_served_after_the_count_is_reached() {
    if !skip::root() || !skip::tools(&["prometheus", "promtool", "curl", "nsenter", "kill"]) {
        return;
    }
    const COUNT: u64 = 200;
    const SENT: u64 = 300;
    let net = TestNet::new().unwrap();
    let dir = tmpdir("metrics-past-count");
    let mport = free_tcp_port(Some(&net));
    let mut cap = Reaped(Some(
        in_ns(Some(&net), BIN)
            .args(["capture", "-i", "rc0", "--threads", "1", "-w", "-"])
            .args(["-c", &COUNT.to_string()])
            // Small blocks retired after 1 ms: the frames wait in the ring block by block.
            .args([
                "--block-size",
                "4096",
                "--blocks",
                "256",
                "--block-timeout-ms",
                "1",
            ])
            .args(["--metrics", &format!("127.0.0.1:{mport}")])
            .args(["udp", "dst", "port", "9"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_serving(Some(&net), mport, &mut cap);
    scrape_until(Some(&net), mport, |t| {
        metric(t, "ringcap_capture_running") == 1.0
    });
    let prom = Prometheus::start(Some(&net), &dir, &format!("127.0.0.1:{mport}"));
    // All frames in the ring before the worker takes any: -c falls in the middle of them.
    signal("-STOP", &mut cap);
    let tx = net.sender().unwrap();
    for i in 0..SENT as u32 {
        tx.send(&udp_frame(i, 1, 1000)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    signal("-CONT", &mut cap);
    let text = scrape_until(Some(&net), mport, |t| {
        metric(t, "ringcap_capture_running") == 0.0
            && metric(t, "ringcap_kernel_packets_total") == SENT as f64
    });
    lint(&text);
    assert!(
        cap.child().try_wait().unwrap().is_none(),
        "the held-up output keeps the process up"
    );
    assert_eq!(
        metric(&text, "ringcap_packets_received_total"),
        COUNT as f64
    );
    assert_eq!(
        metric(&text, "ringcap_packets_dropped_total"),
        0.0,
        "{text}"
    );
    let past = (SENT - COUNT) as f64;
    assert_eq!(metric(&text, "ringcap_packets_past_count_total"), past);
    prom.wait_for("ringcap_capture_running", 0.0);
    prom.wait_for("sum(ringcap_packets_past_count_total)", past);
    prom.wait_for("sum(ringcap_packets_received_total)", COUNT as f64);
    prom.wait_for("sum(ringcap_kernel_packets_total)", SENT as f64);

    // Read the output: the process ends, and its summary says what was served.
    let out = cap.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        summary_counts(&err),
        [SENT, COUNT, SENT - COUNT, 0],
        "kernel = received + past + dropped\n{err}"
    );
    // pcap header (24 bytes) and COUNT records of 1000 bytes with 16-byte headers.
    assert_eq!(out.stdout.len() as u64, 24 + COUNT * (16 + 1000));
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `bench --metrics`: scraped during a short run, the ring capture's packet counter moves
/// while it runs; once the run is over (the next contender, tcpdump, runs) the counters stay
/// at the run's final counts, and those are what the bench's own report says for the run.
#[test]
fn bench_metrics_move_during_a_run_and_match_its_report() {
    if !ringcap_netlab::can_run("bench_metrics_move")
        || !skip::tools(&["prometheus", "curl", "tcpdump"])
    {
        return;
    }
    let dir = tmpdir("metrics-bench");
    let mport = free_tcp_port(None);
    let target = format!("127.0.0.1:{mport}");
    // Scraping before the bench is up: the first scrapes fail, the later ones see the run.
    let prom = Prometheus::start(None, &dir, &target);
    let mut bench = Reaped(Some(
        Command::new(BIN)
            .args(["bench", "--seconds", "3", "--modes", "ring1", "--runs", "1"])
            .args(["--compare", "tcpdump", "--pps", "20000", "--json"])
            .args(["--metrics", &target])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let url = format!("http://{target}/metrics");
    // (running, received) at every scrape, until the bench ends.
    let mut seen: Vec<(bool, f64, f64)> = Vec::new();
    let until = Instant::now() + Duration::from_secs(120);
    while bench.child().try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "the bench did not end");
        if let Some(t) = curl(None, &url) {
            if t.contains("ringcap_capture_info{") {
                seen.push((
                    metric(&t, "ringcap_capture_running") == 1.0,
                    metric(&t, "ringcap_packets_received_total"),
                    metric(&t, "ringcap_packets_dropped_total"),
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = bench.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = report["each_run"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mode"] == "ring x1")
        .unwrap_or_else(|| panic!("{report}"));
    let captured = run["captured"].as_u64().unwrap() as f64;
    let drops = run["drops"].as_u64().unwrap() as f64;
    assert!(captured > 0.0, "{report}");
    // While the run went on: the counter moved, below its final count.
    let during: Vec<f64> = seen.iter().filter(|s| s.0).map(|s| s.1).collect();
    let mut moving = during.clone();
    moving.dedup();
    assert!(
        moving.iter().filter(|&&v| v > 0.0 && v < captured).count() >= 2,
        "no counter moving during the run: {seen:?}"
    );
    assert!(during.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    // After it: the run's final counts, the report's.
    let last = seen.iter().rev().find(|s| !s.0 && s.1 > 0.0);
    assert_eq!(
        last.map(|s| (s.1, s.2)),
        Some((captured, drops)),
        "served after the run vs the report: {seen:?}\n{report}"
    );
    // Prometheus scraped them too.
    assert_eq!(
        prom.sum("max_over_time(ringcap_packets_received_total[5m])"),
        captured,
        "{report}"
    );
    let samples = curl(
        None,
        &prom.url("/api/v1/query?query=ringcap_packets_received_total%5B5m%5D"),
    )
    .unwrap_or_default();
    assert!(
        prom.sum("changes(ringcap_packets_received_total[5m])") >= 2.0,
        "prometheus saw the counter move: {samples}\n{}\n{seen:?}",
        curl(None, &prom.url("/api/v1/targets")).unwrap_or_default()
    );
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A worker stalled with blocks in user space: the ring fill is what Prometheus scrapes.
/// The worker thread alone is frozen (a cgroup freezer of its own) while its ring holds a backlog, at a
/// moment when it has taken part of it: the blocks it has not given back stay in user space,
/// served as `ringcap_ring_blocks_user` for as long as it stays frozen, while the rest of the
/// process (the metrics server) runs on. Thawed, it takes the rest and the fill is 0 again;
/// the counts add up at the end.
#[test]
fn ring_fill_is_served_while_the_worker_is_stalled() {
    if !skip::root() || !skip::tools(&["prometheus", "promtool", "curl", "nsenter", "kill"]) {
        return;
    }
    if !freeze::can_freeze() {
        return;
    }
    const BLOCKS: f64 = 2048.0;
    const BURST: u32 = 1500;
    let net = TestNet::new().unwrap();
    let dir = tmpdir("metrics-ring-fill");
    let mport = free_tcp_port(Some(&net));
    let out = dir.join("out.pcap");
    let mut cap = Reaped(Some(
        in_ns(Some(&net), BIN)
            .args(["capture", "-i", "rc0", "--threads", "1", "-q", "-w"])
            .arg(&out)
            // Small blocks retired after 1 ms: a burst leaves hundreds of them waiting.
            .args([
                "--block-size",
                "4096",
                "--blocks",
                "2048",
                "--block-timeout-ms",
                "1",
            ])
            .args(["--coalesce-ms", "0"])
            .args(["--metrics", &format!("127.0.0.1:{mport}")])
            .args(["udp", "dst", "port", "9"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_serving(Some(&net), mport, &mut cap);
    scrape_until(Some(&net), mport, |t| {
        metric(t, "ringcap_capture_running") == 1.0
    });
    let prom = Prometheus::start(Some(&net), &dir, &format!("127.0.0.1:{mport}"));
    let pid = cap.child().id();
    let worker = FrozenThread::new(pid, &thread_named(pid, "ringcap-w0"));
    let url = format!("http://127.0.0.1:{mport}/metrics");
    let read = || {
        let t = curl(Some(&net), &url).unwrap();
        (
            metric(&t, "ringcap_ring_blocks_user"),
            metric(&t, "ringcap_packets_received_total"),
        )
    };
    let tx = net.sender().unwrap();
    let mut sent = 0u32;
    // How long the worker runs between thaw and freeze: longer when it took nothing, shorter
    // when it took everything. It is caught part way through within a few bursts.
    let mut run_us = 100u64;
    let mut fill = 0.0;
    for _ in 0..60 {
        worker.freeze();
        let (_, before) = read();
        for _ in 0..BURST {
            tx.send(&udp_frame(sent, 1, 1000)).unwrap();
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
        worker.thaw();
        std::thread::sleep(Duration::from_micros(run_us));
        worker.freeze();
        let (f, after) = read();
        if f > 0.0 {
            fill = f;
            break;
        }
        if after == before {
            run_us *= 2;
        } else {
            run_us = run_us * 2 / 3;
        }
        worker.thaw();
        scrape_until(Some(&net), mport, |t| {
            metric(t, "ringcap_packets_received_total") == f64::from(sent)
        });
    }
    assert!(fill > 0.0, "the frozen worker was never caught part way");
    // Stalled: the fill stays, and Prometheus scrapes it.
    let (_, received) = read();
    assert!(received < f64::from(sent));
    prom.wait_for("ringcap_ring_blocks_user", fill);
    prom.wait_for("ringcap_ring_blocks", BLOCKS);
    assert!(fill < BLOCKS);
    assert_eq!(
        read(),
        (fill, received),
        "nothing moves while the worker is frozen"
    );
    // Running again: it takes the backlog, the fill goes back to 0.
    worker.thaw();
    drop(worker);
    let text = scrape_until(Some(&net), mport, |t| {
        metric(t, "ringcap_packets_received_total") == f64::from(sent)
    });
    assert_eq!(metric(&text, "ringcap_ring_blocks_user"), 0.0, "{text}");
    prom.wait_for("ringcap_ring_blocks_user", 0.0);
    signal("-INT", &mut cap);
    let o = cap.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let [kernel, got, past, dropped] = summary_counts(&err);
    assert_eq!(
        (kernel, got, past, dropped),
        (u64::from(sent), u64::from(sent), 0, 0),
        "{err}"
    );
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);
}
