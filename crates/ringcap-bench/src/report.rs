//! `--json`: the whole bench as one JSON object, through serde.
//!
//! Figures are rounded to the precision they are measured to; a value that is not a finite
//! number (a rate of nothing, CPU per packet of no packet) is `null`, never `NaN` (which is not
//! JSON) or a made-up 0.

use serde::Serialize;

use crate::busy::Baseline;
use crate::machine::Machine;
use crate::run::Run;
use crate::summary::{Ratio, Row, Series};

/// What the JSON says about the bench itself.
pub struct Context<'a> {
    pub seconds: f64,
    pub runs: usize,
    pub size: usize,
    pub gen_cpus: String,
    pub capture_cpus: String,
    pub machine: &'a Machine,
    pub command: &'a str,
    pub interrupted: bool,
}

#[derive(Serialize)]
struct Json<'a> {
    seconds: Option<f64>,
    runs: usize,
    size: usize,
    gen_cpus: &'a str,
    capture_cpus: &'a str,
    machine: &'a Machine,
    command: &'a str,
    interrupted: bool,
    /// One per contender: its median run.
    results: Vec<RowJson<'a>>,
    /// Every run, in the order they ran.
    each_run: Vec<RunJson<'a>>,
    cpu_ratios: Vec<RatioJson<'a>>,
    /// `--flows`: each round's baseline (the generator alone), for the marginal CPU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    baselines: Vec<BaselineJson<'a>>,
    /// What the CPU figures are.
    cpu_notes: CpuNotes,
}

#[derive(Serialize)]
struct CpuNotes {
    rusage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    marginal: Option<&'static str>,
}

#[derive(Serialize)]
struct BaselineJson<'a> {
    round: usize,
    #[serde(flatten)]
    baseline: &'a Baseline,
    /// The generator's CPU per offered frame, and the rest of the machine's busy time.
    generator_ns_per_offered: Option<f64>,
    rest_ns_per_offered: Option<f64>,
    /// Background busy time per wall time (1.0 = one CPU).
    idle_rate: Option<f64>,
}

#[derive(Serialize)]
struct MarginalJson {
    window_busy_ns: u64,
    /// Of it, other users' processes (subtracted).
    window_foreign_ns: u64,
    window_wall_ns: u64,
    baseline_ns: Option<f64>,
    collector_ns: u64,
    generator_ns: u64,
    ns: Option<f64>,
}

#[derive(Serialize)]
struct RunJson<'a> {
    mode: &'a str,
    /// 1-based; only in `each_run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    round: Option<usize>,
    /// Frames the generator sent (null: it did not say).
    sent: Option<u64>,
    seen: u64,
    if_drops: u64,
    captured: u64,
    drops: u64,
    seconds: Option<f64>,
    offered_pps: Option<f64>,
    captured_pps: Option<f64>,
    captured_pct: Option<f64>,
    drop_pct: Option<f64>,
    cpu_user_ns_per_pkt: Option<f64>,
    cpu_sys_ns_per_pkt: Option<f64>,
    /// User + system CPU per captured packet, and per offered packet (the whole load's cost,
    /// whatever share of it was kept).
    cpu_ns_per_pkt: Option<f64>,
    cpu_ns_per_offered_pkt: Option<f64>,
    /// `--flows`: marginal CPU (the machine's busy time over the round's baseline, minus the
    /// collector's) per captured packet and per offered packet; in `results`, the medians of
    /// the good rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    marginal_cpu_ns_per_pkt: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    marginal_cpu_ns_per_offered_pkt: Option<f64>,
    /// `--flows`, in `each_run`: how the marginal CPU was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    marginal: Option<MarginalJson>,
    ring_bytes: u64,
    /// `--write` runs of ringcap: its output threads (their CPU is in the figures above too).
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<OutputJson>,
    adds_up: bool,
    failed: bool,
    failure: Option<&'a str>,
    stderr_tail: &'a [String],
    /// The `xdp+filter` rows: passed to the host, its IP receive count and CPU per offered
    /// frame, with and without the capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a crate::host_stack::HostStack>,
}

