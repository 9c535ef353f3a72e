//! The collector of `bench --flows`: nfcapd on the namespace's loopback receives what a flow
//! exporter sends (IPFIX, NetFlow v5 or v9), and nfdump sums the packets of the records, so
//! every exporter is judged by the same decoder, not by its own word.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ringcap::config::format_cpu_list;

use crate::child::Child;
use crate::run::Failure;
use crate::session::Ctx;

/// Where the exporters send, inside the bench's private namespace.
pub(crate) const ADDR: &str = "127.0.0.1:9995";
/// nfcapd's own start-up, before the exporter starts.
const SETTLE: Duration = Duration::from_millis(500);
/// After the traffic, before an exporter is stopped: at least the 1 s timeouts it is given
/// and its expiry scan, so every exporter has exported its flows by its own timers (not all of
/// them flush when stopped)...
pub(crate) const EXPIRE: Duration = Duration::from_secs(3);
/// ...and then until the collector has received nothing for this long (the exporters scan
/// their tables every second)...
const QUIET: Duration = Duration::from_millis(1500);
/// ...but no longer than this after the traffic.
const SETTLE_MAX: Duration = Duration::from_secs(20);
/// How long a flush command may take (`timeout` argument).
const FLUSH_TIMEOUT: &str = "3";
/// For the last datagrams to land after the exporter exited.
const DRAIN: Duration = Duration::from_millis(300);
/// nfcapd's socket receive buffer (`-B`): an exporter emptying a full table at once sends
/// faster than nfcapd (on the generator's CPU) reads, and the kernel's default buffer (about
/// 200 kB) overflowed here, losing records that the exporter did send. The kernel caps it at
/// net.core.rmem_max; overflows that remain are counted ([`Collector::finish`]).
const RCVBUF: &str = "8388608";

/// A running nfcapd and the directory it writes.
pub(crate) struct Collector {
    child: Child,
    dir: PathBuf,
    /// The namespace's UDP counters when it started.
    udp: Udp,
}

/// What a run's collector stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Collected {
    /// Packets in the records nfdump decoded.
    pub packets: u64,
    /// nfcapd's own user + system CPU over its life.
    pub cpu_ns: u64,
    /// Export datagrams the kernel dropped at nfcapd's full socket buffer during the run.
    pub lost_datagrams: u64,
}

/// The namespace's UDP counters (`/proc/net/snmp`): datagrams delivered to sockets, and those
/// dropped at a full receive buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Udp {
    in_datagrams: u64,
    rcvbuf_errors: u64,
}

impl Udp {
    /// Through nfcapd's own view of its namespace (`/proc/PID/net/snmp`): a file read, not a
    /// process, since it is polled every 100 ms inside the window whose busy time is measured
    /// ([`crate::busy`]).
    fn read_via(pid: u32) -> Result<Udp, Failure> {
        let path = format!("/proc/{pid}/net/snmp");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::new(format!("cannot read {path}: {e}")))?;
        parse_udp(&text).ok_or_else(|| Failure::new(format!("{path} has no Udp counters")))
    }

    fn read(ctx: &Ctx<'_>) -> Result<Udp, Failure> {
        let out = ctx
            .net
            .command("cat")
            .arg("/proc/net/snmp")
            .output()
            .map_err(|e| Failure::new(format!("cannot read the namespace's UDP counters: {e}")))?;
        parse_udp(&String::from_utf8_lossy(&out.stdout))
            .ok_or_else(|| Failure::new("the namespace's /proc/net/snmp has no Udp counters"))
    }
}

/// The `Udp:` header and value lines of `/proc/net/snmp`.
fn parse_udp(snmp: &str) -> Option<Udp> {
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some(Udp {
        in_datagrams: get("InDatagrams")?,
        rcvbuf_errors: get("RcvbufErrors")?,
    })
}

impl Collector {
    pub fn start(ctx: &Ctx<'_>) -> Result<Collector, Failure> {
        let dir = ctx.scratch.dir.join("nfcapd");
        // Nothing of an earlier run's records may count in this one.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::new(format!("cannot make {}: {e}", dir.display())))?;
        // On the generator's CPUs: the capture CPUs are the exporter's alone, as the capture
        // CPUs are the capture's in the other rows.
        let mut cmd = ctx.net.command("taskset");
        cmd.args(["-c", &format_cpu_list(&ctx.plan.gen_cpus), "nfcapd"])
            .arg("-w")
            .arg(&dir)
            .args(["-b", "127.0.0.1", "-p", "9995", "-B", RCVBUF]);
        let mut child = Child::spawn(&mut cmd)
            .map_err(|e| Failure::new(format!("could not start nfcapd: {e}")))?;
        std::thread::sleep(SETTLE);
        if let Ok(Some(st)) = child.try_wait() {
            return Err(Failure::new(format!("the collector nfcapd exited ({st})"))
                .with_stderr(&child.stderr()));
        }
        let udp = Udp::read(ctx)?;
        Ok(Collector { child, dir, udp })
    }

