//! Differential test against the real tcpdump/libpcap: for every expression and every packet of
//! capture files this test builds (Ethernet, SLL, SLL2, RAW, NULL), ringcap's program accepts the
//! packet exactly when `tcpdump -r FILE -w OUT EXPR` keeps it; expressions tcpdump rejects,
//! ringcap rejects too; optimized and unoptimized (`tcpdump -O`). And the programs are libpcap's
//! (`tcpdump -ddd`), instruction for instruction, except with protochain (whose loop ringcap
//! unrolls): their lengths are printed apart.

mod filter_common;

use filter_common::*;
use ringcap_filter::{LinkType, Program, Target};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tcpdump_verdicts(file: &Path, expr: &str, out: &Path) -> Result<Vec<usize>, String> {
    tcpdump_run(file, expr, out, true)
}

/// `tcpdump [-O] -r FILE -w OUT EXPR`: the packets it keeps, or its error.
fn tcpdump_run(file: &Path, expr: &str, out: &Path, optimize: bool) -> Result<Vec<usize>, String> {
    let mut cmd = Command::new("tcpdump");
    if !optimize {
        cmd.arg("-O");
    }
    let o = cmd
        .args(["-r"])
        .arg(file)
        .arg("-w")
        .arg(out)
        .arg("--")
        .arg(expr)
        .output()
        .expect("run tcpdump");
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    Ok(read_pcap_indices(out))
}

/// libpcap's program for `expr` (`tcpdump [-O] -ddd`), when tcpdump compiles it.
fn tcpdump_program(file: &Path, expr: &str, optimize: bool) -> Option<Program> {
    let mut cmd = Command::new("tcpdump");
    if !optimize {
        cmd.arg("-O");
    }
    let o = cmd
        .args(["-ddd", "-r"])
        .arg(file)
        .arg("--")
        .arg(expr)
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    Program::from_ddd(&String::from_utf8_lossy(&o.stdout))
}

struct File {
    name: &'static str,
    lt: u32,
    pkts: Vec<Pkt>,
}

fn files() -> Vec<File> {
    let eth = ethernet_traffic();
    vec![
        File {
            name: "en10mb",
            lt: 1,
            pkts: ethernet_traffic(),
        },
        File {
            name: "sll",
            lt: 113,
            pkts: cooked(&eth, false),
        },
        File {
            name: "sll2",
            lt: 276,
            pkts: cooked(&eth, true),
        },
        File {
            name: "raw",
            lt: 101,
            pkts: raw_ip(&eth, false),
        },
        File {
            name: "null",
            lt: 0,
            pkts: raw_ip(&eth, true),
        },
    ]
}

