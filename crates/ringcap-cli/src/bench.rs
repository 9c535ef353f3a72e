//! `ringcap bench`: its flags and its printing. The bench itself (network, generator, runs,
//! checks, medians, ratios, table, JSON, chart) is the `ringcap-bench` library.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ringcap::config::{format_cpu_list, parse_cpu_list};
use ringcap::{Capture, Handler, Mode, StopHandle};
use ringcap_bench::plan::ModeSpec;
use ringcap_bench::run::{Run, Written};
use ringcap_bench::summary::Row;
use ringcap_bench::table::{self, Table};
use ringcap_bench::write::{FileOutput, FileSinks};
use ringcap_bench::{chart, compare, report, Bench, Filter, Results, Settings};

#[derive(clap::Args)]
pub struct Args {
    /// Seconds of traffic per run.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Receive paths to measure, comma separated: recv1, recvN, ring1, ringN, xdp, xdp+filter
    /// (AF_XDP with a filter in the XDP program matching 1 frame in 64: the rest go on to the
    /// host's stack, whose IP receive count is shown against a run with no capture), xdp+ufilter
    /// (the same filter in user space: every frame is taken from the host).
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
    /// With --write-dir: leave the last run's files in DIR/ringcap-bench-PID.
    #[arg(long)]
    pub keep_files: bool,
    /// Send the frames of this pcap/pcapng file (at --pps, or as fast as it goes) instead of
    /// the SYN/UDP flood; with --compress the files' ratio is shown beside `zstd -LEVEL`'s over
    /// the same bytes.
    #[arg(long, value_name = "FILE", conflicts_with = "size")]
    pub replay: Option<String>,
    /// With --replay: passes over the file (0 = until --seconds ends).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "replay")]
    pub replay_loops: u64,
    /// With --write: how ringcap writes (as `capture`'s flags). Its rows count the output
    /// threads' CPU with the workers' and show it apart in a note.
    #[command(flatten)]
    pub out: BenchOutput,
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
    /// Flow exporters instead of captures: `ringcap flows --ipfix` and the exporters named in
    /// --compare (softflowd, fprobe), each sending to an nfcapd the bench runs; "captured" is
    /// the packets the records nfdump reads account for.
    #[arg(long, conflicts_with_all = ["write", "modes"])]
    pub flows: bool,
    /// Filter expression to attach in every capture.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Generator rate in packets per second (0 = as fast as it goes).
    #[arg(long, default_value_t = 0)]
    pub pps: u64,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write a chart (captured Mpps and drops, CPU per packet; machine and command in the
    /// caption) to FILE, as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<String>,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let (settings, choice) = match settings(&args) {
        Ok(s) => s,
        Err(usage) => {
            eprintln!("ringcap: {usage}");
            return Ok(2);
        }
    };
    if let Some(note) = choice.note() {
        eprintln!("{note}");
    }
    let _server = crate::metrics::serve_bench(&args.metrics)?;
    // Ctrl-C ends the run under way (uncounted) and the bench after it.
    let interrupted = StopHandle::new();
    ringcap::signals::stop_on_signal(&interrupted)?;
    let bench = Bench::prepare(settings, Some(Box::new(CaptureFiles(args.out.clone()))))?;
    for line in bench.intro() {
        eprintln!("{line}");
    }
    let names = bench.names();
    let table = Table::new(names.iter().map(String::as_str));
    eprintln!("{}", table.header());
    let runs = bench.settings().runs;
    let results = bench.run(&interrupted, |r| print_run(&table, r, runs))?;
    print_summary(&table, &results, runs);
    if args.json {
        println!("{}", json(&bench, &results));
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg(&bench, &results.rows))
            .with_context(|| format!("writing {path}"))?;
        eprintln!("bench: chart written to {path}");
    }
    bench.finish()?;
    if results.interrupted {
        eprintln!("bench: interrupted; the test network was removed");
        return Ok(130);
    }
    Ok(if results.failed() { 1 } else { 0 })
}

