//! `bench --write-dir`: the disk's own figures (O_DIRECT appends, quiet and under the same
//! traffic) stand beside what each capture wrote, add up with the runs' own counts, and leave
//! nothing behind. Never a speed asserted: only that the figures exist and agree.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

fn bench(dir: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new(BIN)
        .args(["bench", "--modes", "ring1", "--write", "--write-dir"])
        .arg(dir)
        .args([
            "--compare",
            "none",
            "--json",
            "--size",
            "1514",
            "--pps",
            "20000",
        ])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (json, err)
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_disk_probe_stands_beside_what_a_capture_wrote() {
    if !ringcap_netlab::can_run("the_disk_probe_stands_beside_what_a_capture_wrote") {
        return;
    }
    // The checkout's own disk, as a user's --write-dir on a real file system.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-disk");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (json, err) = bench(&dir, &["--seconds", "1", "--runs", "2"]);
    let disk = &json["disk"];
    assert!(disk["failure"].is_null(), "{disk}\n{err}");
    let rounds = disk["rounds"].as_array().expect("rounds");
    assert_eq!(rounds.len(), 2, "a probe per round: {disk}");
    let mut idle = Vec::new();
    for (i, r) in rounds.iter().enumerate() {
        assert_eq!(r["round"], i, "{disk}");
        let (q, f) = (
            r["idle_mb_s"].as_f64().unwrap(),
            r["flood_mb_s"].as_f64().unwrap(),
        );
        assert!(q > 0.0 && f > 0.0, "the probe wrote nothing: {disk}");
        idle.push(q);
    }
    let median = disk["median"]["idle_mb_s"].as_f64().unwrap();
    assert!(
        (median - (idle[0] + idle[1]) / 2.0).abs() < 1e-6,
        "median of two rounds: {disk}"
    );
    // What the row wrote is its median run's bytes over that run's seconds.
    let mode = format!("ring x1 -w {}", dir.display());
    let wrote = disk["written_mb_s"].as_array().expect("written_mb_s");
    assert_eq!(wrote.len(), 1, "{disk}");
    assert_eq!(wrote[0]["mode"], mode.as_str(), "{disk}");
    let mb = wrote[0]["mb_s"].as_f64().unwrap();
    let runs = json["each_run"].as_array().unwrap();
    let candidates: Vec<f64> = runs
        .iter()
        .filter(|r| r["mode"] == mode.as_str())
        .map(|r| r["output"]["bytes_out"].as_f64().unwrap() / r["seconds"].as_f64().unwrap() / 1e6)
        .collect();
    assert!(
        candidates.iter().any(|c| (c - mb).abs() <= c * 0.002),
        "{mb} is none of the runs' {candidates:?}"
    );
    assert!(err.contains("disk: O_DIRECT 4 MiB appends"), "{err}");
    assert!(err.contains(&format!("disk: {mode} wrote ")), "{err}");
    assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tmpfs_write_dir_says_why_the_disk_is_not_probed() {
    if !ringcap_netlab::can_run("a_tmpfs_write_dir_says_why_the_disk_is_not_probed") {
        return;
    }
    let dir = PathBuf::from(format!(
        "/dev/shm/ringcap-bench-disk-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, err) = bench(&dir, &["--seconds", "0.5", "--runs", "1"]);
    let why = json["disk"]["failure"]
        .as_str()
        .unwrap_or_else(|| panic!("{json}"));
    assert!(why.contains("tmpfs"), "{why}");
    assert!(err.contains("disk: not measured: "), "{err}");
    assert_eq!(json["disk"]["rounds"], serde_json::json!([]), "{json}");
    // The capture's own figures still stand.
    assert!(json["each_run"][0]["adds_up"] == true, "{json}");
    assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}
