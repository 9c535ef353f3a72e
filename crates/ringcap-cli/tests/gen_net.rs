//! `ringcap gen` against the real kernel: frames sent on the peer end of a veth pair in a
//! private network namespace, counted and checked at the capture end (the interface counter,
//! tcpdump's file, tshark's checksum verdicts and our own checker).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::TestNet;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringcap-gen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn gen(net: &TestNet, args: &[&str]) -> Output {
    let out = net
        .command(BIN)
        .args(["gen", "-i", net.peer_if(), "-q"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ringcap");
    eprintln!(
        "ringcap gen {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn rx(net: &TestNet) -> u64 {
    net.counter(net.capture_if(), "rx_packets").unwrap()
}

/// The "total: N frames" the generator reported.
fn reported_total(out: &Output) -> u64 {
    let s = String::from_utf8_lossy(&out.stdout);
    let line = s
        .lines()
        .find(|l| l.starts_with("total: "))
        .expect("a total line");
    line["total: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// tcpdump writing `count` frames from the capture end into a file; ready once it listens.
struct Tcpdump {
    child: Child,
    path: PathBuf,
}

impl Tcpdump {
    fn start(net: &TestNet, name: &str, count: u64) -> Tcpdump {
        let path = tmp(name);
        let mut child = net
            .command("tcpdump")
            .args(["-i", net.capture_if(), "-n", "-U", "-B", "32768", "-w"])
            .arg(&path)
            .args(["-c", &count.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tcpdump");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if err.read_line(&mut line).unwrap() == 0 {
                panic!("tcpdump ended before listening");
            }
            if line.contains("listening on") {
                break;
            }
        }
        // Keep draining stderr so tcpdump never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        Tcpdump { child, path }
    }

    /// Waits for tcpdump to have its `count` frames (at most 10 s).
    fn finish(mut self) -> PathBuf {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "tcpdump failed: {st}");
                return self.path.clone();
            }
            if t.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("tcpdump did not get all frames within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        // A failed assertion must not leave tcpdump running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Frames of a pcap file, read with ringcap-pcap.
fn frames_of(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = ringcap_pcap::Reader::new(std::io::BufReader::new(f)).unwrap();
    let mut out = Vec::new();
    while let Some((m, d)) = r.next_packet().unwrap() {
        out.push((m.ts_ns, d.to_vec()));
    }
    out
}

/// Number of frames tshark rates "Good" on every checksum it knows for them.
fn tshark_good(path: &Path, filter: &str) -> usize {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .stderr(Stdio::null())
        .output()
        .expect("run tshark");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn count_is_exact_and_checksums_are_valid() {
    if !ringcap_netlab::can_run("count_is_exact_and_checksums_are_valid")
        || !ringcap_netlab::skip::tools(&["tcpdump", "tshark"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    const N: u64 = 3000;
    let dump = Tcpdump::start(&net, "exact.pcap", N);
    let before = rx(&net);
    let out = gen(&net, &["-c", &N.to_string(), "--threads", "2"]);
    assert!(out.status.success());
    assert_eq!(reported_total(&out), N);
    let path = dump.finish();
    // Let any stragglers arrive, then the interface must have seen exactly N.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rx(&net) - before, N);

    let frames = frames_of(&path);
    assert_eq!(frames.len() as u64, N);
    let mut flows = std::collections::HashSet::new();
    for (_, f) in &frames {
        assert_eq!(f.len(), 60);
        ringcap_gen::verify_checksums(f).unwrap();
        flows.insert((f[26..30].to_vec(), f[34..36].to_vec()));
    }
    assert_eq!(flows.len() as u64, N, "every frame a different flow");
    let good = tshark_good(
        &path,
        "ip.checksum.status == 1 && tcp.checksum.status == 1 && tcp.flags.syn == 1",
    );
    assert_eq!(good as u64, N);
}

#[test]
fn sendmmsg_path_is_exact_too() {
    if !ringcap_netlab::can_run("sendmmsg_path_is_exact_too") {
        return;
    }
    let net = TestNet::new().unwrap();
    let before = rx(&net);
    let out = gen(
        &net,
        &["-c", "2345", "--no-ring", "-t", "udp", "--size", "200"],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("sendmmsg"));
    assert_eq!(reported_total(&out), 2345);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rx(&net) - before, 2345);
}

#[test]
fn every_template_has_valid_checksums_on_the_wire() {
    if !ringcap_netlab::can_run("every_template_has_valid_checksums_on_the_wire")
        || !ringcap_netlab::skip::tools(&["tcpdump", "tshark"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    // (template and options, tshark filter that every frame must pass)
    let cases: &[(&[&str], &str)] = &[
        (
            &["-t", "udp", "--size", "1514", "--random"],
            "ip.checksum.status == 1 && udp.checksum.status == 1 && frame.len == 1514",
        ),
        (
            &["-t", "icmp", "--size", "99"],
            "ip.checksum.status == 1 && icmp.checksum.status == 1 && icmp.type == 8",
        ),
        (
            &["-t", "syn6", "--dst-port", "1-1000", "--random"],
            "tcp.checksum.status == 1 && ipv6 && tcp.flags.syn == 1",
        ),
        (
            &["-t", "udp6", "--size", "333"],
            "udp.checksum.status == 1 && ipv6 && frame.len == 333",
        ),
        (
            &["--ipv6", "-t", "icmp", "--src-ip", "fd00:5::/64"],
            "icmpv6.checksum.status == 1 && icmpv6.type == 128",
        ),
        (
            &[
                "-t",
                "udp",
                "--src-ip",
                "192.168.7.1-192.168.7.9",
                "--dst-ip",
                "172.16.0.0/30",
                "--src-mac",
                "02:aa:bb:cc:dd:ee",
                "--dst-mac",
                "02:11:22:33:44:55",
            ],
            "ip.checksum.status == 1 && udp.checksum.status == 1 && eth.src == 02:aa:bb:cc:dd:ee \
             && eth.dst == 02:11:22:33:44:55 && ip.src >= 192.168.7.1 && ip.src <= 192.168.7.9 \
             && (ip.dst == 172.16.0.1 || ip.dst == 172.16.0.2)",
        ),
    ];
    for (i, (opts, filter)) in cases.iter().enumerate() {
        const N: u64 = 300;
        let dump = Tcpdump::start(&net, &format!("template-{i}.pcap"), N);
        let mut args = vec!["-c", "300"];
        args.extend_from_slice(opts);
        let out = gen(&net, &args);
        assert!(out.status.success(), "{opts:?}");
        let path = dump.finish();
        for (_, f) in frames_of(&path) {
            ringcap_gen::verify_checksums(&f).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        }
        assert_eq!(tshark_good(&path, filter) as u64, N, "{opts:?}: {filter}");
    }
}

#[test]
fn rate_lands_within_five_percent() {
    if !ringcap_netlab::can_run("rate_lands_within_five_percent") {
        return;
    }
    let net = TestNet::new().unwrap();
    let before = rx(&net);
    let out = gen(&net, &["--pps", "5000", "--duration", "3"]);
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(200));
    let got = rx(&net) - before;
    assert_eq!(got, reported_total(&out));
    let want = 15_000.0;
    assert!(
        (got as f64 - want).abs() <= want * 0.05,
        "{got} frames in 3 s at 5000 pps"
    );
}

/// A classic pcap file of `frames` (microsecond timestamps).
fn write_pcap(path: &Path, frames: &[(u64, Vec<u8>)]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for (ts_us, f) in frames {
        b.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn replay_sends_the_same_bytes() {
    if !ringcap_netlab::can_run("replay_sends_the_same_bytes")
        || !ringcap_netlab::skip::tools(&["tcpdump"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let frames: Vec<(u64, Vec<u8>)> = (0..500u32)
        .map(|i| {
            let size = 60 + (i as usize * 37) % 1455;
            (
                1_700_000_000_000_000 + i as u64 * 10,
                ringcap_netlab::udp_frame(i, i as u16, size),
            )
        })
        .collect();
    let file = tmp("replay-in.pcap");
    write_pcap(&file, &frames);

    // One thread: the same bytes in the same order, twice with --loop 2.
    let dump = Tcpdump::start(&net, "replay-out.pcap", 1000);
    let path_s = file.to_str().unwrap();
    let out = gen(&net, &["--replay", path_s, "--threads", "1", "--loop", "2"]);
    assert!(out.status.success());
    assert_eq!(reported_total(&out), 1000);
    let got = frames_of(&dump.finish());
    assert_eq!(got.len(), 1000);
    for (i, (_, f)) in got.iter().enumerate() {
        assert_eq!(f, &frames[i % 500].1, "frame {i}");
    }

    // Several threads: every frame once (order across threads is free).
    let dump = Tcpdump::start(&net, "replay-out2.pcap", 500);
    let out = gen(&net, &["--replay", path_s, "--threads", "2"]);
    assert!(out.status.success());
    let mut got: Vec<Vec<u8>> = frames_of(&dump.finish()).into_iter().map(|x| x.1).collect();
    let mut want: Vec<Vec<u8>> = frames.iter().map(|x| x.1.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn replay_keeps_the_files_timing() {
    if !ringcap_netlab::can_run("replay_keeps_the_files_timing")
        || !ringcap_netlab::skip::tools(&["tcpdump"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    // Five frames 150 ms apart.
    let frames: Vec<(u64, Vec<u8>)> = (0..5u32)
        .map(|i| (i as u64 * 150_000, ringcap_netlab::udp_frame(i, 1, 60)))
        .collect();
    let file = tmp("timing.pcap");
    write_pcap(&file, &frames);
    let dump = Tcpdump::start(&net, "timing-out.pcap", 5);
    let out = gen(
        &net,
        &["--replay", file.to_str().unwrap(), "--timing", "file"],
    );
    assert!(out.status.success());
    let got = frames_of(&dump.finish());
    assert_eq!(got.len(), 5);
    for w in got.windows(2) {
        let gap_ms = (w[1].0 - w[0].0) as f64 / 1e6;
        assert!(
            (120.0..=200.0).contains(&gap_ms),
            "gap {gap_ms} ms, want ~150"
        );
    }
}

#[test]
fn oversized_replay_frames_are_refused_and_counted() {
    if !ringcap_netlab::can_run("oversized_replay_frames_are_refused_and_counted") {
        return;
    }
    let net = TestNet::new().unwrap();
    net.ip(&["link", "set", net.peer_if(), "mtu", "1000"])
        .unwrap();
    let frames: Vec<(u64, Vec<u8>)> = [100usize, 1014, 1015, 1400, 60]
        .iter()
        .enumerate()
        .map(|(i, &s)| (i as u64, ringcap_netlab::udp_frame(i as u32, 1, s)))
        .collect();
    let file = tmp("oversized.pcap");
    write_pcap(&file, &frames);
    let before = rx(&net);
    let out = gen(
        &net,
        &["--replay", file.to_str().unwrap(), "--threads", "1"],
    );
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("total: 3 frames"), "{s}");
    assert!(s.contains("2 refused"), "{s}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rx(&net) - before, 3);
}

#[test]
fn bad_input_is_one_line_and_nonzero() {
    if !ringcap_netlab::can_run("bad_input_is_one_line_and_nonzero") {
        return;
    }
    let net = TestNet::new().unwrap();
    net.ip(&[
        "link", "add", "rcdown", "type", "veth", "peer", "name", "rcdown1",
    ])
    .unwrap();
    let garbage = tmp("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let g = garbage.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["-i", "nosuch0"], "no interface named"),
        (&["-i", "rcdown"], "is down"),
        (&["-i", "rc1", "-t", "udp", "--size", "59"], "out of range"),
        (
            &["-i", "rc1", "-t", "udp", "--size", "9001"],
            "out of range",
        ),
        (&["-i", "rc1", "-t", "udp", "--size", "2000"], "MTU"),
        (&["-i", "rc1", "--pps", "5G"], "out of range"),
        (&["-i", "rc1", "--src-port", "9-3"], "invalid port range"),
        (
            &["-i", "rc1", "--dst-ip", "10.0.0.9-10.0.0.1"],
            "invalid address range",
        ),
        (&["-i", "rc1", "--src-ip", "10.0.0.1/40"], "prefix length"),
        (
            &["-i", "rc1", "--dst-ip", "fd00::1", "--src-ip", "10.0.0.1"],
            "IPv",
        ),
        (&["-i", "rc1", "-t", "tcp"], "unknown template"),
        (&["-i", "rc1", "--threads", "0"], "out of range"),
        (&["-i", "rc1", "-c", "0"], "at least 1"),
        (&["-i", "rc1", "--cpus", "4000"], "not available"),
        (
            &["-i", "rc1", "--replay", "/nonexistent/x.pcap"],
            "cannot open",
        ),
        (&["-i", "rc1", "--replay", g], "not a pcap"),
        (&["-i", "rc1", "--src-mac", "02:00"], "invalid MAC"),
    ];
    for (args, want) in cases {
        let out = net
            .command(BIN)
            .arg("gen")
            .args(*args)
            .args(if args.contains(&"-c") {
                &[][..]
            } else {
                &["-c", "1"][..]
            })
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err:?} lacks {want:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn ctrl_c_stops_a_flood_with_exact_totals() {
    if !ringcap_netlab::can_run("ctrl_c_stops_a_flood_with_exact_totals")
        || !ringcap_netlab::skip::tools(&["kill"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let before = rx(&net);
    let child = net
        .command(BIN)
        .args(["gen", "-i", net.peer_if(), "-q", "--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    // `ip netns exec` execs ringcap, so the child's pid is ringcap's.
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}", out.status);
    let total = reported_total(&out);
    assert!(total > 0);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rx(&net) - before, total);
}