/// The flags as the library's settings, or a usage error in one line.
fn settings(args: &Args) -> Result<(Settings, compare::Choice), String> {
    let me = std::env::current_exe().map_err(|e| format!("finding the ringcap binary: {e}"))?;
    let mut s = Settings::new(me);
    s.seconds = args.seconds;
    s.runs = args.runs;
    s.size = args.size;
    s.pps = args.pps;
    s.coalesce_ms = args.coalesce_ms;
    s.modes = ModeSpec::parse_list(&args.modes)?;
    s.threads = args.threads;
    s.gen_threads = args.gen_threads;
    s.gen_cpus = args.gen_cpus.as_deref().map(cpu_list).transpose()?;
    s.cpus = args.cpus.as_deref().map(cpu_list).transpose()?;
    s.write = args.write;
    s.write_dir = args.write_dir.as_ref().map(PathBuf::from);
    s.keep_files = args.keep_files;
    if let Some(f) = &args.replay {
        s.replay = Some(ringcap_bench::replay::ReplaySpec::load(
            PathBuf::from(f),
            args.replay_loops,
        )?);
    }
    let o = &args.out;
    if !args.write
        && (o.per_worker_files || o.compress.is_some() || o.no_direct_io || o.writer_cpus.is_some())
    {
        return Err(
            "--per-worker-files, --compress, --no-direct-io and --writer-cpus need --write".into(),
        );
    }
    o.args(Path::new("x"))
        .zstd_level()
        .map_err(|e| crate::util::one_line(&e))?;
    if let Some(l) = &o.writer_cpus {
        cpu_list(l)?;
    }
    s.filter = args.filter.as_deref().map(filter).transpose()?;
    s.command = command_line();
    // A no-op without --metrics.
    s.on_capture = Some(crate::metrics::watch);
    let choice = compare::choose(args.compare.as_deref(), |t| compare::which(t).is_some())?;
    s.tools = choice.tools.clone();
    if args.flows {
        flow_lineup(&mut s, args.compare.is_some())?;
    }
    s.check()?;
    // The caller names the missing tools only now that the arguments are good.
    Ok((s, choice))
}

/// `--flows`: ringcap's exporter, then the flow exporters named in --compare (only those), all
/// reporting to nfcapd.
fn flow_lineup(s: &mut Settings, named: bool) -> Result<(), String> {
    if let Some(t) = s.tools.iter().find(|t| !t.flows) {
        if named {
            return Err(format!(
                "--flows compares with flow exporters (softflowd, fprobe), not {}",
                t.name
            ));
        }
    }
    if compare::which("nfcapd").is_none() || compare::which("nfdump").is_none() {
        return Err(
            "--flows: its collector nfcapd/nfdump is not installed (package nfdump)".into(),
        );
    }
    s.modes.clear();
    let mut tools = vec![&ringcap_bench::tools::RINGCAP_FLOWS];
    tools.extend(s.tools.iter().copied().filter(|t| t.flows));
    s.tools = tools;
    Ok(())
}

fn cpu_list(list: &str) -> Result<Vec<usize>, String> {
    parse_cpu_list(list)
}

/// The expression compiled for the kernel (recv and ring modes) and for AF_XDP's user-space
/// run over the frame's bytes.
fn filter(expr: &str) -> Result<Filter, String> {
    let compile = |mode| {
        crate::capture::compile_live(expr, ringcap::config::DEFAULT_SNAPLEN, mode)
            .map_err(|e| crate::util::one_line(&e))
    };
    Ok(Filter {
        expr: expr.to_string(),
        live: compile(Mode::Ring)?,
        xdp: compile(Mode::Xdp)?,
    })
}

/// The command as typed, program name shortened to `ringcap`.
fn command_line() -> String {
    let mut words: Vec<String> = std::env::args().collect();
    if let Some(first) = words.first_mut() {
        *first = "ringcap".into();
    }
    words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", w.replace('\'', r"'\''"))
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_run(table: &Table, r: &Run, runs: usize) {
    if runs > 1 {
        eprintln!("{}  [run {}/{runs}]", table.line(r), r.round + 1);
    } else {
        eprintln!("{}", table.line(r));
    }
    for l in table::failure_lines(r)
        .into_iter()
        .chain(table::host_lines(r))
    {
        eprintln!("{l}");
    }
}

fn print_summary(table: &Table, results: &Results, runs: usize) {
    for b in &results.baselines {
        eprintln!("{}", table::baseline_line(b));
    }
    if runs > 1 && !results.rows.is_empty() {
        eprintln!("median of {runs} runs (by captured rate):");
        eprintln!("{}", table.header());
        for row in &results.rows {
            eprintln!("{}", table.row_line(row));
            for l in table::host_lines(&row.run) {
                eprintln!("{l}");
            }
            if row.is_failed() {
                for l in table::failure_lines(&row.run) {
                    eprintln!("{l}");
                }
            }
        }
    }
    for r in &results.ratios {
        eprintln!("{}", table::ratio_line(r));
    }
    if let Some(line) = table::verdict_line(&results.rows) {
        eprintln!("{line}");
    }
    for l in ringcap_bench::disk::lines(
        &results.disk,
        results.disk_failure.as_deref(),
        &results.rows,
    ) {
        eprintln!("{l}");
    }
}

fn json(bench: &Bench, results: &Results) -> String {
    let s = bench.settings();
    let cx = report::Context {
        seconds: s.seconds,
        runs: s.runs,
        size: s.size,
        gen_cpus: format_cpu_list(&bench.plan().gen_cpus),
        capture_cpus: format_cpu_list(&bench.plan().cap_cpus),
        machine: bench.machine(),
        command: &s.command,
        interrupted: results.interrupted,
    };
    let text = report::json(
        &cx,
        &results.rows,
        &results.runs,
        &results.ratios,
        &results.baselines,
    );
    if results.disk.is_empty() && results.disk_failure.is_none() {
        return text;
    }
    // The disk's figures (`--write-dir`) beside the report's own fields.
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return text;
    };
    v["disk"] = serde_json::json!({
        "rounds": results.disk,
        "median": ringcap_bench::disk::summarize(&results.disk),
        "failure": results.disk_failure,
        "written_mb_s": results.rows.iter().filter_map(|r| {
            ringcap_bench::disk::written_mb_s(r).map(|mb| serde_json::json!({"mode": r.run.name, "mb_s": mb}))
        }).collect::<Vec<_>>(),
    });
    serde_json::to_string(&v).unwrap_or(text)
}

