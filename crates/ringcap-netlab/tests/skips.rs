//! No test passes by skipping unnoticed: this test binary runs its own tests again in a child
//! process, once as a user that lacks what they need, and checks that the skip fails the test
//! under CI (`CI=true`, `CI=1`, `RINGCAP_REQUIRE_ALL=1`) and is otherwise printed and logged.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ringcap_netlab::skip;
use ringcap_netlab::tools::tmpdir;

/// A tool no machine has.
const NO_SUCH_TOOL: &str = "ringcap-no-such-tool";

/// A root-only test: builds a network namespace with its veth pair and sees both ends.
#[test]
fn builds_a_test_network() {
    if !ringcap_netlab::can_run("builds_a_test_network") {
        return;
    }
    let net = ringcap_netlab::TestNet::new().unwrap();
    let links = net.ip(&["-o", "link"]).unwrap();
    assert!(
        links.contains("rc0@rc1") && links.contains("rc1@rc0"),
        "{links}"
    );
}

/// Run only by the tests below (in a child): a test whose tool is missing.
#[test]
#[ignore = "a fixture, run in a child process by a_missing_tool_*"]
fn fixture_missing_tool() {
    if !skip::tools(&["sh", NO_SUCH_TOOL]) {
        return;
    }
    panic!("{NO_SUCH_TOOL} should not exist");
}

/// Run only by the tests below (in a child): many threads skipping at once.
#[test]
#[ignore = "a fixture, run in a child process by concurrent_skips_*"]
fn fixture_many_skips() {
    let threads: Vec<_> = (0..16)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("t{t}"))
                .spawn(|| {
                    for i in 0..50 {
                        skip::skip(&format!("reason number {i} {}", "x".repeat(300)));
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Runs `exe` with a libtest filter for exactly `test` (ignored ones included when asked),
/// the CI variables taken from `ci`, the skip log at `log`.
fn run_test(
    exe: &Path,
    test: &str,
    ignored: bool,
    ci: &[(&str, &str)],
    log: &Path,
    user: Option<u32>,
) -> Output {
    let mut c = match user {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
            ])
            .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    c.args([test, "--exact", "--test-threads", "1"]);
    if ignored {
        c.arg("--ignored");
    }
    c.env_remove("CI").env_remove("RINGCAP_REQUIRE_ALL");
    for (k, v) in ci {
        c.env(k, v);
    }
    c.env(skip::LOG_ENV, log)
        .current_dir(log.parent().unwrap())
        .output()
        .expect("run the test binary")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The same test run three ways: without CI it passes, prints and logs its skip; under each
/// form of CI it fails, naming the test and the reason, and logs nothing.
#[test]
fn a_missing_tool_is_a_logged_skip_and_a_failure_under_ci() {
    let dir = tmpdir("skip-tool");
    let log = dir.join("skips.log");
    let exe = std::env::current_exe().unwrap();
    let name = format!("{}::fixture_missing_tool", skip::binary_name());

    let o = run_test(&exe, "fixture_missing_tool", true, &[], &log, None);
    assert!(o.status.success(), "{}", text(&o));
    let want = format!("SKIPPED {name}: {NO_SUCH_TOOL} not installed");
    assert!(text(&o).contains(&want), "{}", text(&o));
    assert_eq!(log_lines(&log).len(), 1, "{:?}", log_lines(&log));
    assert!(
        log_lines(&log)[0].starts_with(&want),
        "{:?}",
        log_lines(&log)
    );
    // sh is there, so it is not named.
    assert!(!log_lines(&log)[0].contains("sh,"), "{:?}", log_lines(&log));

    for ci in [
        [("CI", "true")],
        [("CI", "1")],
        [("RINGCAP_REQUIRE_ALL", "1")],
    ] {
        let _ = std::fs::remove_file(&log);
        let o = run_test(&exe, "fixture_missing_tool", true, &ci, &log, None);
        assert!(!o.status.success(), "{ci:?}: passed: {}", text(&o));
        assert!(
            text(&o).contains(&format!(
                "{want} (./test.sh installs it) (a skip is a failure"
            )),
            "{ci:?}: {}",
            text(&o)
        );
        assert!(text(&o).contains("1 failed"), "{}", text(&o));
        assert!(!log.exists(), "{ci:?}: a failure is not logged as a skip");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Skips from many threads at once each leave one whole line in the log.
#[test]
fn concurrent_skips_leave_whole_lines() {
    let dir = tmpdir("skip-many");
    let log = dir.join("skips.log");
    let exe = std::env::current_exe().unwrap();
    let o = run_test(&exe, "fixture_many_skips", true, &[], &log, None);
    assert!(o.status.success(), "{}", text(&o));
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 16 * 50);
    let bin = skip::binary_name();
    for l in &lines {
        let rest = l
            .strip_prefix(&format!("SKIPPED {bin}::t"))
            .unwrap_or_else(|| panic!("torn line: {l:?}"));
        assert!(rest.ends_with(&"x".repeat(300)), "torn line: {l:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A copy of this test binary that an unprivileged user can run, in a directory of its own
/// with a skip log it may append to (the build's target directory may be closed to it).
fn unprivileged_copy(dir: &Path) -> (PathBuf, PathBuf) {
    let exe = std::env::current_exe().unwrap();
    let copy = dir.join(exe.file_name().unwrap());
    std::fs::copy(&exe, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.join("skips.log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    (copy, log)
}

/// The check: a root-only test run as an unprivileged user (nobody, 65534) fails under
/// CI=true, and without CI passes with its skip printed and logged.
#[test]
fn a_root_test_run_unprivileged_fails_under_ci() {
    if !skip::root() || !skip::tools(&["setpriv"]) {
        return;
    }
    let dir = tmpdir("skip-root");
    let (exe, log) = unprivileged_copy(&dir);
    let test = "builds_a_test_network";
    let want = format!("SKIPPED {}::{test}: needs root", skip::binary_name());

    let o = run_test(&exe, test, false, &[("CI", "true")], &log, Some(65534));
    assert!(
        !o.status.success(),
        "passed as nobody under CI: {}",
        text(&o)
    );
    assert!(text(&o).contains(&want), "{}", text(&o));
    assert!(text(&o).contains("1 failed"), "{}", text(&o));
    assert!(log_lines(&log).is_empty());

    let o = run_test(&exe, test, false, &[], &log, Some(65534));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&want), "{}", text(&o));
    assert!(text(&o).contains("1 passed"), "{}", text(&o));
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with(&want), "{lines:?}");

    // As root the same copy builds the network.
    let o = run_test(&exe, test, false, &[("CI", "true")], &log, None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(log_lines(&log).len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
