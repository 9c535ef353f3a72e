//! `ringcap capture`: the four AF_PACKET receive paths (and AF_XDP) on every core.

use std::io::Write;

use anyhow::{bail, Context};
use ringcap::config::format_cpu_list;
use ringcap::stats::{human_bytes, human_rate};
use ringcap::{Batch, Capture, Flow, Handler, LinkLayer, Mode, Report, Tick};

mod args;
pub mod record;

pub(crate) use args::compile_live;
pub use args::Args;
use args::Why;

/// Counts only: the engine already counts packets and bytes, so this sink does nothing.
struct CountOnly;

impl Handler for CountOnly {
    #[inline]
    fn batch(&mut self, _batch: &mut Batch<'_>) -> Flow {
        Flow::Continue
    }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if args.list_interfaces {
        return list_interfaces();
    }
    if args.list_link_types {
        return list_link_types(&args.interface()?);
    }
    let (cfg, why) = args.config()?;
    let exporter = crate::metrics::bind(&args.metrics, "capture")?;
    // An unwritable output fails before any socket is opened.
    crate::output::check_writable(&args.output)?;
    let user = match &args.user {
        Some(name) => Some(
            ringcap::process::lookup_user(name)?
                .with_context(|| format!("-Z {name}: no such user"))?,
        ),
        None => None,
    };
    let capture = Capture::open(cfg)?;
    // tcpdump's order: the device is open, then root is given up, then files are created (as
    // the user) and packets taken.
    if let Some(u) = &user {
        drop_root(u)?;
    }
    ringcap::signals::stop_on_signal(&capture.stop_handle())
        .context("installing signal handlers")?;
    let cfg = capture.config().clone();
    // Standard output carries packets (lines or -w -) unless -q or -w FILE.
    let writes = args.output.write.is_some();
    let stdout_free = args
        .output
        .write
        .as_deref()
        .map_or(args.quiet, |w| w != "-");
    // -q alone counts only: no output pipeline at all.
    let output = if args.quiet && !writes {
        None
    } else {
        let lines: Option<Box<dyn ringcap_sink::RecordConsumer>> = if args.output.write.is_none() {
            let p = crate::live::LinePrinter::stdout(
                cfg.link.linktype(),
                args.line_buffered,
                &args.decode,
                args.output.time_precision,
            )
            .context("standard output")?;
            Some(Box::new(p))
        } else {
            None
        };
        Some(crate::output::open(&args.output, lines, &capture)?)
    };
    // Said once every worker takes packets (tcpdump's "listening on" comes once the socket is
    // ready too): traffic started after the start line is all seen. The notes follow it.
    let mut intro = Vec::new();
    if !args.quiet {
        intro.push(start_line(&capture, &why));
    }
    // Said even with -q: the host loses the frames the capture takes.
    if cfg.mode == Mode::Xdp {
        if cfg.filter.is_some() && !cfg.xdp.user_filter {
            intro.push(
                "ringcap: note: in xdp mode the frames the filter matches no longer reach this \
                 host's network stack; the others pass to it"
                    .to_string(),
            );
        } else {
            intro.push(format!(
                "ringcap: note: {}",
                ringcap::xdp::HOST_STACK_WARNING
            ));
        }
        if args.threads.is_some() {
            intro.push(
                "ringcap: note: --threads is ignored in xdp mode: one worker per RX queue"
                    .to_string(),
            );
        }
    }
    if let Some((_, sink)) = &output {
        intro.extend(sink.notices().into_iter().map(|n| format!("ringcap: {n}")));
    }
    let on_ready = move || {
        for line in intro {
            eprintln!("{line}");
        }
    };
    // JSON statistics go to standard output unless the packets do.
    let stats = args.stats.clone();
    let on_tick = |t: &Tick| match stats.as_deref() {
        Some("json") if stdout_free => {
            println!("{}", tick_json(t));
            let _ = std::io::stdout().flush();
        }
        Some("json") => eprintln!("{}", tick_json(t)),
        Some(_) => eprintln!("{}", tick_line(t)),
        None => {}
    };
    let json = args.stats.as_deref() == Some("json") && stdout_free;
    let (report, output_failed) = match output {
        Some((handlers, sink)) => {
            let live = crate::output::OutputSummary::new(&handlers, &sink);
            let _server = crate::metrics::serve_capture(exporter, &capture, Some(&live))?;
            let report = capture.run_notify(handlers, on_ready, on_tick)?;
            let summary = sink.close();
            print_summary(&report, json);
            eprintln!("{}", crate::output::summary_line(&summary));
            (report, summary.failed_output() || !summary.adds_up())
        }
        None => {
            let handlers: Vec<CountOnly> = (0..capture.workers()).map(|_| CountOnly).collect();
            let _server = crate::metrics::serve_capture(exporter, &capture, None)?;
            let report = capture.run_notify(handlers, on_ready, on_tick)?;
            print_summary(&report, json);
            (report, false)
        }
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

/// `-Z`: becomes the user, and says so as tcpdump does (its "dropped privs to USER").
fn drop_root(user: &ringcap::process::User) -> anyhow::Result<()> {
    if !ringcap::process::is_root() {
        eprintln!(
            "ringcap: -Z {}: not running as root, nothing to drop",
            user.name
        );
        return Ok(());
    }
    ringcap::process::drop_privileges(user)
        .with_context(|| format!("-Z {}: giving up root", user.name))?;
    eprintln!(
        "ringcap: dropped privileges to {} (uid {}, gid {})",
        user.name, user.uid, user.gid
    );
    Ok(())
}

/// `-D`: the interfaces, numbered, as tcpdump prints them (on standard output).
fn list_interfaces() -> anyhow::Result<i32> {
    let mut out = String::new();
    for (i, d) in ringcap_netinfo::devices::list().iter().enumerate() {
        out += &format!("{}.{}\n", i + 1, d.tcpdump_line());
    }
    print!("{out}");
    Ok(0)
}

/// `-L`: the interface's data link types, as tcpdump prints them (on standard error).
fn list_link_types(iface: &str) -> anyhow::Result<i32> {
    let hatype = if iface == ringcap::config::ANY {
        None
    } else {
        ringcap_netinfo::check_interface(iface)?;
        ringcap_netinfo::devices::hardware_type(iface)
    };
    let offered = LinkLayer::offered(iface, hatype);
    if offered.is_empty() {
        bail!(
            "interface {iface} has ARP hardware type {}, not Ethernet: ringcap captures Ethernet and loopback devices, and any",
            hatype.map_or("unknown".to_string(), |t| t.to_string())
        );
    }
    let mut out = format!("Data link types for {iface} (use option -y to set):\n");
    for l in offered {
        out += &format!("  {} ({})\n", l.name(), l.description());
    }
    eprint!("{out}");
    Ok(0)
}

/// The first line: what was opened, and what was chosen by default and why.
fn start_line(c: &Capture, why: &Why) -> String {
    let cfg = c.config();
    let n = c.workers();
    let cpus: Vec<usize> = (0..n).filter_map(|i| cfg.cpu_of(i)).collect();
    let mut cpus_sorted = cpus.clone();
    cpus_sorted.sort_unstable();
    cpus_sorted.dedup();
    let mut s = format!(
        "ringcap: capturing on {}, {} mode, {} worker{}",
        cfg.iface,
        cfg.mode,
        n,
        if n == 1 { "" } else { "s" }
    );
    if !cpus.is_empty() {
        s += &format!(" on CPU {}", format_cpu_list(&cpus_sorted));
    }
    if let Some(id) = c.fanout_id() {
        s += &format!(", fanout {} group {id}", cfg.fanout.mode);
    }
    if cfg.mode == Mode::Ring {
        let g = &cfg.geometry;
        s += &format!(
            ", ring {} per worker ({} blocks of {}), {} in total",
            human_bytes(g.ring_bytes()),
            g.blocks,
            human_bytes(g.block_size as u64),
            human_bytes(c.ring_memory())
        );
    }
    if cfg.mode == Mode::Recv {
        if let Some(b) = cfg.recv_buffer {
            s += &format!(", receive buffer {}", human_bytes(b as u64));
        }
    }
    if cfg.link != LinkLayer::Ethernet {
        s += &format!(", link type {}", cfg.link.name());
    }
    if cfg.direction != ringcap::Direction::InOut {
        s += &format!(", direction {}", cfg.direction);
    }
    match (cfg.filter.is_some(), cfg.mode, cfg.xdp.user_filter) {
        (false, _, _) => {}
        (true, Mode::Xdp, false) => s += ", filter in the XDP program",
        (true, Mode::Xdp, true) => s += ", filter in user space",
        (true, _, _) => s += ", kernel filter attached",
    }
    // Why: the defaults the machine chose, or the flag that overrode them.
    let workers = if cfg.mode == Mode::Xdp {
        "one per RX queue"
    } else {
        why.workers.as_str()
    };
    let plural = if n == 1 { "" } else { "s" };
    let mut reasons = vec![format!("{n} worker{plural} {workers}")];
    let ring_why = match cfg.mode {
        Mode::Ring => !why.ring.is_empty(),
        Mode::Recv => why.ring.starts_with("receive"),
        Mode::Xdp => false,
    };
    if ring_why {
        reasons.push(why.ring.clone());
    }
    s += &format!("; chosen: {}", reasons.join(", "));
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
