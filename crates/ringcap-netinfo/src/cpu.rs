//! Per-CPU receive work: `NET_RX` softirq counts from `/proc/softirqs` and CPU time from
//! `/proc/stat`. Before interrupts are spread one CPU does all the `NET_RX` work and sits near
//! 100 % (mostly softirq time); after, the counts and the load are even.

use crate::{read_file, Error, Result};

/// One softirq's count per CPU from `/proc/softirqs`: `(cpu, count)` in column order.
pub fn parse_softirqs(text: &str, kind: &str) -> Result<Vec<(usize, u64)>> {
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::parse("/proc/softirqs", "empty"))?;
    let cpus: Vec<usize> = header
        .split_whitespace()
        .map(|c| {
            c.strip_prefix("CPU")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::parse("/proc/softirqs", format!("bad header column {c:?}")))
        })
        .collect::<Result<_>>()?;
    for line in lines {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() != kind {
            continue;
        }
        let counts: Vec<u64> = rest
            .split_whitespace()
            .map(|v| {
                v.parse()
                    .map_err(|_| Error::parse("/proc/softirqs", format!("bad count {v:?}")))
            })
            .collect::<Result<_>>()?;
        return Ok(cpus.iter().copied().zip(counts).collect());
    }
    Err(Error::parse("/proc/softirqs", format!("no {kind} line")))
}

/// `NET_RX` softirqs per CPU, now.
pub fn read_net_rx() -> Result<Vec<(usize, u64)>> {
    parse_softirqs(&read_file("/proc/softirqs")?, "NET_RX")
}

/// One CPU's time counters from `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub cpu: usize,
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// All ticks (guest time is already inside user and nice).
    pub fn total(&self) -> u64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }

    /// Ticks doing something.
    pub fn busy(&self) -> u64 {
        self.total() - self.idle - self.iowait
    }

    /// The load between `earlier` and `self` as percentages of the elapsed ticks.
    pub fn load_since(&self, earlier: &CpuTimes) -> Load {
        let total = self.total().saturating_sub(earlier.total());
        if total == 0 {
            return Load::default();
        }
        let pct = |now: u64, then: u64| now.saturating_sub(then) as f64 * 100.0 / total as f64;
        Load {
            busy_pct: pct(self.busy(), earlier.busy()),
            softirq_pct: pct(self.softirq, earlier.softirq),
            irq_pct: pct(self.irq, earlier.irq),
        }
    }
}

/// A CPU's load over an interval, in percent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    pub busy_pct: f64,
    pub softirq_pct: f64,
    pub irq_pct: f64,
}

/// The per-CPU lines (`cpu0 ...`) of `/proc/stat`; the summary `cpu` line is skipped.
pub fn parse_proc_stat(text: &str) -> Result<Vec<CpuTimes>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(label) = it.next() else { continue };
        let Some(n) = label.strip_prefix("cpu") else {
            continue;
        };
        if n.is_empty() {
            continue;
        }
        let cpu: usize = n
            .parse()
            .map_err(|_| Error::parse("/proc/stat", format!("bad label {label:?}")))?;
        let v: Vec<u64> = it
            .map(|x| {
                x.parse()
                    .map_err(|_| Error::parse("/proc/stat", format!("bad value {x:?}")))
            })
            .collect::<Result<_>>()?;
        if v.len() < 4 {
            return Err(Error::parse("/proc/stat", format!("short line {line:?}")));
        }
        let g = |i: usize| v.get(i).copied().unwrap_or(0);
        out.push(CpuTimes {
            cpu,
            user: g(0),
            nice: g(1),
            system: g(2),
            idle: g(3),
            iowait: g(4),
            irq: g(5),
            softirq: g(6),
            steal: g(7),
        });
    }
    if out.is_empty() {
        return Err(Error::parse("/proc/stat", "no cpuN lines"));
    }
    Ok(out)
}

/// Per-CPU times, now.
pub fn read_cpu_times() -> Result<Vec<CpuTimes>> {
    parse_proc_stat(&read_file("/proc/stat")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOFTIRQS: &str = "                    CPU0       CPU1       CPU3
          HI:          0          0          0
       TIMER:      52748      61163        100
      NET_TX:         17         19          0
      NET_RX:       6152       5612         77
       BLOCK:          0      39287          0
";

    const STAT: &str = "cpu  9192 0 3877 2535536 608 0 137 226 0 0
cpu0 3914 0 1664 1268893 60 0 50 157 0 0
cpu1 5277 0 2213 1266642 548 0 86 69 0 0
intr 425815 0 0 0
ctxt 123
";

    #[test]
    fn net_rx_per_cpu_follows_the_header() {
        let v = parse_softirqs(SOFTIRQS, "NET_RX").unwrap();
        assert_eq!(v, vec![(0, 6152), (1, 5612), (3, 77)]);
        assert_eq!(parse_softirqs(SOFTIRQS, "NET_TX").unwrap()[1], (1, 19));
        assert!(parse_softirqs(SOFTIRQS, "NOPE").is_err());
        assert!(parse_softirqs("", "NET_RX").is_err());
        assert!(parse_softirqs("CPU0\nNET_RX: x\n", "NET_RX").is_err());
    }

    #[test]
    fn proc_stat_per_cpu() {
        let v = parse_proc_stat(STAT).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].cpu, 1);
        assert_eq!(v[1].user, 5277);
        assert_eq!(v[1].softirq, 86);
        assert_eq!(v[0].total(), 3914 + 1664 + 1268893 + 60 + 50 + 157);
        assert!(parse_proc_stat("intr 1 2\n").is_err());
        assert!(parse_proc_stat("cpu0 1 2\n").is_err());
    }

    #[test]
    fn load_between_readings() {
        let a = CpuTimes {
            cpu: 0,
            user: 100,
            idle: 100,
            softirq: 0,
            ..Default::default()
        };
        let b = CpuTimes {
            cpu: 0,
            user: 110,
            idle: 150,
            softirq: 40,
            ..Default::default()
        };
        let l = b.load_since(&a);
        assert_eq!(l.busy_pct, 50.0);
        assert_eq!(l.softirq_pct, 40.0);
        assert_eq!(a.load_since(&a), Load::default());
    }

    #[test]
    fn this_machine_parses() {
        assert!(!read_net_rx().unwrap().is_empty());
        assert!(!read_cpu_times().unwrap().is_empty());
    }
}
