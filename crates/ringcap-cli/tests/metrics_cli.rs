//! `--metrics` as an operator uses it: a real Prometheus server scrapes a running
//! `ringcap capture` every second inside the test's namespace, and its HTTP API must report the
//! packets the capture's own summary reports; `promtool check metrics` accepts the exposition;
//! the generator's counters are served too; and a listener that cannot be set up is one line
//! and exit status 2.

mod metrics_common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use metrics_common::*;
use ringcap_netlab::tools::{one_line_error, tmpdir};
use ringcap_netlab::{udp_frame, TestNet};

fn curl_in(net: &TestNet, url: &str) -> Option<String> {
    curl(Some(net), url)
}

fn scrape_until(net: &TestNet, port: u16, done: impl Fn(&str) -> bool) -> String {
    metrics_common::scrape_until(Some(net), port, done)
}

/// `received` per worker from the summary's table, and the total row.
fn summary_received(err: &str) -> (Vec<u64>, u64) {
    let mut workers = Vec::new();
    let mut total = None;
    for l in err.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 3 {
            if f[0] == "total" {
                total = f[2].parse().ok();
            } else if f[0].parse::<usize>().is_ok() && l.starts_with(' ') {
                workers.push(f[2].parse().unwrap());
            }
        }
    }
    (workers, total.expect(err))
}

