//! The real tools the tests check files with (tshark, capinfos, tcpdump): running them and
//! reading what they print, in one place for every crate's tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether `tool` is installed; when it is not, the test skips, reported through
/// [`crate::skip`] (a failure under CI).
pub fn have(tool: &str) -> bool {
    crate::skip::tools(&[tool])
}

/// The executable `tool` would run as, found on `PATH` the way `execvp` finds it.
pub fn which(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(tool))
        .find(|f| {
            std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A `PATH` value with every program of the current `PATH` except `hidden`: a directory of
/// links made under `dir`. Runs a program as if those tools were not installed.
pub fn path_without(dir: &Path, hidden: &[&str]) -> std::ffi::OsString {
    let bin = dir.join("bin");
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if hidden.iter().any(|h| name == *h) || bin.join(&name).symlink_metadata().is_ok() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), bin.join(&name));
        }
    }
    bin.into_os_string()
}

/// A fresh, empty scratch directory for one test of this process.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringcap-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `cmd`, fails the test with its standard error unless it succeeds, returns its output.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Checks that a ringcap run failed the way bad input must: a non-zero exit and one line on
/// standard error, without a panic. Returns that line.
pub fn one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    err
}

/// tshark's `frame.time_epoch` ("1795737321.000001000", any number of digits) in nanoseconds.
pub fn epoch_ns(s: &str) -> u64 {
    let (a, b) = s.split_once('.').unwrap_or((s, ""));
    let mut frac: String = b.chars().take(9).collect();
    while frac.len() < 9 {
        frac.push('0');
    }
    a.parse::<u64>().unwrap() * 1_000_000_000 + frac.parse::<u64>().unwrap()
}

/// One packet of a capture file as tshark reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub ts_ns: u64,
    pub len: u32,
    pub bytes: Vec<u8>,
}

/// (timestamp ns, length) of each packet, as tshark reads them.
pub fn tshark_times(file: &Path) -> Vec<(u64, u32)> {
    stdout_of(Command::new("tshark").arg("-r").arg(file).args([
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.len",
    ]))
    .lines()
    .map(|l| {
        let (t, n) = l.split_once('\t').unwrap();
        (epoch_ns(t), n.parse().unwrap())
    })
    .collect()
}

/// Every packet with its captured bytes (from `tshark -x`), as tshark reads them.
pub fn tshark_frames(file: &Path) -> Vec<Frame> {
    let times = tshark_times(file);
    let hex = stdout_of(Command::new("tshark").arg("-r").arg(file).arg("-x"));
    // Hex dump lines: a 4-digit offset, two spaces, up to 16 bytes; an empty line between
    // packets.
    let mut dumps: Vec<Vec<u8>> = vec![Vec::new()];
    for line in hex.lines() {
        if line.trim().is_empty() {
            if !dumps.last().unwrap().is_empty() {
                dumps.push(Vec::new());
            }
            continue;
        }
        for tok in line
            .get(6..line.len().min(54))
            .unwrap_or("")
            .split_whitespace()
        {
            dumps
                .last_mut()
                .unwrap()
                .push(u8::from_str_radix(tok, 16).unwrap());
        }
    }
    if dumps.last().unwrap().is_empty() {
        dumps.pop();
    }
    assert_eq!(
        times.len(),
        dumps.len(),
        "tshark fields and hex dumps differ"
    );
    times
        .into_iter()
        .zip(dumps)
        .map(|((ts_ns, len), bytes)| Frame { ts_ns, len, bytes })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::epoch_ns;

    #[test]
    fn epoch_digits() {
        assert_eq!(epoch_ns("1795737321.000001000"), 1_795_737_321_000_001_000);
        assert_eq!(epoch_ns("1795737321.000001"), 1_795_737_321_000_001_000);
        assert_eq!(epoch_ns("1795737321.0000010001"), 1_795_737_321_000_001_000);
        assert_eq!(epoch_ns("7"), 7_000_000_000);
    }
}
