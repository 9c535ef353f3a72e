//! From the runs of every round to the figures people quote: the median run of each contender,
//! and ringcap's CPU per packet over each compared tool's, paired round by round.
//!
//! Rounds are interleaved (every contender once, then again), so a drift of a shared machine's
//! speed hits all of them alike; pairing the runs of one round keeps the ratios meaningful.

use crate::run::{Run, Side};

/// The median of `values` (the mean of the middle two for an even count); None when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A contender over all its rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The run with the median captured rate among the good ones; when every round failed,
    /// the last failed run (so its reason shows).
    pub run: Run,
    pub rounds: usize,
    pub failed_rounds: usize,
    /// Every good round added up.
    pub all_add_up: bool,
    /// `--flows`: the medians over the good rounds of the marginal CPU per captured and per
    /// offered packet ([`crate::busy`]).
    pub marginal_per_pkt: Option<f64>,
    pub marginal_per_offered: Option<f64>,
}

impl Row {
    /// No round gave a result.
    pub fn is_failed(&self) -> bool {
        self.run.is_failed()
    }

    /// Every round ran and added up.
    pub fn adds_up(&self) -> bool {
        self.failed_rounds == 0 && self.all_add_up && self.rounds > 0
    }
}

/// The summary row of one contender's runs (None when it never ran, e.g. interrupted).
pub fn row(runs: &[Run]) -> Option<Row> {
    let last = runs.last()?;
    let mut good: Vec<&Run> = runs.iter().filter(|r| !r.is_failed()).collect();
    let failed_rounds = runs.len() - good.len();
    let med = |f: fn(&Run) -> Option<f64>| {
        median(&good.iter().filter_map(|r| f(r)).collect::<Vec<f64>>())
    };
    let marginal_per_pkt = med(|r| r.counts.marginal_per_pkt());
    let marginal_per_offered = med(|r| r.counts.marginal_per_offered());
    let run = if good.is_empty() {
        last.clone()
    } else {
        good.sort_by(|a, b| a.counts.captured_pps().total_cmp(&b.counts.captured_pps()));
        good[good.len() / 2].clone()
    };
    Some(Row {
        all_add_up: good.iter().all(|r| r.adds_up()),
        run,
        rounds: runs.len(),
        failed_rounds,
        marginal_per_pkt,
        marginal_per_offered,
    })
}

/// ringcap's CPU per captured packet over a compared tool's, and the same per offered packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    pub mode: String,
    pub versus: String,
    /// The median of `each`; None when no round paired.
    pub median: Option<f64>,
    /// (round, ratio) of every round where both ran well.
    pub each: Vec<(usize, f64)>,
    /// The same over CPU per offered packet (a contender that drops much of the load divides
    /// its CPU by fewer packets per captured packet, not per offered one).
    pub median_offered: Option<f64>,
    pub each_offered: Vec<(usize, f64)>,
    /// `--flows`: the same over marginal CPU ([`crate::busy`]) per captured and per offered
    /// packet, in the rounds where both have one above 0 (empty otherwise).
    pub marginal: Series,
    pub marginal_offered: Series,
    /// `--flows`: (round, why) of every round where both ran well but one's marginal CPU is
    /// missing or not above 0 (the method's run-to-run error can exceed a small cost), so
    /// that a median of fewer rounds says which were left out.
    pub marginal_unpaired: Vec<(usize, String)>,
    /// (round, why) of every round without a ratio.
    pub unpaired: Vec<(usize, String)>,
}

/// Paired ratios of one kind: (round, ratio) of every round that has one, and their median.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub each: Vec<(usize, f64)>,
    pub median: Option<f64>,
}

impl Series {
    fn of(each: Vec<(usize, f64)>) -> Series {
        let values: Vec<f64> = each.iter().map(|(_, x)| *x).collect();
        Series {
            median: median(&values),
            each,
        }
    }
}

/// For every ringcap contender and every compared tool, the paired ratios. `runs[i]` holds
/// contender i's runs, one per round, in round order.
pub fn paired_ratios(runs: &[Vec<Run>]) -> Vec<Ratio> {
    let of = |side: Side| {
        runs.iter()
            .filter(move |r| r.first().is_some_and(|x| x.side == side))
    };
    let mut out = Vec::new();
    // The xdp+filter rows capture 1 frame in 64 by design: their CPU per captured packet is
    // not comparable with a tool's that takes every frame (their own lines say per offered).
    for mine in of(Side::Ringcap).filter(|r| r.iter().all(|x| x.host.is_none())) {
        for theirs in of(Side::Compared) {
            out.push(pair(mine, theirs));
        }
    }
    out
}

