//! `ringcap read` and `ringcap merge` against files the real tools write: tcpdump (pcap micro
//! and nano, `-i any` in SLL and SLL2), editcap (pcapng), dumpcap (pcapng with two interfaces),
//! text2pcap; counts, per-packet lengths and timestamps compared with tshark. Live traffic only
//! in a private namespace (ringcap-netlab); those tests need root and skip otherwise.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::tools::{epoch_ns, stdout_of, tmpdir, tshark_times as tshark_packets};
use ringcap_netlab::{can_run, udp_frame, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// (timestamp ns, length) of each packet, as `ringcap read --epoch` prints them.
fn ringcap_packets(file: &Path) -> (Vec<(u64, u32)>, Vec<String>) {
    let text = stdout_of(Command::new(BIN).args(["read", "--epoch", "-r"]).arg(file));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let pk = lines
        .iter()
        .map(|l| {
            let mut w = l.split(' ');
            let t = epoch_ns(w.next().unwrap());
            assert_eq!(w.next(), Some("len"), "{l}");
            (t, w.next().unwrap().parse().unwrap())
        })
        .collect();
    (pk, lines)
}

fn ringcap_count(file: &Path) -> u64 {
    let s = stdout_of(Command::new(BIN).args(["read", "--count", "-r"]).arg(file));
    s.split_whitespace().next().unwrap().parse().unwrap()
}

fn tcpdump_count(file: &Path) -> u64 {
    let out = Command::new("tcpdump")
        .args(["--count", "-r"])
        .arg(file)
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// Starts a capture tool in the namespace and waits until it says it is listening.
fn start(net: &TestNet, tool: &str, args: &[&str]) -> Child {
    let mut child = net
        .command(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if !sent && (line.contains("listening on") || line.contains("Capturing on")) {
                let _ = tx.send(());
                sent = true;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the capture tool did not start");
    std::thread::sleep(Duration::from_millis(200));
    child
}

fn wait(mut child: Child) {
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "capture tool failed: {st}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the capture tool did not finish");
}

fn send(net: &TestNet, n: u32, size: usize) {
    let s = net.sender().unwrap();
    for i in 0..n {
        s.send(&udp_frame(i, i as u16, size + (i as usize * 53) % 900))
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn agree(file: &Path, n: u64) {
    assert_eq!(ringcap_count(file), n, "{}", file.display());
    assert_eq!(tcpdump_count(file), n, "{}", file.display());
    let ts = tshark_packets(file);
    let (rc, _) = ringcap_packets(file);
    assert_eq!(ts.len() as u64, n);
    assert_eq!(rc, ts, "{}", file.display());
}

#[test]
fn tcpdump_pcap_micro_nano_and_editcap_pcapng() {
    if !can_run("tcpdump_pcap_micro_nano_and_editcap_pcapng")
        || !ringcap_netlab::skip::tools(&["tcpdump", "editcap", "tshark"])
    {
        return;
    }
    let dir = tmpdir("td");
    let net = TestNet::new().unwrap();
    for prec in ["micro", "nano"] {
        let f = dir.join(format!("td-{prec}.pcap"));
        let fs = f.to_str().unwrap();
        let td = start(
            &net,
            "tcpdump",
            &[
                "-i",
                "rc0",
                "-n",
                "-U",
                "-c",
                "40",
                "--time-stamp-precision",
                prec,
                "-w",
                fs,
            ],
        );
        send(&net, 40, 80);
        wait(td);
        agree(&f, 40);
        let magic = std::fs::read(&f).unwrap()[..4].to_vec();
        let want: &[u8] = if prec == "nano" {
            &[0x4d, 0x3c, 0xb2, 0xa1]
        } else {
            &[0xd4, 0xc3, 0xb2, 0xa1]
        };
        assert_eq!(magic, want);
        // The same packets as pcapng (editcap) and through standard input.
        let ng = dir.join(format!("td-{prec}.pcapng"));
        let st = Command::new("editcap")
            .args(["-F", "pcapng"])
            .arg(&f)
            .arg(&ng)
            .status()
            .unwrap();
        assert!(st.success());
        agree(&ng, 40);
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{BIN} read --count -r - < {}", ng.display()))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "40 packets");
        // Filters (ringcap-filter) agree with tcpdump's, and `-w` copies what they take.
        for expr in [
            "udp",
            "tcp",
            "src host 10.0.0.3",
            "udp src port 10005 or udp src port 10007",
        ] {
            let words: Vec<&str> = expr.split(' ').collect();
            let td = Command::new("tcpdump")
                .args(["--count", "-r"])
                .arg(&f)
                .args(&words)
                .output()
                .unwrap();
            let want = String::from_utf8_lossy(&td.stdout)
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            let rc = Command::new(BIN)
                .args(["read", "--count", "-r"])
                .arg(&f)
                .args(&words)
                .output()
                .unwrap();
            assert!(
                rc.status.success(),
                "{}",
                String::from_utf8_lossy(&rc.stderr)
            );
            let got = String::from_utf8_lossy(&rc.stdout)
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            assert_eq!(got, want, "filter {expr:?}");
        }
        let sel = dir.join(format!("sel-{prec}.pcap"));
        let rc = Command::new(BIN)
            .args(["read", "-r"])
            .arg(&f)
            .arg("-w")
            .arg(&sel)
            .args(["udp", "src", "port", "10005"])
            .output()
            .unwrap();
        assert!(
            rc.status.success(),
            "{}",
            String::from_utf8_lossy(&rc.stderr)
        );
        assert_eq!(tcpdump_count(&sel), 1);
        // The one-line decode names the UDP ports the frames carry.
        let (_, lines) = ringcap_packets(&f);
        assert!(
            lines[3].contains("IPv4 10.0.0.3.10003 > 10.1.0.1.9: UDP"),
            "{}",
            lines[3]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tcpdump_any_sll_and_sll2() {
    if !can_run("tcpdump_any_sll_and_sll2") || !ringcap_netlab::skip::tools(&["tcpdump", "tshark"])
    {
        return;
    }
    let dir = tmpdir("any");
    let net = TestNet::new().unwrap();
    for (lt, word) in [("LINUX_SLL", "SLL "), ("LINUX_SLL2", "SLL2 ")] {
        let f = dir.join(format!("{lt}.pcap"));
        let td = start(
            &net,
            "tcpdump",
            &[
                "-i",
                "any",
                "-y",
                lt,
                "-n",
                "-U",
                "-c",
                "20",
                "-w",
                f.to_str().unwrap(),
            ],
        );
        send(&net, 20, 100);
        wait(td);
        agree(&f, 20);
        let (_, lines) = ringcap_packets(&f);
        assert!(
            lines.iter().all(|l| l.contains(word) && l.contains("UDP")),
            "{lines:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dumpcap_two_interfaces_then_merge() {
    if !can_run("dumpcap_two_interfaces_then_merge")
        || !ringcap_netlab::skip::tools(&["dumpcap", "tcpdump", "mergecap", "tshark", "capinfos"])
    {
        return;
    }
    let dir = tmpdir("dumpcap");
    let net = TestNet::new().unwrap();
    let f = dir.join("two.pcapng");
    // Both ends of the veth see every frame: 2 × 25 packets on two interfaces.
    let dc = start(
        &net,
        "dumpcap",
        &[
            "-i",
            "rc0",
            "-i",
            "rc1",
            "-c",
            "50",
            "-q",
            "-w",
            f.to_str().unwrap(),
        ],
    );
    send(&net, 25, 70);
    wait(dc);
    agree(&f, 50);
    // Merge it with an SLL capture: pcap cannot hold both link types, pcapng can.
    let sll = dir.join("sll.pcap");
    let td = start(
        &net,
        "tcpdump",
        &[
            "-i",
            "any",
            "-n",
            "-U",
            "-c",
            "10",
            "--time-stamp-precision",
            "nano",
            "-w",
            sll.to_str().unwrap(),
        ],
    );
    send(&net, 10, 70);
    wait(td);
    let out = dir.join("m.pcap");
    let r = Command::new(BIN)
        .args(["merge", "--format", "pcap", "-w"])
        .arg(&out)
        .arg(&f)
        .arg(&sll)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("one link type") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out.exists(), "a refused merge leaves no file");
    let out = dir.join("m.pcapng");
    let r = Command::new(BIN)
        .args(["merge", "--format", "pcapng", "-w"])
        .arg(&out)
        .arg(&f)
        .arg(&sll)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let reference = dir.join("ref.pcapng");
    assert!(Command::new("mergecap")
        .arg("-w")
        .arg(&reference)
        .arg(&f)
        .arg(&sll)
        .status()
        .unwrap()
        .success());
    // dumpcap's file is not in strict time order itself (two interfaces); the merge must give
    // exactly mergecap's sequence.
    let a = tshark_packets(&out);
    let b = tshark_packets(&reference);
    assert_eq!(a.len(), 60);
    assert_eq!(a, b);
    let ifs = Command::new("capinfos").arg(&out).output().unwrap();
    let ifs = String::from_utf8_lossy(&ifs.stdout).into_owned();
    assert!(ifs.contains("Number of interfaces in file: 3"), "{ifs}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file from text2pcap (no root needed): damaged copies give the packets before the damage,
/// one error line with the offset, exit 1.
#[test]
fn damaged_files_report_offset() {
    if !ringcap_netlab::skip::tools(&["text2pcap", "tshark"]) {
        return;
    }
    let dir = tmpdir("damaged");
    let txt = dir.join("in.txt");
    let mut hex = String::new();
    for i in 0..5u32 {
        let f = udp_frame(i, 1, 100);
        for (k, chunk) in f.chunks(16).enumerate() {
            hex.push_str(&format!("{:04x} ", k * 16));
            for b in chunk {
                hex.push_str(&format!(" {b:02x}"));
            }
            hex.push('\n');
        }
        hex.push('\n');
    }
    std::fs::write(&txt, hex).unwrap();
    for (format, name) in [("pcap", "t.pcap"), ("pcapng", "t.pcapng")] {
        let f = dir.join(name);
        let st = Command::new("text2pcap")
            .args(["-q", "-F", format])
            .arg(&txt)
            .arg(&f)
            .status()
            .unwrap();
        assert!(st.success());
        agree_offline(&f, 5);
        let data = std::fs::read(&f).unwrap();
        let cut = dir.join(format!("cut-{name}"));
        std::fs::write(&cut, &data[..data.len() - 40]).unwrap();
        let out = Command::new(BIN)
            .args(["read", "-r"])
            .arg(&cut)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("at byte offset") && err.lines().count() == 1,
            "{err}"
        );
        // A record that claims 2 GB.
        let mut big = data.clone();
        if format == "pcap" {
            big[24 + 8..24 + 12].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        }
        let bigf = dir.join(format!("big-{name}"));
        std::fs::write(&bigf, &big).unwrap();
        if format == "pcap" {
            let out = Command::new(BIN)
                .args(["read", "-r"])
                .arg(&bigf)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("at byte offset 24") && err.contains("limit"),
                "{err}"
            );
        }
    }
    let junk = dir.join("junk");
    std::fs::write(&junk, b"hello, this is not a capture").unwrap();
    let out = Command::new(BIN)
        .args(["read", "-r"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn agree_offline(file: &Path, n: u64) {
    assert_eq!(ringcap_count(file), n);
    let (rc, _) = ringcap_packets(file);
    assert_eq!(rc, tshark_packets(file));
}

/// `read -w` copies whole files, in either format; tshark sees the same packets.
#[test]
fn read_copy_to_other_format() {
    if !ringcap_netlab::skip::tools(&["text2pcap", "tshark"]) {
        return;
    }
    let dir = tmpdir("copy");
    let txt = dir.join("in.txt");
    let mut hex = String::new();
    for i in 0..7u32 {
        for (k, chunk) in udp_frame(i, 2, 200).chunks(16).enumerate() {
            hex.push_str(&format!("{:04x} ", k * 16));
            for b in chunk {
                hex.push_str(&format!(" {b:02x}"));
            }
            hex.push('\n');
        }
    }
    std::fs::write(&txt, hex).unwrap();
    let f = dir.join("t.pcapng");
    let st = Command::new("text2pcap")
        .arg("-q")
        .arg(&txt)
        .arg(&f)
        .status()
        .unwrap();
    assert!(st.success());
    for fmt in ["pcap", "pcapng"] {
        let out = dir.join(format!("copy.{fmt}"));
        let r = Command::new(BIN)
            .args(["read", "--format", fmt, "-r"])
            .arg(&f)
            .arg("-w")
            .arg(&out)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        assert_eq!(tshark_packets(&out), tshark_packets(&f));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
