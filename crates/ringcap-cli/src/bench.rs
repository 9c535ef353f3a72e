//! `ringcap bench`: the classic AF_PACKET progression measured on this machine.
//!
//! (Written by the lead: the generator's owner should not edit this file.)
//!
//! It builds a private network namespace with a veth pair, floods the peer end with
//! `ringcap gen` (60-byte SYN frames by default) pinned to the generator CPUs, steers the capture
//! end's receive work to the capture CPUs with RPS (the veth counterpart of spreading a NIC's
//! queue IRQs), and captures with each receive path in turn, pinned to the capture CPUs. It also
//! runs tcpdump and netsniff-ng on the same traffic with the same placement: those installed, or
//! those named by `--compare` (see [`crate::compare`]).
//! Every run is checked: captured + kernel drops must equal what the capture end's interface
//! counted (less background frames, reported). Frames the interface itself dropped (the receive
//! backlog overflowing when the capture CPU is saturated) never reach a socket: they count as
//! offered and as dropped, so "captured %" is of what the generator got onto the link.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::compare;
use crate::util::json_str;
use ringcap::config::{format_cpu_list, parse_cpu_list};
use ringcap::{Batch, Capture, Config, Fanout, FanoutMode, Flow, Handler, Mode};
use ringcap_netlab::TestNet;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds of traffic per run.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Receive paths to measure, comma separated: recv1, recvN, ring1, ringN, xdp.
    #[arg(long, default_value = "recv1,recvN,ring1,ringN")]
    pub modes: String,
    /// Capture workers for the N-thread modes (default: one per capture CPU).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Generator threads (default: one per generator CPU).
    #[arg(long)]
    pub gen_threads: Option<usize>,
    /// Generator CPUs (default: the first half of the CPUs, at least CPU 0).
    #[arg(long, value_name = "LIST")]
    pub gen_cpus: Option<String>,
    /// Capture CPUs (default: the other CPUs).
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Frame size in bytes (60 = minimum-size SYN frames).
    #[arg(long, default_value_t = 60)]
    pub size: usize,
    /// Capture to pcap files on a tmpfs (the whole capture-to-disk path).
    #[arg(long)]
    pub write: bool,
    /// With --write: write the files under DIR instead of a private tmpfs (e.g. a real disk).
    #[arg(long, value_name = "DIR")]
    pub write_dir: Option<String>,
    /// Ring modes: the capture's wake-up coalescing (as `capture --coalesce-ms`; 0 = off).
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub coalesce_ms: u64,
    /// Rounds (every mode and tool once per round); the table shows the median, and ratios to
    /// compared tools are the medians of the per-round ratios. Shared machines need several.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also run these tools on the same traffic: tcpdump, netsniff-ng, or none (default: those
    /// of them that are installed).
    #[arg(long, value_name = "TOOLS")]
    pub compare: Option<String>,
    /// Filter expression to attach in every capture.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Generator rate in packets per second (0 = as fast as it goes).
    #[arg(long, default_value_t = 0)]
    pub pps: u64,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write a bar chart of captured Mpps per mode (drop rate marked) to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<String>,
}

/// One measured run.
#[derive(Debug, Clone, Default)]
struct Row {
    name: String,
    /// Frames the capture end's interface received during the run.
    seen: u64,
    /// Frames the capture end's interface dropped before any socket (rx_dropped).
    if_drops: u64,
    captured: u64,
    drops: u64,
    secs: f64,
    cpu_user_ns: u64,
    cpu_sys_ns: u64,
    ring_bytes: u64,
    /// captured + drops == seen - background (within the background tolerance).
    adds_up: bool,
    note: String,
}

impl Row {
    fn offered(&self) -> u64 {
        self.seen + self.if_drops
    }
    fn offered_pps(&self) -> f64 {
        self.offered() as f64 / self.secs.max(1e-9)
    }
    fn captured_pps(&self) -> f64 {
        self.captured as f64 / self.secs.max(1e-9)
    }
    fn drop_pct(&self) -> f64 {
        if self.offered() == 0 {
            0.0
        } else {
            100.0 * (self.drops.min(self.seen) + self.if_drops) as f64 / self.offered() as f64
        }
    }
    fn captured_pct(&self) -> f64 {
        if self.offered() == 0 {
            0.0
        } else {
            100.0 * self.captured as f64 / self.offered() as f64
        }
    }
    fn ns_per_pkt(&self, ns: u64) -> f64 {
        if self.captured == 0 {
            0.0
        } else {
            ns as f64 / self.captured as f64
        }
    }
}