#[test]
fn prometheus_scrapes_a_running_capture_and_agrees_with_its_summary() {
    if !ringcap_netlab::can_run("prometheus_scrapes")
        || !ringcap_netlab::skip::tools(&["prometheus", "promtool", "curl", "nsenter", "kill"])
    {
        return;
    }
    const N: u64 = 1000;
    let net = TestNet::new().unwrap();
    let dir = tmpdir("prometheus");
    let mut cap = Reaped(Some(
        in_ns(Some(&net), BIN)
            .args([
                "capture",
                "-i",
                "rc0",
                "--threads",
                "2",
                "--fanout",
                "hash",
                "-q",
            ])
            .args(["--metrics", "127.0.0.1:19300"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let until = Instant::now() + Duration::from_secs(10);
    while curl_in(&net, "http://127.0.0.1:19300/metrics").is_none() {
        assert!(
            Instant::now() < until,
            "the capture's metrics never came up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut prom = Prometheus::start(Some(&net), &dir, "127.0.0.1:19300");

    let tx = net.sender().unwrap();
    for i in 0..N as u32 {
        tx.send(&udp_frame(i, (i % 16) as u16, 100)).unwrap();
    }
    // Wait for a scrape that saw every packet, then for a few more: the value stays N.
    let until = Instant::now() + Duration::from_secs(30);
    let sum = |s: &[(serde_json::Value, f64)]| s.iter().map(|x| x.1).sum::<f64>();
    loop {
        let s = prom.query("ringcap_packets_received_total");
        let k = prom.query("ringcap_kernel_packets_total");
        if sum(&s) == N as f64 && sum(&k) == N as f64 {
            break;
        }
        assert!(
            Instant::now() < until,
            "prometheus never saw {N} packets: received {s:?} kernel {k:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    let series = prom.query("ringcap_packets_received_total");
    assert_eq!(series.len(), 2, "one series per worker: {series:?}");
    assert_eq!(sum(&series), N as f64, "{series:?}");
    assert_eq!(sum(&prom.query("ringcap_packets_dropped_total")), 0.0);
    let up = prom.query("up");
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 1.0, "the scrape target is healthy: {up:?}");
    let info = prom.query("ringcap_capture_info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].0["mode"], "ring");
    assert_eq!(info[0].0["fanout"], "hash");
    assert_eq!(info[0].0["blocks"], "64");
    assert_eq!(prom.query("ringcap_build_info").len(), 1);
    let targets = curl_in(&net, &prom.url("/api/v1/targets")).unwrap();
    assert!(targets.contains("\"lastError\":\"\""), "{targets}");

    // Prometheus' linter on what a plain client gets.
    lint(&curl_in(&net, "http://127.0.0.1:19300/metrics").unwrap());

    // The capture's own summary says the same, per worker.
    let killed = Command::new("kill")
        .args(["-INT", &cap.child().id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = cap.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("counts add up"), "{err}");
    let (workers, total) = summary_received(&err);
    assert_eq!(total, N, "{err}");
    for (i, w) in workers.iter().enumerate() {
        let v = series
            .iter()
            .find(|s| s.0["worker"] == i.to_string().as_str())
            .map(|s| s.1);
        assert_eq!(v, Some(*w as f64), "worker {i}: {err}\n{series:?}");
    }
    prom.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_generator_serves_its_counters() {
    if !ringcap_netlab::can_run("generator_serves")
        || !ringcap_netlab::skip::tools(&["promtool", "curl", "nsenter"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let mut gen = Reaped(Some(
        in_ns(Some(&net), BIN)
            .args(["gen", "-i", "rc1", "--threads", "1", "--pps", "1000"])
            .args(["--duration", "4", "-q", "--metrics", "127.0.0.1:19301"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    // Counters are published once a second: wait for a scrape that has some.
    let until = Instant::now() + Duration::from_secs(10);
    let text = loop {
        if let Some(t) = curl_in(&net, "http://127.0.0.1:19301/metrics") {
            if t.contains("ringcap_gen_frames_sent_total{thread=\"0\"") {
                break t;
            }
        }
        assert!(Instant::now() < until, "no generator counters served");
        std::thread::sleep(Duration::from_millis(200));
    };
    lint(&text);
    let sent: u64 = text
        .lines()
        .find(|l| l.starts_with("ringcap_gen_frames_sent_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(sent > 0, "{text}");
    assert!(text.contains("ringcap_build_info{version=\""), "{text}");
    assert!(text.contains("command=\"gen\""), "{text}");
    let out = gen.take().wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the scrape saw is at most what the generator says it sent in all.
    let total: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("total: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(sent <= total, "scraped {sent}, sent {total}");
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn assert_bad_args(o: &Output, needle: &str) {
    let err = one_line_error(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.starts_with("ringcap: "), "{err}");
    assert!(
        err.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_listener_that_cannot_be_set_up_is_one_line_and_status_2() {
    // Checked before any socket or ring is opened, so no root is needed.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for cmd in [
        &["capture", "-i", "lo", "-c", "1"][..],
        &["gen", "-i", "lo", "-c", "1"][..],
        &["bench", "--seconds", "1"][..],
        &["flows", "-i", "lo", "--ipfix", "127.0.0.1:4739", "-c", "1"][..],
    ] {
        let mut a = cmd.to_vec();
        a.extend(["--metrics", addr.as_str()]);
        assert_bad_args(&run(&a), "address already in use");
        let mut a = cmd.to_vec();
        // TEST-NET-1: an address on no interface of this host.
        a.extend(["--metrics", "192.0.2.1:9100"]);
        assert_bad_args(&run(&a), "cannot assign requested address");
        let mut a = cmd.to_vec();
        a.extend(["--metrics", "9100"]);
        assert_bad_args(&run(&a), "not an ADDRESS:PORT");
    }
    drop(taken);
}

/// A capture serving metrics at `port` in the namespace, up and answering.
fn capture_with_metrics(net: &TestNet, port: u16, args: &[&str]) -> Reaped {
    let mut cap = Reaped(Some(
        in_ns(Some(net), BIN)
            .args(["capture", "-i", "rc0", "--threads", "1", "-q"])
            .args(["--metrics", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    // The listener is up before the capture's sockets are open: wait for the capture itself
    // (`ringcap_capture_running 1`), or frames sent next could miss it (seen under load).
    let until = Instant::now() + Duration::from_secs(10);
    while !curl_in(net, &format!("http://127.0.0.1:{port}/metrics"))
        .is_some_and(|t| t.contains("\nringcap_capture_running 1"))
    {
        if cap.child().try_wait().unwrap().is_some() {
            let out = cap.take().wait_with_output().unwrap();
            panic!(
                "the capture ended: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            Instant::now() < until,
            "the capture's metrics never came up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cap
}

/// Overload made certain: the capture process is stopped (SIGSTOP) while frames arrive, so its
/// small ring fills and the kernel drops the rest and freezes the queue. Once it runs again
/// the metrics show the drops and freezes, the kernel's count is received + dropped, and the
/// summary at the end says the same numbers.
#[test]
fn overload_drops_and_freezes_are_served_and_add_up() {
    if !ringcap_netlab::can_run("overload_drops_and_freezes_are_served")
        || !ringcap_netlab::skip::tools(&["promtool", "curl", "nsenter", "kill"])
    {
        return;
    }
    const N: u64 = 400;
    const PORT: u16 = 19302;
    let net = TestNet::new().unwrap();
    let mut cap = capture_with_metrics(
        &net,
        PORT,
        &[
            "--block-size",
            "4096",
            "--blocks",
            "4",
            "--block-timeout-ms",
            "1",
        ],
    );
    signal("-STOP", &mut cap);
    let tx = net.sender().unwrap();
    for i in 0..N as u32 {
        tx.send(&udp_frame(i, 1, 200)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    signal("-CONT", &mut cap);
    let text = scrape_until(&net, PORT, |t| {
        let r = metric(t, "ringcap_packets_received_total");
        let d = metric(t, "ringcap_packets_dropped_total");
        metric(t, "ringcap_kernel_packets_total") == N as f64 && r + d == N as f64
    });
    lint(&text);
    let dropped = metric(&text, "ringcap_packets_dropped_total");
    let freezes = metric(&text, "ringcap_ring_freezes_total");
    assert!(dropped > 0.0, "a full ring drops:\n{text}");
    assert!(freezes > 0.0, "a full ring freezes its queue:\n{text}");
    assert_eq!(metric(&text, "ringcap_ring_blocks"), 4.0, "{text}");
    // Everything waiting was taken once the process ran again.
    assert_eq!(metric(&text, "ringcap_ring_blocks_user"), 0.0, "{text}");

    signal("-INT", &mut cap);
    let out = cap.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let [kernel, received, past, drops] = summary_counts(&err);
    assert_eq!(kernel, N, "{err}");
    assert_eq!(past, 0, "{err}");
    assert_eq!(
        received as f64,
        metric(&text, "ringcap_packets_received_total")
    );
    assert_eq!(drops as f64, dropped, "{err}");
}

/// `-w` with `-C`: records and bytes written and files rotated are served while the capture
/// runs, and they are what capinfos and the file sizes show afterwards.
#[test]
fn records_written_and_files_rotated_are_served() {
    if !ringcap_netlab::can_run("records_written_and_files_rotated")
        || !ringcap_netlab::skip::tools(&["capinfos", "curl", "nsenter", "kill"])
    {
        return;
    }
    const N: u64 = 600;
    const PORT: u16 = 19303;
    let net = TestNet::new().unwrap();
    let dir = tmpdir("metrics-rotate");
    let base = dir.join("out.pcap");
    // 0.02 MB files: 600 records of 216 bytes make several.
    let mut cap = capture_with_metrics(&net, PORT, &["-w", base.to_str().unwrap(), "-C", "0.02"]);
    let tx = net.sender().unwrap();
    for i in 0..N as u32 {
        tx.send(&udp_frame(i, 1, 200)).unwrap();
    }
    let text = scrape_until(&net, PORT, |t| {
        metric(t, "ringcap_output_records_written_total") == N as f64
    });
    let rotated = metric(&text, "ringcap_output_files_rotated_total");
    let bytes = metric(&text, "ringcap_output_written_bytes_total");
    assert_eq!(metric(&text, "ringcap_output_write_errors_total"), 0.0);
    signal("-INT", &mut cap);
    let out = cap.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    // Every record was written when the scrape said so, and pcap files get nothing after
    // their last record: the bytes served are the files' sizes.
    let on_disk: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(bytes, on_disk as f64, "{files:?}\n{text}");
    assert_eq!(rotated, (files.len() - 1) as f64, "{files:?}\n{text}");
    let mut packets = 0;
    for f in &files {
        let o = Command::new("capinfos")
            .args(["-c", "-M", "-T", "-r"])
            .arg(f)
            .output()
            .unwrap();
        assert!(o.status.success(), "capinfos refused {f:?}");
        let s = String::from_utf8_lossy(&o.stdout);
        packets += s
            .split_whitespace()
            .last()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("capinfos: {s}"));
    }
    assert_eq!(packets, N, "capinfos over {files:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Frames longer than the interface's MTU are refused, and the generator's metrics count them.
#[test]
fn the_generator_serves_refused_frames() {
    if !ringcap_netlab::can_run("generator_serves_refused")
        || !ringcap_netlab::skip::tools(&["curl", "nsenter"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    net.ip(&["link", "set", net.peer_if(), "mtu", "1000"])
        .unwrap();
    let dir = tmpdir("metrics-refused");
    let file = dir.join("mixed.pcap");
    // One frame in three is too long for the MTU.
    let frames: Vec<Vec<u8>> = [100usize, 1400, 200]
        .iter()
        .enumerate()
        .map(|(i, &s)| udp_frame(i as u32, 1, s))
        .collect();
    write_pcap(&file, &frames);
    let mut gen = Reaped(Some(
        in_ns(Some(&net), BIN)
            .args(["gen", "-i", "rc1", "--threads", "1", "--pps", "600"])
            .arg("--replay")
            .arg(&file)
            .args(["--loop", "1000", "--duration", "4", "-q"])
            .args(["--metrics", "127.0.0.1:19304"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let text = scrape_until(&net, 19304, |t| {
        metric(t, "ringcap_gen_frames_refused_total") > 0.0
    });
    let (sent, refused) = (
        metric(&text, "ringcap_gen_frames_sent_total"),
        metric(&text, "ringcap_gen_frames_refused_total"),
    );
    let out = gen.take().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // total: F frames, B bytes in S s (...), R refused, U not sent
    let total = stdout
        .lines()
        .find_map(|l| l.strip_prefix("total: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let nums: Vec<u64> = total
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter_map(|w| w.parse().ok())
        .collect();
    let total_refused = total
        .split(", ")
        .find_map(|p| p.strip_suffix(" refused"))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{total}"));
    assert!(
        refused <= total_refused as f64 && sent <= nums[0] as f64,
        "{text}\n{stdout}"
    );
    // Two sent for every one refused, give or take the batch in progress.
    assert!(
        (refused * 2.0 - sent).abs() <= (sent * 0.02).max(4.0),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A classic pcap file of Ethernet frames.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        b.extend_from_slice(&(i as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

/// The README's fenced ```yaml blocks, in order.
fn readme_yaml() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_string())
        .collect()
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The scrape job and alert rules the README gives: promtool accepts them, and the drops alert
/// fires once drops have gone on for a minute, on the worker that drops, and not before.
#[test]
fn the_readme_scrape_config_and_alerts_pass_promtool() {
    if !ringcap_netlab::skip::tools(&["promtool"]) {
        return;
    }
    let blocks = readme_yaml();
    let scrape = blocks
        .iter()
        .find(|b| b.contains("scrape_configs:") && b.contains("job_name: ringcap"))
        .expect("a scrape config in the README");
    let rules = blocks
        .iter()
        .find(|b| b.contains("alert: RingcapDropping"))
        .expect("alert rules in the README");
    assert!(rules.contains("ringcap_flow_export_messages_failed_total"));
    let dir = tmpdir("readme-rules");
    let (cfg, rf, test) = (
        dir.join("prometheus.yml"),
        dir.join("rules.yml"),
        dir.join("test.yml"),
    );
    std::fs::write(&cfg, scrape).unwrap();
    std::fs::write(&rf, rules).unwrap();
    promtool(&["check", "config", cfg.to_str().unwrap()]);
    promtool(&["check", "rules", rf.to_str().unwrap()]);
    // Worker 0 drops from 45 s on, worker 1 never: firing after a minute of drops (1m45s).
    std::fs::write(
        &test,
        "rule_files: [rules.yml]\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    \
         input_series:\n      - series: 'ringcap_packets_dropped_total{instance=\"box:9100\",worker=\"0\",cpu=\"0\"}'\n        \
         values: '0 0 0 10 20 30 40 50 60 70 80 90'\n      \
         - series: 'ringcap_packets_dropped_total{instance=\"box:9100\",worker=\"1\",cpu=\"1\"}'\n        \
         values: '0x11'\n    alert_rule_test:\n      - eval_time: 30s\n        alertname: RingcapDropping\n        \
         exp_alerts: []\n      - eval_time: 90s\n        alertname: RingcapDropping\n        exp_alerts: []\n      \
         - eval_time: 2m30s\n        alertname: RingcapDropping\n        exp_alerts:\n          \
         - exp_labels: {severity: warning, instance: 'box:9100', worker: '0'}\n            \
         exp_annotations: {summary: 'box:9100: worker 0 drops packets (ring full)'}\n",
    )
    .unwrap();
    promtool(&["test", "rules", test.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// AF_XDP with a filter: the frames the filter does not take are counted (filtered in user
/// space, or passed to the host by the XDP program's own filter), and with the frames received
/// they make every frame sent; the summary at the end says the same.
#[test]
fn xdp_filter_counts_are_served() {
    if !ringcap_netlab::can_run("xdp_filter_counts_are_served")
        || !ringcap_netlab::skip::tools(&["promtool", "curl", "nsenter", "kill"])
    {
        return;
    }
    const PORT: u16 = 19305;
    let net = TestNet::new().unwrap();
    let mut cap = capture_with_metrics(
        &net,
        PORT,
        &["--mode", "xdp", "udp", "src", "port", "10001"],
    );
    let tx = net.sender().unwrap();
    for i in 0..200u32 {
        tx.send(&udp_frame(i, (i % 4) as u16, 100)).unwrap();
    }
    let not_taken = |t: &str| {
        metric(t, "ringcap_filter_rejected_packets_total")
            + metric(t, "ringcap_xdp_passed_packets_total")
    };
    let text = scrape_until(&net, PORT, |t| {
        metric(t, "ringcap_packets_received_total") == 50.0 && not_taken(t) == 150.0
    });
    lint(&text);
    let info = text
        .lines()
        .find(|l| l.starts_with("ringcap_capture_info{"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        info.contains("mode=\"xdp\"") && info.contains("filter=\"true\""),
        "{info}"
    );
    signal("-INT", &mut cap);
    let out = cap.take().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("xdp_filtered: 150") || err.contains("xdp_passed: 150"),
        "{err}"
    );
}
