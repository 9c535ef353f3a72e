//! The bench's text table: one line per run as it finishes, the medians at the end, a FAILED
//! run's reason and its tool's last words under its line, and the CPU ratio lines.

use crate::run::{Run, Written};
use crate::summary::{Ratio, Row};

/// Column layout for a set of row names.
#[derive(Debug, Clone)]
pub struct Table {
    name_width: usize,
}

impl Table {
    /// A table wide enough for every name in `names`.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Table {
        let name_width = names.into_iter().map(str::len).max().unwrap_or(0).max(20);
        Table { name_width }
    }

    /// The two header lines.
    pub fn header(&self) -> String {
        let w = self.name_width;
        format!(
            "{:<w$} {:>10} {:>10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>10} {:>8}  {}\n{:<w$} {:>10} {:>10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>10} {:>8}",
            "mode", "offered", "captured", "captured", "drops", "user", "sys", "cpu", "cpu", "ring", "adds up",
            "", "Mpps", "Mpps", "%", "%", "ns/pkt", "ns/pkt", "ns/pkt", "ns/offered", "MiB"
        )
    }

    /// One run's figures and verdict (`yes`, `NO` or `FAILED`), then notes.
    pub fn line(&self, r: &Run) -> String {
        let verdict = if r.is_failed() {
            "FAILED"
        } else if r.reconciles {
            "yes"
        } else {
            "NO"
        };
        let mut s = self.figures(r, verdict);
        if let Some(o) = &r.counts.output {
            s += &output_note(o, &r.counts);
        }
        if r.background > 0 && !r.is_failed() {
            s += &format!(" ({} frames not counted by the sockets)", r.background);
        }
        if r.counts.if_drops > 0 {
            s += &format!(
                " ({} dropped by the interface before any socket)",
                r.counts.if_drops
            );
        }
        if let Some(m) = &r.counts.marginal {
            s += &marginal_note(r.counts.marginal_per_pkt(), r.counts.marginal_per_offered());
            s += &format!(
                " [busy {:.0} ms - others' processes {:.0} ms - generator {:.0} ms - baseline {:.0} ms - collector {:.0} ms]",
                m.window.span.busy_ns as f64 / 1e6,
                m.window.span.foreign_ns as f64 / 1e6,
                m.window.generator_ns as f64 / 1e6,
                m.baseline_ns / 1e6,
                m.window.collector_ns as f64 / 1e6
            );
        }
        s
    }

    /// A contender's median row; failed rounds are named in its verdict.
    pub fn row_line(&self, row: &Row) -> String {
        let marginal = if row.marginal_per_pkt.is_some() || row.marginal_per_offered.is_some() {
            marginal_note(row.marginal_per_pkt, row.marginal_per_offered)
        } else {
            String::new()
        };
        if row.failed_rounds == 0 || row.is_failed() {
            let mut run = row.run.clone();
            // The row's own medians, said once.
            run.counts.marginal = None;
            return self.line(&run) + &marginal;
        }
        let verdict = format!(
            "FAILED in {} of {} runs (median of the others)",
            row.failed_rounds, row.rounds
        );
        self.figures(&row.run, &verdict) + &marginal
    }

    fn figures(&self, r: &Run, verdict: &str) -> String {
        let c = &r.counts;
        if r.is_failed() && c.secs == 0.0 {
            // Failed before any traffic: nothing was measured.
            return format!(
                "{:<w$} {:>10} {:>10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>10} {:>8}  {verdict}",
                r.name,
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                w = self.name_width,
            );
        }
        let per = |ns: u64| match c.ns_per_pkt(ns) {
            Some(x) => format!("{x:.1}"),
            None => "-".into(),
        };
        format!(
            "{:<w$} {:>10.3} {:>10.3} {:>9.2} {:>8.2} {:>9} {:>9} {:>9} {:>10} {:>8}  {verdict}",
            r.name,
            c.offered_pps() / 1e6,
            c.captured_pps() / 1e6,
            c.captured_pct(),
            c.drop_pct(),
            per(c.cpu_user_ns),
            per(c.cpu_sys_ns),
            per(c.cpu_ns()),
            c.cpu_per_offered()
                .map_or_else(|| "-".into(), |x| format!("{x:.1}")),
            if c.ring_bytes > 0 {
                (c.ring_bytes >> 20).to_string()
            } else {
                "-".into()
            },
            w = self.name_width,
        )
    }
}

