//! `ringcap ifstat`: per-interval packet and bit rates of interfaces from
//! /sys/class/net/IF/statistics, with drops, misses and errors; `--cpu` adds per-CPU NET_RX
//! softirq rates and CPU load, to see one CPU doing all the receive work (or not).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::util::{json_num, to_json};
use anyhow::{bail, Context};
use ringcap::StopHandle;
use ringcap_netinfo::cpu::{self, CpuTimes};
use ringcap_netinfo::stats::Counters;

#[derive(clap::Args)]
#[command(after_help = "\
Counters are the driver's (`ip -s link` shows the same): drop = the stack had no room for a
received packet, missed = the NIC had no free descriptor (the CPU did not keep up), errors =
bad frames. A total line follows the last sample (after -c samples or Ctrl-C).

With --cpu: NET_RX softirqs per second and load per CPU (busy %, of which softirq %). Before
spreading interrupts one CPU does all the receive work; after, the load is even.

--json prints one object per line: {\"type\":\"sample\",...} each interval and
{\"type\":\"total\",...} at the end, with counts (deltas) and rates.

Examples:
  ringcap ifstat eth0
  ringcap ifstat eth0 eth1 --cpu --interval 2
  ringcap ifstat eth0 -c 10 --json")]
pub struct Args {
    /// Interfaces to watch.
    #[arg(value_name = "IFACE", required = true)]
    pub ifaces: Vec<String>,
    /// Seconds between samples (fractions allowed, at least 0.1).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub interval: f64,
    /// Print COUNT samples, then the total, and exit.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Add per-CPU NET_RX softirq rates and CPU load.
    #[arg(long)]
    pub cpu: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// One reading of everything watched.
#[derive(Clone)]
struct Snapshot {
    at: Instant,
    ifaces: Vec<Counters>,
    net_rx: BTreeMap<usize, u64>,
    times: BTreeMap<usize, CpuTimes>,
}

fn snapshot(names: &[String], with_cpu: bool) -> anyhow::Result<Snapshot> {
    let mut ifaces = Vec::with_capacity(names.len());
    for n in names {
        ifaces.push(Counters::read(n).with_context(|| format!("reading the counters of {n}"))?);
    }
    let (net_rx, times) = if with_cpu {
        (
            cpu::read_net_rx()?.into_iter().collect(),
            cpu::read_cpu_times()?
                .into_iter()
                .map(|t| (t.cpu, t))
                .collect(),
        )
    } else {
        (BTreeMap::new(), BTreeMap::new())
    };
    Ok(Snapshot {
        at: Instant::now(),
        ifaces,
        net_rx,
        times,
    })
}

/// A rate with an SI prefix, e.g. `1.23M`.
fn si(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// One line of `--json`: a sample each interval, the totals at the end.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum JsonLine<'a> {
    Sample {
        time: Option<f64>,
        interval: Option<f64>,
        interfaces: Vec<IfaceJson<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpus: Option<Vec<CpuJson>>,
    },
    Total {
        seconds: Option<f64>,
        samples: u64,
        interfaces: Vec<IfaceJson<'a>>,
    },
}

/// An interface's counter deltas (and, in samples, its rates).
#[derive(serde::Serialize)]
struct IfaceJson<'a> {
    name: &'a str,
    rx_packets: u64,
    rx_bytes: u64,
    tx_packets: u64,
    tx_bytes: u64,
    rx_dropped: u64,
    tx_dropped: u64,
    rx_missed: u64,
    rx_errors: u64,
    tx_errors: u64,
    #[serde(flatten)]
    rates: Option<RatesJson>,
}

#[derive(serde::Serialize)]
struct RatesJson {
    rx_pps: Option<f64>,
    rx_bps: Option<f64>,
    tx_pps: Option<f64>,
    tx_bps: Option<f64>,
}

#[derive(serde::Serialize)]
struct CpuJson {
    cpu: usize,
    net_rx: u64,
    net_rx_per_s: Option<f64>,
    busy_pct: Option<f64>,
    softirq_pct: Option<f64>,
    irq_pct: Option<f64>,
}

/// Three decimals, null when not a finite number.
fn num(v: f64) -> Option<f64> {
    json_num(v, 3)
}

fn iface_json<'a>(name: &'a str, d: &Counters, secs: Option<f64>) -> IfaceJson<'a> {
    IfaceJson {
        name,
        rx_packets: d.rx_packets,
        rx_bytes: d.rx_bytes,
        tx_packets: d.tx_packets,
        tx_bytes: d.tx_bytes,
        rx_dropped: d.rx_dropped,
        tx_dropped: d.tx_dropped,
        rx_missed: d.rx_missed,
        rx_errors: d.rx_errors,
        tx_errors: d.tx_errors,
        rates: secs.map(|secs| {
            let r = d.rates(secs);
            RatesJson {
                rx_pps: num(r.rx_pps),
                rx_bps: num(r.rx_bps),
                tx_pps: num(r.tx_pps),
                tx_bps: num(r.tx_bps),
            }
        }),
    }
}

/// Wall-clock time of day in UTC, `HH:MM:SS`.
fn clock() -> String {
    chrono::Utc::now().format("%H:%M:%S").to_string()
}

fn unix_time() -> f64 {
    let now = chrono::Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_nanos()) / 1e9
}

/// Sleeps until `deadline` or until `stop` (Ctrl-C); true when stopped.
fn sleep_until(deadline: Instant, stop: &StopHandle) -> bool {
    loop {
        if stop.is_stopped() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        // Short slices: std's sleep resumes after a signal, so Ctrl-C is seen within 100 ms.
        std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
    }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    match watch(args) {
        // Output piped into a program that quit (`| head`): a normal way to end.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(0)
        }
        other => other,
    }
}

