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
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        err.contains("[run 2/2]"),
        "runs are reported one by one: {err}"
    );
    assert!(err.contains("median of 2 runs"), "{err}");
    assert!(err.contains("--write: files"), "{err}");
    // Every run of both contenders, in order, each one a good run that adds up (a failed one
    // names itself, why, and what the tool said).
    let runs = json["each_run"].as_array().expect("each_run in the JSON");
    let names: Vec<(&str, u64)> = runs
        .iter()
        .map(|r| (r["mode"].as_str().unwrap(), r["round"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("ring x1 -w tmpfs", 1),
            ("tcpdump -w tmpfs", 1),
            ("ring x1 -w tmpfs", 2),
            ("tcpdump -w tmpfs", 2)
        ],
        "{json}"
    );
    for r in runs {
        assert!(
            r["adds_up"] == true && r["failure"].is_null() && r["captured"].as_u64() > Some(0),
            "run {} of {} failed or does not add up: {}; its stderr: {}\n{err}",
            r["round"],
            r["mode"],
            r["failure"],
            r["stderr_tail"]
        );
    }
    // Both rounds paired: the ratio has two values, and none is missing.
    let ratio = &json["cpu_ratios"][0];
    assert_eq!(ratio["mode"], "ring x1 -w tmpfs", "{json}");
    assert_eq!(ratio["versus"], "tcpdump -w tmpfs", "{json}");
    let each = ratio["each"].as_array().expect("each in the ratio");
    assert_eq!(each.len(), 2, "{ratio}\n{err}");
    assert!(
        each.iter().all(|x| x.as_f64().is_some_and(|x| x > 0.0)),
        "{ratio}"
    );
    assert_eq!(ratio["unpaired"], serde_json::json!([]), "{ratio}");
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

/// A directory holding a `tcpdump` that runs the real one with `extra` arguments after the
/// bench's (the last `-w` wins, an expression filters): the real tool, made to fail.
fn tcpdump_with(dir: &std::path::Path, extra: &str) -> std::ffi::OsString {
    let real = ringcap_netlab::tools::which("tcpdump").expect("tcpdump");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("tcpdump");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec {} \"$@\" {extra}\n", real.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut path = bin.into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

/// Runs a short bench comparing ring x1 with the `tcpdump` of `path`: it must fail (exit 1),
/// clean up, and give its standard error and JSON.
fn bench_with_failing_tcpdump(path: &std::ffi::OsStr) -> (String, serde_json::Value) {
    let child = Command::new(BIN)
        .args([
            "bench",
            "--seconds",
            "0.5",
            "--runs",
            "2",
            "--modes",
            "ring1",
        ])
        .args(["--compare", "tcpdump", "--json"])
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed tool fails the bench: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(namespaces_of(pid).is_empty(), "namespace left behind");
    assert!(scratch_gone(pid), "scratch directory left behind");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (err, json)
}

/// What the bench must say about a compared tool that failed in every round: FAILED in its
/// lines and row, never "yes", the tool's own words, and why there is no ratio.
fn check_failed_tcpdump(err: &str, json: &serde_json::Value, why: &str, said: &str) {
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("tcpdump -w /dev/null "))
        .collect();
    // Two runs and the median row, each FAILED.
    assert_eq!(lines.len(), 3, "{err}");
    for l in &lines {
        assert!(l.contains("FAILED") && !l.contains(" yes"), "{l}\n{err}");
    }
    assert!(
        err.contains(&format!("tcpdump -w /dev/null FAILED: {why}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("| {said}")),
        "the tool's stderr tail: {err}"
    );
    assert!(
        err.contains("bench: ring x1: no CPU ratio to tcpdump -w /dev/null: run 1: tcpdump -w /dev/null failed: ")
            && err.contains("; run 2: tcpdump -w /dev/null failed: "),
        "{err}"
    );
    // ringcap's own row is fine.
    assert_eq!(json["results"][0]["mode"], "ring x1");
    assert_eq!(json["results"][0]["adds_up"], true, "{json}");
    let t = &json["results"][1];
    assert_eq!(t["mode"], "tcpdump -w /dev/null");
    assert_eq!(
        (t["failed"].clone(), t["adds_up"].clone()),
        (true.into(), false.into())
    );
    assert!(t["failure"].as_str().unwrap().starts_with(why), "{t}");
    assert!(
        t["stderr_tail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains(said)),
        "{t}"
    );
    assert_eq!(t["failed_rounds"], 2);
    let r = &json["cpu_ratios"][0];
    assert_eq!(r["median"], serde_json::Value::Null, "{r}");
    assert_eq!(r["unpaired"].as_array().unwrap().len(), 2, "{r}");
}

/// A compared tool that exits with an error (the real tcpdump pointed at a `-w` path that
/// cannot be created) is a FAILED run with its stderr, not a row of 100 % drops that adds up.
#[test]
fn a_tool_that_cannot_write_its_file_is_a_failed_run() {
    if !ringcap_netlab::can_run("a_tool_that_cannot_write_its_file")
        || !ringcap_netlab::skip::tools(&["tcpdump", "taskset"])
    {
        return;
    }
    let dir = ringcap_netlab::tools::tmpdir("bench-tcpdump-unwritable");
    let path = tcpdump_with(&dir, "-w /proc/ringcap-no-such-dir/tcpdump.pcap");
    let (err, json) = bench_with_failing_tcpdump(&path);
    check_failed_tcpdump(
        &err,
        &json,
        "exited",
        "tcpdump: /proc/ringcap-no-such-dir/tcpdump.pcap: No such file or directory",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A compared tool that runs and exits cleanly but captures none of the traffic (the real
/// tcpdump given a filter nothing matches) is a FAILED run too: "captured nothing of N frames
/// offered", its own count in the tail.
#[test]
fn a_tool_that_captures_nothing_is_a_failed_run() {
    if !ringcap_netlab::can_run("a_tool_that_captures_nothing")
        || !ringcap_netlab::skip::tools(&["tcpdump", "taskset"])
    {
        return;
    }
    let dir = ringcap_netlab::tools::tmpdir("bench-tcpdump-nothing");
    let path = tcpdump_with(&dir, "ether proto 0x88b5");
    let (err, json) = bench_with_failing_tcpdump(&path);
    check_failed_tcpdump(&err, &json, "captured nothing of ", "0 packets captured");
    let _ = std::fs::remove_dir_all(&dir);
}
