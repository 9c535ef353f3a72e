//! `ringcap bench --replay FILE --write --compress zstd:3`: the bench sends a file the test made
//! through its own namespace, and its report adds up against the real tools: every frame of the
//! file captured and written, the compression ratio that of the bytes written, the `zstd`
//! tool's figure that of `zstd -3` over the same bytes, and the file, given back by `zstd -d`,
//! holding exactly the replayed frames as tcpdump reads them. (Never a speed.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ringcap_netlab::tools::{stdout_of, tmpdir};
use ringcap_netlab::{craft, udp_frame};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");
const FRAMES: u32 = 400;

/// FRAMES UDP frames of varied sizes over a few flows, 10 ms apart.
fn input(dir: &Path) -> PathBuf {
    let frames: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| udp_frame(i, (i % 7) as u16, 60 + (i as usize * 37) % 1400))
        .collect();
    let records: Vec<(u32, u32, &[u8])> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                1_700_000_000 + i as u32 / 100,
                (i as u32 % 100) * 10_000,
                &f[..],
            )
        })
        .collect();
    let p = dir.join("input.pcap");
    std::fs::write(&p, craft::pcap(false, &records)).unwrap();
    p
}

/// tcpdump's reading of a file's frames, without timestamps.
fn frames_by_tcpdump(file: &Path) -> String {
    stdout_of(
        Command::new("tcpdump")
            .args(["-nn", "-t", "-xx", "-r"])
            .arg(file)
            .stderr(Stdio::null()),
    )
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[test]
fn a_replayed_file_is_written_whole_and_its_ratio_adds_up() {
    if !ringcap_netlab::can_run("a_replayed_file_is_written_whole")
        || !ringcap_netlab::skip::tools(&["zstd", "tcpdump"])
    {
        return;
    }
    let dir = tmpdir("bench-replay");
    let file = input(&dir);
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let child = Command::new(BIN)
        .arg("bench")
        .arg("--replay")
        .arg(&file)
        .args(["--pps", "20000", "--seconds", "10", "--runs", "1"])
        .args([
            "--modes",
            "ring1",
            "--compare",
            "none",
            "--gen-threads",
            "1",
        ])
        .args(["--write", "--compress", "zstd:3", "--keep-files", "--json"])
        .arg("--write-dir")
        .arg(&out_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &doc["each_run"][0];
    assert_eq!(run["adds_up"], true, "{run}");
    // Every frame of the file captured and written, nothing behind.
    assert_eq!(run["captured"], FRAMES as u64, "{run}");
    let o = &run["output"];
    assert_eq!(o["written"], FRAMES as u64, "{o}");
    assert_eq!(o["not_written"], 0, "{o}");
    // The ratio is that of the bytes written.
    let (bytes_in, bytes_out) = (
        o["bytes_in"].as_u64().unwrap(),
        o["bytes_out"].as_u64().unwrap(),
    );
    let ratio = o["compression_ratio"].as_f64().unwrap();
    assert_eq!(ratio, round3(bytes_in as f64 / bytes_out as f64), "{o}");
    assert!(ratio > 1.0, "{o}");

    // The kept file: its size is bytes_out, zstd -d gives bytes_in bytes, and those are the
    // replayed frames as tcpdump reads them, in order.
    let kept = out_dir.join(format!("ringcap-bench-{pid}"));
    let zst = kept.join("ringcap.pcap.zst");
    assert_eq!(std::fs::metadata(&zst).unwrap().len(), bytes_out, "{o}");
    let plain = dir.join("decompressed.pcap");
    let st = Command::new("zstd")
        .args(["-q", "-d", "-f", "-o"])
        .arg(&plain)
        .arg(&zst)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::metadata(&plain).unwrap().len(), bytes_in);
    let want = frames_by_tcpdump(&file);
    let got = frames_by_tcpdump(&plain);
    assert_eq!(
        got.lines().filter(|l| !l.starts_with('\t')).count(),
        FRAMES as usize
    );
    assert!(
        got == want,
        "the written frames differ from the replayed ones"
    );

    // The zstd tool's figure: zstd -3 over those same bytes, streamed as the bench does (so
    // its frame header, like the bench's, does not carry the content size).
    let z = &o["zstd_cli"];
    assert_eq!(z["level"], 3, "{o}");
    let again = Command::new("zstd")
        .args(["-q", "-3", "-c"])
        .stdin(std::fs::File::open(&plain).unwrap())
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(z["bytes"], again.stdout.len() as u64, "{o}");
    assert_eq!(
        z["ratio"].as_f64().unwrap(),
        round3(bytes_in as f64 / again.stdout.len() as f64),
        "{o}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
