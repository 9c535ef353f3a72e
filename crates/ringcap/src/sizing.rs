//! Defaults that work on any machine: how many workers, and how big each ring.
//!
//! One worker per CPU with a fixed 64 MiB ring each cannot be the default: a 64-CPU server
//! would need 4 GiB of rings before it saw a packet, and a VM watching a dozen packets per
//! second would still pin 128 MiB. So:
//!
//! - **Workers** follow the interface: as many as its RX queues (or the CPUs its RPS spreads
//!   them to, when that is more), at most the CPUs this process may use. A queue's packets
//!   are received on one CPU, so more workers than queues would mostly wait. `any` counts the
//!   queues of every interface that is up. With fewer workers than CPUs the fanout goes by
//!   flow hash (by CPU, most workers would get nothing).
//! - **Rings** share one budget: the lesser of [`MAX_BUDGET`] (1 GiB) and 1/[`RAM_SHARE`] of
//!   the RAM, split over the workers, at most [`MAX_RING`] (64 MiB, a quarter of a second of a
//!   10 GbE port's minimum-size frames over 8 workers) each. Blocks stay 1 MiB while a ring
//!   holds 8 of them, then get smaller (down to 256 KiB, which still holds a whole 256 KiB
//!   packet as libpcap's blocks do).
//!
//! Explicit `--threads`, `--blocks`/`--block-size` and `-B` override these choices.

use std::fmt;

use crate::config::{FanoutMode, Geometry, ANY};
use crate::stats::human_bytes;

/// The largest ring a worker gets by default.
pub const MAX_RING: u64 = 64 << 20;
/// The largest total of rings by default.
pub const MAX_BUDGET: u64 = 1 << 30;
/// The default total is at most this fraction (1/N) of the RAM.
pub const RAM_SHARE: u64 = 64;
/// Blocks of default rings: 1 MiB, smaller only for small rings, never below 256 KiB.
pub const BLOCK: u32 = 1 << 20;
pub const MIN_BLOCK: u32 = 256 << 10;
/// A default ring keeps at least this many blocks when it can (so the kernel fills one while
/// the worker reads others).
pub const MIN_BLOCKS: u32 = 8;

/// How many workers a capture gets by default, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerChoice {
    pub workers: usize,
    /// CPUs this process may use.
    pub cpus: usize,
    /// RX queues of the interface (of all interfaces that are up, for `any`); `None` when
    /// they could not be counted (no such interface).
    pub rx_queues: Option<usize>,
    /// CPUs the interface's RPS masks spread received packets to (0: RPS off).
    pub rps_cpus: usize,
}

impl WorkerChoice {
    /// The rule, on given facts: as many workers as the received packets are spread over
    /// (RX queues, or RPS CPUs when more), at most one per CPU, at least one.
    pub fn choose(cpus: usize, rx_queues: Option<usize>, rps_cpus: usize) -> WorkerChoice {
        let cpus = cpus.max(1);
        let spread = rx_queues.unwrap_or(1).max(rps_cpus).max(1);
        WorkerChoice {
            workers: spread.min(cpus),
            cpus,
            rx_queues,
            rps_cpus,
        }
    }

    /// The rule on this machine's facts for `iface`.
    pub fn for_interface(iface: &str) -> WorkerChoice {
        let cpus = ringcap_sys::allowed_cpus()
            .map(|c| c.len())
            .unwrap_or_else(|_| ringcap_sys::online_cpus());
        let names = if iface == ANY {
            ringcap_sys::interface_names()
                .into_iter()
                .filter(|n| {
                    ringcap_sys::interface_flags(n).is_ok_and(|f| f & ringcap_sys::IFF_UP != 0)
                })
                .collect()
        } else {
            vec![iface.to_string()]
        };
        let mut queues = None;
        let mut rps = Vec::new();
        for name in &names {
            let Some(ifindex) = ringcap_sys::if_nametoindex(name) else {
                continue;
            };
            *queues.get_or_insert(0) += crate::xdp::rx_queues(name, ifindex) as usize;
            rps.extend(rps_cpus(name, ifindex));
        }
        rps.sort_unstable();
        rps.dedup();
        WorkerChoice::choose(cpus, queues, rps.len())
    }

    /// Fanout by CPU when every CPU has its worker, else by flow hash.
    pub fn fanout_mode(&self) -> FanoutMode {
        if self.workers >= self.cpus {
            FanoutMode::Cpu
        } else {
            FanoutMode::Hash
        }
    }
}