    /// After the traffic: waits [`EXPIRE`], then until no export datagram has arrived for
    /// [`QUIET`], so the exporter's timers have sent what they will; then runs its `flush`
    /// command (if it has one) and waits for quiet again. Bounded by [`SETTLE_MAX`] (plus the
    /// flush's own bound).
    pub fn settle(&self, ctx: &Ctx<'_>, flush: Option<Vec<String>>) -> Result<(), Failure> {
        let start = Instant::now();
        std::thread::sleep(EXPIRE);
        self.quiet(start)?;
        if let Some(argv) = flush {
            self.flush(ctx, &argv)?;
            self.quiet(start)?;
        }
        Ok(())
    }

    /// Runs the exporter's flush command, at most [`FLUSH_TIMEOUT`]. Best effort: softflowd
    /// opens libpcap with no read timeout and, once the traffic is over, was seen here to sit
    /// in libpcap's wait for a block to fill, reading neither the packets of its last block
    /// nor its control socket; those packets and the flows still in its table (at most its
    /// 8192 flows, `-m`) are then its loss, as they would be in the field. A flush that does
    /// not answer is not the exporter's failure.
    fn flush(&self, ctx: &Ctx<'_>, argv: &[String]) -> Result<(), Failure> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| Failure::new("empty flush command"))?;
        let out = ctx
            .net
            .command("timeout")
            .arg(FLUSH_TIMEOUT)
            .arg(program)
            .args(args)
            .output()
            .map_err(|e| Failure::new(format!("could not run {program}: {e}")))?;
        // 124: `timeout` ended it; anything else is the command's own failure.
        if !out.status.success() && out.status.code() != Some(124) {
            return Err(
                Failure::new(format!("{} failed ({})", argv.join(" "), out.status))
                    .with_stderr(&String::from_utf8_lossy(&out.stderr)),
            );
        }
        Ok(())
    }

    /// Waits until the collector has received nothing for [`QUIET`] (or [`SETTLE_MAX`] since
    /// `start` has passed).
    fn quiet(&self, start: Instant) -> Result<(), Failure> {
        let pid = self.child.id();
        let mut last = Udp::read_via(pid)?.in_datagrams;
        let mut since = Instant::now();
        while since.elapsed() < QUIET && start.elapsed() < SETTLE_MAX {
            std::thread::sleep(Duration::from_millis(100));
            let now = Udp::read_via(pid)?.in_datagrams;
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        Ok(())
    }

    /// Stops nfcapd (its files are complete once it has exited) and sums the packets of every
    /// record it stored.
    pub fn finish(mut self, ctx: &Ctx<'_>) -> Result<Collected, Failure> {
        std::thread::sleep(DRAIN);
        // Children's CPU is added when they are reaped, and nothing else is reaped meanwhile:
        // the difference is nfcapd's.
        let (u0, s0) = ringcap::process::children_cpu_time();
        self.child.terminate();
        let ended = self
            .child
            .wait_for(Duration::from_secs(10))
            .map_err(|e| Failure::new(format!("waiting for nfcapd: {e}")))?;
        let (u1, s1) = ringcap::process::children_cpu_time();
        let cpu_ns = u1.saturating_sub(u0) + s1.saturating_sub(s0);
        if ended.killed {
            return Err(Failure::new("the collector nfcapd did not stop"));
        }
        let lost_datagrams = Udp::read(ctx)?
            .rcvbuf_errors
            .saturating_sub(self.udp.rcvbuf_errors);
        let out = Command::new("nfdump")
            .arg("-R")
            .arg(&self.dir)
            .args(["-q", "-N", "-o", "fmt:%pkt"])
            .output()
            .map_err(|e| Failure::new(format!("could not run nfdump: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(Failure::new(format!("nfdump failed ({})", out.status))
                .with_stderr(&String::from_utf8_lossy(&out.stderr)));
        }
        let packets = sum_packets(&text).ok_or_else(|| {
            Failure::new("nfdump's packet column is unreadable").with_stderr(&text)
        })?;
        Ok(Collected {
            packets,
            cpu_ns,
            lost_datagrams,
        })
    }
}

/// The sum of nfdump's `fmt:%pkt` lines (None when one is not a number).
fn sum_packets(text: &str) -> Option<u64> {
    text.lines()
        .map(str::trim)
        // nfdump's line for no record at all.
        .filter(|l| !l.is_empty() && *l != "No matching flows")
        .try_fold(0u64, |sum, l| Some(sum + l.parse::<u64>().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_the_packet_column() {
        assert_eq!(super::sum_packets("  12\n 3\n\n"), Some(15));
        assert_eq!(super::sum_packets(""), Some(0));
        assert_eq!(super::sum_packets("No matching flows\n"), Some(0));
        assert_eq!(super::sum_packets("1.2 M\n"), None);
    }

    #[test]
    fn reads_the_udp_counters() {
        let snmp = "Icmp: InMsgs InErrors\nIcmp: 3 0\n\
            Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
            Udp: 35593 0 5496 41089 5496 0 0 0 0\n\
            UdpLite: InDatagrams NoPorts\nUdpLite: 0 0\n";
        assert_eq!(
            super::parse_udp(snmp),
            Some(super::Udp {
                in_datagrams: 35593,
                rcvbuf_errors: 5496
            })
        );
        assert_eq!(super::parse_udp("Ip: Forwarding\nIp: 1\n"), None);
    }
}
