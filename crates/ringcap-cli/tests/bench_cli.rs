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

/// Mount points the bench `pid` made that are still mounted.
fn mounts_of(pid: u32) -> Vec<String> {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("ringcap-bench-{pid}")))
        .map(str::to_owned)
        .collect()
}

/// The bench's scratch directory for `pid` is gone (private tmpfs and /dev/shm fallback).
fn scratch_gone(pid: u32) -> bool {
    let name = format!("ringcap-bench-{pid}");
    !std::env::temp_dir().join(&name).exists()
        && !std::path::Path::new("/dev/shm").join(&name).exists()
}

/// Runs a bench to its end: its pid (names its namespace and scratch), its output, and its
/// standard error as text, after checking that it succeeded.
fn bench_ok(args: &[&str]) -> (u32, std::process::Output, String) {
    let child = Command::new(BIN)
        .arg("bench")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (pid, out, err)
}

#[test]
fn a_short_bench_adds_up_and_cleans_up() {
    if !ringcap_netlab::can_run("a_short_bench_adds_up") {
        return;
    }
    let (pid, out, _) = bench_ok(&[
        "--seconds",
        "1",
        "--modes",
        "recv1,ring1",
        "--json",
        "--compare",
        "none",
    ]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"mode\":\"recv x1\""), "{json}");
    assert!(json.contains("\"mode\":\"ring x1\""), "{json}");
    assert!(!json.contains("\"adds_up\":false"), "{json}");
    assert!(namespaces_of(pid).is_empty(), "namespace left behind");
}

#[test]
fn ctrl_c_during_a_bench_leaves_no_namespace() {
    if !ringcap_netlab::can_run("ctrl_c_during_a_bench") || !ringcap_netlab::skip::tools(&["kill"])
    {
        return;
    }
    let child = Command::new(BIN)
        .args([
            "bench",
            "--seconds",
            "5",
            "--modes",
            "ring1,recv1",
            "--write",
            "--compare",
            "none",
        ])
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
    assert!(
        mounts_of(pid).is_empty(),
        "tmpfs left mounted: {:?}",
        mounts_of(pid)
    );
    assert!(scratch_gone(pid), "scratch directory left behind");
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
            "--write",
            "--compare",
            "none",
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
    assert!(
        mounts_of(pid).is_empty(),
        "tmpfs left mounted after an error"
    );
    assert!(
        scratch_gone(pid),
        "scratch directory left behind after an error"
    );
}

/// The capture-to-disk comparison: ringcap and tcpdump write to the same private tmpfs, each
/// round runs both, the paired CPU ratios are reported, every run adds up, and the files, the
/// mount and the network are gone afterwards.
#[test]
fn write_runs_compare_with_tcpdump_and_clean_up() {
    if !ringcap_netlab::can_run("write_runs_compare_with_tcpdump")
        || !ringcap_netlab::skip::tools(&["tcpdump", "taskset"])
    {
        return;
    }
    let (pid, out, err) = bench_ok(&[
        "--seconds",
        "1",
        "--modes",
        "ring1",
        "--write",
        "--runs",
        "2",
        "--json",
        "--compare",
        "tcpdump",
    ]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"mode\":\"ring x1 -w tmpfs\""), "{json}");
    assert!(!json.contains("\"adds_up\":false"), "{json}");
    assert!(
        err.contains("[run 2/2]"),
        "runs are reported one by one: {err}"
    );
    assert!(err.contains("median of 2 runs"), "{err}");
    assert!(err.contains("--write: files"), "{err}");
    assert!(json.contains("\"mode\":\"tcpdump -w tmpfs\""), "{json}");
    // Both rounds paired: the ratio has two values.
    let r = json
        .split("\"cpu_ratios\":[")
        .nth(1)
        .expect("cpu_ratios in the JSON");
    let each = r
        .split("\"each\":[")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    assert_eq!(each.split(',').count(), 2, "{json}\n{err}");
    assert!(err.contains("x that of tcpdump -w tmpfs"), "{err}");
    assert!(namespaces_of(pid).is_empty(), "namespace left behind");
    assert!(mounts_of(pid).is_empty(), "tmpfs left mounted");
    assert!(scratch_gone(pid), "scratch directory left behind");
}

#[test]
fn bad_bench_options_get_one_line() {
    let out = Command::new(BIN)
        .args(["bench", "--modes", "warp"])
        .output()
        .unwrap();
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert!(err.contains("unknown mode"), "{err}");

    let out = Command::new(BIN)
        .args(["bench", "--write-dir", "/tmp"])
        .output()
        .unwrap();
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert!(err.contains("--write-dir needs --write"), "{err}");
}

/// `--compare` naming a tool that is not installed is a usage error, before anything is built
/// (the tool hidden from PATH; no root needed).
#[test]
fn compare_with_a_missing_tool_is_one_line_and_exit_2() {
    let dir = ringcap_netlab::tools::tmpdir("bench-no-tcpdump");
    let path = ringcap_netlab::tools::path_without(&dir, &["tcpdump", "netsniff-ng"]);
    let out = Command::new(BIN)
        .args(["bench", "--compare", "tcpdump"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("ringcap: --compare tcpdump: tcpdump is not installed (")
            && err.contains("tcpdump)"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["bench", "--compare", "wireshark"])
        .output()
        .unwrap();
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    // Without --compare, the missing tools are only named once the arguments are good.
    let out = Command::new(BIN)
        .args(["bench", "--modes", "warp"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert!(err.contains("unknown mode"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The main command on a machine without the compared tools (hidden from PATH): ringcap's own
/// rows, one line naming the missing tools with the command that installs them, exit 0.
#[test]
fn without_the_compared_tools_the_bench_names_them_and_passes() {
    if !ringcap_netlab::can_run("without_the_compared_tools") {
        return;
    }
    let dir = ringcap_netlab::tools::tmpdir("bench-no-tools");
    let path = ringcap_netlab::tools::path_without(&dir, &["tcpdump", "netsniff-ng"]);
    let child = Command::new(BIN)
        .args([
            "bench",
            "--seconds",
            "0.5",
            "--runs",
            "1",
            "--modes",
            "ring1",
        ])
        .args(["--json"])
        .env("PATH", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let note: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("not comparing"))
        .collect();
    assert_eq!(note.len(), 1, "{err}");
    assert!(
        note[0].starts_with("bench: not comparing with tcpdump, netsniff-ng: not installed (")
            && note[0].contains("tcpdump netsniff-ng"),
        "{err}"
    );
    if ringcap_netlab::tools::which("apt-get").is_some() {
        assert!(
            note[0].contains("apt-get install -y tcpdump netsniff-ng)"),
            "{err}"
        );
    }
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"mode\":\"ring x1\""), "{json}");
    assert!(
        !json.contains("tcpdump") && !json.contains("netsniff"),
        "{json}"
    );
    assert!(!json.contains("\"adds_up\":false"), "{json}");
    assert!(namespaces_of(pid).is_empty(), "namespace left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
