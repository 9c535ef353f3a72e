//! One thread of another process held still while the rest of that process runs on: a capture
//! worker stalled on purpose, so its ring fills (and the kernel drops) exactly when a test wants.
//!
//! SIGSTOP would stop every thread, the statistics loop and the metrics server too; a cgroup
//! freezer stops only the threads in its cgroup. Two kinds exist:
//! - cgroup v2 (wherever cgroup2 is mounted, also beside v1 on a hybrid host): the process moves
//!   into a domain cgroup of the test's own, the thread into a threaded child of it, and the
//!   child's `cgroup.freeze` holds it;
//! - the cgroup v1 freezer, whose `tasks` file takes thread ids directly.
//!
//! ```no_run
//! # fn t(pid: u32) {
//! use ringcap_netlab::freeze::{self, FrozenThread};
//! if !freeze::can_freeze() {
//!     return; // the skip is reported (a failure under CI)
//! }
//! let worker = FrozenThread::new(pid, &freeze::thread_named(pid, "ringcap-w0"));
//! worker.freeze();
//! // ... the worker takes nothing now ...
//! worker.thaw();
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Threads in a freezer of their own; thawed, moved back and the cgroups removed on drop.
pub struct FrozenThread {
    how: Freezer,
    tids: Vec<String>,
}

enum Freezer {
    /// The test's domain cgroup (holding the process) and its threaded child.
    V2 {
        root: PathBuf,
        pid: u32,
        domain: PathBuf,
        threaded: PathBuf,
    },
    V1 {
        dir: PathBuf,
    },
}

const FREEZER_V1: &str = "/sys/fs/cgroup/freezer";

/// Where cgroup2 is mounted, if it is.
fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == "cgroup2")
        .map(|f| PathBuf::from(f[1]))
}

/// Why no freezer can stall one thread here, if none can.
pub fn unavailable() -> Option<String> {
    if cgroup2_mount().is_some() || Path::new(FREEZER_V1).join("tasks").exists() {
        None
    } else {
        Some("no cgroup2 mount and no cgroup v1 freezer to stall one thread".into())
    }
}

/// True when a thread can be frozen here; otherwise reports the skip through
/// [`crate::skip`] (a failure under CI) and returns false.
pub fn can_freeze() -> bool {
    match unavailable() {
        None => true,
        Some(why) => {
            crate::skip::skip(&why);
            false
        }
    }
}

impl FrozenThread {
    /// Puts thread `tid` of process `pid` in a freezer of its own (not frozen yet).
    pub fn new(pid: u32, tid: &str) -> FrozenThread {
        FrozenThread::threads(pid, &[tid])
    }

    /// Puts the threads `tids` of process `pid` together in a freezer of their own.
    pub fn threads(pid: u32, tids: &[&str]) -> FrozenThread {
        let first = tids.first().expect("a thread to freeze");
        let how = match cgroup2_mount() {
            Some(root) => {
                let domain = root.join(format!("ringcap-test-{pid}"));
                let threaded = domain.join("worker");
                std::fs::create_dir_all(&threaded).unwrap();
                std::fs::write(domain.join("cgroup.procs"), pid.to_string()).unwrap();
                std::fs::write(threaded.join("cgroup.type"), "threaded").unwrap();
                for tid in tids {
                    std::fs::write(threaded.join("cgroup.threads"), tid).unwrap();
                }
                Freezer::V2 {
                    root,
                    pid,
                    domain,
                    threaded,
                }
            }
            None => {
                let dir = Path::new(FREEZER_V1).join(format!("ringcap-test-{first}"));
                std::fs::create_dir_all(&dir).unwrap();
                for tid in tids {
                    std::fs::write(dir.join("tasks"), tid).unwrap();
                }
                Freezer::V1 { dir }
            }
        };
        FrozenThread {
            how,
            tids: tids.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// Asks for `frozen` and waits until the kernel says it holds.
    pub fn set(&self, frozen: bool) {
        match &self.how {
            Freezer::V2 { threaded, .. } => std::fs::write(
                threaded.join("cgroup.freeze"),
                if frozen { "1" } else { "0" },
            )
            .unwrap(),
            Freezer::V1 { dir } => std::fs::write(
                dir.join("freezer.state"),
                if frozen { "FROZEN" } else { "THAWED" },
            )
            .unwrap(),
        }
        let until = Instant::now() + Duration::from_secs(5);
        while !self.is(frozen) {
            assert!(
                Instant::now() < until,
                "the freezer never got to frozen = {frozen}"
            );
            std::thread::yield_now();
        }
    }

    /// Whether the kernel reports the thread `frozen` (or thawed).
    pub fn is(&self, frozen: bool) -> bool {
        match &self.how {
            Freezer::V2 { threaded, .. } => std::fs::read_to_string(threaded.join("cgroup.events"))
                .unwrap()
                .contains(if frozen { "frozen 1" } else { "frozen 0" }),
            Freezer::V1 { dir } => {
                std::fs::read_to_string(dir.join("freezer.state"))
                    .unwrap()
                    .trim()
                    == if frozen { "FROZEN" } else { "THAWED" }
            }
        }
    }

    /// Freezes the thread; returns once the kernel says it is frozen.
    pub fn freeze(&self) {
        self.set(true);
    }

    /// Thaws the thread; returns once the kernel says it runs again.
    pub fn thaw(&self) {
        self.set(false);
    }
}

impl Drop for FrozenThread {
    fn drop(&mut self) {
        match &self.how {
            Freezer::V2 {
                root,
                pid,
                domain,
                threaded,
            } => {
                let _ = std::fs::write(threaded.join("cgroup.freeze"), "0");
                // All its threads back to the root (fails harmlessly once it has exited), so
                // both cgroups are empty and can go.
                let _ = std::fs::write(root.join("cgroup.procs"), pid.to_string());
                let _ = std::fs::remove_dir(threaded);
                let _ = std::fs::remove_dir(domain);
            }
            Freezer::V1 { dir } => {
                let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                for tid in &self.tids {
                    let _ = std::fs::write(Path::new(FREEZER_V1).join("tasks"), tid);
                }
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// The thread of `pid` named `name` (its `comm`, e.g. `ringcap-w0`), as its thread id.
pub fn thread_named(pid: u32, name: &str) -> String {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .find(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .map(|t| t.file_name().to_string_lossy().into_owned())
        .unwrap_or_else(|| panic!("no thread {name} in process {pid}"))
}
