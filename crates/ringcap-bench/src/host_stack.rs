//! The `xdp+filter` rows' own measure: what the host's stack still receives while AF_XDP
//! captures with the filter in the XDP program, against the same traffic with no capture.
//!
//! The filter matches 1 frame in 64 ([`EXPR`]); the XDP program redirects those into the
//! socket and passes the rest to the stack. Two counters show it: the program's own count of
//! what it passed (`xdp_passed` in the engine's report) and the capture end's IP layer
//! (`Ip: InReceives` of its namespace). For the frames to reach the IP layer at all they are
//! addressed to the capture end's MAC in these rows (a frame for another host stops before IP
//! and counts nowhere).
//!
//! CPU is measured per *offered* frame (the rows capture 1 in 64, so per captured frame would
//! say little): the capture CPUs' busy time (`/proc/stat`), where the worker and, through
//! RPS, the host's stack run, against the same traffic with no capture (the stack alone). On a
//! veth the XDP program itself runs in the sender's NAPI poll, on the generator's CPU, whose
//! time the generator's pacing fills; it is left out.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::Ctx;

/// The generator walks the source port through 1024-65535 (64512 = 1008 x 64 values), so this
/// matches 1 frame in 64 (the SYN and UDP templates alike: the port is at the same offset).
pub const EXPR: &str = "tcp[0:2] & 0x3f = 0 or udp[0:2] & 0x3f = 0";

/// [`EXPR`] compiled for the frame's own bytes, as the XDP program (and AF_XDP's user-space
/// run) sees them.
pub fn program() -> std::result::Result<ringcap_filter::Program, ringcap_filter::CompileError> {
    {
        let services = ringcap_filter::Services::well_known();
        let mut opts = ringcap_filter::Options::new(ringcap_filter::LinkType::Ethernet, &services);
        opts.snaplen = ringcap::config::DEFAULT_SNAPLEN;
        ringcap_filter::compile(EXPR, &opts)
    }
}

/// /proc/stat counts in USER_HZ ticks, 100 per second on Linux's common architectures.
const NS_PER_TICK: u64 = 10_000_000;

/// The host stack's side of one run of an `xdp+filter` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostStack {
    /// Frames the XDP program passed to the host's stack (the filter did not match them).
    pub passed: u64,
    /// `Ip: InReceives` of the capture end during the run.
    pub ip_in: u64,
    /// Busy nanoseconds of the capture CPUs per offered frame during the run.
    pub busy_ns_per_offered: Option<f64>,
    /// The same traffic with no capture running.
    pub without: Baseline,
}

/// One burst of the same traffic with nothing capturing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub offered: u64,
    pub ip_in: u64,
    pub busy_ns_per_offered: Option<f64>,
}

/// The counters read before and after a burst.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub ip_in: u64,
    busy_ticks: u64,
}

impl Sample {
    pub fn take(ctx: &Ctx<'_>) -> Result<Sample> {
        let snmp = {
            let _in = ctx.net.enter()?;
            const PATH: &str = "/proc/thread-self/net/snmp";
            std::fs::read_to_string(PATH).map_err(Error::io(PATH))?
        };
        let ip_in = ip_in_receives(&snmp).ok_or_else(|| Error::Io {
            what: "/proc/net/snmp".into(),
            source: std::io::Error::other("no Ip InReceives"),
        })?;
        let cpus = &ctx.plan.cap_cpus;
        let times = ringcap_netinfo::cpu::read_cpu_times().map_err(|e| Error::Io {
            what: "/proc/stat".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let busy_ticks = times
            .iter()
            .filter(|t| cpus.contains(&t.cpu))
            .map(|t| t.busy())
            .sum();
        Ok(Sample { ip_in, busy_ticks })
    }

    /// IP packets received since `before`, and busy ns per `offered` frame.
    pub fn since(&self, before: &Sample, offered: u64) -> (u64, Option<f64>) {
        let busy = self.busy_ticks.saturating_sub(before.busy_ticks) * NS_PER_TICK;
        (
            self.ip_in.saturating_sub(before.ip_in),
            // to a tenth of a nanosecond: the ticks are 10 ms
            (offered > 0).then(|| (busy as f64 / offered as f64 * 10.0).round() / 10.0),
        )
    }
}

/// The capture end's MAC address (`aa:bb:...`), for the generator's `--dst-mac`.
pub(crate) fn capture_mac(ctx: &Ctx<'_>) -> Result<String> {
    let iface = ctx.net.capture_if();
    let mac = ctx.net.sh(&format!("cat /sys/class/net/{iface}/address"))?;
    Ok(mac.trim().to_string())
}

/// The traffic of `ctx` with nothing capturing; None when the bench was interrupted.
pub(crate) fn baseline(ctx: &Ctx<'_>) -> Result<Option<Baseline>> {
    let link0 = ctx.link()?;
    let s0 = Sample::take(ctx)?;
    let traffic = ctx.traffic()?;
    if traffic.interrupted {
        return Ok(None);
    }
    // As after a capture run: let the last frames through the stack.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let link = ctx.link()?.since(link0);
    let offered = link.rx_packets + link.rx_dropped;
    let (ip_in, busy) = Sample::take(ctx)?.since(&s0, offered);
    Ok(Some(Baseline {
        offered,
        ip_in,
        busy_ns_per_offered: busy,
    }))
}

/// `Ip: InReceives` from the text of `/proc/net/snmp` (a line of names, then one of values).
pub fn ip_in_receives(snmp: &str) -> Option<u64> {
    let mut ip = snmp.lines().filter(|l| l.starts_with("Ip:"));
    let (names, values) = (ip.next()?, ip.next()?);
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "InReceives")
        .and_then(|(_, v)| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmp_ip_in_receives() {
        let snmp = "Ip: Forwarding DefaultTTL InReceives InHdrErrors\n\
                    Ip: 2 64 123456 0\n\
                    Icmp: InMsgs InErrors\nIcmp: 5 0\n";
        assert_eq!(ip_in_receives(snmp), Some(123_456));
        assert_eq!(ip_in_receives("Icmp: InMsgs\nIcmp: 5\n"), None);
        assert_eq!(ip_in_receives("Ip: Forwarding\nIp: 2\n"), None);
    }

    #[test]
    fn the_filter_takes_one_port_in_64() {
        let prog = program().expect("compiles");
        let mut taken = 0;
        for port in 1024u16..=65535 {
            let f = tcp_frame(port);
            if prog.run(&f, f.len() as u32, &Default::default()) > 0 {
                taken += 1;
            }
        }
        assert_eq!(taken, 64512 / 64);
    }

    /// A minimal Ethernet/IPv4/TCP frame from `port`, built here so the unit test needs no
    /// test crate.
    fn tcp_frame(port: u16) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[34..36].copy_from_slice(&port.to_be_bytes());
        f[46] = 0x50;
        f
    }
}