fn watch(args: Args) -> anyhow::Result<i32> {
    if !(args.interval >= 0.1 && args.interval <= 3600.0) {
        bail!(
            "--interval {} is out of range (0.1 to 3600 seconds)",
            args.interval
        );
    }
    if args.count == Some(0) {
        bail!("-c 0: the sample count must be at least 1");
    }
    for n in &args.ifaces {
        ringcap_netinfo::check_interface(n)?;
    }
    let stop = StopHandle::new();
    ringcap::signals::stop_on_signal(&stop).context("installing the Ctrl-C handler")?;

    let names = &args.ifaces;
    let width = names.iter().map(|n| n.len()).max().unwrap_or(5).max(5);
    let first = snapshot(names, args.cpu)?;
    let mut prev = first.clone();
    let mut out = std::io::stdout().lock();
    if !args.json {
        writeln!(
            out,
            "{:<8}  {:<width$} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
            "time",
            "iface",
            "rx pkt/s",
            "rx bit/s",
            "tx pkt/s",
            "tx bit/s",
            "rx drop",
            "missed",
            "rx err",
            "tx err"
        )?;
        out.flush()?;
    }

    let interval = Duration::from_secs_f64(args.interval);
    let mut samples = 0u64;
    let mut deadline = prev.at + interval;
    loop {
        if sleep_until(deadline, &stop) {
            break;
        }
        deadline += interval;
        let now = snapshot(names, args.cpu)?;
        let secs = now.at.duration_since(prev.at).as_secs_f64();
        print_sample(&mut out, &args, width, &prev, &now, secs)?;
        out.flush()?;
        prev = now;
        samples += 1;
        if args.count.is_some_and(|c| samples >= c) {
            break;
        }
    }

    // Totals since the start, including any part of an interval cut short by Ctrl-C.
    let last = snapshot(names, false)?;
    let secs = last.at.duration_since(first.at).as_secs_f64();
    if args.json {
        let deltas: Vec<Counters> = last
            .ifaces
            .iter()
            .zip(&first.ifaces)
            .map(|(b, a)| b.since(a))
            .collect();
        let line = JsonLine::Total {
            seconds: num(secs),
            samples,
            interfaces: names
                .iter()
                .zip(&deltas)
                .map(|(n, d)| iface_json(n, d, None))
                .collect(),
        };
        writeln!(out, "{}", to_json(&line))?;
    } else {
        for (n, (b, a)) in names.iter().zip(last.ifaces.iter().zip(&first.ifaces)) {
            let d = b.since(a);
            writeln!(
                out,
                "total {n} over {secs:.2} s: rx {} packets {} bytes, tx {} packets {} bytes, \
                 rx dropped {}, tx dropped {}, missed {}, rx errors {}, tx errors {}",
                d.rx_packets,
                d.rx_bytes,
                d.tx_packets,
                d.tx_bytes,
                d.rx_dropped,
                d.tx_dropped,
                d.rx_missed,
                d.rx_errors,
                d.tx_errors
            )?;
        }
    }
    out.flush()?;
    Ok(0)
}

fn print_sample(
    out: &mut impl std::io::Write,
    args: &Args,
    width: usize,
    prev: &Snapshot,
    now: &Snapshot,
    secs: f64,
) -> anyhow::Result<()> {
    let deltas: Vec<Counters> = now
        .ifaces
        .iter()
        .zip(&prev.ifaces)
        .map(|(b, a)| b.since(a))
        .collect();
    // Per-CPU NET_RX per second and load, for CPUs present in both readings.
    let cpus: Vec<(usize, f64, u64, cpu::Load)> = now
        .times
        .iter()
        .filter_map(|(&c, t)| {
            let before = prev.times.get(&c)?;
            let rx_now = now.net_rx.get(&c).copied().unwrap_or(0);
            let rx_then = prev.net_rx.get(&c).copied().unwrap_or(0);
            let d = rx_now.saturating_sub(rx_then);
            Some((c, d as f64 / secs, d, t.load_since(before)))
        })
        .collect();

    if args.json {
        let line = JsonLine::Sample {
            time: num(unix_time()),
            interval: num(secs),
            interfaces: args
                .ifaces
                .iter()
                .zip(&deltas)
                .map(|(n, d)| iface_json(n, d, Some(secs)))
                .collect(),
            cpus: args.cpu.then(|| {
                cpus.iter()
                    .map(|(c, rate, d, l)| CpuJson {
                        cpu: *c,
                        net_rx: *d,
                        net_rx_per_s: num(*rate),
                        busy_pct: num(l.busy_pct),
                        softirq_pct: num(l.softirq_pct),
                        irq_pct: num(l.irq_pct),
                    })
                    .collect()
            }),
        };
        writeln!(out, "{}", to_json(&line))?;
        return Ok(());
    }

    let t = clock();
    for (n, d) in args.ifaces.iter().zip(&deltas) {
        let r = d.rates(secs);
        writeln!(
            out,
            "{t:<8}  {n:<width$} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
            si(r.rx_pps),
            si(r.rx_bps),
            si(r.tx_pps),
            si(r.tx_bps),
            d.rx_dropped,
            d.rx_missed,
            d.rx_errors,
            d.tx_errors
        )?;
    }
    for (c, rate, _, l) in &cpus {
        writeln!(
            out,
            "{:<8}  {:<width$} NET_RX {:>8}/s  busy {:5.1}%  softirq {:5.1}%  irq {:5.1}%",
            "",
            format!("cpu{c}"),
            si(*rate),
            l.busy_pct,
            l.softirq_pct,
            l.irq_pct
        )?;
    }
    Ok(())
}