fn svg(bench: &Bench, rows: &[Row]) -> String {
    let s = bench.settings();
    let p = bench.plan();
    let setup = format!(
        "{}-byte {} frames, {} s per run, median of {} run{}; generator on CPU {}, capture on CPU {}{}",
        s.size,
        if s.size <= 60 { "SYN" } else { "UDP" },
        s.seconds,
        s.runs,
        if s.runs == 1 { "" } else { "s" },
        format_cpu_list(&p.gen_cpus),
        format_cpu_list(&p.cap_cpus),
        if s.write { "; writing pcap files" } else { "" }
    );
    chart::svg(
        rows,
        &chart::Caption {
            machine: &bench.machine().line(),
            command: &s.command,
            setup: &setup,
        },
    )
}

/// How `--write` runs write their files (a subset of `capture`'s output flags).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BenchOutput {
    /// With --write: one file per capture worker instead of one file in time order.
    #[arg(long)]
    pub per_worker_files: bool,
    /// With --write: compress with zstd in the writer threads.
    #[arg(long, value_name = "zstd[:LEVEL]")]
    pub compress: Option<String>,
    /// With --write: no O_DIRECT.
    #[arg(long)]
    pub no_direct_io: bool,
    /// With --write: CPUs of ringcap's output threads (default: those the capture leaves
    /// free, here the generator's).
    #[arg(long, value_name = "LIST")]
    pub writer_cpus: Option<String>,
}

impl BenchOutput {
    fn args(&self, path: &Path) -> crate::output::OutputArgs {
        crate::output::OutputArgs {
            write: Some(path.to_string_lossy().into_owned()),
            per_worker_files: self.per_worker_files,
            compress: self.compress.clone(),
            no_direct_io: self.no_direct_io,
            writer_cpus: self.writer_cpus.clone(),
            ..Default::default()
        }
    }
}

/// `--write` runs measure `capture -w`'s own pipeline (the output module), nothing else.
struct CaptureFiles(BenchOutput);

impl FileOutput for CaptureFiles {
    fn open(&self, path: &Path, cap: &Capture) -> Result<FileSinks, String> {
        let out = self.0.args(path);
        crate::output::check_writable(&out).map_err(|e| crate::util::one_line(&e))?;
        let zstd_level = out.zstd_level().map_err(|e| crate::util::one_line(&e))?;
        let (handlers, sink) =
            crate::output::open(&out, None, cap).map_err(|e| crate::util::one_line(&e))?;
        Ok(FileSinks {
            handlers: handlers
                .into_iter()
                .map(|h| Box::new(h) as Box<dyn Handler>)
                .collect(),
            check: Box::new(move || {
                let s = sink.close();
                if s.failed_output() || !s.adds_up() {
                    return Err(crate::output::summary_line(&s));
                }
                Ok(Written {
                    packets: s.written,
                    not_written: s.not_written(),
                    cpu_user_ns: s.cpu_user_ns,
                    cpu_sys_ns: s.cpu_sys_ns,
                    cpu_io_ns: s.cpu_io_ns,
                    bytes_in: s.bytes_in,
                    bytes_out: s.bytes_out,
                    zstd_cli: None,
                })
            }),
            zstd_level,
        })
    }

    fn disk_probe(
        &self,
        dir: &Path,
        delay: std::time::Duration,
        dur: std::time::Duration,
        cpu: Option<usize>,
        stop: Box<dyn Fn() -> bool + Send>,
    ) -> Option<std::io::Result<std::thread::JoinHandle<ringcap_bench::write::DiskRate>>> {
        // Where the output threads go: --writer-cpus when given.
        let cpu = match &self.0.writer_cpus {
            Some(list) => parse_cpu_list(list).ok().and_then(|l| l.first().copied()),
            None => cpu,
        };
        Some(ringcap_sink::disk_probe::start(dir, delay, dur, cpu, stop))
    }
}
