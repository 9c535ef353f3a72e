//! The random differential test: seeded random pcap-filter expressions over the whole grammar
//! (gen.rs), each compiled by ringcap and by the real tcpdump for captures of every link type the
//! compiler supports (the differential test's traffic plus seeded mutants of it, packets.rs).
//! Optimized and unoptimized (`tcpdump -O`), both must accept or both reject the expression, and
//! ringcap's program must keep exactly the packets `tcpdump -r FILE -w OUT EXPR` keeps.
//!
//! A disagreement is shrunk before it is reported: to the smallest expression that still
//! disagrees on the packet, then to the shortest cut and fewest non-zero bytes of the packet.
//!
//! Knobs (environment): FILTER_RANDOM_EXPRS (2000), FILTER_RANDOM_SEED, FILTER_RANDOM_THREADS
//! (the CPUs), FILTER_RANDOM_SHRINK (how many disagreements to shrink, 3), FILTER_RANDOM_LOG
//! (a file to write every disagreement to).

#[path = "../filter_common.rs"]
mod filter_common;
mod gen;
mod packets;

use filter_common::*;
use gen::{Gen, Node};
use packets::Capture;
use ringcap_filter::Target;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let r = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            };
            r.unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        }
        Err(_) => default,
    }
}

/// One tcpdump run: the packets it keeps, or its error message.
fn tcpdump(file: &Path, out: &Path, expr: &str, optimize: bool) -> Result<Vec<usize>, String> {
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "tcpdump"]);
    if !optimize {
        cmd.arg("-O");
    }
    let o = cmd
        .arg("-r")
        .arg(file)
        .arg("-w")
        .arg(out)
        .arg("--")
        .arg(expr)
        .output()
        .expect("run tcpdump");
    assert_ne!(o.status.code(), Some(124), "tcpdump timed out on {expr:?}");
    if !o.status.success() {
        let e = String::from_utf8_lossy(&o.stderr);
        return Err(e.lines().last().unwrap_or("").trim().to_string());
    }
    Ok(read_pcap_indices(out))
}

#[derive(Clone, Debug)]
enum Mismatch {
    /// One side compiles the expression, the other refuses it.
    Accept {
        optimized: bool,
        tcpdump: Option<String>,
        ringcap: Option<String>,
    },
    /// Both compile it; they disagree on a packet (`tcpdump`: whether tcpdump keeps it).
    Verdict {
        optimized: bool,
        packet: usize,
        tcpdump: bool,
    },
}

#[derive(Clone, Debug)]
struct Finding {
    expr: Node,
    capture: usize,
    what: Mismatch,
}

#[derive(Default)]
struct Counts {
    compiled: AtomicUsize,
    rejected: AtomicUsize,
    verdicts: AtomicUsize,
}

/// Compares one expression on one capture file, optimized or not.
fn compare(
    text: &str,
    cap: &Capture,
    file: &Path,
    out: &Path,
    optimized: bool,
    counts: &Counts,
) -> Vec<Mismatch> {
    let theirs = tcpdump(file, out, text, optimized);
    let ours = compile(text, cap.link, 262144, Target::File, optimized);
    match (theirs, ours) {
        (Err(_), Err(_)) => {
            counts.rejected.fetch_add(1, Relaxed);
            Vec::new()
        }
        (Err(t), Ok(_)) => vec![Mismatch::Accept {
            optimized,
            tcpdump: Some(t),
            ringcap: None,
        }],
        (Ok(_), Err(r)) => vec![Mismatch::Accept {
            optimized,
            tcpdump: None,
            ringcap: Some(r.message),
        }],
        (Ok(keep), Ok(prog)) => {
            counts.compiled.fetch_add(1, Relaxed);
            counts.verdicts.fetch_add(cap.pkts.len(), Relaxed);
            let mut v = Vec::new();
            for (i, p) in cap.pkts.iter().enumerate() {
                let want = keep.binary_search(&i).is_ok();
                if prog.matches(&p.data, p.wirelen) != want {
                    v.push(Mismatch::Verdict {
                        optimized,
                        packet: i,
                        tcpdump: want,
                    });
                }
            }
            v
        }
    }
}