#[test]
fn filter_matches_tcpdump_packet_by_packet() {
    if !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ringcap-filter-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    let (mut compared, mut accepted_exprs, mut rejected_exprs) = (0usize, 0usize, 0usize);
    let (mut n_len, mut n_not_longer, mut ours_total, mut theirs_total, mut n_same) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    // protochain: ringcap unrolls libpcap's loop, so those programs are measured apart
    let (mut pc_n, mut pc_ours, mut pc_theirs) = (0usize, 0usize, 0usize);
    for f in files() {
        let path: PathBuf = dir.join(format!("{}.pcap", f.name));
        write_pcap(&path, f.lt, &f.pkts);
        let out = dir.join(format!("{}.out.pcap", f.name));
        let lt = LinkType::from_linktype(f.lt).unwrap();
        for expr in EXPRS {
            let theirs = tcpdump_verdicts(&path, expr, &out);
            let theirs_u = tcpdump_run(&path, expr, &out, false);
            let ours = compile(expr, lt, 262144, Target::File, true);
            let ours_unopt = compile(expr, lt, 262144, Target::File, false);
            // unoptimized, both must agree as well (libpcap refuses an optimized program that
            // rejects everything, and compiles it with -O)
            if theirs_u.is_ok() != ours_unopt.is_ok() {
                failures.push(format!(
                    "[{}] {expr:?} (-O): tcpdump {}, ringcap {}",
                    f.name,
                    if theirs_u.is_ok() {
                        "compiles"
                    } else {
                        "refuses"
                    },
                    if ours_unopt.is_ok() {
                        "compiles"
                    } else {
                        "refuses"
                    },
                ));
            }
            match (theirs, ours) {
                (Err(_), Err(_)) => rejected_exprs += 1,
                (Err(e), Ok(_)) => failures.push(format!(
                    "[{}] {expr:?}: tcpdump rejects ({}) but ringcap compiles",
                    f.name,
                    e.lines().last().unwrap_or("").trim()
                )),
                (Ok(_), Err(e)) => failures.push(format!(
                    "[{}] {expr:?}: tcpdump accepts, ringcap: {}",
                    f.name, e.message
                )),
                (Ok(keep), Ok(p)) => {
                    accepted_exprs += 1;
                    let keep_u = theirs_u.unwrap_or_default();
                    for (i, pkt) in f.pkts.iter().enumerate() {
                        compared += 1;
                        let want = keep.contains(&i);
                        let got = p.matches(&pkt.data, pkt.wirelen);
                        if want != got {
                            failures.push(format!(
                                "[{}] {expr:?} packet {i}: tcpdump {want}, ringcap {got}",
                                f.name
                            ));
                        }
                        if let Ok(pu) = &ours_unopt {
                            let (want_u, got_u) =
                                (keep_u.contains(&i), pu.matches(&pkt.data, pkt.wirelen));
                            if want_u != got_u {
                                failures.push(format!(
                                    "[{}] {expr:?} packet {i} (-O): tcpdump {want_u}, ringcap {got_u}",
                                    f.name
                                ));
                            }
                        }
                    }
                    // the programs themselves: libpcap's, instruction for instruction (but
                    // protochain, whose loop ringcap unrolls: measured apart)
                    let Some(tp) = tcpdump_program(&path, expr, true) else {
                        continue;
                    };
                    if expr.contains("protochain") {
                        pc_n += 1;
                        pc_ours += p.insns.len();
                        pc_theirs += tp.insns.len();
                        continue;
                    }
                    n_len += 1;
                    ours_total += p.insns.len();
                    theirs_total += tp.insns.len();
                    n_not_longer += (p.insns.len() <= tp.insns.len()) as usize;
                    let tpu = tcpdump_program(&path, expr, false);
                    let same_u = ours_unopt.as_ref().ok() == tpu.as_ref();
                    if p == tp && same_u {
                        n_same += 1;
                    } else {
                        failures.push(format!(
                            "[{}] {expr:?}: not libpcap's program{}:\n{}\nlibpcap:\n{}",
                            f.name,
                            if same_u { "" } else { " (or -O)" },
                            p.dump_d(),
                            tp.dump_d()
                        ));
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "filter_diff: {} expressions x 5 link types: {accepted_exprs} compiled by both, {rejected_exprs} rejected by both, {compared} packet verdicts compared",
        EXPRS.len()
    );
    eprintln!("filter_diff: {n_same}/{n_len} programs identical to libpcap's (optimized and -O)");
    eprintln!(
        "filter_diff: program length: {n_not_longer}/{n_len} ({:.1}%) no longer than libpcap's; total {ours_total} vs {theirs_total} ({:+.1}%)",
        100.0 * n_not_longer as f64 / n_len.max(1) as f64,
        100.0 * (ours_total as f64 - theirs_total as f64) / theirs_total.max(1) as f64
    );
    eprintln!(
        "filter_diff: protochain programs (unrolled walk vs libpcap's loop): {pc_n}, total {pc_ours} vs {pc_theirs}"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(EXPRS.len() >= 150);
}

/// Beyond the walk's bound. libpcap loops along the chain without limit; ringcap's unrolled walk
/// follows at most 8 extension headers (ringcap_filter's CHAIN_STEPS), and a protocol further
/// down is not found. tcpdump's verdicts are checked too, so this documents the difference.
#[test]
fn protochain_beyond_the_bound_is_not_found() {
    if !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ringcap-filter-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a6, b6) = (v6("2001:db8::1"), v6("2001:db8::2"));
    let pkt = |n: usize, nh: u8, pl: Vec<u8>| {
        let (t, c) = ext_chain(n, nh, &pl);
        eth(MAC_A, MAC_B, 0x86dd, &ipv6(a6, b6, t, &c))
    };
    let long = pkt(12, 6, tcp(1, 80, 2));
    let frames = [
        pkt(8, 6, tcp(1, 80, 2)), // 0: the longest chain ringcap follows
        pkt(9, 6, tcp(1, 80, 2)), // 1: one header more
        pkt(12, 17, udp(1, 53)),  // 2
        long[..160].to_vec(),     // 3: 12 headers, cut inside the 10th (at byte 152)
    ];
    let pkts: Vec<Pkt> = frames
        .iter()
        .enumerate()
        .map(|(i, d)| Pkt {
            data: d.clone(),
            wirelen: if i == 3 { long.len() } else { d.len() } as u32,
        })
        .collect();
    let path = dir.join("chain.pcap");
    write_pcap(&path, 1, &pkts);
    let out = dir.join("chain.out.pcap");
    // (expression, tcpdump keeps, ringcap keeps); chains cycle through types 60, 0, 43
    let cases: &[(&str, &[usize], &[usize])] = &[
        ("ip6 protochain 6", &[0, 1], &[0]),
        ("ip6 protochain 17", &[2], &[]),
        ("not ip6 protochain 6", &[2], &[1, 2, 3]),
        ("ip6 protochain 60", &[0, 1, 2, 3], &[0, 1, 2, 3]),
        ("ip6 protochain 43", &[0, 1, 2, 3], &[0, 1, 2, 3]),
        ("protochain 6 or udp", &[0, 1], &[0]),
    ];
    for (expr, theirs, ours) in cases {
        let got = tcpdump_verdicts(&path, expr, &out).expect("tcpdump compiles it");
        assert_eq!(&got, theirs, "tcpdump {expr:?}");
        let p = compile(expr, LinkType::Ethernet, 262144, Target::File, true).unwrap();
        let pu = compile(expr, LinkType::Ethernet, 262144, Target::File, false).unwrap();
        for (i, pk) in pkts.iter().enumerate() {
            let want = ours.contains(&i);
            assert_eq!(p.matches(&pk.data, pk.wirelen), want, "{expr:?} packet {i}");
            assert_eq!(
                pu.matches(&pk.data, pk.wirelen),
                want,
                "{expr:?} packet {i} (-O)"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