impl fmt::Display for WorkerChoice {
    /// `1 RX queue and 2 CPUs` / `4 RX queues spread by RPS to 8 CPUs, and 16 CPUs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match self.rx_queues {
            Some(q) => write!(f, "{q} RX queue{}", plural(q))?,
            None => f.write_str("unknown RX queues")?,
        }
        if self.rps_cpus > 0 {
            write!(
                f,
                " spread by RPS to {} CPU{},",
                self.rps_cpus,
                plural(self.rps_cpus)
            )?;
        }
        write!(f, " and {} CPU{}", self.cpus, plural(self.cpus))
    }
}

/// The CPUs of an interface's RPS masks, read from sysfs when sysfs shows this namespace's
/// interface (its `ifindex` file matches): `ip netns exec` mounts a matching sysfs, a thread
/// that only entered a namespace sees the host's.
fn rps_cpus(iface: &str, ifindex: u32) -> Vec<usize> {
    let dir = ringcap_netinfo::sysfs_dir(iface);
    let same = std::fs::read_to_string(dir.join("ifindex"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        == Some(ifindex);
    if !same {
        return Vec::new();
    }
    let queues = ringcap_netinfo::irq::queues(iface, "rx").unwrap_or_default();
    queues
        .iter()
        .flat_map(|q| ringcap_netinfo::irq::read_rps(iface, q).unwrap_or_default())
        .collect()
}

/// The default total of ring memory, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    /// The RAM it was taken from (`None`: unknown, [`MAX_BUDGET`] applies).
    pub ram: Option<u64>,
}

impl Budget {
    /// The lesser of [`MAX_BUDGET`] and 1/[`RAM_SHARE`] of `ram`.
    pub fn from_ram(ram: Option<u64>) -> Budget {
        let bytes = match ram {
            Some(r) => (r / RAM_SHARE).clamp(MIN_BLOCK as u64 * 2, MAX_BUDGET),
            None => MAX_BUDGET,
        };
        Budget { bytes, ram }
    }

    /// From this machine's RAM (`MemTotal` of /proc/meminfo).
    pub fn host() -> Budget {
        let ram = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| parse_mem_total(&t));
        Budget::from_ram(ram)
    }
}

impl fmt::Display for Budget {
    /// `384 MiB (the lesser of 1 GiB and 1/64 of the RAM, 24 GiB)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ram {
            Some(r) => write!(
                f,
                "{} (the lesser of {} and 1/{RAM_SHARE} of the RAM, {})",
                human_bytes(self.bytes),
                human_bytes(MAX_BUDGET),
                human_bytes(r)
            ),
            None => write!(f, "{} (RAM unknown)", human_bytes(self.bytes)),
        }
    }
}

/// `MemTotal` of /proc/meminfo, in bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    meminfo_bytes(meminfo, "MemTotal")
}

/// A field of /proc/meminfo (`MemTotal`, `MemAvailable`, ...), in bytes.
pub fn meminfo_bytes(meminfo: &str, field: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(n * 1024),
        _ => None,
    }
}

/// The block size for a ring of about `bytes`: 1 MiB while that leaves [`MIN_BLOCKS`]
/// blocks, else the largest power of two that does, at least [`MIN_BLOCK`] (and a page).
fn block_for(bytes: u64) -> u32 {
    let page = ringcap_sys::page_size() as u64;
    let want = (bytes / MIN_BLOCKS as u64).clamp(MIN_BLOCK as u64, BLOCK as u64);
    let pow2 = 1u64 << (63 - want.leading_zeros());
    pow2.max(page) as u32
}

/// Each worker's ring when `total` bytes are shared by `workers`: at most [`MAX_RING`], whole
/// blocks rounded down (so the total stays within the budget), at least 2 blocks. The frame
/// size and block timeout of `base` are kept.
pub fn share_geometry(total: u64, workers: usize, base: &Geometry) -> Geometry {
    let per = (total / workers.max(1) as u64).min(MAX_RING);
    let block = block_for(per).max(base.frame_size.next_power_of_two());
    Geometry {
        block_size: block,
        blocks: ((per / block as u64) as u32).max(2),
        ..*base
    }
}

