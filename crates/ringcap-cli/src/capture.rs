//! `ringcap capture`: the four AF_PACKET receive paths (and AF_XDP) on every core.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use ringcap::config::{format_cpu_list, parse_cpu_list, Geometry, XdpOptions, DEFAULT_MAX_MEMORY};
use ringcap::stats::{human_bytes, human_rate};
use ringcap::{Batch, Capture, Config, Fanout, FanoutMode, Flow, Handler, Mode, Report, Tick};

use crate::util::parse_size;

#[derive(clap::Args)]
#[command(after_help = "\
Receive paths (--mode, --threads):
  recv, 1 thread    one AF_PACKET socket, one recvmsg per packet (the baseline)
  recv, N threads   N sockets in one PACKET_FANOUT group
  ring, 1 thread    a TPACKET_V3 mmap ring, poll only when no block is ready
  ring, N threads   a ring per worker in one fanout group (the default, N = online CPUs)
  xdp               AF_XDP, one socket per RX queue; frames it takes NO LONGER REACH the
                    host's network stack (right for a mirror port, wrong for a host's own traffic);
                    with a filter, it runs in the XDP program and only matching frames are
                    taken: the others stay with the host (--xdp-filter user: all are taken)

Ring defaults suit a busy 10 GbE port: 64 blocks of 1 MiB per worker; the 4 ms block timeout
lets a lone packet show within ~10 ms at low rates. Counts add up at the end:
kernel-counted = received + past -c + dropped.

Examples:
  ringcap capture -i eth0                       every core, counts per second
  ringcap capture -i eth0 -c 1000 --mode recv --threads 1
  ringcap capture -i eth0 --fanout hash --cpus 2-5 --stats json")]
pub struct Args {
    /// Interface to capture on.
    #[arg(short = 'i', long = "interface")]
    pub iface: String,
    /// Stop after exactly COUNT packets in total (across workers).
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after SECS seconds (fractions allowed).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Bytes to keep of each packet (the original length is kept too).
    #[arg(short = 's', long = "snaplen", default_value_t = ringcap::config::DEFAULT_SNAPLEN)]
    pub snaplen: u32,
    /// Receive path: recv, ring or xdp.
    #[arg(long, default_value = "ring")]
    pub mode: Mode,
    /// Worker threads (default: the number of online CPUs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// CPUs to pin workers to, e.g. 0-3,8: worker i on the i-th CPU of the list (default: CPU i).
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Do not pin workers to CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Fanout mode: hash, lb, cpu, rnd, rollover, qm.
    #[arg(long, default_value = "cpu", value_parser = parse_fanout_mode)]
    pub fanout: FanoutMode,
    /// Fanout flags, comma separated: defrag, rollover.
    #[arg(long, value_name = "FLAGS")]
    pub fanout_flags: Option<String>,
    /// Fanout group id (default: a free id chosen by the kernel).
    #[arg(long, value_name = "ID")]
    pub fanout_group: Option<u16>,
    /// Ring block size in bytes (suffixes K, M): a power-of-two multiple of the page size.
    #[arg(long, value_parser = parse_size_u32, default_value = "1M")]
    pub block_size: u32,
    /// Ring blocks per worker.
    #[arg(long, default_value_t = 64)]
    pub blocks: u32,
    /// Ring frame size: a multiple of 16, at most the block size.
    #[arg(long, value_parser = parse_size_u32, default_value = "2048")]
    pub frame_size: u32,
    /// Hand a partly filled block to ringcap after this many milliseconds (latency at low rates).
    #[arg(long, default_value_t = 4)]
    pub block_timeout_ms: u32,
    /// Under heavy traffic (a quarter block or more per wake-up), wait up to this long before
    /// polling again so one wake-up takes several blocks; never long enough to fill a quarter of
    /// the ring. Light traffic is not delayed. 0: poll right away.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub coalesce_ms: u64,
    /// Refuse rings above this total size (suffixes K, M, G, T).
    #[arg(long, value_parser = parse_size, default_value_t = DEFAULT_MAX_MEMORY)]
    pub max_memory: u64,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// No per-second statistics line.
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Per-second statistics format: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub stats: String,
    /// AF_XDP attach mode: native or generic (default: native, falling back to generic).
    #[arg(long, value_parser = ["native", "generic"])]
    pub xdp_mode: Option<String>,
    /// AF_XDP zero-copy (drivers that support it).
    #[arg(long)]
    pub zero_copy: bool,
    /// AF_XDP busy polling (SO_PREFER_BUSY_POLL, SO_BUSY_POLL).
    #[arg(long)]
    pub busy_poll: bool,
    /// Where the filter runs in xdp mode: kernel (in the XDP program; what does not match stays
    /// with the host's stack) or user (every frame is taken, then filtered in user space).
    #[arg(long, default_value = "kernel", value_parser = ["kernel", "user"])]
    pub xdp_filter: String,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
    /// Filter expression (tcpdump syntax), compiled to classic BPF and run in the kernel.
    #[arg(trailing_var_arg = true, allow_hyphen_values = false)]
    pub expr: Vec<String>,
}

