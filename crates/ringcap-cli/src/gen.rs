//! `ringcap gen`: send template frames (SYN flood, UDP, ICMP echo) or replay a capture file,
//! through AF_PACKET TX rings, one sender per CPU.

use std::path::PathBuf;

use anyhow::{bail, Context};
use ringcap::config::{format_cpu_list, parse_cpu_list};
use ringcap::stats::{human_bytes, human_rate};
use ringcap_gen::{
    FrameSpec, GenConfig, GenReport, Generator, IpRange, MacAddr, PortRange, Proto, Source, Tick,
    Timing, TxMode,
};

#[derive(clap::Args)]
#[command(after_help = "\
Templates (--template):
  syn    minimum-size TCP SYN (60 bytes on the wire for IPv4), the classic SYN flood
  udp    UDP, payload filling --size bytes (60 to 9000)
  icmp   ICMP echo request, payload filling --size bytes; --src-port walks the echo id
  syn6, udp6, icmp6 (or --ipv6): the same over IPv6
Flows: by default the source port walks 1024-65535 and the source address 254 hosts, so RSS,
RPS and fanout on the receiver spread the frames. --random picks each field at random instead.

Sending: one thread per CPU, each with its own TPACKET_V2 TX ring (qdisc bypass); many frames
per sendto kick. sendmmsg is used with --no-ring or when the kernel refuses the ring.
Counters: per second on stderr; per thread and in total at the end on stdout. Frames the kernel
refused (or that exceed the MTU) are counted apart, so sent + refused = what was asked.

Examples:
  ringcap gen -i eth1                                 SYN flood from every core, flat out
  ringcap gen -i eth1 -c 1000000 --pps 100k           a million frames at 100 kpps
  ringcap gen -i eth1 -t udp --size 1514 --dst-ip 10.1.0.0/24 --dst-port 5000-5100 --random
  ringcap gen -i eth1 --replay trace.pcapng --timing file --loop 3")]
pub struct Args {
    /// Interface to send on.
    #[arg(short = 'i', long = "interface")]
    pub iface: String,
    /// Frame template: syn, udp, icmp, syn6, udp6, icmp6.
    #[arg(short = 't', long, default_value = "syn")]
    pub template: String,
    /// Use IPv6 (the template's IPv6 variant).
    #[arg(long)]
    pub ipv6: bool,
    /// Frame length in bytes without FCS, 60 to 9000 (default: the template's minimum).
    #[arg(long, value_name = "BYTES")]
    pub size: Option<usize>,
    /// Source addresses: ADDR, FIRST-LAST or ADDR/PREFIX.
    #[arg(long, value_name = "RANGE")]
    pub src_ip: Option<IpRange>,
    /// Destination addresses: ADDR, FIRST-LAST or ADDR/PREFIX.
    #[arg(long, value_name = "RANGE")]
    pub dst_ip: Option<IpRange>,
    /// Source ports (ICMP: echo identifiers): PORT or FIRST-LAST.
    #[arg(long, value_name = "RANGE")]
    pub src_port: Option<PortRange>,
    /// Destination ports: PORT or FIRST-LAST.
    #[arg(long, value_name = "RANGE")]
    pub dst_port: Option<PortRange>,
    #[arg(long, value_name = "MAC")]
    pub src_mac: Option<MacAddr>,
    #[arg(long, value_name = "MAC")]
    pub dst_mac: Option<MacAddr>,
    /// Pick addresses and ports at random in their ranges instead of walking them in order.
    #[arg(long)]
    pub random: bool,
    /// Seed for --random.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Frames per second over all threads (suffixes k, M); 0 = as fast as possible.
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = parse_rate)]
    pub pps: u64,
    /// Send exactly COUNT frames in total, then stop.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after SECS seconds (fractions allowed).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Sender threads (default: one per CPU of --cpus, or per online CPU).
    #[arg(long)]
    pub threads: Option<usize>,
    /// CPUs to pin senders to, e.g. 0-3,8: thread i on the i-th CPU of the list.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Do not pin sender threads.
    #[arg(long)]
    pub no_pin: bool,
    /// Send with sendmmsg instead of a TX ring.
    #[arg(long)]
    pub no_ring: bool,
    /// Replay the frames of a pcap or pcapng file instead of a template.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Replay timing: asap (as fast as possible, or --pps) or file (the file's own gaps).
    #[arg(long, default_value = "asap", value_parser = ["asap", "file"])]
    pub timing: String,
    /// Replay the file N times (0 = until stopped).
    #[arg(long = "loop", value_name = "N", default_value_t = 1)]
    pub loops: u64,
    /// Frame slots per thread's TX ring.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub ring_frames: u32,
    /// Frames per sendto kick at most.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub batch: usize,
    /// Send through the qdisc layer instead of bypassing it.
    #[arg(long)]
    pub no_qdisc_bypass: bool,
    /// Let the kernel attach TX ring pages to socket buffers (zero copy) instead of copying
    /// each frame (the default, cheaper for small frames and on veth).
    #[arg(long)]
    pub zero_copy: bool,
    /// No per-second counters.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
}

