//! Interface counters from `/sys/class/net/IF/statistics` and rates between two readings.
//!
//! The counters are the driver's own (`ip -s link` shows the same ones): packets and bytes in
//! both directions, drops (the stack had no room: backlog full, no protocol, a full socket is
//! *not* counted here), `rx_missed_errors` (the NIC had no descriptor: the ring was full because
//! the CPU did not keep up), and errors.

use crate::{read_file, sysfs_dir, Error, Result};

/// One reading of an interface's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
}

/// The statistics files read, in the order of [`Counters`]' fields.
pub const FILES: [&str; 9] = [
    "rx_packets",
    "rx_bytes",
    "tx_packets",
    "tx_bytes",
    "rx_dropped",
    "tx_dropped",
    "rx_missed_errors",
    "rx_errors",
    "tx_errors",
];

/// Parses one statistics file (a decimal number and a newline).
pub fn parse_counter(text: &str) -> Result<u64> {
    text.trim().parse().map_err(|_| {
        Error::parse(
            "statistics counter",
            format!("{:?} is not a number", text.trim()),
        )
    })
}

impl Counters {
    /// Builds counters from values in the order of [`FILES`].
    pub fn from_values(v: [u64; 9]) -> Counters {
        Counters {
            rx_packets: v[0],
            rx_bytes: v[1],
            tx_packets: v[2],
            tx_bytes: v[3],
            rx_dropped: v[4],
            tx_dropped: v[5],
            rx_missed: v[6],
            rx_errors: v[7],
            tx_errors: v[8],
        }
    }

    /// Reads the counters of `iface` from sysfs (of the calling process's mount namespace, which
    /// `ip netns exec` points at the network namespace's own).
    pub fn read(iface: &str) -> Result<Counters> {
        let dir = sysfs_dir(iface).join("statistics");
        let mut v = [0u64; 9];
        for (slot, file) in v.iter_mut().zip(FILES) {
            *slot = parse_counter(&read_file(dir.join(file))?)?;
        }
        Ok(Counters::from_values(v))
    }

    /// What happened between `earlier` and `self`. A counter that went backwards (the driver
    /// reset its statistics) counts from zero.
    pub fn since(&self, earlier: &Counters) -> Counters {
        let d = |now: u64, then: u64| if now >= then { now - then } else { now };
        Counters {
            rx_packets: d(self.rx_packets, earlier.rx_packets),
            rx_bytes: d(self.rx_bytes, earlier.rx_bytes),
            tx_packets: d(self.tx_packets, earlier.tx_packets),
            tx_bytes: d(self.tx_bytes, earlier.tx_bytes),
            rx_dropped: d(self.rx_dropped, earlier.rx_dropped),
            tx_dropped: d(self.tx_dropped, earlier.tx_dropped),
            rx_missed: d(self.rx_missed, earlier.rx_missed),
            rx_errors: d(self.rx_errors, earlier.rx_errors),
            tx_errors: d(self.tx_errors, earlier.tx_errors),
        }
    }

    /// Rates for a delta measured over `secs` seconds.
    pub fn rates(&self, secs: f64) -> Rates {
        let per = |v: u64| if secs > 0.0 { v as f64 / secs } else { 0.0 };
        Rates {
            rx_pps: per(self.rx_packets),
            rx_bps: per(self.rx_bytes) * 8.0,
            tx_pps: per(self.tx_packets),
            tx_bps: per(self.tx_bytes) * 8.0,
        }
    }
}

/// Packets and bits per second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub rx_pps: f64,
    pub rx_bps: f64,
    pub tx_pps: f64,
    pub tx_bps: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_files() {
        assert_eq!(parse_counter("12345\n").unwrap(), 12345);
        assert_eq!(parse_counter("0").unwrap(), 0);
        assert!(parse_counter("").is_err());
        assert!(parse_counter("-1\n").is_err());
    }

    #[test]
    fn deltas_and_rates() {
        let a = Counters::from_values([100, 6000, 5, 300, 1, 0, 2, 0, 0]);
        let b = Counters::from_values([1100, 66000, 5, 300, 3, 0, 2, 1, 0]);
        let d = b.since(&a);
        assert_eq!(d.rx_packets, 1000);
        assert_eq!(d.rx_bytes, 60000);
        assert_eq!(d.rx_dropped, 2);
        assert_eq!(d.rx_errors, 1);
        let r = d.rates(0.5);
        assert_eq!(r.rx_pps, 2000.0);
        assert_eq!(r.rx_bps, 960000.0);
        assert_eq!(r.tx_pps, 0.0);
        // A reset counter counts from zero rather than wrapping.
        assert_eq!(a.since(&b).rx_packets, 100);
    }

    #[test]
    fn loopback_counters_read() {
        // `lo` exists in every namespace and sysfs is world readable.
        let c = Counters::read("lo").unwrap();
        assert!(c.rx_bytes >= c.rx_packets);
    }
}
