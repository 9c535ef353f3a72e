//! Helpers of the CLI tests that run `ringcap capture` under `sh -c` in a test namespace and
//! wait for its summary (pcap_capture, output_files).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringcap_netlab::TestNet;

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Starts `sh -c script` in the namespace; returns once ringcap says it is capturing. Its
/// standard error is collected in the returned receiver.
pub fn start(net: &TestNet, script: &str) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = net
        .command("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (all_tx, all_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut sent = false;
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if !sent && line.contains("capturing on") {
                let _ = ready_tx.send(());
                sent = true;
            }
            text.push_str(&line);
            text.push('\n');
        }
        let _ = ready_tx.send(());
        let _ = all_tx.send(text);
    });
    ready_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("capture did not start");
    std::thread::sleep(Duration::from_millis(300));
    (child, all_rx)
}

/// Waits for the child; returns (exit code, stdout, stderr).
pub fn finish(mut child: Child, err: std::sync::mpsc::Receiver<String>) -> (i32, String, String) {
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("capture did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let e = err.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    (status.code().unwrap_or(-1), out, e)
}