/// A `--write` run's output threads: their share of the CPU column (the O_DIRECT I/O
/// threads' part of it, and what is left to the capture workers), what they could not write,
/// and the compression ratio when compressing.
fn output_note(o: &Written, c: &crate::run::Counts) -> String {
    let mut s = match o.cpu_per_pkt() {
        Some(x) => format!(" (output threads {x:.1} ns/pkt"),
        None => " (output threads: nothing written".to_string(),
    };
    if let Some(io) =
        (o.cpu_io_ns > 0 && o.packets > 0).then(|| o.cpu_io_ns as f64 / o.packets as f64)
    {
        s += &format!(", I/O threads {io:.1} of it");
    }
    let out_ns = o.cpu_user_ns + o.cpu_sys_ns;
    if let Some(w) = c
        .ns_per_pkt(c.cpu_ns().saturating_sub(out_ns))
        .filter(|_| out_ns > 0)
    {
        s += &format!("; capture workers {w:.1} ns/pkt");
    }
    if o.not_written > 0 {
        s += &format!(", {} not written: writer behind", o.not_written);
    }
    if let Some(r) = o.ratio().filter(|r| (r - 1.0).abs() > 0.01) {
        s += &format!(", files {r:.2}x smaller");
    }
    if let (Some(z), Some(r)) = (o.zstd_cli, o.zstd_cli_ratio()) {
        s += &format!(", zstd -{} of the same bytes {r:.2}x", z.level);
    }
    s + ")"
}

/// `--flows`: the marginal CPU ([`crate::busy`]) after a line's verdict.
fn marginal_note(per_pkt: Option<f64>, per_offered: Option<f64>) -> String {
    let ns = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.1}"));
    format!(
        "  marginal CPU {} ns/pkt, {} ns/offered",
        ns(per_pkt),
        ns(per_offered)
    )
}

/// `--flows`: one round's baseline, the do-nothing tool's run.
pub fn baseline_line(b: &crate::busy::Baseline) -> String {
    let (gen, rest) = b
        .busy_ns_per_offered()
        .map_or(("-".into(), "-".into()), |(g, r)| {
            (format!("{g:.1}"), format!("{r:.1}"))
        });
    format!(
        "bench: baseline of run {} (the same run with a tool that does nothing): {:.3} Mpps offered; per offered frame the generator's CPU {gen} ns, the rest of the machine {rest} ns (collector aside); background {:.1} % of a CPU",
        b.round + 1,
        b.offered as f64 / b.seconds.max(1e-9) / 1e6,
        100.0 * b.idle_rate()
    )
}

/// Under a failed run's line: why, and the last lines its tool wrote on standard error.
pub fn failure_lines(r: &Run) -> Vec<String> {
    let Some(f) = &r.failure else {
        return Vec::new();
    };
    let mut out = vec![format!("    {} FAILED: {}", r.name, f.why)];
    for l in &f.stderr_tail {
        out.push(format!("    | {l}"));
    }
    out
}

