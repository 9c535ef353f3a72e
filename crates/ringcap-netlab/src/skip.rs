//! Tests that cannot run here (not root, a tool missing) say so instead of passing silently.
//!
//! A test checks what it needs first and returns when [`root`] or [`tools`] says no:
//!
//! ```no_run
//! # fn t() {
//! if !ringcap_netlab::skip::root() || !ringcap_netlab::skip::tools(&["tshark"]) {
//!     return;
//! }
//! # }
//! ```
//!
//! A skip is then reported in three places, because libtest shows a test that returned as `ok`
//! and hides what it printed:
//! - under `CI=true` (or `CI=1`) or `RINGCAP_REQUIRE_ALL=1` it panics, so the test fails: CI
//!   checks everything or fails;
//! - otherwise a `SKIPPED <binary>::<test>: <reason>` line goes straight to standard error
//!   (past the harness's capture, so it shows in `cargo test`'s output), and
//! - the same line is appended to the skip log, `$RINGCAP_SKIP_LOG` (`./test.sh` sets it to a
//!   fresh file and sums it up at the end), or `ringcap-skipped.log` next to the test binaries'
//!   `deps` directory (`target/release/`) when unset.
//!
//! The test's name is that of its thread: libtest runs every test on a thread named after it.

use std::io::Write;
use std::path::PathBuf;

/// The environment variable naming the skip log.
pub const LOG_ENV: &str = "RINGCAP_SKIP_LOG";

/// Whether a skip must fail the test: under CI, or when every test was asked to run.
pub fn required() -> bool {
    let ci = std::env::var("CI").unwrap_or_default();
    ci.eq_ignore_ascii_case("true")
        || ci == "1"
        || std::env::var("RINGCAP_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// True when the test runs as root; otherwise reports the skip and returns false.
pub fn root() -> bool {
    root_as(None)
}

/// [`root`], naming the test `fallback` when its thread does not carry its name.
pub(crate) fn root_as(fallback: Option<&str>) -> bool {
    if ringcap_sys::geteuid() == 0 {
        return true;
    }
    report(
        fallback,
        "needs root (network namespaces, packet sockets): run ./test.sh, it uses sudo",
    );
    false
}

/// True when every tool of `list` is on `PATH`; otherwise reports the skip, naming the
/// missing ones, and returns false.
pub fn tools(list: &[&str]) -> bool {
    let missing: Vec<&str> = list
        .iter()
        .copied()
        .filter(|t| crate::tools::which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!(
        "{} not installed (./test.sh installs {})",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    ));
    false
}

/// Reports that the calling test skips for `reason`: a panic under CI or
/// `RINGCAP_REQUIRE_ALL=1`, else a line on standard error and in the skip log.
pub fn skip(reason: &str) {
    report(None, reason)
}

fn report(fallback: Option<&str>, reason: &str) {
    let line = format!("SKIPPED {}: {}", test_name_or(fallback), one_line(reason));
    if required() {
        panic!("{line} (a skip is a failure under CI=true or RINGCAP_REQUIRE_ALL=1)");
    }
    let log = log_path();
    let note = match append(&log, &line) {
        Ok(()) => String::new(),
        Err(e) => format!(" (could not append to {}: {e})", log.display()),
    };
    // Straight to the file descriptor, past libtest's capture of eprintln!.
    let _ = std::io::stderr().write_all(format!("{line}{note}\n").as_bytes());
}

/// `<binary>::<test>`: the test binary's name without cargo's hash, and the thread's name.
pub fn test_name() -> String {
    test_name_or(None)
}

fn test_name_or(fallback: Option<&str>) -> String {
    let thread = std::thread::current();
    let test = match thread.name() {
        Some(n) if n != "main" => n,
        _ => fallback.unwrap_or("?"),
    };
    format!("{}::{test}", binary_name())
}

/// The test binary's name, `capture_cli` for `target/release/deps/capture_cli-0123456789abcdef`.
pub fn binary_name() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "?".into());
    strip_hash(&stem).to_string()
}

fn strip_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => stem,
    }
}

/// Where skips are logged: `$RINGCAP_SKIP_LOG`, else `ringcap-skipped.log` in the directory
/// above the test binary's `deps` (`target/release/`), else in the temporary directory.
pub fn log_path() -> PathBuf {
    if let Some(p) = std::env::var_os(LOG_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    match exe.parent() {
        Some(deps) if deps.file_name().is_some_and(|n| n == "deps") => {
            deps.parent().unwrap_or(deps).join("ringcap-skipped.log")
        }
        _ => std::env::temp_dir().join("ringcap-skipped.log"),
    }
}

/// Appends one whole line with one `write` on an O_APPEND descriptor, so lines from
/// concurrent tests and test binaries never interleave.
fn append(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true);
    // Open an existing file without O_CREAT first: in a sticky world-writable directory
    // (fs.protected_regular) even root may not O_CREAT-open another user's file.
    let mut f = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => opts.create(true).open(path)?,
        Err(e) => return Err(e),
    };
    let buf = format!("{line}\n");
    let n = f.write(buf.as_bytes())?;
    if n != buf.len() {
        return Err(std::io::Error::other(format!(
            "short write ({n} of {} bytes)",
            buf.len()
        )));
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_hash_is_stripped() {
        assert_eq!(strip_hash("capture_cli-0123456789abcdef"), "capture_cli");
        assert_eq!(
            strip_hash("ringcap_netlab-9f0e1d2c3b4a5968"),
            "ringcap_netlab"
        );
        assert_eq!(strip_hash("my-tool"), "my-tool");
        assert_eq!(strip_hash("x-0123456789abcdeg"), "x-0123456789abcdeg");
    }

    #[test]
    fn reasons_are_one_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }

    #[test]
    fn the_test_name_is_the_thread_name() {
        assert!(
            test_name().ends_with("::skip::tests::the_test_name_is_the_thread_name"),
            "{}",
            test_name()
        );
    }
}