fn parse_fanout_mode(s: &str) -> Result<FanoutMode, String> {
    s.parse()
}

fn parse_size_u32(s: &str) -> Result<u32, String> {
    let v = parse_size(s)?;
    u32::try_from(v).map_err(|_| format!("{s} is too large (at most 4G-1)"))
}

impl Args {
    fn config(&self) -> anyhow::Result<Config> {
        let mut cfg = Config::new(&self.iface);
        cfg.mode = self.mode;
        if let Some(t) = self.threads {
            cfg.workers = t;
        }
        cfg.cpus = match &self.cpus {
            Some(list) => Some(parse_cpu_list(list).map_err(anyhow::Error::msg)?),
            None => None,
        };
        if self.threads.is_none() {
            if let Some(list) = &cfg.cpus {
                cfg.workers = list.len();
            }
        }
        cfg.pin = !self.no_pin;
        let mut fanout = Fanout {
            mode: self.fanout,
            group: self.fanout_group,
            ..Default::default()
        };
        if let Some(flags) = &self.fanout_flags {
            for f in flags.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                match f {
                    "defrag" => fanout.defrag = true,
                    "rollover" => fanout.rollover = true,
                    _ => bail!("unknown fanout flag {f:?} (defrag, rollover)"),
                }
            }
        }
        if fanout.rollover && fanout.mode == FanoutMode::Rollover {
            bail!("--fanout-flags rollover cannot be combined with --fanout rollover");
        }
        cfg.fanout = fanout;
        cfg.geometry = Geometry {
            block_size: self.block_size,
            blocks: self.blocks,
            frame_size: self.frame_size,
            block_timeout_ms: self.block_timeout_ms,
        };
        cfg.promisc = !self.no_promisc;
        cfg.snaplen = self.snaplen;
        cfg.max_memory = self.max_memory;
        if self.coalesce_ms > 1000 {
            bail!("--coalesce-ms {} is above 1000", self.coalesce_ms);
        }
        cfg.coalesce = Duration::from_millis(self.coalesce_ms);
        cfg.count = self.count;
        cfg.duration = match self.duration {
            Some(d) if d.is_finite() && d > 0.0 => Some(Duration::from_secs_f64(d)),
            Some(d) => bail!("--duration {d} must be a positive number of seconds"),
            None => None,
        };
        cfg.xdp = XdpOptions {
            native: self.xdp_mode.as_deref().map(|m| m == "native"),
            zero_copy: self.zero_copy,
            busy_poll: self.busy_poll,
            user_filter: self.xdp_filter == "user",
        };
        if !self.expr.is_empty() {
            cfg.filter = Some(compile_live(&self.expr.join(" "), cfg.snaplen, cfg.mode)?);
        }
        Ok(cfg)
    }
}

/// Compiles the expression for a live Linux socket (VLAN and direction from the kernel), or for
/// AF_XDP's user-space run over the frame's own bytes.
pub(crate) fn compile_live(
    expr: &str,
    snaplen: u32,
    mode: Mode,
) -> anyhow::Result<ringcap_filter::Program> {
    let target = if mode == Mode::Xdp {
        ringcap_filter::Target::File
    } else {
        ringcap_filter::Target::LinuxLive
    };
    ringcap_filter::compile(
        expr,
        ringcap_filter::LinkType::Ethernet,
        snaplen,
        target,
        true,
    )
    .map_err(|e| anyhow::anyhow!("filter: {e}"))
}

/// Counts only: the engine already counts packets and bytes, so this sink does nothing.
struct CountOnly;