/// A ring of `bytes` per worker as tcpdump's `-B` asks: whole blocks rounded up (never less
/// than asked, as libpcap rounds), at least 2.
pub fn buffer_geometry(bytes: u64, base: &Geometry) -> Geometry {
    let block = block_for(bytes).max(base.frame_size.next_power_of_two());
    let blocks = bytes.div_ceil(block as u64).clamp(2, u32::MAX as u64) as u32;
    Geometry {
        block_size: block,
        blocks,
        ..*base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn workers_follow_the_queues_and_the_cpus() {
        // A veth (one queue) on a 2-CPU VM: one worker, and fanout would not matter.
        let c = WorkerChoice::choose(2, Some(1), 0);
        assert_eq!(c.workers, 1);
        assert_eq!(c.to_string(), "1 RX queue and 2 CPUs");
        // A 64-CPU server with a 16-queue NIC: 16 workers, spread by flow hash.
        let c = WorkerChoice::choose(64, Some(16), 0);
        assert_eq!(c.workers, 16);
        assert_eq!(c.fanout_mode(), FanoutMode::Hash);
        // More queues than CPUs: one worker per CPU, by CPU.
        let c = WorkerChoice::choose(8, Some(32), 0);
        assert_eq!((c.workers, c.fanout_mode()), (8, FanoutMode::Cpu));
        // RPS spreading one queue over 6 CPUs.
        let c = WorkerChoice::choose(8, Some(1), 6);
        assert_eq!(c.workers, 6);
        assert_eq!(
            c.to_string(),
            "1 RX queue spread by RPS to 6 CPUs, and 8 CPUs"
        );
        // Unknown interface: one worker.
        assert_eq!(WorkerChoice::choose(4, None, 0).workers, 1);
    }

    #[test]
    fn the_budget_is_the_lesser_of_1_gib_and_a_64th_of_ram() {
        assert_eq!(Budget::from_ram(Some(24 * GIB)).bytes, 384 * MIB);
        assert_eq!(Budget::from_ram(Some(512 * GIB)).bytes, GIB);
        assert_eq!(Budget::from_ram(None).bytes, GIB);
        assert_eq!(
            Budget::from_ram(Some(24 * GIB)).to_string(),
            "384 MiB (the lesser of 1 GiB and 1/64 of the RAM, 24 GiB)"
        );
        assert_eq!(
            parse_mem_total("MemTotal:       24684544 kB\nMemFree: 1 kB\n"),
            Some(24684544 * 1024)
        );
        assert_eq!(parse_mem_total("nothing"), None);
        let m = "MemTotal: 8 kB\nMemAvailableX: 1 kB\nMemAvailable:   5 kB\n";
        assert_eq!(meminfo_bytes(m, "MemAvailable"), Some(5 * 1024));
        assert_eq!(meminfo_bytes(m, "MemFree"), None);
    }

    #[test]
    fn rings_share_the_budget_and_stay_within_it() {
        let base = Geometry::default();
        // One worker: the 64 MiB cap.
        let g = share_geometry(384 * MIB, 1, &base);
        assert_eq!((g.block_size, g.blocks), (1 << 20, 64));
        // 64 workers (a 64-CPU machine) with 1 GiB: 16 MiB each.
        let g = share_geometry(GIB, 64, &base);
        assert_eq!(g.ring_bytes(), 16 * MIB);
        // 64 workers with 384 MiB: 6 MiB each, in 512 KiB blocks (8 or more of them).
        let g = share_geometry(384 * MIB, 64, &base);
        assert_eq!(g.block_size, 512 << 10);
        assert!(g.blocks >= 8 && g.ring_bytes() * 64 <= 384 * MIB, "{g:?}");
        for workers in 1..=1024usize {
            for total in [32 * MIB, 384 * MIB, GIB] {
                let g = share_geometry(total, workers, &base);
                assert!(g.validate().is_ok(), "{workers} {total} {g:?}");
                assert!(g.ring_bytes() <= MAX_RING);
                // Within the budget unless the budget cannot give every worker 2 blocks.
                if total / workers as u64 >= 2 * MIN_BLOCK as u64 {
                    assert!(
                        g.ring_bytes() * workers as u64 <= total,
                        "{workers} {total}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_buffer_size_is_rounded_up_to_whole_blocks() {
        let base = Geometry::default();
        // -B 2048: 2 MiB in 8 blocks of 256 KiB.
        let g = buffer_geometry(2 * MIB, &base);
        assert_eq!((g.block_size, g.blocks), (256 << 10, 8));
        // -B 100: never less than asked, at least 2 blocks.
        let g = buffer_geometry(100 << 10, &base);
        assert_eq!((g.block_size, g.blocks), (256 << 10, 2));
        // -B 65536: 64 MiB in 1 MiB blocks.
        let g = buffer_geometry(64 * MIB, &base);
        assert_eq!((g.block_size, g.blocks), (1 << 20, 64));
        assert!(g.validate().is_ok());
    }
}