struct Nop;
impl Handler for Nop {
    fn batch(&mut self, _: &mut Batch<'_>) -> Flow {
        Flow::Continue
    }
}

/// Kills and reaps a child process on every way out.
struct Reaped(Option<Child>);
impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Where the capture files of `--write` runs (and the compared tools' files) go: a private
/// tmpfs mounted for the bench with 2 MiB pages (`huge=always`), so runs measure the capture path
/// rather than a disk or 4 KiB page-cache allocation (every 4 KiB page of a growing tmpfs file
/// is allocated, charged and inserted one by one otherwise, several times the cost of the copy).
/// All tools write to the same place. `--write-dir` picks a directory instead (e.g. a real
/// disk). Unmounted and removed at the end, also after Ctrl-C or an error.
struct Scratch {
    dir: std::path::PathBuf,
    /// The mount point this bench made, if any.
    mount: Option<std::path::PathBuf>,
    what: String,
}
impl Scratch {
    fn new(write_dir: Option<&str>) -> anyhow::Result<Scratch> {
        let name = format!("ringcap-bench-{}", std::process::id());
        if let Some(d) = write_dir {
            let dir = std::path::Path::new(d).join(&name);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("--write-dir: creating {}", dir.display()))?;
            return Ok(Scratch {
                what: format!("files in {}", dir.display()),
                dir,
                mount: None,
            });
        }
        let point = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&point).with_context(|| format!("creating {}", point.display()))?;
        let mounted = ringcap::process::mount_tmpfs(&point, "huge=always,mode=0700")
            .map(|()| "private tmpfs, 2 MiB pages")
            .or_else(|_| {
                ringcap::process::mount_tmpfs(&point, "mode=0700").map(|()| "private tmpfs")
            });
        match mounted {
            Ok(what) => Ok(Scratch {
                what: format!("files on a {what} at {}", point.display()),
                dir: point.clone(),
                mount: Some(point),
            }),
            Err(e) => {
                // No mount allowed (e.g. a container): the shared tmpfs, as before.
                let _ = std::fs::remove_dir(&point);
                let base = if std::path::Path::new("/dev/shm").is_dir() {
                    "/dev/shm"
                } else {
                    "/tmp"
                };
                let dir = std::path::Path::new(base).join(&name);
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                Ok(Scratch {
                    what: format!("files in {} (no private tmpfs: {e})", dir.display()),
                    dir,
                    mount: None,
                })
            }
        }
    }
    fn clear(&self) {
        if let Ok(d) = std::fs::read_dir(&self.dir) {
            for e in d.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        self.clear();
        if let Some(m) = &self.mount {
            let _ = ringcap::process::unmount(m);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Plan {
    gen_cpus: Vec<usize>,
    cap_cpus: Vec<usize>,
    gen_threads: usize,
    threads: usize,
}

fn plan(args: &Args) -> anyhow::Result<Plan> {
    let all = ringcap::process::allowed_cpus().context("reading the CPUs this process may use")?;
    let split = (all.len() / 2).max(1);
    let gen_cpus = match &args.gen_cpus {
        Some(l) => parse_cpu_list(l).map_err(anyhow::Error::msg)?,
        None => all[..split].to_vec(),
    };
    let cap_cpus = match &args.cpus {
        Some(l) => parse_cpu_list(l).map_err(anyhow::Error::msg)?,
        None if all.len() > split => all[split..].to_vec(),
        None => all.clone(),
    };
    Ok(Plan {
        gen_threads: args.gen_threads.unwrap_or(gen_cpus.len()),
        threads: args.threads.unwrap_or(cap_cpus.len()),
        gen_cpus,
        cap_cpus,
    })
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!("--seconds {} must be between 0 and 3600", args.seconds);
    }
    if !(60..=9000).contains(&args.size) {
        bail!("--size {} is out of range (60..9000)", args.size);
    }
    if args.coalesce_ms > 1000 {
        bail!("--coalesce-ms {} is above 1000", args.coalesce_ms);
    }
    if args.write_dir.is_some() && !args.write {
        bail!("--write-dir needs --write");
    }
    if args.runs == 0 || args.runs > 100 {
        bail!("--runs must be between 1 and 100");
    }
    let compared = match compare::choose(args.compare.as_deref(), |t| compare::which(t).is_some()) {
        Ok(c) => c,
        Err(usage) => {
            eprintln!("ringcap: {usage}");
            return Ok(2);
        }
    };
    let tools = &compared.tools;
    let plan = plan(&args)?;
    let mut modes = Vec::new();
    for m in args
        .modes
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        modes.push(match m {
            "recv1" => (Mode::Recv, 1, "recv x1".to_string()),
            "recvN" => (Mode::Recv, plan.threads, format!("recv x{}", plan.threads)),
            "ring1" => (Mode::Ring, 1, "ring x1".to_string()),
            "ringN" => (Mode::Ring, plan.threads, format!("ring x{}", plan.threads)),
            "xdp" => (Mode::Xdp, 1, "xdp".to_string()),
            _ => bail!("unknown mode {m:?} in --modes (recv1, recvN, ring1, ringN, xdp)"),
        });
    }
    if plan.threads == 1 {
        let before = modes.len();
        modes.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        if modes.len() < before {
            eprintln!("bench: one capture CPU, so the fanout rows (N = 1) equal the single-socket rows and are not repeated");
        }
    }
    let filter = match &args.filter {
        Some(expr) => Some(crate::capture::compile_live(
            expr,
            ringcap::config::DEFAULT_SNAPLEN,
            Mode::Ring,
        )?),
        None => None,
    };

    if let Some(note) = compared.note() {
        eprintln!("{note}");
    }
    // Ctrl-C ends the run under way (each capture has its handle too) and the bench after it.
    let interrupted = ringcap::StopHandle::new();
    ringcap::signals::stop_on_signal(&interrupted)?;
    let net = TestNet::new().context("building the bench network (needs root)")?;
    // Receive work of the capture end on the capture CPUs (RPS), as IRQ spreading does on a NIC.
    let mask: u64 = plan
        .cap_cpus
        .iter()
        .filter(|&&c| c < 64)
        .map(|&c| 1u64 << c)
        .sum();
    net.set_rps(mask)?;
    let scratch = Scratch::new(args.write_dir.as_deref())?;
    let me = std::env::current_exe().context("finding the ringcap binary")?;

    eprintln!(
        "bench: {} s per run, {} run(s), {}-byte SYN frames; generator {} thread(s) on CPU {}, capture on CPU {} (RPS {mask:x}); namespace {}",
        args.seconds,
        args.runs,
        args.size,
        plan.gen_threads,
        format_cpu_list(&plan.gen_cpus),
        format_cpu_list(&plan.cap_cpus),
        net.ns()
    );
    if args.write {
        eprintln!("bench: --write: {}", scratch.what);
    }
    let header = format!(
        "{:<20} {:>10} {:>10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>8}  {}",
        "mode", "offered", "captured", "captured", "drops", "user", "sys", "cpu", "ring", "adds up"
    );
    let header2 = format!(
        "{:<20} {:>10} {:>10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>8}",
        "", "Mpps", "Mpps", "%", "%", "ns/pkt", "ns/pkt", "ns/pkt", "MiB"
    );
    eprintln!("{header}\n{header2}");
    let mut entries: Vec<Entry> = modes
        .iter()
        .map(|(m, t, name)| Entry::Ringcap(*m, *t, name.clone()))
        .collect();
    for t in tools {
        entries.push(Entry::Tool(t.clone()));
    }
    let mut failed = false;
    // Runs are interleaved (every mode and tool once, then again), so a drift of this shared
    // machine's speed hits all of them alike and the paired ratios below stay meaningful.
    let mut results: Vec<Vec<Option<Row>>> = vec![Vec::new(); entries.len()];
    let mut dead = vec![false; entries.len()];
    'runs: for k in 0..args.runs {
        for (i, e) in entries.iter().enumerate() {
            if interrupted.is_stopped() {
                break 'runs;
            }
            if dead[i] {
                results[i].push(None);
                continue;
            }
            scratch.clear();
            let r = match e {
                Entry::Ringcap(mode, threads, name) => run_ringcap(
                    &net,
                    &args,
                    &plan,
                    &me,
                    &scratch,
                    *mode,
                    *threads,
                    name,
                    filter.clone(),
                ),
                Entry::Tool(tool) => run_tool(&net, &args, &plan, &me, &scratch, tool),
            };
            match r {
                Ok(row) => {
                    if args.runs > 1 {
                        eprintln!("{}  [run {}/{}]", line(&row), k + 1, args.runs);
                    } else {
                        eprintln!("{}", line(&row));
                    }
                    results[i].push(Some(row));
                }
                Err(err) => {
                    eprintln!("{:<20} failed: {}", e.name(), crate::util::one_line(&err));
                    failed = true;
                    dead[i] = true;
                    results[i].push(None);
                }
            }
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for runs in &results {
        let mut ok: Vec<&Row> = runs.iter().flatten().collect();
        if ok.is_empty() {
            continue;
        }
        ok.sort_by(|a, b| a.captured_pps().total_cmp(&b.captured_pps()));
        let mut row = ok[ok.len() / 2].clone();
        row.adds_up = ok.iter().all(|r| r.adds_up);
        failed |= !row.adds_up;
        rows.push(row);
    }
    if args.runs > 1 && !rows.is_empty() {
        eprintln!("median of {} runs (by captured rate):", args.runs);
        eprintln!("{header}\n{header2}");
        for r in &rows {
            eprintln!("{}", line(r));
        }
    }
    let ratios = paired_ratios(&entries, &results);
    for r in &ratios {
        eprintln!(
            "bench: {}: CPU per captured packet {:.2}x that of {} (median of {} paired run(s): {})",
            r.mode,
            r.median,
            r.versus,
            r.each.len(),
            r.each
                .iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if args.json {
        println!("{}", json(&rows, &ratios, &args, &plan));
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg(&rows)).with_context(|| format!("writing {path}"))?;
        eprintln!("bench: chart written to {path}");
    }
    drop(scratch);
    net.destroy()?;
    if interrupted.is_stopped() {
        eprintln!("bench: interrupted; the test network was removed");
        return Ok(130);
    }
    Ok(if failed { 1 } else { 0 })
}

enum Entry {
    Ringcap(Mode, usize, String),
    Tool(String),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::Ringcap(_, _, n) => n,
            Entry::Tool(t) => t,
        }
    }
}

/// Starts `ringcap gen` on the peer end, pinned to the generator CPUs, for `seconds`.
fn start_gen(
    net: &TestNet,
    args: &Args,
    plan: &Plan,
    me: &std::path::Path,
) -> anyhow::Result<Child> {
    let template = if args.size <= 60 { "syn" } else { "udp" };
    let mut c = net.command(&me.to_string_lossy());
    c.args(["gen", "-i", net.peer_if(), "--template", template])
        .args(["--threads", &plan.gen_threads.to_string()])
        .args(["--cpus", &format_cpu_list(&plan.gen_cpus)])
        .args(["--duration", &args.seconds.to_string()])
        .args(["--pps", &args.pps.to_string()]);
    if template == "udp" {
        c.args(["--size", &args.size.to_string()]);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn().context("starting ringcap gen")
}

fn wait_gen(child: Child) -> anyhow::Result<()> {
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "the generator failed: {}",
            err.lines().last().unwrap_or("no message").trim()
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_ringcap(
    net: &TestNet,
    args: &Args,
    plan: &Plan,
    me: &std::path::Path,
    scratch: &Scratch,
    mode: Mode,
    threads: usize,
    name: &str,
    filter: Option<ringcap_filter::Program>,
) -> anyhow::Result<Row> {
    let _in = net.enter()?;
    let mut cfg = Config::new(net.capture_if())
        .mode(mode)
        .workers(threads)
        .cpus(Some(plan.cap_cpus.clone()))
        .fanout(Fanout {
            mode: FanoutMode::Cpu,
            ..Default::default()
        })
        .filter(filter)
        // The generator stops by itself; this is only a safety net.
        .duration(Some(Duration::from_secs_f64(args.seconds + 30.0)));
    cfg.coalesce = Duration::from_millis(args.coalesce_ms);
    let cap = Capture::open(cfg)?;
    let ring_bytes = cap.ring_memory();
    let rx0 = net.counter(net.capture_if(), "rx_packets")?;
    let rxd0 = net.counter(net.capture_if(), "rx_dropped")?;
    let (report, t0) = if args.write {
        let out = crate::output::OutputArgs {
            write: Some(
                scratch
                    .dir
                    .join("ringcap.pcap")
                    .to_string_lossy()
                    .into_owned(),
            ),
            ..Default::default()
        };
        let (sinks, summary) = crate::output::open_writers(
            &out,
            net.capture_if(),
            cap.config().snaplen,
            cap.workers(),
        )?;
        let (r, t0) = drive(net, args, plan, me, cap, sinks)?;
        if summary.failed() {
            bail!("writing pcap files failed: {}", summary.line());
        }
        (r, t0)
    } else {
        let handlers: Vec<Nop> = (0..cap.workers()).map(|_| Nop).collect();
        let (r, t0) = drive(net, args, plan, me, cap, handlers)?;
        (r, t0)
    };
    let secs = t0.elapsed().as_secs_f64().min(args.seconds + 0.2).max(1e-3);
    let seen = net.counter(net.capture_if(), "rx_packets")? - rx0;
    let if_drops = net.counter(net.capture_if(), "rx_dropped")? - rxd0;
    let t = &report.total;
    let background = seen.saturating_sub(t.kernel_packets);
    Ok(Row {
        name: if args.write {
            format!("{name} -w tmpfs")
        } else {
            name.to_string()
        },
        seen,
        if_drops,
        captured: t.received,
        drops: t.drops,
        secs,
        cpu_user_ns: t.cpu_user_ns,
        cpu_sys_ns: t.cpu_sys_ns,
        ring_bytes,
        adds_up: report.reconciles() && t.kernel_packets <= seen && background <= 10,
        note: if background > 0 {
            format!("{background} frames not counted by the sockets")
        } else {
            String::new()
        },
    })
}

/// Runs one capture while the generator sends, and stops it through its normal path.
fn drive<H: Handler + 'static>(
    net: &TestNet,
    args: &Args,
    plan: &Plan,
    me: &std::path::Path,
    cap: Capture,
    handlers: Vec<H>,
) -> anyhow::Result<(ringcap::Report, Instant)> {
    let (tx, rx) = mpsc::channel();
    let mut t0 = Instant::now();
    let stop = cap.stop_handle();
    ringcap::signals::stop_on_signal(&stop)?;
    let report = std::thread::scope(|s| -> anyhow::Result<_> {
        let h = s.spawn(|| cap.run_notify(handlers, move || tx.send(()).unwrap_or(()), |_| {}));
        let _ = rx.recv_timeout(Duration::from_secs(10));
        t0 = Instant::now();
        let gen_result = start_gen(net, args, plan, me).and_then(wait_gen);
        // Let the last blocks retire, then stop the capture through its normal path.
        std::thread::sleep(Duration::from_millis(100));
        stop.stop(ringcap::EndReason::Duration);
        let report = h
            .join()
            .map_err(|_| anyhow::anyhow!("capture panicked"))??;
        gen_result?;
        Ok(report)
    })?;
    Ok((report, t0))
}

/// Runs tcpdump or netsniff-ng on the capture end with the same CPU placement, writing to the
/// tmpfs; its captured count comes from the file it wrote, its CPU time from its rusage.
fn run_tool(
    net: &TestNet,
    args: &Args,
    plan: &Plan,
    me: &std::path::Path,
    scratch: &Scratch,
    tool: &str,
) -> anyhow::Result<Row> {
    // Count-only runs compare with `tcpdump -w /dev/null`; --write runs with files on the tmpfs.
    let to_null = !args.write && tool == "tcpdump";
    let file = if to_null {
        std::path::PathBuf::from("/dev/null")
    } else {
        scratch.dir.join(format!("{tool}.pcap"))
    };
    let cpus = format_cpu_list(&plan.cap_cpus);
    let file_s = file.to_string_lossy().to_string();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", net.ns(), "taskset", "-c", &cpus]);
    match tool {
        "tcpdump" => {
            cmd.args([
                "tcpdump",
                "-i",
                net.capture_if(),
                "-n",
                "-w",
                &file_s,
                "-s",
                "262144",
            ]);
            if let Some(f) = &args.filter {
                cmd.arg(f);
            }
        }
        _ => {
            cmd.args([
                "netsniff-ng",
                "--in",
                net.capture_if(),
                "--out",
                &file_s,
                "--silent",
            ]);
            if let Some(f) = &args.filter {
                cmd.args(["--filter", f]);
            }
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let rx0 = net.counter(net.capture_if(), "rx_packets")?;
    let rxd0 = net.counter(net.capture_if(), "rx_dropped")?;
    let mut child = Reaped(Some(
        cmd.spawn().with_context(|| format!("starting {tool}"))?,
    ));
    // Wait for the tool to open its socket (the file appears when it starts writing).
    let ready = Instant::now();
    while !file.exists() && ready.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    wait_gen(start_gen(net, args, plan, me)?)?;
    let secs = t0.elapsed().as_secs_f64().min(args.seconds + 0.2);
    // Children's CPU time is added when they are reaped: the generator's is in from here on,
    // so what grows after this point is the tool's alone.
    let (cu0, cs0) = ringcap::process::children_cpu_time();
    std::thread::sleep(Duration::from_millis(300));
    let c = child.0.take().expect("child");
    let _ = ringcap::process::interrupt(c.id());
    let out = c.wait_with_output()?;
    let (cu1, cs1) = ringcap::process::children_cpu_time();
    let seen = net.counter(net.capture_if(), "rx_packets")? - rx0;
    let if_drops = net.counter(net.capture_if(), "rx_dropped")? - rxd0;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let captured = if to_null {
        // "N packets captured" from tcpdump's own statistics.
        stderr
            .lines()
            .find(|l| l.contains("packets captured"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .context("tcpdump did not report its count")?
    } else {
        count_packets(&file).with_context(|| format!("reading {tool}'s file"))?
    };
    // tcpdump reports "N packets dropped by kernel".
    let drops = stderr
        .lines()
        .find(|l| l.contains("dropped by kernel"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| seen.saturating_sub(captured));
    if !to_null {
        let _ = std::fs::remove_file(&file);
    }
    Ok(Row {
        name: if to_null {
            "tcpdump -w /dev/null".to_string()
        } else {
            format!("{tool} -w tmpfs")
        },
        seen,
        if_drops,
        captured,
        drops,
        secs,
        cpu_user_ns: cu1.saturating_sub(cu0),
        cpu_sys_ns: cs1.saturating_sub(cs0),
        ring_bytes: 0,
        adds_up: captured + drops <= seen,
        note: String::new(),
    })
}

/// Counts the packets of the file a tool wrote (a tool killed mid-write may leave a partial
/// last record: every whole one counts).
fn count_packets(path: &std::path::Path) -> anyhow::Result<u64> {
    let f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut r = ringcap_pcap::Reader::new(f)?;
    let mut n = 0u64;
    while let Ok(Some(_)) = r.next_record() {
        n += 1;
    }
    Ok(n)
}

fn line(r: &Row) -> String {
    let mut s = format!(
        "{:<20} {:>10.3} {:>10.3} {:>9.2} {:>8.2} {:>9.1} {:>9.1} {:>9.1} {:>8}  {}",
        r.name,
        r.offered_pps() / 1e6,
        r.captured_pps() / 1e6,
        r.captured_pct(),
        r.drop_pct(),
        r.ns_per_pkt(r.cpu_user_ns),
        r.ns_per_pkt(r.cpu_sys_ns),
        r.ns_per_pkt(r.cpu_user_ns + r.cpu_sys_ns),
        if r.ring_bytes > 0 {
            format!("{}", r.ring_bytes >> 20)
        } else {
            "-".into()
        },
        if r.adds_up { "yes" } else { "NO" }
    );
    if !r.note.is_empty() {
        s += &format!(" ({})", r.note);
    }
    if r.if_drops > 0 {
        s += &format!(
            " ({} dropped by the interface before any socket)",
            r.if_drops
        );
    }
    s
}

/// ringcap's CPU per captured packet over a compared tool's, run by run.
struct Ratio {
    mode: String,
    versus: String,
    median: f64,
    each: Vec<f64>,
}

/// For every ringcap mode and every compared tool: the ratio of CPU per captured packet in each
/// round where both ran, and its median.
fn paired_ratios(entries: &[Entry], results: &[Vec<Option<Row>>]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if !matches!(e, Entry::Ringcap(..)) {
            continue;
        }
        for (j, t) in entries.iter().enumerate() {
            if !matches!(t, Entry::Tool(_)) {
                continue;
            }
            let each: Vec<f64> = results[i]
                .iter()
                .zip(&results[j])
                .filter_map(|(a, b)| {
                    let (a, b) = (a.as_ref()?, b.as_ref()?);
                    let (x, y) = (
                        a.ns_per_pkt(a.cpu_user_ns + a.cpu_sys_ns),
                        b.ns_per_pkt(b.cpu_user_ns + b.cpu_sys_ns),
                    );
                    (x > 0.0 && y > 0.0).then_some(x / y)
                })
                .collect();
            if each.is_empty() {
                continue;
            }
            let mut sorted = each.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            let median = if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            };
            let name = |v: &[Option<Row>]| v.iter().flatten().next().map(|r| r.name.clone());
            out.push(Ratio {
                mode: name(&results[i]).unwrap_or_default(),
                versus: name(&results[j]).unwrap_or_default(),
                median,
                each,
            });
        }
    }
    out
}

fn json(rows: &[Row], ratios: &[Ratio], args: &Args, plan: &Plan) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"mode\":{},\"seen\":{},\"if_drops\":{},\"captured\":{},\"drops\":{},\"seconds\":{:.3},\"offered_pps\":{:.1},\"captured_pps\":{:.1},\"captured_pct\":{:.4},\"drop_pct\":{:.4},\"cpu_user_ns_per_pkt\":{:.2},\"cpu_sys_ns_per_pkt\":{:.2},\"ring_bytes\":{},\"adds_up\":{}}}",
                json_str(&r.name),
                r.seen,
                r.if_drops,
                r.captured,
                r.drops,
                r.secs,
                r.offered_pps(),
                r.captured_pps(),
                r.captured_pct(),
                r.drop_pct(),
                r.ns_per_pkt(r.cpu_user_ns),
                r.ns_per_pkt(r.cpu_sys_ns),
                r.ring_bytes,
                r.adds_up
            )
        })
        .collect();
    format!(
        "{{\"seconds\":{},\"runs\":{},\"size\":{},\"gen_cpus\":{},\"capture_cpus\":{},\"results\":[{}],\"cpu_ratios\":[{}]}}",
        args.seconds,
        args.runs,
        args.size,
        json_str(&format_cpu_list(&plan.gen_cpus)),
        json_str(&format_cpu_list(&plan.cap_cpus)),
        items.join(","),
        ratios
            .iter()
            .map(|r| format!(
                "{{\"mode\":{},\"versus\":{},\"median\":{:.4},\"each\":[{}]}}",
                json_str(&r.mode),
                json_str(&r.versus),
                r.median,
                r.each
                    .iter()
                    .map(|x| format!("{x:.4}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ))
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// A plain SVG bar chart: captured Mpps per mode, the drop rate written on each bar.
fn svg(rows: &[Row]) -> String {
    let w = 120 * rows.len().max(1) + 80;
    let h = 360;
    let max = rows
        .iter()
        .map(|r| r.offered_pps().max(r.captured_pps()))
        .fold(1.0, f64::max)
        / 1e6;
    let mut s = String::new();
    let _ = write!(
        StrW(&mut s),
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\">ringcap bench: captured Mpps per receive path (drops in red)</text>\n"
    );
    let base = h - 60;
    let scale = (base - 50) as f64 / max;
    for (i, r) in rows.iter().enumerate() {
        let x = 60 + i * 120;
        let cap = r.captured_pps() / 1e6;
        let off = r.offered_pps() / 1e6;
        let bh = (cap * scale) as usize;
        let oh = (off * scale) as usize;
        let _ = write!(
            StrW(&mut s),
            "<rect x=\"{x}\" y=\"{}\" width=\"80\" height=\"{oh}\" fill=\"#f3c0c0\"/>\n<rect x=\"{x}\" y=\"{}\" width=\"80\" height=\"{bh}\" fill=\"#3b7dd8\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{cap:.2}</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#c00\">drop {:.1}%</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            base - oh,
            base - bh,
            x + 40,
            base - bh - 4,
            x + 40,
            base + 30,
            r.drop_pct(),
            x + 40,
            base + 15,
            r.name
        );
    }
    s.push_str("</svg>\n");
    s
}

struct StrW<'a>(&'a mut String);
impl Write for StrW<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