impl Handler for CountOnly {
    #[inline]
    fn batch(&mut self, _batch: &mut Batch<'_>) -> Flow {
        Flow::Continue
    }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let cfg = args.config()?;
    // An unwritable output fails before any socket is opened.
    crate::output::check_writable(&args.output)?;
    let capture = Capture::open(cfg)?;
    ringcap::signals::stop_on_signal(&capture.stop_handle())
        .context("installing signal handlers")?;
    let cfg = capture.config().clone();
    let to_stdout = args.output.write.as_deref() == Some("-");
    if !args.quiet {
        eprintln!("{}", start_line(&capture));
        if cfg.mode == Mode::Xdp {
            if cfg.filter.is_some() && !cfg.xdp.user_filter {
                eprintln!(
                    "ringcap: note: in xdp mode the frames the filter matches no longer reach \
                     this host's network stack; the others pass to it"
                );
            } else {
                eprintln!("ringcap: note: {}", ringcap::xdp::HOST_STACK_WARNING);
            }
            if args.threads.is_some() {
                eprintln!(
                    "ringcap: note: --threads is ignored in xdp mode: one worker per RX queue"
                );
            }
        }
    }
    // JSON statistics go to standard output unless the packets do.
    let json = args.stats == "json";
    let quiet = args.quiet;
    let on_tick = |t: &Tick| {
        if quiet {
            return;
        }
        if json && !to_stdout {
            println!("{}", tick_json(t));
            let _ = std::io::stdout().flush();
        } else if json {
            eprintln!("{}", tick_json(t));
        } else {
            eprintln!("{}", tick_line(t));
        }
    };
    let (report, output_failed) = if args.output.write.is_some() {
        let (sinks, summary) =
            crate::output::open_writers(&args.output, &cfg.iface, cfg.snaplen, capture.workers())?;
        let report = capture.run(sinks, on_tick)?;
        print_summary(&report, json && !to_stdout);
        eprintln!("{}", summary.line());
        (report, summary.failed())
    } else {
        let handlers: Vec<CountOnly> = (0..capture.workers()).map(|_| CountOnly).collect();
        let report = capture.run(handlers, on_tick)?;
        print_summary(&report, json);
        (report, false)
    };
    // The one-line error, last: which worker failed and why.
    if let ringcap::EndReason::WorkerFailed { .. } = report.reason {
        eprintln!("ringcap: {}", report.reason);
    }
    Ok(if output_failed { 1 } else { exit_code(&report) })
}

/// Exit status: 0 for a normal end, 1 when it ended on an error or the counts do not add up.
pub fn exit_code(report: &Report) -> i32 {
    if report.reason.is_error() || !report.reconciles() {
        1
    } else {
        0
    }
}

fn start_line(c: &Capture) -> String {
    let cfg = c.config();
    let cpus: Vec<usize> = (0..c.workers()).filter_map(|i| cfg.cpu_of(i)).collect();
    let mut s = format!(
        "ringcap: capturing on {}, {} mode, {} worker{}",
        cfg.iface,
        cfg.mode,
        c.workers(),
        if c.workers() == 1 { "" } else { "s" }
    );
    if !cpus.is_empty() {
        s += &format!(" on CPU {}", format_cpu_list(&cpus));
    }
    if let Some(id) = c.fanout_id() {
        s += &format!(", fanout {} group {id}", cfg.fanout.mode);
    }
    if cfg.mode == Mode::Ring {
        s += &format!(
            ", ring {} x {} blocks x {} = {}",
            c.workers(),
            cfg.geometry.blocks,
            human_bytes(cfg.geometry.block_size as u64),
            human_bytes(c.ring_memory())
        );
    }
    match (cfg.filter.is_some(), cfg.mode, cfg.xdp.user_filter) {
        (false, _, _) => {}
        (true, Mode::Xdp, false) => s += ", filter in the XDP program",
        (true, Mode::Xdp, true) => s += ", filter in user space",
        (true, _, _) => s += ", kernel filter attached",
    }
    s
}

fn tick_line(t: &Tick) -> String {
    let per: Vec<String> = t
        .worker_packets
        .iter()
        .map(|p| {
            human_rate(*p as f64 / t.interval.max(1e-9))
                .trim()
                .to_string()
        })
        .collect();
    format!(
        "{:>7.1}s {:>10}pps {:>10}bps  workers [{}]  received {} kernel {} dropped {} freezes {}",
        t.elapsed,
        human_rate(t.total_pps()),
        human_rate(t.total_bps()),
        per.join(" "),
        t.received,
        t.kernel_packets,
        t.drops,
        t.freezes
    )
}

fn unix_time() -> f64 {
    let now = chrono::Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_nanos()) / 1e9
}

/// A per-second statistics line of `--stats json`.
#[derive(serde::Serialize)]
struct TickJson<'a> {
    time: Option<f64>,
    elapsed: Option<f64>,
    pps: Option<f64>,
    bps: Option<f64>,
    worker_packets: &'a [u64],
    received: u64,
    kernel_packets: u64,
    drops: u64,
    freezes: u64,
}

