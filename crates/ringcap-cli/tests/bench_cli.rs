//! `ringcap bench` end to end: a short run adds up and leaves nothing behind, also when it is
//! interrupted or fails half way. (Throughput is measured by the bench itself, never asserted.)

use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

fn namespaces_of(pid: u32) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("ringcap-{pid}-")))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_short_bench_adds_up_and_cleans_up() {
    if !ringcap_netlab::can_run("a_short_bench_adds_up") {
        return;
    }
    let child = Command::new(BIN)
        .args([
            "bench",
            "--seconds",
            "1",
            "--modes",
            "recv1,ring1",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"mode\":\"recv x1\""), "{json}");
    assert!(json.contains("\"mode\":\"ring x1\""), "{json}");
    assert!(!json.contains("\"adds_up\":false"), "{json}");
    assert!(namespaces_of(pid).is_empty(), "namespace left behind");
}

#[test]
fn ctrl_c_during_a_bench_leaves_no_namespace() {
    if !ringcap_netlab::can_run("ctrl_c_during_a_bench") {
        return;
    }
    let child = Command::new(BIN)
        .args(["bench", "--seconds", "5", "--modes", "ring1,recv1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        namespaces_of(pid).len(),
        1,
        "the bench network should exist while it runs"
    );
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        namespaces_of(pid).is_empty(),
        "namespace left behind after Ctrl-C: {err}"
    );
    // Nothing left in the host namespace either.
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains("rc0"));
}

#[test]
fn a_failing_generator_still_cleans_up() {
    if !ringcap_netlab::can_run("a_failing_generator_still_cleans_up") {
        return;
    }
    // CPU 4095 does not exist: the generator fails after the network was built.
    let child = Command::new(BIN)
        .args([
            "bench",
            "--seconds",
            "1",
            "--modes",
            "ring1",
            "--gen-cpus",
            "4095",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        namespaces_of(pid).is_empty(),
        "namespace left behind after an error: {err}"
    );
}

#[test]
fn bad_bench_options_get_one_line() {
    let out = Command::new(BIN)
        .args(["bench", "--modes", "warp"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("unknown mode"), "{err}");
}