fn pair(mine: &[Run], theirs: &[Run]) -> Ratio {
    let mut each = Vec::new();
    let mut each_offered = Vec::new();
    let mut unpaired = Vec::new();
    let (mut marginal, mut marginal_offered) = (Vec::new(), Vec::new());
    let mut marginal_unpaired = Vec::new();
    for (a, b) in mine.iter().zip(theirs) {
        match marginal_ratio(a, b) {
            Ok(Some((x, y))) => {
                marginal.push((a.round, x));
                marginal_offered.push((a.round, y));
            }
            Ok(None) => {}
            Err(why) => marginal_unpaired.push((a.round, why)),
        }
        match ratio(a, b) {
            Ok((x, y)) => {
                each.push((a.round, x));
                each_offered.push((a.round, y));
            }
            Err(why) => unpaired.push((a.round, why)),
        }
    }
    // A round where only one of the two ran (interrupted).
    let ran = mine.len().min(theirs.len());
    for r in mine.iter().skip(ran).chain(theirs.iter().skip(ran)) {
        unpaired.push((r.round, "interrupted before both ran".into()));
    }
    unpaired.sort_by_key(|(round, _)| *round);
    unpaired.dedup_by_key(|(round, _)| *round);
    let values = |v: &[(usize, f64)]| v.iter().map(|(_, x)| *x).collect::<Vec<f64>>();
    Ratio {
        mode: mine[0].name.clone(),
        versus: theirs[0].name.clone(),
        median: median(&values(&each)),
        median_offered: median(&values(&each_offered)),
        each,
        each_offered,
        marginal: Series::of(marginal),
        marginal_offered: Series::of(marginal_offered),
        marginal_unpaired,
        unpaired,
    }
}

/// One round's marginal-CPU ratios (per captured, per offered packet) when both runs are
/// good and have a marginal CPU above 0; `None` when a run failed or neither has a marginal
/// figure (not `--flows`: the unpaired list says why already); why not otherwise.
fn marginal_ratio(a: &Run, b: &Run) -> Result<Option<(f64, f64)>, String> {
    if a.is_failed() || b.is_failed() {
        return Ok(None);
    }
    let get = |r: &Run| {
        let c = &r.counts;
        Some((c.marginal_per_pkt()?, c.marginal_per_offered()?))
    };
    let (ma, mb) = (get(a), get(b));
    if ma.is_none() && mb.is_none() {
        return Ok(None);
    }
    let pick = |r: &Run, m: Option<(f64, f64)>| match m {
        Some((x, y)) if x > 0.0 => Ok((x, y)),
        Some((x, _)) => Err(format!(
            "{}'s marginal CPU is {x:.0} ns/pkt, not above 0 (within the method's error)",
            r.name
        )),
        None => Err(format!("no marginal CPU for {}", r.name)),
    };
    let (a1, a2) = pick(a, ma)?;
    let (b1, b2) = pick(b, mb)?;
    Ok(Some((a1 / b1, a2 / b2)))
}

