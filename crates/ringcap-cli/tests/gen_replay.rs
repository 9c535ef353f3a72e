//! `ringcap gen --replay F --timing file` on crafted files whose timestamps sit at the ends of
//! their range: a timing no schedule can keep is one line and a non-zero exit (no root needed:
//! the file is checked before the interface); any other timing is replayed, frames counted by
//! the capture end's interface in a private namespace. Never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ringcap_netlab::tools::{one_line_error, tmpdir};
use ringcap_netlab::{craft, udp_frame, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// The largest pcap time: the last nanosecond of 32-bit seconds.
const END_S: u32 = u32::MAX;

fn write(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn replay(iface: &str, file: &Path, timing: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["gen", "-q", "-i", iface, "--timing", timing, "--replay"])
        .arg(file)
        .args(extra)
        .stdin(Stdio::null());
    c
}

#[test]
fn timings_no_schedule_can_keep_are_one_line() {
    let dir = tmpdir("replay-refused");
    let f = udp_frame(1, 1, 60);
    // 0 and the end of pcap time: 136 years apart, fine once, not three times.
    let ends = write(
        &dir,
        "ends.pcap",
        craft::pcap(true, &[(0, 0, &f), (END_S, 999_999_999, &f)]),
    );
    // 64-bit pcapng seconds: the last frame 584 billion years after the first.
    let far = write(
        &dir,
        "far.pcapng",
        craft::pcapng(0, &[(0, &f), (u64::MAX, &f)]),
    );
    // 6e18 ns apart: one pass fits, but an endless loop's pass and pause do not.
    let wide = write(
        &dir,
        "wide.pcapng",
        craft::pcapng(9, &[(0, &f), (6_000_000_000_000_000_000, &f)]),
    );
    // One second apart, looped 2^64-1 times.
    let second = write(
        &dir,
        "second.pcap",
        craft::pcap(false, &[(1, 0, &f), (2, 0, &f)]),
    );
    for (file, extra) in [
        (&ends, &["--loop", "3"][..]),
        (&far, &[][..]),
        (&wide, &["--loop", "0"][..]),
        (&second, &["--loop", "18446744073709551615"][..]),
    ] {
        // No such interface: the file's timing is refused first.
        let out = replay("rc-none", file, "file", extra).output().unwrap();
        let err = one_line_error(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with(&format!(
                "ringcap: replaying {}: --timing file cannot keep this timing",
                file.display()
            )) && err.contains("use --timing asap"),
            "{file:?} {extra:?}: {err}"
        );
    }
    // The same files are fine where they fit: asap ignores the timing, and one pass of the
    // endless file fits (these reach the interface check).
    for (file, timing, extra) in [
        (&far, "asap", &[][..]),
        (&wide, "file", &["--loop", "1"][..]),
        (&ends, "file", &["--loop", "1"][..]),
    ] {
        let out = replay("rc-none", file, timing, extra).output().unwrap();
        let err = one_line_error(&out);
        assert!(err.contains("no interface named \"rc-none\""), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_in(net: &TestNet, file: &Path, extra: &[&str]) -> Output {
    let mut c = net.command(BIN);
    c.args(["gen", "-q", "-i", net.peer_if(), "--timing", "file"])
        .arg("--replay")
        .arg(file)
        .args(extra)
        .stdin(Stdio::null());
    c.output().unwrap()
}

/// "total: N frames" from the generator's report.
fn total(out: &Output) -> u64 {
    let s = String::from_utf8_lossy(&out.stdout);
    s.lines()
        .find_map(|l| l.strip_prefix("total: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total line: {s}"))
}

#[test]
fn hostile_timestamps_that_fit_are_replayed() {
    if !ringcap_netlab::can_run("hostile_timestamps_that_fit_are_replayed") {
        return;
    }
    let dir = tmpdir("replay-hostile");
    let net = TestNet::new().unwrap();
    let fr: Vec<Vec<u8>> = (0..4).map(|i| udp_frame(i, 1, 60)).collect();
    let cases: Vec<(&str, Vec<u8>, &[&str], u64)> = vec![
        // Going backwards from the end of pcap time: all sent at once, in file order.
        (
            "backwards.pcap",
            craft::pcap(
                true,
                &[
                    (END_S, 999_999_999, &fr[0]),
                    (0, 0, &fr[1]),
                    (5, 0, &fr[2]),
                    (END_S, 0, &fr[3]),
                ],
            ),
            &[],
            4,
        ),
        // Nanosecond fractions past a second (u32::MAX ns = 4.29 s) going back to 0.
        (
            "fractions.pcap",
            craft::pcap(true, &[(7, u32::MAX, &fr[0]), (7, 0, &fr[1])]),
            &["--loop", "3"],
            6,
        ),
        // Microsecond fractions past a second, 1 ms apart, looped.
        (
            "micro.pcap",
            craft::pcap(
                false,
                &[(1, u32::MAX - 1000, &fr[0]), (1, u32::MAX, &fr[1])],
            ),
            &["--loop", "2"],
            4,
        ),
        // All at one time, looped for ever: the zero-length loop never overflows; -c ends it.
        (
            "still.pcap",
            craft::pcap(true, &[(END_S, 0, &fr[0]), (END_S, 0, &fr[1])]),
            &["--loop", "0", "-c", "100"],
            100,
        ),
        // The first frame, then one 136 years later: the wait ends with --duration.
        (
            "later.pcap",
            craft::pcap(true, &[(0, 0, &fr[0]), (END_S, 999_999_999, &fr[1])]),
            &["--duration", "0.5"],
            1,
        ),
        // pcapng in 2^-63 s units, backwards and forwards: 0.125 s from first to last.
        (
            "binary.pcapng",
            craft::pcapng(
                0x80 | 63,
                &[
                    (u64::MAX >> 4, &fr[0]),
                    (0, &fr[1]),
                    (u64::MAX >> 3, &fr[2]),
                ],
            ),
            &[],
            3,
        ),
    ];
    for (name, bytes, extra, want) in cases {
        let file = write(&dir, name, bytes);
        let before = net.counter(net.capture_if(), "rx_packets").unwrap();
        let out = run_in(&net, &file, extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(out.status.success(), "{name}: {err}");
        assert_eq!(total(&out), want, "{name}: {err}");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let got = net.counter(net.capture_if(), "rx_packets").unwrap() - before;
        assert_eq!(got, want, "{name}: frames at the capture end");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