/// Whether `text` still shows the disagreement `what` on capture `cap` (a verdict disagreement
/// is checked on the one packet, written alone to `one`).
fn still_fails(text: &str, cap: &Capture, pkt: Option<&Pkt>, dir: &Path, what: &Mismatch) -> bool {
    let one = dir.join("shrink.pcap");
    let out = dir.join("shrink.out.pcap");
    write_pcap(
        &one,
        cap.linktype,
        pkt.map(std::slice::from_ref).unwrap_or(&[]),
    );
    let optimized = match what {
        Mismatch::Accept { optimized, .. } | Mismatch::Verdict { optimized, .. } => *optimized,
    };
    let theirs = tcpdump(&one, &out, text, optimized);
    let ours = compile(text, cap.link, 262144, Target::File, optimized);
    match (what, theirs, ours) {
        (Mismatch::Accept { .. }, t, r) => t.is_ok() != r.is_ok(),
        (Mismatch::Verdict { .. }, Ok(keep), Ok(prog)) => {
            let p = pkt.expect("a verdict disagreement has a packet");
            prog.matches(&p.data, p.wirelen) != keep.contains(&0)
        }
        _ => false,
    }
}

/// Shrinks a finding: the expression first, then the packet. Returns the report text.
fn shrink(f: &Finding, caps: &[Capture], dir: &Path) -> String {
    let cap = &caps[f.capture];
    let mut pkt = match f.what {
        Mismatch::Verdict { packet, .. } => Some(cap.pkts[packet].clone()),
        _ => None,
    };
    let mut expr = f.expr.clone();
    let mut tries = 0;
    'outer: while tries < 400 {
        for cand in expr.shrink() {
            tries += 1;
            if still_fails(&cand.text(), cap, pkt.as_ref(), dir, &f.what) {
                expr = cand;
                continue 'outer;
            }
        }
        break;
    }
    let text = expr.text();
    if let Some(p) = pkt.as_mut() {
        // the shortest cut that still disagrees, then zero every byte that can be
        for cut in 0..p.data.len() {
            let q = Pkt {
                data: p.data[..cut].to_vec(),
                wirelen: p.wirelen,
            };
            if still_fails(&text, cap, Some(&q), dir, &f.what) {
                *p = q;
                break;
            }
        }
        for i in 0..p.data.len() {
            if p.data[i] != 0 {
                let mut q = p.clone();
                q.data[i] = 0;
                if still_fails(&text, cap, Some(&q), dir, &f.what) {
                    *p = q;
                }
            }
        }
    }
    let mut s = format!("[{}] {:?}", cap.name, text);
    if text != f.expr.text() {
        s.push_str(&format!(" (shrunk from {:?})", f.expr.text()));
    }
    match (&f.what, pkt) {
        (
            Mismatch::Accept {
                optimized,
                tcpdump,
                ringcap,
            },
            _,
        ) => s.push_str(&format!(
            "{}: tcpdump {}, ringcap {}",
            if *optimized { "" } else { " (-O)" },
            tcpdump
                .as_deref()
                .map_or("compiles".into(), |e| format!("refuses ({e})")),
            ringcap
                .as_deref()
                .map_or("compiles".into(), |e| format!("refuses ({e})")),
        )),
        (
            Mismatch::Verdict {
                optimized, tcpdump, ..
            },
            Some(p),
        ) => {
            let hex: String = p.data.iter().map(|b| format!("{b:02x}")).collect();
            s.push_str(&format!(
                "{}: tcpdump {} the packet, ringcap does not; packet ({} of {} bytes): {hex}",
                if *optimized { "" } else { " (-O)" },
                if *tcpdump { "keeps" } else { "drops" },
                p.data.len(),
                p.wirelen,
            ));
        }
        _ => {}
    }
    s
}

