//! `ringcap capture -w` end to end, in a private network namespace: with --per-worker-files
//! several workers each write a file, `ringcap merge` joins them, tshark reads every packet back
//! byte for byte (VLAN tags put back, or not with --no-vlan-restore); pcapng statistics blocks;
//! `-w -` into tshark; rotation; a full disk (a 64 KiB tmpfs) leaves a valid file and the
//! counts. Root only.

use std::path::{Path, PathBuf};
use std::process::Command;

use ringcap_netlab::tools::{tmpdir, tshark_frames as tshark, Frame};
use ringcap_netlab::{can_run, udp_frame, with_vlan, TestNet};

mod capture_common;

use capture_common::{finish, now_ns, start};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// The frames sent: every third carries an 802.1Q tag, every fifth an 802.1ad tag.
fn frames(n: u32, size: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let f = udp_frame(i, i as u16, size + (i as usize * 31) % 400);
            if i % 3 == 0 {
                with_vlan(&f, 0x8100, 0x2000 | (i as u16 % 4000 + 1))
            } else if i % 5 == 0 {
                with_vlan(&f, 0x88a8, 0x4000 | 77)
            } else {
                f
            }
        })
        .collect()
}

fn send(net: &TestNet, fr: &[Vec<u8>]) {
    let s = net.sender().unwrap();
    for f in fr {
        s.send(f).unwrap();
    }
}

fn strip_tag(f: &[u8]) -> Vec<u8> {
    if matches!(&f[12..14], [0x81, 0x00] | [0x88, 0xa8]) {
        [&f[..12], &f[16..]].concat()
    } else {
        f.to_vec()
    }
}

fn check_packets(got: &[Frame], sent: &[Vec<u8>], restored: bool, t0: u64, t1: u64) {
    assert_eq!(got.len(), sent.len());
    let mut want: Vec<Vec<u8>> = sent
        .iter()
        .map(|f| if restored { f.clone() } else { strip_tag(f) })
        .collect();
    let mut have: Vec<Vec<u8>> = got.iter().map(|g| g.bytes.clone()).collect();
    for g in got {
        assert_eq!(g.len as usize, g.bytes.len());
        assert!(
            g.ts_ns >= t0 && g.ts_ns <= t1,
            "timestamp {} outside {t0}..{t1}",
            g.ts_ns
        );
    }
    want.sort();
    have.sort();
    assert!(
        want == have,
        "the packets in the file are not the frames sent"
    );
}