#[derive(Serialize)]
struct OutputJson {
    written: u64,
    not_written: u64,
    cpu_user_ns_per_pkt: Option<f64>,
    cpu_sys_ns_per_pkt: Option<f64>,
    /// The O_DIRECT I/O threads' part of the output threads' CPU (user + system).
    cpu_io_ns_per_pkt: Option<f64>,
    /// Bytes the files hold / bytes they take (above 1 when compressing).
    compression_ratio: Option<f64>,
    bytes_in: u64,
    bytes_out: u64,
    /// `--replay` with `--compress`: the `zstd` tool at the same level over the same bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    zstd_cli: Option<ZstdCliJson>,
}

#[derive(Serialize)]
struct ZstdCliJson {
    level: i32,
    bytes: u64,
    ratio: Option<f64>,
}

#[derive(Serialize)]
struct RowJson<'a> {
    #[serde(flatten)]
    run: RunJson<'a>,
    rounds: usize,
    failed_rounds: usize,
}

#[derive(Serialize)]
struct RatioJson<'a> {
    mode: &'a str,
    versus: &'a str,
    median: Option<f64>,
    each: Vec<Option<f64>>,
    /// The same ratios over CPU per offered packet.
    median_per_offered: Option<f64>,
    each_per_offered: Vec<Option<f64>>,
    /// `--flows`: the same over marginal CPU, per captured and per offered packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    marginal: Option<SeriesJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    marginal_per_offered: Option<SeriesJson>,
    /// `--flows`: rounds left out of the marginal ratios, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    marginal_unpaired: Vec<Unpaired<'a>>,
    unpaired: Vec<Unpaired<'a>>,
}

#[derive(Serialize)]
struct SeriesJson {
    median: Option<f64>,
    each: Vec<Option<f64>>,
}

fn series(s: &Series) -> Option<SeriesJson> {
    (!s.each.is_empty()).then(|| SeriesJson {
        median: s.median.and_then(|m| num(m, 4)),
        each: s.each.iter().map(|(_, x)| num(*x, 4)).collect(),
    })
}

#[derive(Serialize)]
struct Unpaired<'a> {
    round: usize,
    why: &'a str,
}

const RUSAGE_NOTE: &str = "cpu_user_ns_per_pkt, cpu_sys_ns_per_pkt, cpu_ns_per_pkt, cpu_ns_per_offered_pkt: the contender's own user + system CPU (rusage; for a compared tool from the traffic's start to its exit, its start-up left out); on a kernel without IRQ time accounting it also holds whatever receive softirq fired while the contender ran, and misses what fired while it slept";
const MARGINAL_NOTE: &str = "marginal_cpu_ns_per_pkt, marginal_cpu_ns_per_offered_pkt: the machine's busy time (all CPUs, /proc/stat: total minus idle, iowait, steal; less other users' processes) from the traffic's start to the tool's exit, minus the run's generator's and collector's own CPU, minus the round's baseline (the same run with a tool that does nothing, likewise, plus or minus the background rate for the difference in window length); per packet in the decoded records and per offered packet";

/// `v` rounded to `decimals`; None (JSON null) when it is not a finite number.
fn num(v: f64, decimals: i32) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    let scale = 10f64.powi(decimals);
    let r = (v * scale).round() / scale;
    r.is_finite().then_some(r)
}

