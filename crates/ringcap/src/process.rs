//! The few facts and actions about the running process and its host that a capture program
//! needs around a capture: which CPUs it may use, how much CPU time its children took, whether
//! it is privileged, giving root up (`-Z`), a private tmpfs for scratch files, and a signal to
//! a child. They live here so that the CLI speaks to the engine, never to ringcap-sys directly.

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

/// Sends SIGTERM to the child process `pid`: how daemons such as flow exporters are stopped
/// (they flush their flows on it, and die of SIGINT).
pub fn terminate(pid: u32) -> Result<()> {
    Ok(sys::kill(pid, sys::SIGTERM)?)
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

/// A user to become, from the password database (see [`drop_privileges`]).
pub use sys::privileges::User;

/// Looks `name` up in the password database; `Ok(None)` when there is no such user.
pub fn lookup_user(name: &str) -> Result<Option<User>> {
    Ok(sys::privileges::lookup_user(name)?)
}

/// Becomes `user` for good (its groups, then its group id, then its user id), as tcpdump's
/// `-Z` does. Call it after [`crate::Capture::open`] and before anything is written: the
/// sockets and rings stay usable, files created afterwards belong to `user`, and the capture
/// runs without root. Not for `--mode xdp`, whose program must be detached with root at the end.
pub fn drop_privileges(user: &User) -> Result<()> {
    Ok(sys::privileges::drop_privileges(user)?)
}