/// Under an `xdp+filter` row's line: what the filter left to the host's stack, and what the
/// stack received and the CPUs spent, against the same traffic with no capture.
pub fn host_lines(r: &Run) -> Vec<String> {
    let Some(h) = &r.host else {
        return Vec::new();
    };
    if r.is_failed() {
        return Vec::new();
    }
    let pct = |part: u64, of: u64| {
        if of == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", 100.0 * part as f64 / of as f64)
        }
    };
    let ns = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.0} ns"));
    vec![
        format!(
            "    {}: filter '{}' (1 frame in 64) {}; passed to the host {}",
            r.name,
            crate::host_stack::EXPR,
            if r.name.contains("ufilter") {
                "in user space"
            } else {
                "in the XDP program"
            },
            h.passed
        ),
        format!(
            "    {}: host IP received {} ({} of offered), with no capture {} ({})",
            r.name,
            h.ip_in,
            pct(h.ip_in, r.counts.offered()),
            h.without.ip_in,
            pct(h.without.ip_in, h.without.offered),
        ),
        format!(
            "    {}: per offered frame: workers' CPU {}, capture CPUs busy {} (with no capture {})",
            r.name,
            ns((r.counts.offered() > 0)
                .then(|| r.counts.cpu_ns() as f64 / r.counts.offered() as f64)),
            ns(h.busy_ns_per_offered),
            ns(h.without.busy_ns_per_offered),
        ),
    ]
}

/// The bench's last word when some run failed or did not add up: which, and how often.
pub fn verdict_line(rows: &[Row]) -> Option<String> {
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| !r.adds_up())
        .map(|r| {
            let what = if r.failed_rounds > 0 {
                format!("FAILED in {} of {} runs", r.failed_rounds, r.rounds)
            } else {
                "counts do not add up".to_string()
            };
            format!("{} ({what})", r.run.name)
        })
        .collect();
    (!bad.is_empty()).then(|| format!("bench: not every run counts: {}", bad.join(", ")))
}