fn run_json(r: &Run, round: Option<usize>, adds_up: bool) -> RunJson<'_> {
    let c = &r.counts;
    let per = |ns: u64| c.ns_per_pkt(ns).and_then(|x| num(x, 2));
    RunJson {
        mode: &r.name,
        round,
        sent: c.sent,
        seen: c.seen,
        if_drops: c.if_drops,
        captured: c.captured,
        drops: c.drops,
        seconds: num(c.secs, 3),
        offered_pps: num(c.offered_pps(), 1),
        captured_pps: num(c.captured_pps(), 1),
        captured_pct: num(c.captured_pct(), 4),
        drop_pct: num(c.drop_pct(), 4),
        cpu_user_ns_per_pkt: per(c.cpu_user_ns),
        cpu_sys_ns_per_pkt: per(c.cpu_sys_ns),
        cpu_ns_per_pkt: per(c.cpu_ns()),
        cpu_ns_per_offered_pkt: c.cpu_per_offered().and_then(|x| num(x, 2)),
        marginal_cpu_ns_per_pkt: c.marginal_per_pkt().and_then(|x| num(x, 2)),
        marginal_cpu_ns_per_offered_pkt: c.marginal_per_offered().and_then(|x| num(x, 2)),
        marginal: c.marginal.map(|m| MarginalJson {
            window_busy_ns: m.window.span.busy_ns,
            window_foreign_ns: m.window.span.foreign_ns,
            window_wall_ns: m.window.span.wall_ns,
            baseline_ns: num(m.baseline_ns, 0),
            collector_ns: m.window.collector_ns,
            generator_ns: m.window.generator_ns,
            ns: num(m.ns, 0),
        }),
        ring_bytes: c.ring_bytes,
        output: c.output.map(|o| {
            let per = |ns: u64| (o.packets > 0).then(|| ns as f64 / o.packets as f64);
            OutputJson {
                written: o.packets,
                not_written: o.not_written,
                cpu_user_ns_per_pkt: per(o.cpu_user_ns).and_then(|x| num(x, 2)),
                cpu_sys_ns_per_pkt: per(o.cpu_sys_ns).and_then(|x| num(x, 2)),
                cpu_io_ns_per_pkt: per(o.cpu_io_ns).and_then(|x| num(x, 2)),
                compression_ratio: o.ratio().and_then(|x| num(x, 3)),
                bytes_in: o.bytes_in,
                bytes_out: o.bytes_out,
                zstd_cli: o.zstd_cli.map(|z| ZstdCliJson {
                    level: z.level,
                    bytes: z.bytes,
                    ratio: o.zstd_cli_ratio().and_then(|x| num(x, 3)),
                }),
            }
        }),
        adds_up,
        failed: r.is_failed(),
        failure: r.failure.as_ref().map(|f| f.why.as_str()),
        stderr_tail: r.failure.as_ref().map_or(&[], |f| &f.stderr_tail),
        host: r.host.as_ref(),
    }
}

