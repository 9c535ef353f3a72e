//! `bench --flows`: what each exporter costs the machine, measured as *marginal* CPU.
//!
//! A tool's rusage is not its cost here. Without `CONFIG_IRQ_TIME_ACCOUNTING` the kernel bills
//! the receive softirq (the RPS backlog, the packet socket's copy, the loopback delivery of
//! export datagrams) to whichever task runs on the CPU when it fires, so one exporter's
//! rusage holds kernel work done for the flood as a whole, and another's, asleep in poll,
//! holds none of it. What does not depend on who is running is the machine's busy time: all
//! CPUs' wall time less their idle, iowait and steal time from `/proc/stat` (on a NO_HZ
//! kernel idle time is measured, not sampled; the busy fields are sampled at ticks), less the
//! CPU time of other users' processes (the machine is shared).
//!
//! Every exporter's run has a [`Window`]: from the traffic's start to its exit, the machine's
//! busy time, with the run's generator's and collector's own CPU (their rusage) beside it.
//! Each round starts with a *baseline*: the same run with a tool that does nothing (`sleep`:
//! the same collector, the same traffic, the same wait for records, stopped the same way),
//! then a quiet window for the machine's background rate. An exporter's marginal CPU is its
//! window's busy time less its generator and collector, less the baseline's (likewise), less
//! the background for the time its window is longer than the baseline's.
//!
//! `--compare sleep` runs the same do-nothing tool as an exporter: its marginal CPU is the
//! method's run-to-run error around 0.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::Ctx;

/// /proc/stat counts in USER_HZ ticks, 100 per second on Linux's common architectures.
const NS_PER_TICK: u64 = 10_000_000;
/// The baseline's quiet window after its run, for the machine's background busy rate.
const IDLE: Duration = Duration::from_secs(2);

/// The machine's idle time at one instant, and every other user's processes' CPU time.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    /// Idle + iowait + steal ticks, summed over the CPUs.
    idle_ticks: u64,
    cpus: u64,
    at: Instant,
    procs: Procs,
}

impl Mark {
    /// The processes are read first, so the scan's own CPU falls before a window that
    /// starts here...
    pub fn start() -> Result<Mark> {
        let procs = Procs::read();
        let (idle_ticks, cpus, at) = idle_now()?;
        Ok(Mark {
            idle_ticks,
            cpus,
            at,
            procs,
        })
    }

    /// ...and last, so it falls after a window that ends here.
    pub fn end() -> Result<Mark> {
        let (idle_ticks, cpus, at) = idle_now()?;
        Ok(Mark {
            idle_ticks,
            cpus,
            at,
            procs: Procs::read(),
        })
    }

    /// Busy and wall nanoseconds from `earlier` to `self`. Busy is the CPUs' wall time less
    /// their idle, iowait and steal time: on a NO_HZ kernel idle time is measured at each
    /// entry and exit, where the busy fields (user, system, softirq) are sampled at ticks,
    /// which a CPU waking for 10 µs per packet mostly misses.
    pub fn since(&self, earlier: &Mark) -> Span {
        let wall_ns = self.at.duration_since(earlier.at).as_nanos() as u64;
        let idle_ns = self.idle_ticks.saturating_sub(earlier.idle_ticks) * NS_PER_TICK;
        Span {
            busy_ns: (wall_ns * self.cpus.min(earlier.cpus)).saturating_sub(idle_ns),
            wall_ns,
            foreign_ns: self.procs.foreign_since(&earlier.procs) * NS_PER_TICK,
        }
    }
}