/// `bench: ring x1: CPU per captured packet 0.32x that of tcpdump -w /dev/null (median of 3
/// paired runs: …)`, naming every run without a ratio and why; or why there is none at all.
pub fn ratio_line(r: &Ratio) -> String {
    let missing: Vec<String> = r
        .unpaired
        .iter()
        .map(|(round, why)| format!("run {}: {why}", round + 1))
        .collect();
    let Some(median) = r.median else {
        return format!(
            "bench: {}: no CPU ratio to {}: {}",
            r.mode,
            r.versus,
            missing.join("; ")
        );
    };
    let values: Vec<String> = r.each.iter().map(|(_, x)| format!("{x:.2}")).collect();
    let mut s = format!(
        "bench: {}: CPU per captured packet {median:.2}x that of {} (median of {} paired run{}: {}",
        r.mode,
        r.versus,
        r.each.len(),
        if r.each.len() == 1 { "" } else { "s" },
        values.join(" ")
    );
    if !missing.is_empty() {
        s += &format!("; no ratio in {}", missing.join("; "));
    }
    s.push(')');
    if let Some(m) = r.median_offered {
        let values: Vec<String> = r
            .each_offered
            .iter()
            .map(|(_, x)| format!("{x:.2}"))
            .collect();
        s += &format!("; per offered packet {m:.2}x ({})", values.join(" "));
    }
    if let Some(m) = r.marginal.median {
        let values = |v: &[(usize, f64)]| {
            v.iter()
                .map(|(_, x)| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let left_out: String = r
            .marginal_unpaired
            .iter()
            .map(|(round, why)| format!("; no ratio in run {}: {why}", round + 1))
            .collect();
        s += &format!(
            "\nbench: {}: marginal CPU per captured packet {m:.2}x that of {} ({}{left_out}); per offered packet {}x ({})",
            r.mode,
            r.versus,
            values(&r.marginal.each),
            r.marginal_offered
                .median
                .map_or("-".into(), |x| format!("{x:.2}")),
            values(&r.marginal_offered.each),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Counts, Failure, Side};

    fn run(name: &str, captured: u64) -> Run {
        Run {
            name: name.into(),
            side: Side::Compared,
            round: 0,
            counts: Counts {
                seen: 1_000_000,
                captured,
                drops: 1_000_000 - captured,
                secs: 2.0,
                cpu_user_ns: 100_000_000,
                cpu_sys_ns: 300_000_000,
                ring_bytes: 64 << 20,
                ..Counts::default()
            },
            reconciles: true,
            background: 0,
            host: None,
            failure: None,
        }
    }

    #[test]
    fn columns_line_up_with_the_header() {
        let t = Table::new(["ring x1", "tcpdump -w /dev/null"]);
        let h = t.header();
        let line = t.line(&run("ring x1", 1_000_000));
        assert_eq!(
            line,
            "ring x1                   0.500      0.500    100.00     0.00     100.0     300.0     400.0      400.0       64  yes"
        );
        let first = h.lines().next().unwrap();
        assert_eq!(first.find("adds up"), line.find("yes"), "{h}\n{line}");
        // A longer name widens the column for every line.
        let t = Table::new(["netsniff-ng -w /some/long/dir"]);
        let line = t.line(&run("ring x1", 1));
        assert!(line[29..].starts_with("      0.500"), "{line}");
    }

    #[test]
    fn a_write_run_shows_its_output_threads_apart() {
        let t = Table::new(["ring x1 -w tmpfs"]);
        let mut r = run("ring x1 -w tmpfs", 1_000_000);
        r.counts.output = Some(Written {
            packets: 1_000_000,
            not_written: 0,
            cpu_user_ns: 20_000_000,
            cpu_sys_ns: 40_000_000,
            cpu_io_ns: 20_000_000,
            bytes_in: 100,
            bytes_out: 100,
            zstd_cli: None,
        });
        let line = t.line(&r);
        // 400 ns/pkt in all: 60 of it the output threads' (20 the I/O threads'), 340 the
        // capture workers'.
        assert!(
            line.ends_with(
                "yes (output threads 60.0 ns/pkt, I/O threads 20.0 of it; capture workers 340.0 ns/pkt)"
            ),
            "{line}"
        );
        r.counts.output = Some(Written {
            packets: 900_000,
            not_written: 100_000,
            bytes_in: 450,
            bytes_out: 100,
            ..Written::default()
        });
        let line = t.line(&r);
        assert!(
            line.ends_with(
                "yes (output threads 0.0 ns/pkt, 100000 not written: writer behind, files 4.50x smaller)"
            ),
            "{line}"
        );
        // --replay with --compress: the zstd tool's ratio over the same bytes beside it.
        r.counts.output = Some(Written {
            packets: 1000,
            bytes_in: 520,
            bytes_out: 100,
            zstd_cli: Some(crate::run::ZstdCli {
                level: 3,
                bytes: 104,
            }),
            ..Written::default()
        });
        let line = t.line(&r);
        assert!(
            line.ends_with(
                "(output threads 0.0 ns/pkt, files 5.20x smaller, zstd -3 of the same bytes 5.00x)"
            ),
            "{line}"
        );
    }

    #[test]
    fn a_failed_run_says_failed_why_and_what_the_tool_said() {
        let t = Table::new(["netsniff-ng -w tmpfs"]);
        let mut r = run("netsniff-ng -w tmpfs", 0);
        r.failure = Some(
            Failure::new("captured nothing of 1000000 frames offered (0.500 Mpps)")
                .with_stderr("Running! Hang up with ^C!\n0  packets incoming\n"),
        );
        let line = t.line(&r);
        assert!(line.ends_with("  FAILED"), "{line}");
        assert!(!line.contains("yes"), "{line}");
        // No CPU per packet of nothing.
        assert!(line.contains("        -         -         -"), "{line}");
        assert_eq!(
            failure_lines(&r),
            [
                "    netsniff-ng -w tmpfs FAILED: captured nothing of 1000000 frames offered (0.500 Mpps)",
                "    | Running! Hang up with ^C!",
                "    | 0  packets incoming",
            ]
        );
        assert!(failure_lines(&run("x", 1)).is_empty());
        // Failed before any traffic: no figures at all.
        let never = Run::failed(
            "tcpdump -w /dev/null".into(),
            Side::Compared,
            0,
            Failure::new("exited (exit status: 1) before it was capturing"),
        );
        let line = t.line(&never);
        assert!(
            line.starts_with("tcpdump -w /dev/null          -          -         -")
                && line.ends_with("-  FAILED"),
            "{line}"
        );
    }

    #[test]
    fn the_last_word_names_what_does_not_count() {
        let good = Row {
            run: run("ring x1", 1_000_000),
            rounds: 2,
            failed_rounds: 0,
            all_add_up: true,
            marginal_per_pkt: None,
            marginal_per_offered: None,
        };
        assert_eq!(verdict_line(std::slice::from_ref(&good)), None);
        let mut partly = good.clone();
        partly.run.name = "tcpdump -w /dev/null".into();
        partly.failed_rounds = 1;
        let mut off = good.clone();
        off.run.name = "recv x1".into();
        off.all_add_up = false;
        assert_eq!(
            verdict_line(&[good, partly, off]).unwrap(),
            "bench: not every run counts: tcpdump -w /dev/null (FAILED in 1 of 2 runs), recv x1 (counts do not add up)"
        );
    }

    #[test]
    fn a_row_with_some_failed_rounds_is_flagged() {
        let t = Table::new(["tcpdump"]);
        let row = Row {
            run: run("tcpdump", 500_000),
            rounds: 3,
            failed_rounds: 1,
            all_add_up: true,
            marginal_per_pkt: None,
            marginal_per_offered: None,
        };
        assert!(t
            .row_line(&row)
            .ends_with("FAILED in 1 of 3 runs (median of the others)"));
    }

    #[test]
    fn ratio_lines() {
        let mut r = Ratio {
            mode: "ring x1".into(),
            versus: "tcpdump -w tmpfs".into(),
            median: Some(0.3214),
            each: vec![(0, 0.35), (2, 0.3214)],
            median_offered: Some(0.9),
            each_offered: vec![(0, 1.1), (2, 0.9)],
            marginal: Default::default(),
            marginal_offered: Default::default(),
            marginal_unpaired: Vec::new(),
            unpaired: vec![(1, "tcpdump -w tmpfs failed: exited with status 1".into())],
        };
        assert_eq!(
            ratio_line(&r),
            "bench: ring x1: CPU per captured packet 0.32x that of tcpdump -w tmpfs (median of 2 paired runs: 0.35 0.32; no ratio in run 2: tcpdump -w tmpfs failed: exited with status 1); per offered packet 0.90x (1.10 0.90)"
        );
        // --flows: the marginal CPU's ratios on a line of their own.
        let mut m = r.clone();
        m.marginal = crate::summary::Series {
            each: vec![(0, 0.4), (2, 0.5)],
            median: Some(0.45),
        };
        m.marginal_offered = crate::summary::Series {
            each: vec![(0, 0.3), (2, 0.5)],
            median: Some(0.4),
        };
        assert!(ratio_line(&m).ends_with(
            "\nbench: ring x1: marginal CPU per captured packet 0.45x that of tcpdump -w tmpfs (0.40 0.50); per offered packet 0.40x (0.30 0.50)"
        ));
        // A round left out of the marginal median says why.
        m.marginal_unpaired = vec![(3, "x's marginal CPU is -203 ns/pkt, not above 0".into())];
        assert!(ratio_line(&m).ends_with(
            "(0.40 0.50; no ratio in run 4: x's marginal CPU is -203 ns/pkt, not above 0); per offered packet 0.40x (0.30 0.50)"
        ));
        r.unpaired.clear();
        r.each.pop();
        r.median_offered = None;
        r.each_offered.clear();
        assert!(ratio_line(&r).ends_with("(median of 1 paired run: 0.35)"));
        r.median = None;
        r.each.clear();
        r.unpaired = vec![(0, "a".into()), (1, "b".into())];
        assert_eq!(
            ratio_line(&r),
            "bench: ring x1: no CPU ratio to tcpdump -w tmpfs: run 1: a; run 2: b"
        );
    }
}
