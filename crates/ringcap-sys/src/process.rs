//! The calling process and thread: CPU affinity and counts, CPU time, capabilities, network
//! namespaces, clocks, signals and mounts.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::{cvt, Errno, Error, Result};

/// Pins the calling thread to one CPU.
pub fn pin_current_thread(cpu: usize) -> Result<()> {
    if cpu >= 8 * size_of::<libc::cpu_set_t>() {
        return Err(Error::from_errno("sched_setaffinity", Errno::EINVAL));
    }
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: cpu is below the set's capacity (checked above), so CPU_SET writes inside set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: set is a valid cpu_set_t of the size passed, alive across the call.
    let ret = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    cvt(ret, "sched_setaffinity").map(drop)
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is writable for the size passed, alive across the call.
    let ret = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    cvt(ret, "sched_getaffinity")?;
    Ok((0..8 * size_of::<libc::cpu_set_t>())
        // SAFETY: c ranges over the set's capacity, so CPU_ISSET reads inside set.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// Number of online CPUs.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as usize
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n < 1 {
        4096
    } else {
        n as usize
    }
}

pub fn geteuid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether the effective capability set holds `cap` (from /proc/self/status, no syscall needed).
pub fn has_capability(cap: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return geteuid() == 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .map(|mask| mask & (1u64 << cap) != 0)
        .unwrap_or(false)
}

/// User and system CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_time() -> (u64, u64) {
    rusage(libc::RUSAGE_THREAD)
}

/// User and system CPU time of waited-for children, in nanoseconds.
pub fn children_cpu_time() -> (u64, u64) {
    rusage(libc::RUSAGE_CHILDREN)
}

fn rusage(who: i32) -> (u64, u64) {
    // SAFETY: rusage is plain data; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is writable for the call.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0, 0);
    }
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1_000;
    (ns(ru.ru_utime), ns(ru.ru_stime))
}

/// Moves the calling thread into the network namespace behind `fd` (e.g. /run/netns/NAME).
pub fn setns_net(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: setns takes a descriptor and a flag; it affects only the calling thread.
    let ret = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
    cvt(ret, "setns").map(drop)
}

/// SIGINT: Ctrl-C, the signal that asks a capture (or a child tool) to end normally.
pub const SIGINT: i32 = libc::SIGINT;
/// SIGTERM.
pub const SIGTERM: i32 = libc::SIGTERM;
/// SIGHUP.
pub const SIGHUP: i32 = libc::SIGHUP;

/// Sends `signal` to the process `pid` (a child the caller started).
pub fn kill(pid: u32, signal: i32) -> Result<()> {
    // pid 0 or one that does not fit a pid_t would address a process group, never one child.
    let pid = match i32::try_from(pid) {
        Ok(p) if p > 0 => p,
        _ => return Err(Error::from_errno("kill", Errno::EINVAL)),
    };
    // SAFETY: kill takes two integers and touches no memory of ours.
    let ret = unsafe { libc::kill(pid, signal) };
    cvt(ret, "kill").map(drop)
}

static STOP: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, Ordering::Relaxed);
    STOP.store(true, Ordering::Release);
}

/// Installs SIGINT and SIGTERM handlers that only set a flag ([`stop_requested`]), so a capture
/// ends through its normal path: final statistics, drained rings, summary, cleanup.
pub fn install_stop_handlers() -> Result<()> {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        // SAFETY: sigaction is plain data; all-zero is valid (empty mask, no flags).
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_stop_signal as *const () as usize;
        sa.sa_flags = 0; // no SA_RESTART: blocking calls return EINTR and see the flag
                         // SAFETY: sa.sa_mask is a valid sigset_t inside sa.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: sa is a valid sigaction whose handler is async-signal-safe (two atomic
        // stores); the old action is not asked for (NULL).
        let ret = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
        cvt(ret, "sigaction")?;
    }
    Ok(())
}

/// Whether SIGINT/SIGTERM/SIGHUP arrived since [`install_stop_handlers`].
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Acquire)
}

/// The signal that asked to stop, if any.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s),
    }
}

/// Requests a stop as if a signal had arrived (used by embedders and tests).
pub fn request_stop() {
    STOP.store(true, Ordering::Release);
}

/// Clears a stop request (a driver that runs several captures in a row, such as a benchmark).
pub fn clear_stop() {
    STOP.store(false, Ordering::Release);
    STOP_SIGNAL.store(0, Ordering::Relaxed);
}

/// Clock reading in nanoseconds (CLOCK_REALTIME), the time base packet timestamps use.
pub fn realtime_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// Monotonic clock in nanoseconds.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: timespec is plain data; all-zero is valid.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: ts is writable for the call.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until an absolute CLOCK_MONOTONIC time (rate pacing without drift).
pub fn sleep_until_monotonic(deadline_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: ts is a valid timespec; the remaining-time pointer may be NULL with TIMER_ABSTIME.
    unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    };
}

/// Mounts a fresh tmpfs at `target` with `options` (e.g. `huge=always,mode=0700`); `bench`
/// writes its capture files there so its runs measure the capture path, not a disk.
pub fn mount_tmpfs(target: &std::path::Path, options: &str) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| Error::from_errno("mount", Errno::EINVAL))?;
    let opts = CString::new(options).map_err(|_| Error::from_errno("mount", Errno::EINVAL))?;
    // SAFETY: all pointers are NUL-terminated strings that live across the call.
    let ret = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            path.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            opts.as_ptr().cast(),
        )
    };
    cvt(ret, "mount").map(drop)
}

/// Detaches the mount at `target` (lazily, so a file still open elsewhere cannot keep it).
pub fn unmount(target: &std::path::Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| Error::from_errno("umount2", Errno::EINVAL))?;
    // SAFETY: path is a NUL-terminated string that lives across the call.
    let ret = unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
    cvt(ret, "umount2").map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_refuses_process_groups() {
        // pid 0 would signal our own process group, u32::MAX is -1 (every process).
        for pid in [0, u32::MAX] {
            let e = kill(pid, 0).unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EINVAL));
        }
    }

    #[test]
    fn kill_with_signal_zero_probes_a_live_process() {
        kill(std::process::id(), 0).unwrap();
    }
}