/// `1000`, `100k`, `1.5M`, `2G`.
fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("invalid rate {s:?} (e.g. 1000, 100k, 1.5M)");
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    let r = v * mult;
    if r > u64::MAX as f64 / 2.0 {
        return Err(format!("rate {s:?} is out of range"));
    }
    Ok(r.round() as u64)
}

fn template(args: &Args) -> anyhow::Result<FrameSpec> {
    let (proto, v6) = match args.template.as_str() {
        "syn" => (Proto::Syn, false),
        "udp" => (Proto::Udp, false),
        "icmp" => (Proto::Icmp, false),
        "syn6" => (Proto::Syn, true),
        "udp6" => (Proto::Udp, true),
        "icmp6" => (Proto::Icmp, true),
        t => bail!("unknown template {t:?} (syn, udp, icmp, syn6, udp6, icmp6)"),
    };
    // IPv6 when asked for, or when the given addresses are IPv6.
    let v6 =
        v6 || args.ipv6 || args.src_ip.is_some_and(|r| r.v6) || args.dst_ip.is_some_and(|r| r.v6);
    let mut s = FrameSpec::new(proto, v6);
    s.size = args.size;
    if let Some(r) = args.src_ip {
        s.src_ip = r;
    }
    if let Some(r) = args.dst_ip {
        s.dst_ip = r;
    }
    if let Some(p) = args.src_port {
        s.src_port = p;
    }
    if let Some(p) = args.dst_port {
        s.dst_port = p;
    }
    if let Some(m) = args.src_mac {
        s.src_mac = m;
    }
    if let Some(m) = args.dst_mac {
        s.dst_mac = m;
    }
    s.random = args.random;
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    Ok(s)
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let exporter = crate::metrics::bind(&args.metrics, "gen")?;
    let (source, what) = source(&args)?;
    let cfg = config(&args, source)?;
    if let (Timing::File, Source::Replay(r), Some(path)) = (cfg.timing, &cfg.source, &args.replay) {
        // Before the interface: the file's fault, named with the file.
        r.check_timing(cfg.loops)
            .with_context(|| format!("replaying {}", path.display()))?;
    }
    let gen = Generator::new(cfg).with_context(|| format!("cannot send on {}", args.iface))?;
    // Ctrl-C, SIGTERM and SIGHUP end the run through the senders' stop flag.
    let stop = ringcap::StopHandle::new();
    ringcap::signals::stop_on_signal(&stop).context("installing signal handlers")?;
    if let Some(why) = gen.fallback() {
        eprintln!("ringcap gen: {why}");
    }
    announce(&gen, &args.iface, &what);

    let feed = crate::metrics::GenFeed::default();
    let _server = feed.serve(exporter)?;
    let gen_cpus = gen.cpus();
    let mut progress = Progress::new(args.quiet);
    let report = gen.run(stop.flag(), |tick| {
        feed.update(
            tick.threads
                .iter()
                .enumerate()
                .map(|(i, t)| (gen_cpus.get(i).copied().flatten(), t.0, t.1, t.2)),
        );
        progress.tick(tick);
    });
    let report = report?;
    feed.update(
        report
            .threads
            .iter()
            .map(|t| (t.cpu, t.frames, t.bytes, t.refused)),
    );
    print_report(&report);
    if let Some(e) = report.error() {
        eprintln!("ringcap: sending on {} failed: {e}", args.iface);
        return Ok(1);
    }
    Ok(0)
}

/// What to send (a replayed file, or a template's frames) and how the start line names it.
fn source(args: &Args) -> anyhow::Result<(Source, String)> {
    Ok(match &args.replay {
        Some(path) => {
            let r = ringcap_gen::load_replay(path)?;
            let what = format!(
                "{} frames of {}{}",
                r.frames.len(),
                path.display(),
                if r.truncated > 0 {
                    format!(" ({} cut short at capture, sent as captured)", r.truncated)
                } else {
                    String::new()
                }
            );
            (Source::Replay(r), what)
        }
        None => {
            let spec = template(args)?;
            let what = format!(
                "{} frames ({} flows{})",
                spec.name(),
                match spec.flows() {
                    f if f > 1 << 40 => "2^40+".to_string(),
                    f => f.to_string(),
                },
                if spec.random { ", random" } else { "" }
            );
            (Source::Template(spec), what)
        }
    })
}

