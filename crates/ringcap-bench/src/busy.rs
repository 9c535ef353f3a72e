//! `bench --flows`: what each exporter costs the machine, measured as *marginal* CPU.
//!
//! A tool's rusage is not its cost here. Without `CONFIG_IRQ_TIME_ACCOUNTING` the kernel bills
//! the receive softirq (the RPS backlog, the packet socket's copy, the loopback delivery of
//! export datagrams) to whichever task runs on the CPU when it fires, so one exporter's
//! rusage holds kernel work done for the flood as a whole, and another's, asleep in poll,
//! holds none of it. What does not depend on who is running is the machine's busy time: all
//! CPUs' wall time less their idle, iowait and steal time from `/proc/stat` (on a NO_HZ
//! kernel idle time is measured, not sampled; the busy fields are sampled at ticks), less the
//! CPU time of other users' processes (the machine is shared). Each round starts with a *baseline*: the same generator at the same
//! rate with no tool, whose busy time is the flood's own cost (generator, veth, the receive
//! path up to where no socket wants the frame). A tool's marginal CPU is the busy time of its
//! run, minus the baseline's busy time during the traffic, minus the machine's idle-time
//! background for the rest of its (longer) run window, minus the collector's own CPU (nfcapd
//! decoding the records is the collector's cost, not the exporter's).
//!
//! A control that does nothing (`--compare sleep`) comes out at about 0: that is the check of
//! the method.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::Ctx;

/// /proc/stat counts in USER_HZ ticks, 100 per second on Linux's common architectures.
const NS_PER_TICK: u64 = 10_000_000;
/// After the baseline's traffic, as after a capture: for the last frames to go through.
const AFTER_TRAFFIC: Duration = Duration::from_millis(100);
/// The baseline's quiet window after the traffic, for the machine's background busy rate.
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

/// One round's baseline: the generator alone, nothing capturing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// 0-based round (1-based in the JSON's `each_run`-like listing).
    #[serde(skip)]
    pub round: usize,
    /// Frames the capture end's interface received plus dropped.
    pub offered: u64,
    /// The generator's sending time.
    pub seconds: f64,
    /// The traffic window: from just before the generator starts to just after it ended.
    pub traffic: Span,
    /// A quiet window after it: the machine's background (the bench itself, other
    /// processes), charged to a run for the time its window is longer than the traffic's.
    pub idle: Span,
    /// The generator's own CPU (its rusage) in the traffic window: how fast a shared VM
    /// lets it send varies from run to run, so each run's own generator CPU is taken out of
    /// both sides.
    pub generator_ns: u64,
}

impl Baseline {
    /// Background busy nanoseconds per wall nanosecond (0 when the idle window is empty).
    pub fn idle_rate(&self) -> f64 {
        if self.idle.wall_ns == 0 {
            return 0.0;
        }
        self.idle.net_ns() as f64 / self.idle.wall_ns as f64
    }

    /// The flood's own busy nanoseconds per offered frame.
    pub fn busy_ns_per_offered(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.traffic.net_ns() as f64 / self.offered as f64)
    }

    /// What a run's window of `wall_ns` would have cost without the tool, its generator's
    /// CPU aside: the baseline's traffic window less its generator, plus the background rate
    /// for the rest.
    pub fn expected_ns(&self, wall_ns: u64) -> f64 {
        let extra = wall_ns.saturating_sub(self.traffic.wall_ns) as f64;
        self.traffic.net_ns() as f64 - self.generator_ns as f64 + self.idle_rate() * extra
    }
}

/// A tool's marginal CPU in one run (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Marginal {
    /// The run's window (traffic start to the tool's exit): the machine's busy time (less
    /// other users' processes).
    pub window: Span,
    /// Subtracted: what the round's baseline says that window costs without the tool.
    pub baseline_ns: f64,
    /// Subtracted: the collector's (nfcapd's) own user + system CPU.
    pub collector_ns: u64,
    /// Subtracted: this run's generator's own CPU (the baseline's is out of `baseline_ns`).
    pub generator_ns: u64,
    /// What is left: the tool's cost (it may come out slightly negative for a tool that
    /// costs nothing, as the control shows).
    pub ns: f64,
}

impl Marginal {
    pub fn new(
        window: Span,
        baseline: &Baseline,
        collector_ns: u64,
        generator_ns: u64,
    ) -> Marginal {
        let baseline_ns = baseline.expected_ns(window.wall_ns);
        Marginal {
            window,
            baseline_ns,
            collector_ns,
            generator_ns,
            ns: window.net_ns() as f64 - baseline_ns - collector_ns as f64 - generator_ns as f64,
        }
    }
}

/// Runs one baseline: the traffic of `ctx` with nothing capturing, then a quiet window.
/// None when the bench was interrupted.
pub(crate) fn baseline(ctx: &Ctx<'_>, round: usize) -> Result<Option<Baseline>> {
    let link0 = ctx.link()?;
    let m0 = Mark::start()?;
    let traffic = ctx.traffic()?;
    if traffic.interrupted {
        return Ok(None);
    }
    std::thread::sleep(AFTER_TRAFFIC);
    let m1 = Mark::end()?;
    let link = ctx.link()?.since(link0);
    let m1b = Mark::start()?;
    std::thread::sleep(IDLE);
    let m2 = Mark::end()?;
    Ok(Some(Baseline {
        round,
        offered: link.rx_packets + link.rx_dropped,
        seconds: traffic.secs,
        traffic: m1.since(&m0),
        idle: m2.since(&m1b),
        generator_ns: traffic.cpu_ns,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Baseline {
        Baseline {
            round: 0,
            offered: 1000,
            seconds: 1.0,
            traffic: Span {
                busy_ns: 2_000_000,
                wall_ns: 1_000_000,
                foreign_ns: 0,
            },
            idle: Span {
                busy_ns: 10_000,
                wall_ns: 1_000_000,
                foreign_ns: 0,
            },
            generator_ns: 500_000,
        }
    }

    #[test]
    fn the_baseline_and_the_background_are_subtracted() {
        let b = base();
        assert_eq!(b.idle_rate(), 0.01);
        assert_eq!(b.busy_ns_per_offered(), Some(2000.0));
        // A window 2 ms longer than the traffic's: 2 ms of background at 1 %; the
        // generator's own CPU is not in it.
        assert_eq!(b.expected_ns(3_000_000), 1_520_000.0);
        // A shorter window is charged the traffic's busy time only.
        assert_eq!(b.expected_ns(500_000), 1_500_000.0);
        let m = Marginal::new(
            Span {
                busy_ns: 3_100_000,
                wall_ns: 3_000_000,
                foreign_ns: 100_000,
            },
            &b,
            80_000,
            600_000,
        );
        // 3.1 ms busy - 0.1 others - (2 - 0.5 + 0.02) baseline - 0.08 collector - 0.6 generator
        assert_eq!(m.ns, 800_000.0);
        // A tool that did nothing: the window costs what the baseline says, or a tick less.
        let m = Marginal::new(
            Span {
                busy_ns: 2_010_000,
                wall_ns: 2_000_000,
                foreign_ns: 0,
            },
            &b,
            0,
            500_000,
        );
        assert_eq!(m.ns, 0.0);
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