/// Idle + iowait + steal ticks of every CPU, their number, and the time.
fn idle_now() -> Result<(u64, u64, Instant)> {
    let times = ringcap_netinfo::cpu::read_cpu_times().map_err(|e| Error::Io {
        what: "/proc/stat".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let idle = times.iter().map(|t| t.idle + t.iowait + t.steal).sum();
    Ok((idle, times.len() as u64, Instant::now()))
}

/// The CPU ticks of every user-space process that is not the bench or one of its
/// descendants: on a shared machine, what other people's programs did in a window is no
/// tool's cost. Kernel threads are left in (ksoftirqd may do the flood's receive work).
#[derive(Debug, Clone, Default)]
struct Procs {
    /// pid → user + system ticks, its waited-for children's included (a short-lived program
    /// that another one started and reaped within the window is in its parent's).
    foreign: HashMap<u32, u64>,
    /// The bench's own tree when read.
    ours: HashSet<u32>,
}

/// PF_KTHREAD in `/proc/PID/stat`'s flags.
const PF_KTHREAD: u64 = 0x0020_0000;

impl Procs {
    fn read() -> Procs {
        let me = std::process::id();
        let mut all: HashMap<u32, (u32, u64, bool)> = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                // Gone meanwhile: its time is in its parent's when it is reaped.
                if let Some(st) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|t| parse_stat(&t))
                {
                    all.insert(pid, st);
                }
            }
        }
        let mut p = Procs::default();
        for (&pid, &(_, ticks, kthread)) in &all {
            let mut at = pid;
            let mut ours = false;
            for _ in 0..64 {
                if at == me {
                    ours = true;
                    break;
                }
                match all.get(&at) {
                    Some(&(ppid, _, _)) if ppid != 0 && ppid != at => at = ppid,
                    _ => break,
                }
            }
            if ours {
                p.ours.insert(pid);
            } else if !kthread {
                p.foreign.insert(pid, ticks);
            }
        }
        p
    }

    /// Other processes' ticks from `earlier` to `self`: what the ones alive at both grew,
    /// all of a new one's, less what one that is gone had at the start (its parent's
    /// children's time took its whole life when it was reaped).
    fn foreign_since(&self, earlier: &Procs) -> u64 {
        let mut sum: i64 = 0;
        for (pid, &t) in &self.foreign {
            if earlier.ours.contains(pid) {
                continue; // reused by someone else: too rare to weigh
            }
            sum += t as i64 - earlier.foreign.get(pid).copied().unwrap_or(0) as i64;
        }
        for (pid, &t) in &earlier.foreign {
            if !self.foreign.contains_key(pid) && !self.ours.contains(pid) {
                sum -= t as i64;
            }
        }
        sum.max(0) as u64
    }
}

/// (ppid, utime + stime + cutime + cstime, kernel thread) from the text of `/proc/PID/stat`.
fn parse_stat(text: &str) -> Option<(u32, u64, bool)> {
    // The command name is in parentheses and may hold anything: fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i)?.parse::<u64>().ok();
    let ppid = num(1)? as u32;
    let flags = num(6)?;
    let ticks = num(11)? + num(12)? + num(13)? + num(14)?;
    Some((ppid, ticks, flags & PF_KTHREAD != 0))
}

/// The machine's busy time over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Span {
    /// Busy nanoseconds, summed over every CPU.
    pub busy_ns: u64,
    /// The window's wall-clock length.
    pub wall_ns: u64,
    /// Of `busy_ns`: other users' processes (not the bench's tree, not kernel threads).
    pub foreign_ns: u64,
}

impl Span {
    /// Busy time less other users' processes.
    pub fn net_ns(&self) -> u64 {
        self.busy_ns.saturating_sub(self.foreign_ns)
    }
}

/// What one exporter's run cost the machine, before any baseline is taken out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    /// From the traffic's start to the tool's exit.
    pub span: Span,
    /// The run's generator's own user + system CPU (how fast a shared VM lets it send
    /// varies from run to run).
    pub generator_ns: u64,
    /// The collector's (nfcapd's) own user + system CPU: the collector's cost.
    pub collector_ns: u64,
}

impl Window {
    /// The busy time that is neither other users' processes, the generator nor the collector.
    pub fn own_ns(&self) -> f64 {
        self.span.net_ns() as f64 - self.generator_ns as f64 - self.collector_ns as f64
    }
}

/// One round's baseline: the run of a tool that does nothing, then a quiet window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// 0-based round.
    #[serde(skip)]
    pub round: usize,
    /// Frames the capture end's interface received plus dropped.
    pub offered: u64,
    /// The generator's sending time.
    pub seconds: f64,
    pub window: Window,
    /// After the run: the machine's background (the bench itself, other processes' kernel
    /// work), charged for the time a run's window is longer than the baseline's.
    pub idle: Span,
}

impl Baseline {
    /// Background busy nanoseconds per wall nanosecond (0 when the idle window is empty).
    pub fn idle_rate(&self) -> f64 {
        if self.idle.wall_ns == 0 {
            return 0.0;
        }
        self.idle.net_ns() as f64 / self.idle.wall_ns as f64
    }

    /// The machine's busy time per offered frame in the baseline, its generator's part and
    /// the rest (the flood's receive path, the bench).
    pub fn busy_ns_per_offered(&self) -> Option<(f64, f64)> {
        let w = &self.window;
        (self.offered > 0).then(|| {
            let n = self.offered as f64;
            (w.generator_ns as f64 / n, w.own_ns() / n)
        })
    }

    /// What a run's window of `wall_ns` costs without an exporter, its generator and
    /// collector aside: the baseline's, plus (or minus) the background for the difference in
    /// length.
    pub fn expected_ns(&self, wall_ns: u64) -> f64 {
        let extra = wall_ns as f64 - self.window.span.wall_ns as f64;
        self.window.own_ns() + self.idle_rate() * extra
    }
}

/// A tool's marginal CPU in one run (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Marginal {
    pub window: Window,
    /// Subtracted: what the round's baseline says that window costs without the tool.
    pub baseline_ns: f64,
    /// What is left: the tool's cost (it may come out slightly negative for a tool that
    /// costs nothing, as the control shows).
    pub ns: f64,
}