/// The generator's configuration from the command line.
fn config(args: &Args, source: Source) -> anyhow::Result<GenConfig> {
    let mut cfg = GenConfig::new(&args.iface, source);
    cfg.timing = if args.timing == "file" {
        Timing::File
    } else {
        Timing::Asap
    };
    if cfg.timing == Timing::File && args.pps > 0 {
        bail!("--timing file and --pps exclude each other");
    }
    cfg.loops = args.loops;
    cfg.pps = args.pps;
    cfg.count = args.count;
    if let Some(d) = args.duration {
        cfg.duration = Some(crate::util::seconds_arg("--duration", d)?);
    }
    cfg.threads = args.threads;
    if let Some(list) = &args.cpus {
        cfg.cpus = Some(parse_cpu_list(list).map_err(anyhow::Error::msg)?);
    }
    cfg.pin = !args.no_pin;
    cfg.mode = if args.no_ring {
        TxMode::Sendmmsg
    } else {
        TxMode::Auto
    };
    cfg.ring_frames = args.ring_frames;
    cfg.batch = args.batch;
    cfg.qdisc_bypass = !args.no_qdisc_bypass;
    cfg.copy_frames = !args.zero_copy;
    Ok(cfg)
}

/// The start line on stderr: what, how big, where, on how many threads and CPUs, how.
fn announce(gen: &Generator, iface: &str, what: &str) {
    let cpus: Vec<usize> = gen.cpus().into_iter().flatten().collect();
    eprintln!(
        "ringcap gen: sending {what}, {} bytes each, on {iface} with {} thread{}{}{}",
        gen.frame_len(),
        gen.threads(),
        if gen.threads() == 1 { "" } else { "s" },
        if cpus.is_empty() {
            String::new()
        } else {
            format!(" (CPU {})", format_cpu_list(&cpus))
        },
        if gen.ring_memory() > 0 {
            format!(", TX rings {}", human_bytes(gen.ring_memory() as u64))
        } else {
            ", sendmmsg".to_string()
        }
    );
}

/// The per-second counters on stderr (unless quiet): rates since the previous tick, in
/// total and per thread.
struct Progress {
    quiet: bool,
    /// Frames, bytes and elapsed ns at the previous tick.
    last: (u64, u64, u64),
    /// Frames per thread at the previous tick.
    last_per: Vec<u64>,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            last: (0, 0, 0),
            last_per: Vec::new(),
        }
    }

    fn tick(&mut self, tick: &Tick) {
        let (f, b): (u64, u64) = tick
            .threads
            .iter()
            .fold((0, 0), |a, t| (a.0 + t.0, a.1 + t.1));
        let refused: u64 = tick.threads.iter().map(|t| t.2).sum();
        if !self.quiet {
            let last = self.last;
            let dt = (tick.elapsed_ns - last.2) as f64 / 1e9;
            self.last_per.resize(tick.threads.len(), 0);
            let per: Vec<String> = tick
                .threads
                .iter()
                .zip(&self.last_per)
                .enumerate()
                .map(|(i, (t, l))| format!("t{i} {}", human_rate((t.0 - l) as f64 / dt).trim_end()))
                .collect();
            eprintln!(
                "{:>6.1}s  {}pps  {}bit/s  refused {refused}  [{}]",
                tick.elapsed_ns as f64 / 1e9,
                human_rate((f - last.0) as f64 / dt),
                human_rate((b - last.1) as f64 * 8.0 / dt),
                per.join(" ")
            );
        }
        self.last = (f, b, tick.elapsed_ns);
        self.last_per = tick.threads.iter().map(|t| t.0).collect();
    }
}

/// The end on stdout: a line per thread, then the total.
fn print_report(report: &GenReport) {
    let secs = report.elapsed_ns as f64 / 1e9;
    for (i, t) in report.threads.iter().enumerate() {
        println!(
            "thread {i}{} {}: {} frames, {} bytes, {} refused{}{}",
            t.cpu.map(|c| format!(" (CPU {c})")).unwrap_or_default(),
            t.mode,
            t.frames,
            t.bytes,
            t.refused,
            if t.unsent > 0 {
                format!(", {} not sent", t.unsent)
            } else {
                String::new()
            },
            t.error
                .as_ref()
                .map(|e| format!(", stopped by: {e}"))
                .unwrap_or_default()
        );
    }
    println!(
        "total: {} frames, {} bytes in {secs:.3} s ({}pps, {}bit/s), {} refused, {} not sent",
        report.frames,
        report.bytes,
        human_rate(report.frames as f64 / secs.max(1e-9)),
        human_rate(report.bytes as f64 * 8.0 / secs.max(1e-9)),
        report.refused,
        report.unsent
    );
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("0"), Ok(0));
        assert_eq!(parse_rate("100k"), Ok(100_000));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000));
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
