//! `--write-dir`: what the disk under the files takes, measured beside the captures, so a
//! capture's "not written: writer behind" can be read against the disk's own limit.
//!
//! Each round, after the contenders, the program's file output appends to a scratch file in
//! the same directory with its own O_DIRECT pattern (4 MiB aligned writes, one in flight, as
//! its I/O threads and `dd bs=4M oflag=direct` write): once with the machine quiet, once while
//! the same traffic runs with nothing capturing, on the CPU the output threads would take (the
//! generator's by default). The flood matters on small machines: the generator and the receive
//! work take CPU and interrupts from the writes, so the quiet figure overstates what any
//! writer can do during a capture.

use std::time::Duration;

use serde::Serialize;

use crate::error::Result;
use crate::session::Ctx;
use crate::write::DiskRate;

/// One round's disk figures, in MB/s (10^6 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DiskProbe {
    pub round: usize,
    pub idle_mb_s: f64,
    pub flood_mb_s: f64,
}

/// The medians of the rounds' probes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DiskSummary {
    pub rounds: usize,
    pub idle_mb_s: f64,
    pub flood_mb_s: f64,
}

/// The medians of `probes` (None when there are none).
pub fn summarize(probes: &[DiskProbe]) -> Option<DiskSummary> {
    if probes.is_empty() {
        return None;
    }
    let med = |f: fn(&DiskProbe) -> f64| {
        let mut v: Vec<f64> = probes.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    Some(DiskSummary {
        rounds: probes.len(),
        idle_mb_s: med(|p| p.idle_mb_s),
        flood_mb_s: med(|p| p.flood_mb_s),
    })
}

/// Probes the disk of `--write-dir` quiet and under the traffic. Ok(None) when there is
/// nothing to probe (no `--write-dir`, no file output) or the bench was interrupted; an
/// `Err` string when the directory takes no O_DIRECT.
pub(crate) fn probe_round(
    ctx: &Ctx<'_>,
    round: usize,
) -> Result<Option<std::result::Result<DiskProbe, String>>> {
    let (Some(out), Some(_)) = (ctx.output, ctx.settings.write_dir.as_ref()) else {
        return Ok(None);
    };
    let secs = ctx.settings.seconds;
    let cpu = ctx.plan.gen_cpus.first().copied();
    let dir = &ctx.scratch.dir;
    let start = |delay: f64, dur: f64| {
        let stop = ctx.stop.clone();
        out.disk_probe(
            dir,
            Duration::from_secs_f64(delay),
            Duration::from_secs_f64(dur),
            cpu,
            Box::new(move || stop.is_stopped()),
        )
    };
    let Some(idle) = start(0.0, secs) else {
        return Ok(None);
    };
    let idle = match join(idle) {
        Ok(r) => r,
        Err(why) => return Ok(Some(Err(why))),
    };
    // Inside the generator's run: it takes a moment to start and stops on time.
    let margin = (secs * 0.1).min(0.5);
    let Some(flood) = start(margin, (secs - 2.0 * margin).max(0.1)) else {
        return Ok(None);
    };
    let traffic = ctx.traffic();
    let flood = join(flood);
    if traffic?.interrupted || ctx.stop.is_stopped() {
        return Ok(None);
    }
    Ok(Some(flood.map(|flood| DiskProbe {
        round,
        idle_mb_s: idle / 1e6,
        flood_mb_s: flood / 1e6,
    })))
}

/// The probe's figure, or why there is none (its errors are the disk's, not the bench's:
/// they go in the disk line, and the captures' figures stand).
fn join(h: std::io::Result<std::thread::JoinHandle<DiskRate>>) -> std::result::Result<f64, String> {
    let h = h.map_err(|e| format!("starting the disk probe: {e}"))?;
    match h.join() {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("writing: {e}")),
        Err(_) => Err("the disk probe's thread panicked".into()),
    }
}

/// MB/s a `--write` row's median run wrote to its files (None for rows without ringcap's
/// output figures).
pub fn written_mb_s(row: &crate::summary::Row) -> Option<f64> {
    let c = &row.run.counts;
    let w = c.output.as_ref()?;
    (c.secs > 0.0 && !row.is_failed()).then(|| w.bytes_out as f64 / c.secs / 1e6)
}

/// The lines that put the disk's figures beside what each `--write` row wrote.
pub fn lines(
    probes: &[DiskProbe],
    failure: Option<&str>,
    rows: &[crate::summary::Row],
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(why) = failure {
        out.push(format!("disk: not measured: {why}"));
    }
    let Some(d) = summarize(probes) else {
        return out;
    };
    out.push(format!(
        "disk: O_DIRECT 4 MiB appends (as the I/O threads and `dd bs=4M oflag=direct` write) take {:.0} MB/s quiet, {:.0} MB/s while the same traffic runs (median of {} round(s))",
        d.idle_mb_s, d.flood_mb_s, d.rounds
    ));
    for r in rows {
        if let Some(mb) = written_mb_s(r) {
            out.push(format!(
                "disk: {} wrote {:.0} MB/s: {:.2}x what the disk takes under the same traffic",
                r.run.name,
                mb,
                mb / d.flood_mb_s.max(f64::MIN_POSITIVE)
            ));
        }
    }
    out
}