impl Marginal {
    pub fn new(window: Window, baseline: &Baseline) -> Marginal {
        let baseline_ns = baseline.expected_ns(window.span.wall_ns);
        Marginal {
            window,
            baseline_ns,
            ns: window.own_ns() - baseline_ns,
        }
    }
}

/// Runs one baseline: the do-nothing tool as an exporter, then a quiet window. None when the
/// bench was interrupted.
pub(crate) fn baseline(ctx: &Ctx<'_>, round: usize) -> Result<Option<Baseline>> {
    let Some(run) = crate::tool_run::run(ctx, &crate::tools::SLEEP, "baseline".into(), round)?
    else {
        return Ok(None);
    };
    let failed = |why: String| Error::Io {
        what: format!("the baseline of run {}", round + 1),
        source: std::io::Error::other(why),
    };
    if let Some(f) = &run.failure {
        return Err(failed(f.why.clone()));
    }
    let Some(window) = run.counts.window else {
        return Err(failed("no busy time measured".into()));
    };
    let m0 = Mark::start()?;
    std::thread::sleep(IDLE);
    let m1 = Mark::end()?;
    Ok(Some(Baseline {
        round,
        offered: run.counts.offered(),
        seconds: run.counts.secs,
        window,
        idle: m1.since(&m0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(busy_ns: u64, wall_ns: u64, foreign_ns: u64) -> Span {
        Span {
            busy_ns,
            wall_ns,
            foreign_ns,
        }
    }

    fn base() -> Baseline {
        Baseline {
            round: 0,
            offered: 1000,
            seconds: 1.0,
            window: Window {
                span: span(3_000_000, 2_000_000, 100_000),
                generator_ns: 800_000,
                collector_ns: 100_000,
            },
            idle: span(10_000, 1_000_000, 0),
        }
    }

    #[test]
    fn the_baseline_and_the_background_are_subtracted() {
        let b = base();
        assert_eq!(b.idle_rate(), 0.01);
        // 3 ms busy - 0.1 others - 0.8 generator - 0.1 collector = 2 ms: 2000 ns a frame.
        assert_eq!(b.busy_ns_per_offered(), Some((800.0, 2000.0)));
        // A window 2 ms longer than the baseline's: 2 ms more background at 1 %.
        assert_eq!(b.expected_ns(4_000_000), 2_020_000.0);
        // A shorter one: less.
        assert_eq!(b.expected_ns(1_000_000), 1_990_000.0);
        let w = Window {
            span: span(3_500_000, 2_000_000, 0),
            generator_ns: 700_000,
            collector_ns: 200_000,
        };
        let m = Marginal::new(w, &b);
        // 3.5 - 0.7 - 0.2 = 2.6 ms, less the baseline's 2 ms.
        assert_eq!(m.ns, 600_000.0);
        // The baseline's own run comes out at 0.
        assert_eq!(Marginal::new(b.window, &b).ns, 0.0);
    }

    #[test]
    fn stat_lines() {
        let line = "1234 (a (b) c) S 77 1234 1234 0 -1 4194560 100 0 0 0 15 7 3 2 20 0 1 0";
        assert_eq!(parse_stat(line), Some((77, 27, false)));
        let kthread = "12 (ksoftirqd/1) S 2 0 0 0 -1 69238848 0 0 0 0 0 931 0 0 20 0 1 0";
        assert_eq!(parse_stat(kthread), Some((2, 931, true)));
        assert_eq!(parse_stat("12 (x"), None);
    }

    #[test]
    fn other_processes_time_in_a_window() {
        let procs = |foreign: &[(u32, u64)], ours: &[u32]| Procs {
            foreign: foreign.iter().copied().collect(),
            ours: ours.iter().copied().collect(),
        };
        // 10 grew by 5; 11 is new (3); 12 is gone, reaped by 10 (whose 5 hold its 4 of life,
        // 1 of them before the window); 20 is ours.
        let a = procs(&[(10, 100), (12, 1)], &[20]);
        let b = procs(&[(10, 105), (11, 3)], &[20, 21]);
        assert_eq!(b.foreign_since(&a), 5 + 3 - 1);
        // Only ours moved.
        assert_eq!(procs(&[(10, 100)], &[20]).foreign_since(&a.clone()), 0);
        // This process is ours, and init is not.
        let now = Procs::read();
        assert!(now.ours.contains(&std::process::id()));
        assert!(!now.foreign.contains_key(&std::process::id()));
    }

    #[test]
    fn marks_move_forward() {
        let a = Mark::start().unwrap();
        let b = Mark::end().unwrap();
        let s = b.since(&a);
        assert!(s.busy_ns <= (s.wall_ns + NS_PER_TICK) * a.cpus);
        let back = a.since(&b);
        assert_eq!((back.busy_ns, back.wall_ns), (0, 0));
    }
}
