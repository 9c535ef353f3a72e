//! `ringcap capture` when one worker fails mid-capture (its output hits a full disk), with two
//! workers under traffic in a private network namespace: the capture ends at once, one error
//! line names the worker and the cause, the exit status is 1, and the summary still has every
//! worker's row in totals that add up. Root only.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::tools::tmpdir;
use ringcap_netlab::{can_run, udp_frame, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One summary row: worker (or "total"), received, kernel, dropped, past/unprocessed.
fn rows(stderr: &str) -> Vec<(String, [u64; 4])> {
    stderr
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 8 || !(f[0] == "total" || f[0].parse::<u64>().is_ok()) {
                return None;
            }
            let n: Vec<u64> = f[2..6].iter().filter_map(|v| v.parse().ok()).collect();
            (n.len() == 4).then(|| (f[0].to_string(), [n[0], n[1], n[2], n[3]]))
        })
        .collect()
}

#[test]
fn a_worker_whose_output_fails_ends_the_capture_with_one_line_naming_it() {
    if !can_run("a_worker_whose_output_fails_ends_the_capture")
        || !ringcap_netlab::skip::tools(&["mount", "umount"])
    {
        return;
    }
    let dir = tmpdir("worker-fails");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let _m = Mount(dir.clone());
    let net = TestNet::new().unwrap();
    let out = dir.join("out.pcap");
    let mut child = net
        .command(BIN)
        .args([
            "capture",
            "-i",
            "rc0",
            "--threads",
            "2",
            "--no-pin",
            "--fanout",
            "hash",
            "--mode",
            "ring",
            "--blocks",
            "8",
            "--duration",
            "30",
            "-q",
            "-w",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    // The sockets are open once the files exist; then send until ringcap ends. Each worker
    // buffers 1 MiB before it writes, so a few MB of traffic makes both reach the full disk.
    let ready = Instant::now();
    while !dir.join("out.1.pcap").exists() && ready.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let tx = net.sender().unwrap();
    let started = Instant::now();
    let mut sent = 0u32;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "the capture did not end on the failure"
        );
        if sent < 40_000 {
            for _ in 0..100 {
                tx.send(&udp_frame(sent, (sent % 97) as u16, 1000)).unwrap();
                sent += 1;
            }
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The error line: last, one line, naming the worker and the cause.
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("ringcap: worker "), "{err}");
    assert!(last.contains(" failed: writing stopped: "), "{err}");
    assert!(last.contains("No space left on device"), "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("ringcap: worker "))
            .count(),
        1,
        "{err}"
    );
    // Both workers and the total in the summary; the total is their sum, and it adds up.
    let r = rows(&err);
    let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0", "1", "total"], "{err}");
    for c in 0..4 {
        assert_eq!(r[2].1[c], r[0].1[c] + r[1].1[c], "column {c}: {err}");
    }
    assert!(
        r[0].1[0] > 0 && r[1].1[0] > 0,
        "a worker got no traffic: {err}"
    );
    assert!(err.contains("counts add up: "), "{err}");
    assert!(err.contains("ended: worker "), "{err}");
}