fn capinfos_count(f: &Path) -> u64 {
    let out = Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn workers_write_files_merge_restores_vlans() {
    if !can_run("workers_write_files_merge_restores_vlans")
        || !ringcap_netlab::skip::tools(&["capinfos", "tshark"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("workers");
    for (restore, format) in [(true, "pcap"), (false, "pcapng")] {
        let base = dir.join(format!("out-{restore}.{format}"));
        let sent = frames(120, 90);
        let script = format!(
            "exec {BIN} capture -i rc0 -c 120 --duration 20 --threads 2 --mode ring --fanout hash --blocks 8 --per-worker-files -w {} --format {format} {}",
            base.display(),
            if restore { "" } else { "--no-vlan-restore" }
        );
        let (child, err) = start(&net, &script);
        let t0 = now_ns();
        send(&net, &sent);
        let (code, _, e) = finish(child, err);
        let t1 = now_ns();
        assert_eq!(code, 0, "{e}");
        assert!(e.contains("output: 120 packets written to 2 files"), "{e}");
        let f0 = dir.join(format!("out-{restore}.0.{format}"));
        let f1 = dir.join(format!("out-{restore}.1.{format}"));
        assert_eq!(capinfos_count(&f0) + capinfos_count(&f1), 120);
        let all = dir.join(format!("all-{restore}.{format}"));
        let m = Command::new(BIN)
            .args(["merge", "-w"])
            .arg(&all)
            .arg(&f0)
            .arg(&f1)
            .output()
            .unwrap();
        assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
        let got = tshark(&all);
        assert!(
            got.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns),
            "merge is not in time order"
        );
        check_packets(&got, &sent, restore, t0 - 1_000_000_000, t1);
        if format == "pcapng" {
            // Each worker's file ends with its interface statistics block.
            let v = Command::new("tshark")
                .arg("-r")
                .arg(&f0)
                .args(["-X", "read_format:MIME Files Format", "-V"])
                .output()
                .unwrap();
            let v = String::from_utf8_lossy(&v.stdout);
            assert!(v.contains("Interface Statistics Block"), "no ISB");
            assert!(v.contains("Number of Dropped Packets = 0"), "{v}");
            assert!(v.contains("Number of Received Packets = "), "{v}");
            let info = Command::new("capinfos").arg(&f0).output().unwrap();
            let info = String::from_utf8_lossy(&info.stdout);
            assert!(
                info.contains("Number of stat entries = 1") && info.contains("Name = rc0"),
                "{info}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stdout_into_tshark() {
    if !can_run("stdout_into_tshark") || !ringcap_netlab::skip::tools(&["tshark"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let sent = frames(60, 100);
    let script = format!(
        "{BIN} capture -i rc0 -c 60 --duration 20 --threads 2 --mode ring --blocks 8 -w - | tshark -r - -T fields -e frame.len"
    );
    let (child, err) = start(&net, &script);
    send(&net, &sent);
    let (code, out, e) = finish(child, err);
    assert_eq!(code, 0, "{e}");
    let mut got: Vec<usize> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
    let mut want: Vec<usize> = sent.iter().map(Vec::len).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn rotation_ring_and_snaplen() {
    if !can_run("rotation_ring_and_snaplen") || !ringcap_netlab::skip::tools(&["tshark"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("rot");
    let base = dir.join("ring.pcap");
    let sent: Vec<Vec<u8>> = (0..100).map(|i| udp_frame(i, 1, 1000)).collect();
    let script = format!(
        "exec {BIN} capture -i rc0 -c 100 --duration 20 --threads 1 --mode ring --blocks 8 -s 600 -C 0.02 -W 3 -w {}",
        base.display()
    );
    let (child, err) = start(&net, &script);
    send(&net, &sent);
    let (code, _, e) = finish(child, err);
    assert_eq!(code, 0, "{e}");
    // 20 000 bytes per file, 616-byte records: 33 per file, a ring of three.
    let mut total = 0;
    for n in 0..3 {
        let f = PathBuf::from(format!("{}{n}", base.display()));
        let got = tshark(&f);
        for g in &got {
            assert_eq!(g.len, 1000);
            assert_eq!(g.bytes.len(), 600);
        }
        assert!(got.len() <= 33);
        total += got.len();
    }
    assert!(total < 100 && total > 33, "{total}");
    assert!(e.contains("output: 100 packets written to 4 files"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The line of `text` starting with `prefix`, and the numbers in it in order.
pub fn line_numbers<'a>(text: &'a str, prefix: &str) -> (&'a str, Vec<u64>) {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"));
    let nums = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (line, nums)
}

/// Unmounts on drop.
struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn full_disk_leaves_a_valid_file_and_counts() {
    if !can_run("full_disk_leaves_a_valid_file_and_counts")
        || !ringcap_netlab::skip::tools(&["mount", "umount", "capinfos", "tshark"])
    {
        return;
    }
    let dir = tmpdir("full");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let _m = Mount(dir.clone());
    let net = TestNet::new().unwrap();
    let out = dir.join("out.pcap");
    let sent: Vec<Vec<u8>> = (0..200).map(|i| udp_frame(i, 1, 1000)).collect();
    let script = format!(
        "exec {BIN} capture -i rc0 -c 200 --duration 20 --threads 1 --mode ring --blocks 8 -w {}",
        out.display()
    );
    let (child, err) = start(&net, &script);
    send(&net, &sent);
    let (code, _, e) = finish(child, err);
    assert_eq!(code, 1, "{e}");
    // "output: W packets written to 1 file, N not written (…No space left on device…)"
    let (line, nums) = line_numbers(&e, "output:");
    let (written, not_written) = (nums[0], nums[2]);
    // The first failed write ends the capture, so frames still on the wire then are never
    // received: what was received is all written or counted as not written.
    // "counts add up: kernel K = received R + past -c (or unprocessed) P + dropped D"
    let (counts, c) = line_numbers(&e, "counts add up:");
    let (kernel, received, past, dropped) = (c[0], c[1], c[2], c[3]);
    assert_eq!(kernel, received + past + dropped, "{counts}");
    assert!(kernel <= 200, "{counts}");
    assert_eq!(written + not_written, received, "{line}\n{counts}");
    assert!(written > 0 && not_written > 0, "{line}");
    assert!(line.contains("No space left on device"), "{line}");
    assert_eq!(capinfos_count(&out), written);
    let got = tshark(&out);
    assert_eq!(got.len() as u64, written);
    assert!(got.iter().all(|g| g.len == 1000 && g.bytes.len() == 1000));

    // The same through `read -w` and `merge`: valid file, counts in the error.
    let big = std::env::temp_dir().join(format!("ringcap-big-{}.pcap", std::process::id()));
    let cp = Command::new(BIN)
        .args(["merge", "-w"])
        .arg(&big)
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert!(cp.status.success());
    let _ = std::fs::remove_file(&out);
    for cmd in [["read", "-w"], ["merge", "-w"]] {
        let target = dir.join("again.pcap");
        let mut c = Command::new(BIN);
        if cmd[0] == "read" {
            c.args(["read", "-r"]).arg(&big).arg("-w").arg(&target);
        } else {
            c.args(["merge", "-w"]).arg(&target).arg(&big).arg(&big);
        }
        let r = c.output().unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{err}");
        assert!(
            err.contains("packets written") && err.contains("not written"),
            "{err}"
        );
        let before = &err[..err.find(" packets written").unwrap()];
        let n: u64 = before.rsplit(['(', ' ']).next().unwrap().parse().unwrap();
        assert_eq!(capinfos_count(&target), n, "{err}");
        let _ = std::fs::remove_file(&target);
    }
    let _ = std::fs::remove_file(&big);
}

#[test]
fn unwritable_path_fails_before_capture() {
    if !can_run("unwritable_path_fails_before_capture") {
        return;
    }
    let net = TestNet::new().unwrap();
    let o = net
        .command(BIN)
        .args([
            "capture",
            "-i",
            "rc0",
            "-c",
            "1",
            "-w",
            "/nonexistent-dir/x.pcap",
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.contains("/nonexistent-dir") && !e.contains("capturing on"),
        "{e}"
    );
}
