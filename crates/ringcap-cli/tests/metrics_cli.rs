//! `--metrics` as an operator uses it: a real Prometheus server scrapes a running
//! `ringcap capture` every second inside the test's namespace, and its HTTP API must report the
//! packets the capture's own summary reports; `promtool check metrics` accepts the exposition;
//! the generator's counters are served too; and a listener that cannot be set up is one line
//! and exit status 2.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::tools::{one_line_error, tmpdir};
use ringcap_netlab::{udp_frame, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// A child process killed (and reaped) when the test ends, however it ends.
struct Reaped(Option<Child>);

impl Reaped {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
    fn take(&mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A program run directly inside the namespace (so signals reach it, not a wrapper).
fn in_ns(net: &TestNet, program: &str) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{}", net.ns())).arg(program);
    c
}

fn curl_in(net: &TestNet, url: &str) -> Option<String> {
    let out = in_ns(net, "curl")
        .args(["-sS", "--max-time", "5", url])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Prometheus' instant query: each series' labels and value.
fn query(net: &TestNet, expr: &str) -> Vec<(serde_json::Value, f64)> {
    let url = format!("http://127.0.0.1:19090/api/v1/query?query={expr}");
    let Some(body) = curl_in(net, &url) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    let value = s["value"][1]
                        .as_str()
                        .unwrap_or("nan")
                        .parse()
                        .unwrap_or(f64::NAN);
                    (s["metric"].clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn start_prometheus(net: &TestNet, dir: &Path, target: &str) -> Reaped {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: ringcap\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = in_ns(net, "prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--web.listen-address=127.0.0.1:19090")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut p = Reaped(Some(child));
    let until = Instant::now() + Duration::from_secs(30);
    while curl_in(net, "http://127.0.0.1:19090/-/ready").is_none() {
        assert!(
            p.child().try_wait().unwrap().is_none(),
            "prometheus exited: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        assert!(Instant::now() < until, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    p
}

fn lint(text: &str) {
    use std::io::Write;
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
        in_ns(&net, BIN)
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
    let mut prom = start_prometheus(&net, &dir, "127.0.0.1:19300");

    let tx = net.sender().unwrap();
    for i in 0..N as u32 {
        tx.send(&udp_frame(i, (i % 16) as u16, 100)).unwrap();
    }
    // Wait for a scrape that saw every packet, then for a few more: the value stays N.
    let until = Instant::now() + Duration::from_secs(30);
    let sum = |s: &[(serde_json::Value, f64)]| s.iter().map(|x| x.1).sum::<f64>();
    loop {
        let s = query(&net, "ringcap_packets_received_total");
        let k = query(&net, "ringcap_kernel_packets_total");
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
    let series = query(&net, "ringcap_packets_received_total");
    assert_eq!(series.len(), 2, "one series per worker: {series:?}");
    assert_eq!(sum(&series), N as f64, "{series:?}");
    assert_eq!(sum(&query(&net, "ringcap_packets_dropped_total")), 0.0);
    let up = query(&net, "up");
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 1.0, "the scrape target is healthy: {up:?}");
    let info = query(&net, "ringcap_capture_info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].0["mode"], "ring");
    assert_eq!(info[0].0["fanout"], "hash");
    assert_eq!(info[0].0["blocks"], "64");
    assert_eq!(query(&net, "ringcap_build_info").len(), 1);
    let targets = curl_in(&net, "http://127.0.0.1:19090/api/v1/targets").unwrap();
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
    let _ = Command::new("kill")
        .args(["-TERM", &prom.child().id().to_string()])
        .status();
    let _ = prom.take().wait();
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
        in_ns(&net, BIN)
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
