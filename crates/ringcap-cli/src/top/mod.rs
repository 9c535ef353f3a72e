//! `ringcap top`: a live view of a capture — per worker/CPU rates, drops and ring fill with a
//! minute of history, the top source hosts, destination hosts and flows of the last second, and
//! the interface's own counters — full screen on a terminal, one block of text lines per second
//! otherwise. Keys: `q` quits (with the usual summary), `s` sorts by packets or bytes, `p`
//! pauses the display (counting goes on).
//!
//! The numbers come from what the capture already keeps ([`ringcap::Monitor`]) plus the
//! workers' talker tables ([`talkers`]), read once per second; the interface counters from
//! sysfs (ringcap-netinfo).

mod screen;
pub mod talkers;

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ringcap::config::parse_cpu_list;
use ringcap::stats::human_rate;
use ringcap::{Capture, Config, EndReason, Mode, Monitor, Snapshot};
use ringcap_netinfo::stats::Counters;

use talkers::{Counts, SortBy, TalkerHandler, Talkers};

#[derive(clap::Args)]
#[command(after_help = "\
Keys: q quit (prints the capture's summary), s sort by packets or bytes, p pause the display.
Not on a terminal (a pipe, a file), or with --text: the same numbers as text lines once a second.

Examples:
  ringcap top -i eth0
  ringcap top -i eth0 --threads 2 udp port 53
  ringcap top -i eth0 --duration 10 --text > top.log")]
pub struct Args {
    /// Interface to watch.
    #[arg(short = 'i', long = "interface")]
    pub iface: String,
    /// Receive path: recv, ring or xdp.
    #[arg(long, default_value = "ring")]
    pub mode: Mode,
    /// Worker threads (default: the number of online CPUs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// CPUs to pin workers to, e.g. 0-3: worker i on the i-th CPU of the list.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Stop after COUNT packets in total.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Rows of each talkers table.
    #[arg(short = 'n', long = "rows", default_value_t = 10)]
    pub rows: usize,
    /// Rank talkers by pps or bps (the `s` key switches).
    #[arg(long, default_value = "pps", value_parser = ["pps", "bps"])]
    pub sort: String,
    /// Text lines once a second even on a terminal.
    #[arg(long)]
    pub text: bool,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Filter expression (tcpdump syntax).
    #[arg(trailing_var_arg = true, allow_hyphen_values = false)]
    pub expr: Vec<String>,
}

/// Talker table sizes per worker: enough for a busy link's distinct hosts in a second; more
/// are counted as "other".
const HOST_SLOTS: usize = 16 * 1024;
const FLOW_SLOTS: usize = 32 * 1024;
/// Seconds of history in the sparklines.
const HISTORY: usize = 60;

impl Args {
    fn config(&self) -> anyhow::Result<Config> {
        let mut cfg = Config::new(&self.iface).mode(self.mode);
        if let Some(list) = &self.cpus {
            let cpus = parse_cpu_list(list).map_err(anyhow::Error::msg)?;
            cfg.workers = cpus.len();
            cfg.cpus = Some(cpus);
        }
        if let Some(t) = self.threads {
            cfg.workers = t;
        }
        cfg.promisc = !self.no_promisc;
        cfg.count = self.count;
        cfg.duration = self
            .duration
            .map(|d| crate::util::seconds_arg("--duration", d))
            .transpose()?;
        if !(1..=1000).contains(&self.rows) {
            bail!("--rows {} must be between 1 and 1000", self.rows);
        }
        if !self.expr.is_empty() {
            cfg.filter = Some(crate::capture::compile_live(
                &self.expr.join(" "),
                cfg.snaplen,
                cfg.mode,
            )?);
        }
        Ok(cfg)
    }
}

/// One worker's line.
#[derive(Debug, Clone, Default)]
pub struct WorkerView {
    pub worker: usize,
    pub cpu: Option<usize>,
    pub pps: f64,
    pub bps: f64,
    pub drops: u64,
    /// Drops in the last interval.
    pub new_drops: u64,
    /// Ring blocks in user space, of the ring's blocks.
    pub fill: Option<(u64, u64)>,
    /// Packets per second over the last minute, oldest first.
    pub history: Vec<u64>,
}

/// The interface's own counters (sysfs) and rates.
#[derive(Debug, Clone, Default)]
pub struct IfView {
    pub rx_pps: f64,
    pub rx_bps: f64,
    pub now: Counters,
}

/// Everything one refresh shows.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub iface: String,
    pub mode: String,
    pub elapsed: f64,
    pub workers: Vec<WorkerView>,
    pub received: u64,
    pub drops: u64,
    pub talkers: Talkers,
    /// Seconds the talkers were counted over.
    pub interval: f64,
    pub ifc: Option<IfView>,
}

