//! `ringcap capture` as a user runs it, in a private network namespace: counts, summaries, exit
//! codes, signals, and one clear line for every kind of bad input.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::tools::one_line_error;
use ringcap_netlab::{udp_frame, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

fn run_in(net: &TestNet, args: &[&str]) -> Output {
    net.command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Errors are one line, prefixed, without a panic or backtrace.
fn assert_one_line_error(o: &Output, needle: &str) {
    let err = one_line_error(o);
    assert!(err.starts_with("ringcap: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

#[test]
fn count_stops_the_capture_and_the_summary_adds_up() {
    if !ringcap_netlab::can_run("count_stops_the_capture") {
        return;
    }
    let net = TestNet::new().unwrap();
    let child = net
        .command(BIN)
        .args([
            "capture",
            "-i",
            "rc0",
            "-c",
            "50",
            "--threads",
            "2",
            "--fanout",
            "hash",
            "-q",
            "--stats",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let tx = net.sender().unwrap();
    for i in 0..80u32 {
        tx.send(&udp_frame(i, (i % 8) as u16, 100)).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("counts add up"), "{err}");
    assert!(err.contains("packet count reached"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.contains("\"summary\":true"))
        .expect(&stdout);
    assert!(summary.contains("\"received\":50,"), "{summary}");
    assert!(summary.contains("\"reconciles\":true"), "{summary}");
}

#[test]
fn sigint_and_sigterm_end_with_a_summary_and_status_zero() {
    if !ringcap_netlab::can_run("sigint_ends_with_a_summary")
        || !ringcap_netlab::skip::tools(&["nsenter", "kill"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    for (sig, name) in [(2, "INT"), (15, "TERM")] {
        // Run the binary directly inside the namespace so the signal reaches it, not `ip`.
        let child = Command::new("nsenter")
            .args([
                &format!("--net=/run/netns/{}", net.ns()),
                BIN,
                "capture",
                "-i",
                "rc0",
                "--mode",
                "recv",
                "--threads",
                "1",
                "-q",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(600));
        let tx = net.sender().unwrap();
        for i in 0..10u32 {
            tx.send(&udp_frame(i, 1, 64)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        let killed = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert!(err.contains(&format!("signal {sig}")), "{err}");
        assert!(
            err.contains("counts add up: kernel 10 = received 10"),
            "{err}"
        );
    }
}

#[test]
fn an_interface_deleted_during_the_capture_gives_a_summary_and_failure() {
    if !ringcap_netlab::can_run("an_interface_deleted_during_the_capture") {
        return;
    }
    let net = TestNet::new().unwrap();
    let child = net
        .command(BIN)
        .args(["capture", "-i", "rc0", "--threads", "2", "-q"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let tx = net.sender().unwrap();
    for i in 0..20u32 {
        tx.send(&udp_frame(i, i as u16, 64)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    net.delete_capture_if().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("went down or disappeared"), "{err}");
    assert!(
        err.contains("counts add up: kernel 20 = received 20"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    if !ringcap_netlab::can_run("bad_input_gets_one_clear_line") {
        return;
    }
    let net = TestNet::new().unwrap();
    // Unknown interface: list those that exist.
    let o = run_in(&net, &["capture", "-i", "nosuch0", "-c", "1"]);
    assert_one_line_error(&o, "no interface named \"nosuch0\"");
    assert!(stderr(&o).contains("rc0") && stderr(&o).contains("rc1"));
    // Invalid geometry.
    let o = run_in(&net, &["capture", "-i", "rc0", "--block-size", "12288"]);
    assert_one_line_error(&o, "power-of-two multiple of the page size");
    let o = run_in(&net, &["capture", "-i", "rc0", "--frame-size", "2050"]);
    assert_one_line_error(&o, "TPACKET_ALIGNMENT");
    let o = run_in(&net, &["capture", "-i", "rc0", "--coalesce-ms", "5000"]);
    assert_one_line_error(&o, "--coalesce-ms 5000 is above 1000");
    // A time too large for a duration (it once panicked converting), and none at all.
    for cmd in ["capture", "top", "gen"] {
        let o = run_in(&net, &[cmd, "-i", "rc0", "--duration", "1e30"]);
        assert_one_line_error(&o, "--duration 1e30: needs a number of seconds above 0");
        let o = run_in(&net, &[cmd, "-i", "rc0", "--duration", "0"]);
        assert_one_line_error(&o, "--duration 0: needs a number of seconds above 0");
    }
    let o = run_in(
        &net,
        &[
            "capture",
            "-i",
            "rc0",
            "--block-size",
            "4096",
            "--frame-size",
            "8192",
        ],
    );
    assert_one_line_error(&o, "larger than --block-size");
    // Above --max-memory.
    let o = run_in(
        &net,
        &[
            "capture",
            "-i",
            "rc0",
            "--threads",
            "2",
            "--no-pin",
            "--blocks",
            "64",
            "--max-memory",
            "64M",
        ],
    );
    assert_one_line_error(&o, "above --max-memory");
    // A ring the kernel refuses (ENOMEM): say how much and which option lowers it.
    let o = run_in(
        &net,
        &[
            "capture",
            "-i",
            "rc0",
            "--threads",
            "1",
            "--block-size",
            "4096",
            "--blocks",
            "268435456",
            "--max-memory",
            "2T",
        ],
    );
    assert_one_line_error(&o, "the kernel refused a ring of 1 TiB");
    assert!(stderr(&o).contains("lower --blocks or --block-size"));
    // Unsupported fanout mode and flag.
    let o = run_in(&net, &["capture", "-i", "rc0", "--fanout", "ebpf"]);
    assert_one_line_error(&o, "unsupported fanout mode");
    let o = run_in(&net, &["capture", "-i", "rc0", "--fanout-flags", "bogus"]);
    assert_one_line_error(&o, "unknown fanout flag");
    // Bad numbers.
    let o = run_in(&net, &["capture", "-i", "rc0", "--threads", "0"]);
    assert_one_line_error(&o, "--threads must be at least 1");
    let o = run_in(&net, &["capture", "-i", "rc0", "--cpus", "3-1"]);
    assert_one_line_error(&o, "invalid CPU list");
    // Interface down.
    net.ip(&["link", "set", "rc0", "down"]).unwrap();
    let o = run_in(&net, &["capture", "-i", "rc0", "-c", "1"]);
    assert_one_line_error(&o, "interface rc0 is down");
}

#[test]
fn without_cap_net_raw_the_error_names_the_capability() {
    if !ringcap_netlab::can_run("without_cap_net_raw")
        || !ringcap_netlab::skip::tools(&["nsenter", "setpriv"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    // Drop every capability and become nobody, inside the namespace.
    let o = Command::new("nsenter")
        .args([
            &format!("--net=/run/netns/{}", net.ns()),
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            BIN,
            "capture",
            "-i",
            "rc0",
            "-c",
            "1",
        ])
        .output()
        .unwrap();
    assert_one_line_error(&o, "CAP_NET_RAW");
}

#[test]
fn rotation_by_time_with_a_file_limit_ends_normally() {
    if !ringcap_netlab::can_run("rotation_by_time_with_a_file_limit")
        || !ringcap_netlab::skip::tools(&["capinfos"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = std::env::temp_dir().join(format!("ringcap-G-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pattern = dir.join("out-%s.pcap");
    let child = net
        .command(BIN)
        .args([
            "capture",
            "-i",
            "rc0",
            "--threads",
            "1",
            "-q",
            "--duration",
            "20",
            "-G",
            "1",
            "-W",
            "2",
        ])
        .arg("-w")
        .arg(&pattern)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let tx = net.sender().unwrap();
    let started = Instant::now();
    let mut i = 0u32;
    // Frames every 20 ms; -G uses packet time, so two files are complete after ~2-3 s.
    while started.elapsed() < Duration::from_secs(6) {
        if tx.send(&udp_frame(i, 1, 64)).is_err() {
            break;
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
        if i.is_multiple_of(25) && net.ip(&["link", "show", "rc0"]).is_err() {
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("output complete"), "{err}");
    assert!(err.contains("counts add up"), "{err}");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 2, "{err}");
    for f in &files {
        let o = Command::new("capinfos")
            .arg("-c")
            .arg(f.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "capinfos refused {:?}", f.path());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