/// One round's ratios (per captured, per offered packet), or why there are none.
fn ratio(a: &Run, b: &Run) -> Result<(f64, f64), String> {
    for r in [a, b] {
        if let Some(f) = &r.failure {
            return Err(format!("{} failed: {}", r.name, f.why));
        }
    }
    let per_pkt = |r: &Run| {
        r.counts
            .cpu_per_pkt()
            .filter(|&x| x > 0.0)
            .ok_or_else(|| format!("no CPU time measured for {}", r.name))
    };
    let per_offered = |r: &Run| {
        r.counts
            .cpu_per_offered()
            .filter(|&x| x > 0.0)
            .ok_or_else(|| format!("no CPU time measured for {}", r.name))
    };
    Ok((per_pkt(a)? / per_pkt(b)?, per_offered(a)? / per_offered(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Counts, Failure};

    fn run(name: &str, side: Side, round: usize, captured: u64, cpu_ns: u64) -> Run {
        Run {
            name: name.into(),
            side,
            round,
            counts: Counts {
                seen: 1000,
                captured,
                drops: 1000 - captured,
                secs: 1.0,
                cpu_sys_ns: cpu_ns,
                ..Counts::default()
            },
            reconciles: true,
            background: 0,
            host: None,
            failure: None,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }

    #[test]
    fn the_row_is_the_median_good_run() {
        let runs = vec![
            run("ring x1", Side::Ringcap, 0, 900, 10),
            run("ring x1", Side::Ringcap, 1, 500, 10),
            run("ring x1", Side::Ringcap, 2, 700, 10),
        ];
        let r = row(&runs).unwrap();
        assert_eq!(r.run.round, 2);
        assert!(r.adds_up());
        assert_eq!(row(&[]), None);
    }

    #[test]
    fn failed_rounds_are_left_out_of_the_median_and_counted() {
        let mut bad = run("netsniff-ng -w tmpfs", Side::Compared, 1, 0, 10);
        bad.failure = Some(Failure::new("captured nothing"));
        let runs = vec![run("netsniff-ng -w tmpfs", Side::Compared, 0, 900, 10), bad];
        let r = row(&runs).unwrap();
        assert_eq!((r.run.round, r.failed_rounds, r.rounds), (0, 1, 2));
        assert!(!r.is_failed() && !r.adds_up());
        // Every round failed: the row is the failure.
        let mut only = runs[1].clone();
        only.round = 0;
        let r = row(&[only]).unwrap();
        assert!(r.is_failed() && !r.adds_up());
    }

    #[test]
    fn ratios_pair_rounds_and_say_why_one_has_none() {
        let mut failed = run("tcpdump -w /dev/null", Side::Compared, 1, 0, 50);
        failed.failure = Some(Failure::new("captured nothing of 57000 frames offered"));
        let runs = vec![
            vec![
                run("ring x1", Side::Ringcap, 0, 1000, 1000),
                run("ring x1", Side::Ringcap, 1, 1000, 1000),
                run("ring x1", Side::Ringcap, 2, 1000, 3000),
            ],
            vec![
                run("tcpdump -w /dev/null", Side::Compared, 0, 500, 2000),
                failed,
                run("tcpdump -w /dev/null", Side::Compared, 2, 1000, 2000),
            ],
        ];
        let r = paired_ratios(&runs);
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(
            (r.mode.as_str(), r.versus.as_str()),
            ("ring x1", "tcpdump -w /dev/null")
        );
        // Round 0: 1 ns vs 4 ns per packet; round 2: 3 vs 2.
        assert_eq!(r.each, [(0, 0.25), (2, 1.5)]);
        assert_eq!(r.median, Some(0.875));
        // Per offered packet (1000 each): 1 vs 2 ns, then 3 vs 2.
        assert_eq!(r.each_offered, [(0, 0.5), (2, 1.5)]);
        assert_eq!(r.median_offered, Some(1.0));
        assert_eq!(
            r.unpaired,
            [(
                1,
                "tcpdump -w /dev/null failed: captured nothing of 57000 frames offered".into()
            )]
        );
    }

    #[test]
    fn a_marginal_cpu_not_above_zero_is_left_out_and_said() {
        let with = |name: &str, side: Side, round: usize, ns: f64| {
            let mut r = run(name, side, round, 1000, 5000);
            r.counts.marginal = Some(crate::busy::Marginal {
                window: Default::default(),
                baseline_ns: 0.0,
                ns,
            });
            r
        };
        let runs = vec![
            vec![
                with("ringcap flows", Side::Ringcap, 0, 1000.0),
                with("ringcap flows", Side::Ringcap, 1, -203_000.0),
            ],
            vec![
                with("softflowd", Side::Compared, 0, 4000.0),
                with("softflowd", Side::Compared, 1, 3000.0),
            ],
        ];
        let r = &paired_ratios(&runs)[0];
        assert_eq!(r.marginal.each, [(0, 0.25)]);
        assert_eq!(
            r.marginal_unpaired,
            [(
                1,
                "ringcap flows's marginal CPU is -203 ns/pkt, not above 0 (within the method's error)"
                    .into()
            )]
        );
        // The rusage ratios are paired in both rounds.
        assert_eq!(r.each.len(), 2);
        assert!(r.unpaired.is_empty());
    }

    #[test]
    fn no_ratio_at_all_is_said_too() {
        let runs = vec![
            vec![run("ring x1", Side::Ringcap, 0, 1000, 0)],
            vec![run("tcpdump", Side::Compared, 0, 1000, 5)],
            vec![run("recv x1", Side::Ringcap, 0, 1000, 5)],
        ];
        let r = paired_ratios(&runs);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].median, None);
        assert_eq!(
            r[0].unpaired,
            [(0, "no CPU time measured for ring x1".into())]
        );
        assert_eq!(r[1].median, Some(1.0));
        // Interrupted after ringcap's run of round 1.
        let runs = vec![
            vec![
                run("ring x1", Side::Ringcap, 0, 1000, 5),
                run("ring x1", Side::Ringcap, 1, 1000, 5),
            ],
            vec![run("tcpdump", Side::Compared, 0, 1000, 5)],
        ];
        let r = &paired_ratios(&runs)[0];
        assert_eq!(r.each, [(0, 1.0)]);
        assert_eq!(r.unpaired, [(1, "interrupted before both ran".into())]);
    }
}