impl View {
    pub fn pps(&self) -> f64 {
        self.workers.iter().map(|w| w.pps).sum()
    }
    pub fn bps(&self) -> f64 {
        self.workers.iter().map(|w| w.bps).sum()
    }
}

/// Turns the live counters into [`View`]s, once per interval.
struct Sampler {
    iface: String,
    mode: String,
    monitor: Monitor,
    counts: Vec<Arc<Mutex<Box<Counts>>>>,
    spare: Box<Counts>,
    last: (Instant, Snapshot),
    last_if: Option<Counters>,
    history: Vec<VecDeque<u64>>,
}

impl Sampler {
    fn sample(&mut self) -> View {
        let now = Instant::now();
        let snap = self.monitor.snapshot();
        let secs = (now - self.last.0).as_secs_f64().max(1e-3);
        let talkers = talkers::collect(&self.counts, &mut self.spare);
        let ifc = Counters::read(&self.iface).ok();
        let mut v = View {
            iface: self.iface.clone(),
            mode: self.mode.clone(),
            elapsed: snap.elapsed,
            talkers,
            interval: secs,
            ..Default::default()
        };
        if let (Some(cur), Some(prev)) = (&ifc, &self.last_if) {
            let r = cur.since(prev).rates(secs);
            v.ifc = Some(IfView {
                rx_pps: r.rx_pps,
                rx_bps: r.rx_bps,
                now: *cur,
            });
        }
        for (i, w) in snap.workers.iter().enumerate() {
            let before = self.last.1.workers.get(i);
            let d = |f: fn(&ringcap::LiveWorker) -> u64| {
                f(w).saturating_sub(before.map(f).unwrap_or(0))
            };
            let pkts = d(|w| w.received);
            let h = &mut self.history[i];
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back((pkts as f64 / secs).round() as u64);
            v.received += w.received;
            v.drops += w.drops;
            v.workers.push(WorkerView {
                worker: w.worker,
                cpu: w.cpu,
                pps: pkts as f64 / secs,
                bps: d(|w| w.bytes) as f64 * 8.0 / secs,
                drops: w.drops,
                new_drops: d(|w| w.drops),
                fill: w.ring_blocks_waiting.zip(snap.ring_blocks.map(u64::from)),
                history: h.iter().copied().collect(),
            });
        }
        self.last = (now, snap);
        self.last_if = ifc;
        v
    }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let cfg = args.config()?;
    let capture = Capture::open(cfg)?;
    let stop = capture.stop_handle();
    ringcap::signals::stop_on_signal(&stop).context("installing signal handlers")?;
    let counts: Vec<Arc<Mutex<Box<Counts>>>> = (0..capture.workers())
        .map(|_| Arc::new(Mutex::new(Box::new(Counts::new(HOST_SLOTS, FLOW_SLOTS)))))
        .collect();
    let handlers: Vec<TalkerHandler> = counts.iter().map(|c| TalkerHandler(c.clone())).collect();
    let monitor = capture.monitor();
    let mut sampler = Sampler {
        iface: args.iface.clone(),
        mode: capture.config().mode.to_string(),
        history: vec![VecDeque::with_capacity(HISTORY); capture.workers()],
        last: (Instant::now(), monitor.snapshot()),
        last_if: Counters::read(&args.iface).ok(),
        monitor,
        counts,
        spare: Box::new(Counts::new(HOST_SLOTS, FLOW_SLOTS)),
    };
    let sort = if args.sort == "bps" {
        SortBy::Bytes
    } else {
        SortBy::Packets
    };
    let tty = std::io::stdout().is_terminal() && !args.text;
    let (report, shown) = std::thread::scope(|s| {
        let h = s.spawn(|| capture.run(handlers, |_| {}));
        let ended = || stop.is_stopped() || h.is_finished();
        let shown = if tty {
            screen::run(&mut sampler, &stop, &ended, sort, args.rows)
        } else {
            text_lines(&mut sampler, &ended, sort, args.rows)
        };
        if let Err(e) = &shown {
            stop.stop(EndReason::Error(format!("the display failed: {e}")));
        }
        let report = h
            .join()
            .unwrap_or_else(|_| Err(ringcap::Error::Config("the capture thread panicked".into())));
        (report, shown)
    });
    // The terminal is restored by now, on every path: print the usual summary.
    let report = report?;
    crate::capture::print_summary(&report, false);
    shown?;
    Ok(crate::capture::exit_code(&report))
}