fn describe(f: &Finding, caps: &[Capture]) -> String {
    let cap = &caps[f.capture];
    match &f.what {
        Mismatch::Accept {
            optimized,
            tcpdump,
            ringcap,
        } => format!(
            "[{}]{} {:?}: tcpdump {:?} ringcap {:?}",
            cap.name,
            if *optimized { "" } else { " -O" },
            f.expr.text(),
            tcpdump,
            ringcap
        ),
        Mismatch::Verdict {
            optimized,
            packet,
            tcpdump,
        } => {
            let p = &cap.pkts[*packet];
            let hex: String = p.data.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "[{}]{} {:?}: packet {packet}: tcpdump keeps {tcpdump}; {}/{} {hex}",
                cap.name,
                if *optimized { "" } else { " -O" },
                f.expr.text(),
                p.data.len(),
                p.wirelen
            )
        }
    }
}

#[test]
fn random_expressions_match_tcpdump() {
    if !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let n_exprs = env_num("FILTER_RANDOM_EXPRS", 2000) as usize;
    let seed = env_num("FILTER_RANDOM_SEED", 0x17_0001);
    let threads = env_num(
        "FILTER_RANDOM_THREADS",
        std::thread::available_parallelism().map_or(2, |n| n.get()) as u64,
    ) as usize;
    let n_shrink = env_num("FILTER_RANDOM_SHRINK", 3) as usize;
    let dir: PathBuf = ringcap_netlab::tools::tmpdir("filter-random");
    let caps = packets::captures(seed, 160);
    let files: Vec<PathBuf> = caps
        .iter()
        .map(|c| {
            let p = dir.join(format!("{}.pcap", c.name));
            write_pcap(&p, c.linktype, &c.pkts);
            p
        })
        .collect();
    let mut g = Gen::new(seed);
    let exprs: Vec<Node> = (0..n_exprs).map(|_| g.expr()).collect();
    let next = AtomicUsize::new(0);
    let counts = Counts::default();
    let findings: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..threads.max(1) {
            let (exprs, caps, files, next, counts, findings, dir) =
                (&exprs, &caps, &files, &next, &counts, &findings, &dir);
            s.spawn(move || {
                let out = dir.join(format!("out{t}.pcap"));
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    let Some(e) = exprs.get(i) else { break };
                    let text = e.text();
                    for (ci, cap) in caps.iter().enumerate() {
                        for optimized in [true, false] {
                            let ms = compare(&text, cap, &files[ci], &out, optimized, counts);
                            let mut f = findings.lock().unwrap();
                            f.extend(ms.into_iter().map(|what| Finding {
                                expr: e.clone(),
                                capture: ci,
                                what,
                            }));
                        }
                    }
                }
            });
        }
    });
    let findings = findings.into_inner().unwrap();
    let n_pkts: usize = caps.iter().map(|c| c.pkts.len()).sum();
    eprintln!(
        "filter_random: seed {seed:#x}: {n_exprs} expressions x {} captures ({n_pkts} packets) x optimized and -O: {} compiled by both, {} refused by both, {} packet verdicts compared, {} disagreements",
        caps.len(),
        counts.compiled.load(Relaxed),
        counts.rejected.load(Relaxed),
        counts.verdicts.load(Relaxed),
        findings.len()
    );
    if let Ok(log) = std::env::var("FILTER_RANDOM_LOG") {
        let text: Vec<String> = findings.iter().map(|f| describe(f, &caps)).collect();
        std::fs::write(&log, text.join("\n") + "\n").expect("write FILTER_RANDOM_LOG");
    }
    if findings.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // shrink the first disagreement of distinct expressions
    let mut seen = Vec::new();
    let mut reports = Vec::new();
    for f in &findings {
        if reports.len() >= n_shrink {
            break;
        }
        let key = (f.expr.text(), f.capture);
        if seen.contains(&key.0) {
            continue;
        }
        seen.push(key.0);
        reports.push(shrink(f, &caps, &dir));
    }
    let _ = std::fs::remove_dir_all(&dir);
    panic!(
        "{} disagreements with tcpdump (seed {seed:#x}); the first, shrunk:\n{}\nand unshrunk:\n{}",
        findings.len(),
        reports.join("\n"),
        findings
            .iter()
            .take(10)
            .map(|f| describe(f, &caps))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
