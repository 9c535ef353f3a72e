//! The bench's traffic: `ringcap gen` on the far end of the veth pair, pinned to the generator
//! CPUs, for the run's seconds; and the capture end's interface counters around it.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use ringcap::config::format_cpu_list;

use crate::child::Child;
use crate::error::{Error, Result};
use crate::session::Ctx;

/// One burst of traffic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Traffic {
    /// How long the generator sent (its own measure; the wall time around it if it gave none).
    pub secs: f64,
    /// Frames it sent (None: it did not say).
    pub sent: Option<u64>,
    /// Ctrl-C came first: the generator was stopped and the run is not a measurement.
    pub interrupted: bool,
    /// The generator's own user + system CPU (its rusage, once reaped).
    pub cpu_ns: u64,
}

/// The capture end's receive counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Link {
    pub rx_packets: u64,
    pub rx_dropped: u64,
}

impl Link {
    /// What happened between `before` and `self`.
    pub fn since(self, before: Link) -> Link {
        Link {
            rx_packets: self.rx_packets.saturating_sub(before.rx_packets),
            rx_dropped: self.rx_dropped.saturating_sub(before.rx_dropped),
        }
    }
}

impl Ctx<'_> {
    pub fn link(&self) -> Result<Link> {
        let iface = self.net.capture_if();
        Ok(Link {
            rx_packets: self.net.counter(iface, "rx_packets")?,
            rx_dropped: self.net.counter(iface, "rx_dropped")?,
        })
    }

    /// Runs the generator to its end (or until the bench is interrupted).
    pub fn traffic(&self) -> Result<Traffic> {
        let s = self.settings;
        let template = if s.size <= 60 { "syn" } else { "udp" };
        let mut cmd = self.net.command(&s.generator.to_string_lossy());
        cmd.args(["gen", "-q", "-i", self.net.peer_if()]);
        match &s.replay {
            Some(r) => {
                cmd.args(r.gen_args());
            }
            None => {
                cmd.args(["--template", template]);
                if template == "udp" {
                    cmd.args(["--size", &s.size.to_string()]);
                }
            }
        }
        cmd.args(["--threads", &self.plan.gen_threads.to_string()])
            .args(["--cpus", &format_cpu_list(&self.plan.gen_cpus)])
            .args(["--duration", &s.seconds.to_string()])
            .args(["--pps", &s.pps.to_string()]);
        if let Some(mac) = self.dst_mac {
            cmd.args(["--dst-mac", mac]);
        }
        let t0 = Instant::now();
        // Children's CPU is added when they are reaped: the generator is the one reaped here.
        let (u0, s0) = ringcap::process::children_cpu_time();
        let mut gen = Child::spawn(&mut cmd).map_err(Error::io("starting ringcap gen"))?;
        let status = loop {
            if let Some(st) = gen
                .try_wait()
                .map_err(Error::io("waiting for ringcap gen"))?
            {
                break st;
            }
            if self.stop.is_stopped() {
                gen.interrupt();
                let _ = gen.wait_for(Duration::from_secs(2));
                return Ok(Traffic {
                    secs: t0.elapsed().as_secs_f64(),
                    sent: None,
                    interrupted: true,
                    cpu_ns: 0,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let wall = t0.elapsed().as_secs_f64();
        let (u1, s1) = ringcap::process::children_cpu_time();
        check(status, &gen.stderr())?;
        let (sent, secs) = sent(&gen.stdout()).unzip();
        Ok(Traffic {
            secs: secs.unwrap_or(wall),
            sent,
            interrupted: false,
            cpu_ns: u1.saturating_sub(u0) + s1.saturating_sub(s0),
        })
    }
}

fn check(status: ExitStatus, stderr: &str) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(Error::Generator(
        last.unwrap_or("no message").trim().to_string(),
    ))
}

/// Frames sent and the sending time, from the generator's last line:
/// `total: 1001 frames, 60060 bytes in 1.020 s (981 pps, …)`.
fn sent(stdout: &str) -> Option<(u64, f64)> {
    let line = stdout.lines().find(|l| l.starts_with("total:"))?;
    let frames: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    let (_, after) = line.split_once(" in ")?;
    let secs: f64 = after.split_whitespace().next()?.parse().ok()?;
    (secs.is_finite() && secs > 0.0).then_some((frames, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generators_own_sending_time() {
        let out = "thread 0 (CPU 0) ring: 1001 frames, 60060 bytes, 0 refused\n\
                   total: 1001 frames, 60060 bytes in 1.020 s (981 pps, 471.0 kbit/s), 0 refused, 0 not sent\n";
        assert_eq!(sent(out), Some((1001, 1.020)));
        assert_eq!(sent(""), None);
        assert_eq!(sent("total: 0 frames, 0 bytes in 0.000 s\n"), None);
    }

    #[test]
    fn link_deltas() {
        let a = Link {
            rx_packets: 10,
            rx_dropped: 1,
        };
        let b = Link {
            rx_packets: 110,
            rx_dropped: 4,
        };
        let d = b.since(a);
        assert_eq!((d.rx_packets, d.rx_dropped), (100, 3));
    }
}
