//! `ringcap ifstat` against the real counters of a veth pair in a private namespace: frames sent
//! from rc1 during the run show up, exactly, in rc0's RX and rc1's TX totals.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::Duration;

use ringcap_netlab::{udp_frame, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// The value of `"key":N` in the JSON object for interface `iface` inside `line`.
fn json_field(line: &str, iface: &str, key: &str) -> u64 {
    let start = line
        .find(&format!("{{\"name\":\"{iface}\""))
        .unwrap_or_else(|| panic!("no {iface} in {line}"));
    let obj = &line[start..];
    let obj = &obj[..obj.find('}').unwrap()];
    let pat = format!("\"{key}\":");
    let at = obj
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {obj}"))
        + pat.len();
    obj[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn send(net: &TestNet, n: u32, size: usize) {
    let tx = net.sender().unwrap();
    for seq in 0..n {
        tx.send(&udp_frame(seq, (seq % 7) as u16, size)).unwrap();
    }
}

fn wait_with_timeout(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    for _ in 0..secs * 20 {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("ringcap ifstat did not exit within {secs} s");
}

#[test]
fn json_totals_match_frames_sent_and_ctrl_c_exits_cleanly() {
    if !ringcap_netlab::can_run("json_totals_match_frames_sent_and_ctrl_c_exits_cleanly")
        || !ringcap_netlab::skip::tools(&["kill"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let mut child = net
        .command(BIN)
        .args(["ifstat", "rc0", "rc1", "--json", "--interval", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // The first sample line means the baseline was read: everything sent from now on counts.
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"type\":\"sample\""), "{first}");

    send(&net, 500, 100);
    std::thread::sleep(Duration::from_millis(700));
    // `ip netns exec` execs the program, so the child's pid is ringcap's: Ctrl-C it.
    assert_eq!(interrupt(child.id()), 0);
    let status = wait_with_timeout(&mut child, 10);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status:?}, stderr {err}");

    let lines: Vec<&str> = std::iter::once(first.trim()).chain(rest.lines()).collect();
    let total = lines.last().unwrap();
    assert!(total.starts_with("{\"type\":\"total\""), "{total}");
    assert_eq!(json_field(total, "rc0", "rx_packets"), 500, "{total}");
    assert_eq!(json_field(total, "rc0", "rx_bytes"), 500 * 100, "{total}");
    assert_eq!(json_field(total, "rc1", "tx_packets"), 500, "{total}");
    assert_eq!(json_field(total, "rc1", "tx_bytes"), 500 * 100, "{total}");
    assert_eq!(json_field(total, "rc0", "tx_packets"), 0, "{total}");
    assert_eq!(json_field(total, "rc0", "rx_dropped"), 0, "{total}");

    // The samples split the same frames over intervals: their sum is the total.
    let samples: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("{\"type\":\"sample\""))
        .collect();
    assert!(samples.len() >= 2, "{lines:?}");
    let sum: u64 = samples
        .iter()
        .map(|l| json_field(l, "rc0", "rx_packets"))
        .sum();
    assert_eq!(sum, 500, "{lines:?}");
    // Some sample saw a non-zero rate.
    assert!(samples
        .iter()
        .any(|l| l.contains("\"rx_pps\":") && json_field(l, "rc0", "rx_packets") > 0));
}

/// Sends SIGINT to a child process with kill(1), as a user at a shell would.
fn interrupt(pid: u32) -> i32 {
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map(|s| if s.success() { 0 } else { 1 })
        .unwrap_or(1)
}

#[test]
fn count_samples_then_total_line() {
    if !ringcap_netlab::can_run("count_samples_then_total_line") {
        return;
    }
    let net = TestNet::new().unwrap();
    let mut child = net
        .command(BIN)
        .args(["ifstat", "rc0", "-c", "4", "--interval", "0.3", "--cpu"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    out.read_line(&mut header).unwrap();
    assert!(header.contains("rx pkt/s"), "{header}");
    send(&net, 200, 60);
    let status = wait_with_timeout(&mut child, 10);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    let rc0_lines = rest
        .lines()
        .filter(|l| !l.starts_with("total") && l.split_whitespace().nth(1) == Some("rc0"))
        .count();
    assert_eq!(rc0_lines, 4, "{rest}");
    // --cpu: one NET_RX line per online CPU per sample.
    assert!(
        rest.lines()
            .any(|l| l.contains("cpu0") && l.contains("NET_RX")),
        "{rest}"
    );
    let total = rest.lines().last().unwrap();
    assert!(
        total.starts_with("total rc0 over ") && total.contains("rx 200 packets 12000 bytes"),
        "{total}"
    );
}

#[test]
fn unknown_interface_is_one_line() {
    if !ringcap_netlab::can_run("unknown_interface_is_one_line") {
        return;
    }
    let net = TestNet::new().unwrap();
    let out = net
        .command(BIN)
        .args(["ifstat", "rc0", "nosuch0", "-c", "1"])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert!(
        err.contains("\"nosuch0\"") && err.contains("rc0") && err.contains("rc1"),
        "{err}"
    );
}

#[test]
fn bad_interval_is_refused() {
    let out = std::process::Command::new(BIN)
        .args(["ifstat", "lo", "--interval", "0"])
        .output()
        .unwrap();
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert!(err.contains("--interval"), "{err}");
}
