//! The few facts and actions about the running process and its host that a capture program
//! needs around a capture: which CPUs it may use, how much CPU time its children took, whether
//! it is privileged, a private tmpfs for scratch files, and a signal to a child. They live
//! here so that the CLI speaks to the engine, never to ringcap-sys directly.

use std::path::Path;

use ringcap_sys as sys;

use crate::Result;

/// The CPUs this process may run on (its affinity mask), in increasing order.
pub fn allowed_cpus() -> Result<Vec<usize>> {
    Ok(sys::allowed_cpus()?)
}

/// Number of online CPUs (at least 1).
pub fn online_cpus() -> usize {
    sys::online_cpus()
}

/// User and system CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_time() -> (u64, u64) {
    sys::thread_cpu_time()
}

/// User and system CPU time of the child processes waited for so far, in nanoseconds.
pub fn children_cpu_time() -> (u64, u64) {
    sys::children_cpu_time()
}

/// Whether the process runs with an effective user id of 0.
pub fn is_root() -> bool {
    sys::geteuid() == 0
}

/// Sends SIGINT to the child process `pid`, as Ctrl-C would: a capture tool then ends through
/// its normal path and prints its statistics.
pub fn interrupt(pid: u32) -> Result<()> {
    Ok(sys::kill(pid, sys::SIGINT)?)
}

/// Mounts a fresh tmpfs at `target` with `options` (e.g. `huge=always,mode=0700`), so files
/// written there measure the writer, not a disk.
pub fn mount_tmpfs(target: &Path, options: &str) -> Result<()> {
    Ok(sys::mount_tmpfs(target, options)?)
}

/// Detaches the mount at `target` (lazily: a file still open elsewhere cannot keep it).
pub fn unmount(target: &Path) -> Result<()> {
    Ok(sys::unmount(target)?)
}