fn tick_json(t: &Tick) -> String {
    crate::util::to_json(&TickJson {
        time: crate::util::json_num(unix_time(), 3),
        elapsed: crate::util::json_num(t.elapsed, 3),
        pps: crate::util::json_num(t.total_pps(), 1),
        bps: crate::util::json_num(t.total_bps(), 1),
        worker_packets: &t.worker_packets,
        received: t.received,
        kernel_packets: t.kernel_packets,
        drops: t.drops,
        freezes: t.freezes,
    })
}

/// The last line of `--stats json`: the end-of-capture summary.
#[derive(serde::Serialize)]
struct SummaryJson {
    summary: bool,
    reason: String,
    received: u64,
    kernel_packets: u64,
    drops: u64,
    past_count: u64,
    freezes: u64,
    losing_blocks: u64,
    reconciles: bool,
    /// The mode's own counts, by name (AF_XDP: xdp_passed, the frames the filter left to the
    /// host).
    extra: serde_json::Map<String, serde_json::Value>,
    workers: Vec<WorkerJson>,
}

#[derive(serde::Serialize)]
struct WorkerJson {
    worker: usize,
    received: u64,
    kernel_packets: u64,
    drops: u64,
    past_count: u64,
}

fn summary_json(r: &Report) -> String {
    let t = &r.total;
    crate::util::to_json(&SummaryJson {
        summary: true,
        reason: r.reason.to_string(),
        received: t.received,
        kernel_packets: t.kernel_packets,
        drops: t.drops,
        past_count: t.past_count,
        freezes: t.freezes,
        losing_blocks: t.losing_blocks,
        reconciles: r.reconciles(),
        extra: r
            .extra
            .iter()
            .map(|(n, v)| (n.clone(), (*v).into()))
            .collect(),
        workers: r
            .workers
            .iter()
            .map(|w| WorkerJson {
                worker: w.worker,
                received: w.received,
                kernel_packets: w.kernel_packets,
                drops: w.drops,
                past_count: w.past_count,
            })
            .collect(),
    })
}

/// The end-of-capture summary: per worker and total, and whether the counts add up.
pub fn print_summary(r: &Report, json: bool) {
    let past = if r.reason == ringcap::EndReason::Count {
        "past -c"
    } else {
        "unprocessed"
    };
    let mut out = String::new();
    out += &format!(
        "{:>6} {:>4} {:>12} {:>12} {:>12} {:>12} {:>8} {:>7}\n",
        "worker", "cpu", "received", "kernel", "dropped", past, "freezes", "losing"
    );
    let row = |name: &str, w: &ringcap::WorkerReport| {
        format!(
            "{:>6} {:>4} {:>12} {:>12} {:>12} {:>12} {:>8} {:>7}\n",
            name,
            w.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            w.received,
            w.kernel_packets,
            w.drops,
            w.past_count,
            w.freezes,
            w.losing_blocks
        )
    };
    for w in &r.workers {
        out += &row(&w.worker.to_string(), w);
    }
    out += &row("total", &r.total);
    for (name, v) in &r.extra {
        out += &format!("  {name}: {v}\n");
    }
    for p in r.problems() {
        out += &format!("{p}\n");
    }
    let t = &r.total;
    // xdp with the filter in the kernel: what it left to the host is beside the reconciliation
    let passed = r
        .extra
        .iter()
        .find(|(n, _)| n == "xdp_passed")
        .map_or(String::new(), |(_, v)| {
            format!(" (passed to the host by the filter: {v})")
        });
    if r.reconciles() {
        out += &format!(
            "counts add up: kernel {} = received {} + {past} {} + dropped {}{passed}\n",
            t.kernel_packets, t.received, t.past_count, t.drops
        );
    } else if !t.complete {
        let which: Vec<String> = r
            .workers
            .iter()
            .filter(|w| !w.complete)
            .map(|w| w.worker.to_string())
            .collect();
        out += &format!(
            "COUNTS CANNOT BE CHECKED: worker {} has no final counts; kernel {}, received {} + {past} {} + dropped {}\n",
            which.join(", "),
            t.kernel_packets, t.received, t.past_count, t.drops
        );
    } else {
        out += &format!(
            "COUNTS DO NOT ADD UP: kernel {} != received {} + {past} {} + dropped {}\n",
            t.kernel_packets, t.received, t.past_count, t.drops
        );
    }
    let secs = (t.end_ns.saturating_sub(t.start_ns)) as f64 / 1e9;
    out += &format!(
        "ended: {} after {:.2}s ({} bytes, {} batches, {} waits, cpu user {:.3}s sys {:.3}s)",
        r.reason,
        secs,
        t.bytes,
        t.batches,
        t.polls,
        t.cpu_user_ns as f64 / 1e9,
        t.cpu_sys_ns as f64 / 1e9
    );
    eprintln!("{out}");
    if json {
        println!("{}", summary_json(r));
    }
}
