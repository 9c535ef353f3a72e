//! Shared by the metrics tests: processes in the test's namespace reaped on drop, a real
//! Prometheus server scraping every second and its HTTP API, `/metrics` read with curl, and
//! readers of the text exposition and of ringcap's summaries.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::TestNet;

pub const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct Reaped(pub Option<Child>);

impl Reaped {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
    pub fn take(&mut self) -> Child {
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

/// A program run directly inside the namespace (so signals reach it, not a wrapper); on the
/// host without one.
pub fn in_ns(net: Option<&TestNet>, program: &str) -> Command {
    match net {
        Some(net) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{}", net.ns())).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// The body of a successful GET, run from the namespace (or the host).
pub fn curl(net: Option<&TestNet>, url: &str) -> Option<String> {
    let out = in_ns(net, "curl")
        .args(["-sS", "--max-time", "5", url])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A TCP port free on 127.0.0.1 in the namespace (or on the host): bound and released.
pub fn free_tcp_port(net: Option<&TestNet>) -> u16 {
    let _in = net.map(|n| n.enter().unwrap());
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A Prometheus server on 127.0.0.1 scraping one target every second; stopped on drop.
pub struct Prometheus<'a> {
    net: Option<&'a TestNet>,
    pub port: u16,
    process: Reaped,
}

impl<'a> Prometheus<'a> {
    /// Starts it (data and log under `dir`) and waits until it has scraped `target` once.
    pub fn start(net: Option<&'a TestNet>, dir: &Path, target: &str) -> Prometheus<'a> {
        let port = free_tcp_port(net);
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
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut p = Prometheus {
            net,
            port,
            process: Reaped(Some(child)),
        };
        let until = Instant::now() + Duration::from_secs(30);
        while curl(net, &p.url("/-/ready")).is_none() {
            assert!(
                p.process.child().try_wait().unwrap().is_none(),
                "prometheus exited: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            assert!(Instant::now() < until, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        // Targets reach the scrape loop some seconds after start (discovery updates are
        // batched): wait for the first scrape, up or down, so what comes next is scraped.
        loop {
            let t = curl(net, &p.url("/api/v1/targets")).unwrap_or_default();
            if t.contains("\"health\":\"up\"") || t.contains("\"health\":\"down\"") {
                break;
            }
            assert!(Instant::now() < until, "prometheus never scraped: {t}");
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// An instant query: each series' labels and value (none when the query fails).
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let enc: String = expr
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let Some(body) = curl(self.net, &self.url(&format!("/api/v1/query?query={enc}"))) else {
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

    /// The sum of a query's series (NaN when it has none).
    pub fn sum(&self, expr: &str) -> f64 {
        let s = self.query(expr);
        if s.is_empty() {
            f64::NAN
        } else {
            s.iter().map(|x| x.1).sum()
        }
    }

    /// Queries until `expr`'s sum is `want` (or fails after 20 s naming what it got).
    pub fn wait_for(&self, expr: &str, want: f64) {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.sum(expr);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < until,
                "prometheus: {expr} is {got}, never {want}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn stop(&mut self) {
        if let Some(c) = &self.process.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = self.process.take().wait();
        }
    }
}

impl Drop for Prometheus<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `promtool check metrics` accepts the exposition.
pub fn lint(text: &str) {
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

/// The sum of every sample of `name` in a text exposition (0 when there is none).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next())
        .filter_map(|v| v.parse::<f64>().ok())
        .sum()
}

/// The samples of `name` whose labels contain `label` (e.g. `worker="0"`), summed.
pub fn metric_with(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') && r.split('}').next().unwrap().contains(label))
        })
        .filter_map(|l| l.rsplit(' ').next())
        .filter_map(|v| v.parse::<f64>().ok())
        .sum()
}

/// Scrapes `/metrics` at `port` until `done` holds for the text (or fails after 20 s with the
/// last scrape).
pub fn scrape_until(net: Option<&TestNet>, port: u16, done: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let text = curl(net, &format!("http://127.0.0.1:{port}/metrics")).unwrap_or_default();
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < until, "never reached:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `/metrics` at `port` answers, failing if `child` ends first.
pub fn wait_serving(net: Option<&TestNet>, port: u16, child: &mut Reaped) {
    let until = Instant::now() + Duration::from_secs(10);
    while curl(net, &format!("http://127.0.0.1:{port}/metrics")).is_none() {
        if child.child().try_wait().unwrap().is_some() {
            let out = child.take().wait_with_output().unwrap();
            panic!("ringcap ended: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(Instant::now() < until, "the metrics never came up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn signal(sig: &str, child: &mut Reaped) {
    let pid = child.child().id().to_string();
    assert!(Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap()
        .success());
}

/// `counts add up: kernel K = received R + past P + dropped D` from the summary.
pub fn summary_counts(err: &str) -> [u64; 4] {
    let l = err
        .lines()
        .find_map(|l| l.strip_prefix("counts add up: "))
        .unwrap_or_else(|| panic!("no 'counts add up' line:\n{err}"));
    let n: Vec<u64> = l
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    [n[0], n[1], n[2], n[3]]
}

/// tcpdump writing every UDP datagram to `port` on the namespace's loopback to `file`, each
/// packet as it comes (--immediate-mode, -U); started and listening when this returns.
pub fn tcpdump_lo(net: &TestNet, file: &Path, port: u16) -> Reaped {
    let mut c = Reaped(Some(
        in_ns(Some(net), "tcpdump")
            .args(["-i", "lo", "--immediate-mode", "-U", "-n", "-w"])
            .arg(file)
            .args(["udp", "dst", "port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let mut line = String::new();
    let mut err = BufReader::new(c.child().stderr.take().unwrap());
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "tcpdump: {line}");
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
    });
    c
}
