//! `ringcap top` as a person sees it: in a real terminal (tmux) while three hosts send at
//! different rates, the talkers table lists them in the order of their rates, `s` and `p` do
//! what the footer says, `q` ends it with status 0 and a summary that adds up; off a terminal
//! it prints the same as text lines once a second.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::tools::tmpdir;
use ringcap_netlab::TestNet;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// Sender processes, stopped when the test ends however it ends.
struct Senders(Vec<Child>);

impl Drop for Senders {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Three hosts flooding the capture end at 2000, 1000 and 500 frames per second, one flow each.
fn three_senders(net: &TestNet, seconds: u32) -> Senders {
    let mut v = Vec::new();
    for (host, pps) in [("10.0.0.1", 2000), ("10.0.0.2", 1000), ("10.0.0.3", 500)] {
        let c = net
            .command(BIN)
            .args(["gen", "-i", "rc1", "--threads", "1", "--no-pin", "-q"])
            .args([
                "--src-ip",
                host,
                "--dst-ip",
                "10.0.0.9",
                "--src-port",
                "4000",
            ])
            .args([
                "--pps",
                &pps.to_string(),
                "--duration",
                &seconds.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        v.push(c);
    }
    Senders(v)
}

/// Where each host first shows in `text` (line numbers), if all three do.
fn order_of_hosts(text: &str) -> Option<[usize; 3]> {
    let first = |h: &str| {
        text.lines().position(|l| {
            l.split(|c: char| c.is_whitespace() || c == '│')
                .any(|w| w == h)
        })
    };
    Some([first("10.0.0.1")?, first("10.0.0.2")?, first("10.0.0.3")?])
}

/// Bars (▁..█) in the worker's row of the Workers box: its sparkline's non-zero seconds.
fn sparkline_bars(pane: &str) -> usize {
    let mut lines = pane.lines().skip_while(|l| !l.contains("Workers"));
    lines
        .find(|l| l.contains("pps, last minute"))
        .and(lines.next())
        .map(|row| row.chars().filter(|c| ('▁'..='█').contains(c)).count())
        .unwrap_or(0)
}

/// A private tmux server, killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }
    fn pane(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "top"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn keys(&self, k: &str) {
        assert!(self
            .cmd()
            .args(["send-keys", "-t", "top", k])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn wait_for(path: &Path, secs: u64) -> String {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn in_a_terminal_talkers_are_ranked_by_rate_and_q_quits_with_the_summary() {
    if !ringcap_netlab::can_run("top_in_a_terminal")
        || !ringcap_netlab::skip::tools(&["tmux", "nsenter"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("top-tty");
    let (err, status) = (dir.join("stderr"), dir.join("status"));
    let tmux = Tmux {
        socket: format!("ringcap-test-{}", std::process::id()),
    };
    let script = format!(
        "nsenter --net=/run/netns/{} {BIN} top -i rc0 --threads 1 2>{}; echo $? > {}",
        net.ns(),
        err.display(),
        status.display()
    );
    assert!(tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "160",
            "-y",
            "50",
            &script
        ])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(800));
    let _senders = three_senders(&net, 20);
    // The first full second after all three started shows them, in the order of their rates.
    let until = Instant::now() + Duration::from_secs(15);
    let pane = loop {
        std::thread::sleep(Duration::from_millis(500));
        let p = tmux.pane();
        if let Some(order) = order_of_hosts(&p) {
            std::thread::sleep(Duration::from_millis(1500));
            let p = tmux.pane();
            if order_of_hosts(&p).is_some() {
                break p;
            }
            let _ = order;
        }
        assert!(Instant::now() < until, "the three hosts never showed:\n{p}");
    };
    let [a, b, c] = order_of_hosts(&pane).unwrap();
    assert!(a < b && b < c, "not ranked by rate:\n{pane}");
    assert!(
        pane.contains("Source hosts") && pane.contains("Flows"),
        "{pane}"
    );
    assert!(pane.contains("10.0.0.1:4000 > 10.0.0.9:80 tcp"), "{pane}");
    assert!(pane.contains("sort pps"), "{pane}");
    assert!(pane.contains("Interface rc0"), "{pane}");

    // The worker's sparkline: one bar a second while the senders run, so it grows.
    let bars = sparkline_bars(&pane);
    assert!(bars > 0, "no sparkline bars:\n{pane}");
    std::thread::sleep(Duration::from_millis(2300));
    let later = tmux.pane();
    assert!(
        sparkline_bars(&later) >= bars + 2,
        "the sparkline did not grow ({bars} bars, then):\n{later}"
    );

    tmux.keys("s");
    std::thread::sleep(Duration::from_millis(400));
    assert!(tmux.pane().contains("sort bps"), "{}", tmux.pane());
    tmux.keys("p");
    std::thread::sleep(Duration::from_millis(400));
    assert!(tmux.pane().contains("PAUSED"), "{}", tmux.pane());
    tmux.keys("q");
    let code = wait_for(&status, 10);
    let summary = std::fs::read_to_string(&err).unwrap();
    assert_eq!(code.trim(), "0", "{summary}");
    assert!(summary.contains("counts add up"), "{summary}");
    assert!(summary.contains("stopped: q pressed"), "{summary}");
    // The terminal is back: the shell's prompt screen, not the full-screen view.
    assert!(!tmux.pane().contains("Source hosts"), "{}", tmux.pane());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn off_a_terminal_it_prints_text_lines_once_a_second() {
    if !ringcap_netlab::can_run("top_text_lines") {
        return;
    }
    let net = TestNet::new().unwrap();
    let top = net
        .command(BIN)
        .args(["top", "-i", "rc0", "--threads", "1", "--duration", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let _senders = three_senders(&net, 6);
    let out = top.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("counts add up"), "{err}");
    assert!(err.contains("duration over"), "{err}");
    let blocks: Vec<&str> = text.split("top ").filter(|b| !b.is_empty()).collect();
    assert!(blocks.len() >= 4, "one block a second:\n{text}");
    // A full second with all three senders: ranked by their rates.
    let block = blocks[blocks.len() - 2];
    let srcs: Vec<&str> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("src "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(srcs, ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "{block}");
    assert!(block.contains("  worker 0 cpu"), "{block}");
    assert!(block.contains("  interface rc0: rx"), "{block}");
    assert!(
        block.contains("  flow 10.0.0.1:4000 > 10.0.0.9:80 tcp"),
        "{block}"
    );
}

/// The terminal going away (a killed tmux session, a dropped ssh connection) ends `top`: no
/// process left behind, spinning on a dead terminal.
#[test]
fn closing_the_terminal_ends_it() {
    if !ringcap_netlab::can_run("top_closing_the_terminal")
        || !ringcap_netlab::skip::tools(&["tmux", "nsenter"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("top-hangup");
    let pidfile = dir.join("pid");
    let tmux = Tmux {
        socket: format!("ringcap-hup-{}", std::process::id()),
    };
    // `exec` twice: the pid the shell writes is top's own.
    let script = format!(
        "echo $$ > {}; exec nsenter --net=/run/netns/{} {BIN} top -i rc0 --threads 1 2>/dev/null",
        pidfile.display(),
        net.ns()
    );
    assert!(tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "120",
            "-y",
            "40",
            &script
        ])
        .status()
        .unwrap()
        .success());
    let pid = wait_for(&pidfile, 10).trim().to_string();
    let proc_dir = Path::new("/proc").join(&pid);
    let until = Instant::now() + Duration::from_secs(10);
    while !tmux.pane().contains("Workers") {
        assert!(Instant::now() < until, "top never drew:\n{}", tmux.pane());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(proc_dir.exists());
    let _ = tmux.cmd().arg("kill-server").status();
    let until = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists() {
        if Instant::now() >= until {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            panic!("top (pid {pid}) still runs 10 s after its terminal closed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
