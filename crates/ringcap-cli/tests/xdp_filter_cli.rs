//! `ringcap capture --mode xdp` with the filter in the kernel, as a user runs it: the capture end
//! and the peer in namespaces of their own (two hosts on one wire), with addresses. While the
//! capture runs, the hosts' TCP and ping work as well as without it; exactly the matching frames
//! are captured; a tcpdump on the same interface sees every other frame, untouched, and none of
//! the matching ones; the summary's passed count is what the peer sent minus what was captured.
//! A filter the verifier refuses fails the start in one line and leaves no program attached.
//! Needs root, tcpdump and tshark.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::tools::{one_line_error, tmpdir, tshark_frames};
use ringcap_netlab::{udp_frame, Options, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");
const HOST: &str = "10.77.0.1";
const PEER: &str = "10.77.0.2";

fn split_net() -> TestNet {
    let net = TestNet::with_options(Options {
        split: true,
        ..Options::default()
    })
    .unwrap();
    // the test network has no addresses; two hosts need them
    net.ip(&["addr", "add", &format!("{HOST}/24"), "dev", "rc0"])
        .unwrap();
    net.peer_ip(&["addr", "add", &format!("{PEER}/24"), "dev", "rc1"])
        .unwrap();
    net
}

/// A child process killed if the test fails before it ends it.
struct Running(Option<Child>);

impl Running {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
    fn take(mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn xdp_attached(net: &TestNet) -> bool {
    net.ip(&["link", "show", "rc0"]).unwrap().contains("xdp")
}

/// Waits until ringcap's program shows on rc0, then for the workers to open their intake.
fn wait_attached(net: &TestNet, child: &mut Child) {
    let t = Instant::now();
    while !xdp_attached(net) {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("ringcap ended before attaching ({st}): {err}");
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never attached");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// The host traffic between the two ends: pings answered (of 5), and bytes of a 64 KiB TCP
/// exchange echoed back.
fn host_traffic(net: &TestNet, port: u16) -> (u32, usize) {
    let out = net
        .peer_command("ping")
        .args(["-c", "5", "-i", "0.2", "-W", "2", HOST])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let received: u32 = text
        .split(',')
        .find_map(|p| p.trim().strip_suffix(" received")?.parse().ok())
        .unwrap_or_else(|| panic!("ping output: {text}"));
    let data: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let echoed = std::thread::scope(|s| {
        s.spawn(|| {
            let _in = net.enter().unwrap();
            let l = TcpListener::bind((HOST, port)).unwrap();
            ready_tx.send(()).unwrap();
            // a peer that cannot connect must not leave this thread waiting forever
            l.set_nonblocking(true).unwrap();
            let t = Instant::now();
            let mut c = loop {
                match l.accept() {
                    Ok((c, _)) => break c,
                    Err(_) if t.elapsed() < Duration::from_secs(6) => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            };
            c.set_nonblocking(false).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = vec![0u8; data.len()];
            if c.read_exact(&mut buf).is_ok() {
                let _ = c.write_all(&buf);
            }
        });
        ready_rx.recv().unwrap();
        let _in = net.enter_peer().unwrap();
        let addr: SocketAddr = format!("{HOST}:{port}").parse().unwrap();
        let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
            return 0;
        };
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(&data).unwrap();
        let mut back = vec![0u8; data.len()];
        match c.read_exact(&mut back) {
            Ok(()) if back == data => back.len(),
            _ => 0,
        }
    });
    (received, echoed)
}

fn peer_tx_packets(net: &TestNet) -> u64 {
    net.peer_sh("cat /sys/class/net/rc1/statistics/tx_packets")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The value of `"name":N` in a JSON line.
fn json_u64(line: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    let at = line
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + key.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A tcpdump on rc0 next to ringcap: it sees what the XDP program passed to the host.
fn start_tcpdump(net: &TestNet, file: &std::path::Path) -> Running {
    let mut child = net
        .command("tcpdump")
        .args(["-i", "rc0", "-n", "-U", "-w"])
        .arg(file)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "tcpdump: {line}");
    Running(Some(child))
}

fn stop(child: Running) {
    let child = child.take();
    // ip netns exec replaces itself with the program, so the pid is tcpdump's
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success() || out.status.code() == Some(0));
}

fn dst_port(f: &[u8]) -> Option<u16> {
    (f.len() >= 38 && f[12..14] == [8, 0] && f[23] == 17)
        .then(|| u16::from_be_bytes([f[36], f[37]]))
}

#[test]
fn the_host_keeps_its_traffic_and_exactly_the_matching_frames_are_captured() {
    if !ringcap_netlab::can_run("the_host_keeps_its_traffic")
        || !ringcap_netlab::tools::have("tcpdump")
        || !ringcap_netlab::tools::have("tshark")
    {
        return;
    }
    let net = split_net();
    let dir = tmpdir("xdp-filter-host");
    let (pcap, seen_by_host) = (dir.join("cap.pcap"), dir.join("host.pcap"));
    let baseline = host_traffic(&net, 7001);
    assert_eq!(
        baseline,
        (5, 65536),
        "the test network itself does not work"
    );

    const N: u32 = 40;
    let mut child = Running(Some(
        net.command(BIN)
            .args([
                "capture", "--mode", "xdp", "-i", "rc0", "-q", "--stats", "json",
            ])
            .args(["-c", &N.to_string(), "-w"])
            .arg(&pcap)
            .arg("udp port 9999")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_attached(&net, child.child());
    let tcpdump = start_tcpdump(&net, &seen_by_host);
    let tx0 = peer_tx_packets(&net);
    let during = host_traffic(&net, 7002);
    // then 50 other UDP frames and the N that match, interleaved; the capture ends at the N-th
    let others: Vec<Vec<u8>> = (0..50).map(|i| udp_frame(i, 1, 100)).collect();
    let tx = net.sender().unwrap();
    let mut matching = 0;
    for (i, f) in others.iter().enumerate() {
        tx.send(f).unwrap();
        if i % 5 != 4 && matching < N {
            let mut m = udp_frame(1000 + matching, 2, 120);
            m[36..38].copy_from_slice(&9999u16.to_be_bytes());
            tx.send(&m).unwrap();
            matching += 1;
        }
    }
    assert_eq!(matching, N);
    let out = child.take().wait_with_output().unwrap();
    let sent = peer_tx_packets(&net) - tx0;
    std::thread::sleep(Duration::from_millis(200));
    stop(tcpdump);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        during, baseline,
        "the host's ping and TCP while capturing (baseline {baseline:?})"
    );

    // exactly the matching frames, whole
    let frames = tshark_frames(&pcap);
    assert_eq!(frames.len(), N as usize);
    assert!(frames.iter().all(|f| dst_port(&f.bytes) == Some(9999)));
    // the host saw every other frame, untouched, and none of those
    let host = tshark_frames(&seen_by_host);
    assert!(host.iter().all(|f| dst_port(&f.bytes) != Some(9999)));
    for o in &others {
        assert_eq!(host.iter().filter(|f| &f.bytes == o).count(), 1);
    }
    // the summary: kernel (redirected) = received + dropped, passed = sent - captured
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.contains("\"summary\":true"))
        .unwrap_or_else(|| panic!("no summary: {stdout} {err}"));
    assert_eq!(json_u64(summary, "received"), N as u64, "{summary}");
    assert_eq!(json_u64(summary, "xdp_redirected"), N as u64, "{summary}");
    assert_eq!(
        json_u64(summary, "xdp_passed"),
        sent - N as u64,
        "{summary}"
    );
    assert!(summary.contains("\"reconciles\":true"), "{summary}");
    assert!(
        err.contains(&format!(
            "(passed to the host by the filter: {})",
            sent - N as u64
        )),
        "{err}"
    );
    assert!(!xdp_attached(&net));
    eprintln!(
        "xdp_filter_cli: host ping {}/5 and TCP {} bytes with and without the capture; \
         peer sent {sent}, captured {N}, passed {}",
        during.0,
        during.1,
        sent - N as u64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// 90 groups of 100 tests on one byte each, `or`ed within a group and the groups `and`ed: a
/// test that matches jumps to the next group, so the verifier walks on with a pending branch
/// for every test behind it, more than its limit of 8192. One group per argument (the words
/// of an expression are joined), as one argument would pass the kernel's 128 KiB limit.
fn refused_expression() -> Vec<String> {
    (1..=90)
        .map(|k| {
            let tests: Vec<String> = (0..100).map(|c| format!("ether[{k}] = {c}")).collect();
            let and = if k > 1 { "and " } else { "" };
            format!("{and}({})", tests.join(" or "))
        })
        .collect()
}

#[test]
fn a_filter_the_verifier_refuses_fails_the_start_in_one_line_and_attaches_nothing() {
    if !ringcap_netlab::can_run("a_filter_the_verifier_refuses") {
        return;
    }
    let net = TestNet::new().unwrap();
    let out = net
        .command(BIN)
        .args(["capture", "--mode", "xdp", "-i", "rc0", "-c", "1"])
        .args(refused_expression())
        .output()
        .unwrap();
    let line = one_line_error(&out);
    assert!(line.contains("verifier refused the filter"), "{line}");
    assert!(line.contains("jumps is too complex"), "{line}");
    assert!(!xdp_attached(&net));
}

#[test]
fn xdp_filter_user_takes_every_frame_and_filters_in_user_space() {
    if !ringcap_netlab::can_run("xdp_filter_user") {
        return;
    }
    let net = TestNet::new().unwrap();
    let mut child = Running(Some(
        net.command(BIN)
            .args([
                "capture", "--mode", "xdp", "-i", "rc0", "-q", "--stats", "json",
            ])
            .args(["--xdp-filter", "user", "-c", "10", "udp port 9999"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_attached(&net, child.child());
    let tx = net.sender().unwrap();
    for i in 0..30u32 {
        let mut f = udp_frame(i, 1, 80);
        if i % 3 == 2 {
            f[36..38].copy_from_slice(&9999u16.to_be_bytes());
        }
        tx.send(&f).unwrap();
    }
    let out = child.take().wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.contains("\"summary\":true"))
        .unwrap();
    assert_eq!(json_u64(summary, "received"), 10);
    assert_eq!(json_u64(summary, "xdp_redirected"), 30, "{summary}");
    assert_eq!(json_u64(summary, "xdp_filtered"), 20, "{summary}");
    assert!(!summary.contains("xdp_passed"), "{summary}");
}

#[test]
fn compile_ebpf_prints_the_xdp_program_with_classic_origins() {
    let out = Command::new(BIN)
        .args(["compile", "--ebpf", "udp port 9999"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let classic = Command::new(BIN)
        .args(["compile", "udp port 9999"])
        .output()
        .unwrap();
    let classic = String::from_utf8(classic.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("(000) r6 = r1") && lines[0].ends_with("; xdp"));
    // every classic instruction but the two returns shows as the origin of some eBPF line
    for c in classic.lines().filter(|l| !l.contains(" ret ")) {
        assert!(
            lines.iter().any(|l| l.ends_with(&format!("; {c}"))),
            "{c} not in\n{text}"
        );
    }
    assert!(text.contains("call bpf_redirect_map#51"));
    assert!(lines.last().unwrap().contains("exit"));
    // --ebpf is for the frame's own bytes: with --live it is a bad argument
    let bad = Command::new(BIN)
        .args(["compile", "--ebpf", "--live", "udp"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