/// The bench as one line of JSON.
pub fn json(
    cx: &Context<'_>,
    rows: &[Row],
    runs: &[Vec<Run>],
    ratios: &[Ratio],
    baselines: &[Baseline],
) -> String {
    let mut each: Vec<&Run> = runs.iter().flatten().collect();
    // In the order they ran: round by round, contenders in line-up order.
    each.sort_by_key(|r| r.round);
    let doc = Json {
        seconds: num(cx.seconds, 3),
        runs: cx.runs,
        size: cx.size,
        gen_cpus: &cx.gen_cpus,
        capture_cpus: &cx.capture_cpus,
        machine: cx.machine,
        command: cx.command,
        interrupted: cx.interrupted,
        results: rows
            .iter()
            .map(|row| {
                let mut run = run_json(&row.run, None, row.adds_up());
                // The medians of the rounds; how each was reached is in `each_run`.
                run.marginal_cpu_ns_per_pkt = row.marginal_per_pkt.and_then(|x| num(x, 2));
                run.marginal_cpu_ns_per_offered_pkt =
                    row.marginal_per_offered.and_then(|x| num(x, 2));
                run.marginal = None;
                RowJson {
                    run,
                    rounds: row.rounds,
                    failed_rounds: row.failed_rounds,
                }
            })
            .collect(),
        each_run: each
            .iter()
            .map(|r| run_json(r, Some(r.round + 1), r.adds_up()))
            .collect(),
        cpu_ratios: ratios
            .iter()
            .map(|r| RatioJson {
                mode: &r.mode,
                versus: &r.versus,
                median: r.median.and_then(|m| num(m, 4)),
                each: r.each.iter().map(|(_, x)| num(*x, 4)).collect(),
                median_per_offered: r.median_offered.and_then(|m| num(m, 4)),
                each_per_offered: r.each_offered.iter().map(|(_, x)| num(*x, 4)).collect(),
                marginal: series(&r.marginal),
                marginal_per_offered: series(&r.marginal_offered),
                marginal_unpaired: r
                    .marginal_unpaired
                    .iter()
                    .map(|(round, why)| Unpaired {
                        round: round + 1,
                        why,
                    })
                    .collect(),
                unpaired: r
                    .unpaired
                    .iter()
                    .map(|(round, why)| Unpaired {
                        round: round + 1,
                        why,
                    })
                    .collect(),
            })
            .collect(),
        baselines: baselines
            .iter()
            .map(|b| BaselineJson {
                round: b.round + 1,
                baseline: b,
                generator_ns_per_offered: b.busy_ns_per_offered().and_then(|x| num(x.0, 2)),
                rest_ns_per_offered: b.busy_ns_per_offered().and_then(|x| num(x.1, 2)),
                idle_rate: num(b.idle_rate(), 4),
            })
            .collect(),
        cpu_notes: CpuNotes {
            rusage: RUSAGE_NOTE,
            marginal: (!baselines.is_empty()).then_some(MARGINAL_NOTE),
        },
    };
    // Only strings, integers, booleans and finite numbers: serialising cannot fail.
    serde_json::to_string(&doc)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Counts, Failure, Side};
    use crate::summary;

    fn run(name: &str, side: Side, round: usize, captured: u64) -> Run {
        Run {
            name: name.into(),
            side,
            round,
            counts: Counts {
                seen: 3000,
                captured,
                drops: 3000 - captured,
                secs: 3.0004,
                cpu_user_ns: 1000,
                cpu_sys_ns: 2000,
                ring_bytes: 1 << 26,
                ..Counts::default()
            },
            reconciles: true,
            background: 0,
            host: None,
            failure: None,
        }
    }

    #[test]
    fn names_values_and_nulls() {
        let mut bad = run("netsniff-ng -w tmpfs", Side::Compared, 0, 0);
        bad.failure = Some(Failure::new("captured nothing").with_stderr("line \"one\"\n"));
        let runs = vec![vec![run("ring x1", Side::Ringcap, 0, 3000)], vec![bad]];
        let rows: Vec<Row> = runs.iter().filter_map(|r| summary::row(r)).collect();
        let ratios = summary::paired_ratios(&runs);
        let m = Machine {
            cpu_model: "AMD EPYC".into(),
            cpus: 2,
            kernel: "6.1".into(),
        };
        let cx = Context {
            seconds: 3.0,
            runs: 1,
            size: 60,
            gen_cpus: "0".into(),
            capture_cpus: "1".into(),
            machine: &m,
            command: "ringcap bench --json",
            interrupted: false,
        };
        let text = json(&cx, &rows, &runs, &ratios, &[]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["seconds"], 3.0);
        assert_eq!(v["machine"]["cpu_model"], "AMD EPYC");
        let ring = &v["results"][0];
        assert_eq!(ring["mode"], "ring x1");
        assert_eq!(ring["captured_pps"], 999.9);
        assert_eq!(ring["seconds"], 3.0);
        assert_eq!(ring["cpu_sys_ns_per_pkt"], 0.67);
        assert_eq!(ring["cpu_ns_per_pkt"], 1.0);
        assert_eq!(ring["cpu_ns_per_offered_pkt"], 1.0);
        assert_eq!(ring["adds_up"], true);
        assert_eq!(ring["failure"], serde_json::Value::Null);
        assert_eq!(
            (ring["rounds"].clone(), ring["failed_rounds"].clone()),
            (1.into(), 0.into())
        );
        let bad = &v["results"][1];
        assert_eq!(
            (bad["failed"].clone(), bad["adds_up"].clone()),
            (true.into(), false.into())
        );
        assert_eq!(bad["cpu_user_ns_per_pkt"], serde_json::Value::Null);
        // Nothing captured, but 3000 offered: its CPU per offered packet is known.
        assert_eq!(bad["cpu_ns_per_pkt"], serde_json::Value::Null);
        assert_eq!(bad["cpu_ns_per_offered_pkt"], 1.0);
        assert_eq!(bad["stderr_tail"][0], "line \"one\"");
        assert_eq!(v["each_run"][1]["round"], 1);
        assert!(v["results"][0].get("round").is_none());
        let r = &v["cpu_ratios"][0];
        assert_eq!(r["median"], serde_json::Value::Null);
        assert_eq!(r["unpaired"][0]["round"], 1);
        assert_eq!(
            r["unpaired"][0]["why"],
            "netsniff-ng -w tmpfs failed: captured nothing"
        );
    }

    #[test]
    fn numbers_are_rounded_and_never_nan() {
        assert_eq!(num(0.123456, 4), Some(0.1235));
        assert_eq!(num(2.0 / 3.0, 2), Some(0.67));
        assert_eq!(num(f64::NAN, 2), None);
        assert_eq!(num(f64::INFINITY, 2), None);
        assert_eq!(serde_json::to_string(&num(0.1 + 0.2, 3)).unwrap(), "0.3");
    }
}