/// Waits until the next refresh or the end of the capture; false when it ended.
fn wait_tick(next: Instant, ended: &dyn Fn() -> bool) -> bool {
    while Instant::now() < next {
        if ended() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(next - Instant::now()));
    }
    !ended()
}

/// Not a terminal: the same numbers as text lines, once a second.
fn text_lines(
    sampler: &mut Sampler,
    ended: &dyn Fn() -> bool,
    sort: SortBy,
    rows: usize,
) -> anyhow::Result<()> {
    let mut next = Instant::now() + Duration::from_secs(1);
    let mut out = std::io::stdout().lock();
    while wait_tick(next, ended) {
        next += Duration::from_secs(1);
        let v = sampler.sample();
        let text = text_block(&v, sort, rows);
        if out
            .write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            // The reader went away (a closed pipe): stop like `q` would.
            break;
        }
    }
    Ok(())
}

fn bits(v: f64) -> String {
    format!("{}bit/s", human_rate(v))
}

fn fill_text(fill: Option<(u64, u64)>) -> String {
    match fill {
        Some((used, of)) => format!("{used}/{of}"),
        None => "-".into(),
    }
}

/// One refresh as text: a header line, one line per worker, the talkers, the interface.
pub fn text_block(v: &View, sort: SortBy, rows: usize) -> String {
    let mut s = format!(
        "top {:.1}s {} {}: {}pps {} received {} dropped {}\n",
        v.elapsed,
        v.iface,
        v.mode,
        human_rate(v.pps()),
        bits(v.bps()),
        v.received,
        v.drops
    );
    for w in &v.workers {
        s += &format!(
            "  worker {} cpu {}: {}pps {} dropped {} (+{}) ring {}\n",
            w.worker,
            w.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            human_rate(w.pps),
            bits(w.bps),
            w.drops,
            w.new_drops,
            fill_text(w.fill)
        );
    }
    let secs = v.interval.max(1e-3);
    for (label, list) in [
        ("src", &v.talkers.src),
        ("dst", &v.talkers.dst),
        ("flow", &v.talkers.flows),
    ] {
        for r in talkers::top(list, sort, rows) {
            s += &format!(
                "  {label} {} {}pps {}\n",
                r.name,
                human_rate(r.packets as f64 / secs),
                bits(r.bytes as f64 * 8.0 / secs)
            );
        }
    }
    if v.talkers.other.0 > 0 {
        s += &format!(
            "  other (not IP, or past the tables) {}pps {}\n",
            human_rate(v.talkers.other.0 as f64 / secs),
            bits(v.talkers.other.1 as f64 * 8.0 / secs)
        );
    }
    if let Some(i) = &v.ifc {
        s += &format!(
            "  interface {}: rx {}pps {} rx_packets {} rx_dropped {} rx_missed {} rx_errors {}\n",
            v.iface,
            human_rate(i.rx_pps),
            bits(i.rx_bps),
            i.now.rx_packets,
            i.now.rx_dropped,
            i.now.rx_missed,
            i.now.rx_errors
        );
    }
    s
}
