//! `ringcap flows -r`: known traffic in a capture file, exported by IPFIX and NetFlow v9 to a
//! real nfcapd on 127.0.0.1 (a free port, a scratch directory), decoded by nfdump; the same
//! messages decoded by pmacct's nfacctd; the same file turned into flows by nfpcapd.
//! Nothing here needs root: the collectors listen on the host's loopback.

mod flows_common;

use std::collections::BTreeMap;
use std::process::Command;

use flows_common::*;
use ringcap_netlab::{skip, tools};

/// 2023-11-14T22:13:20Z, in microseconds.
const T0_US: u64 = 1_700_000_000_000_000;

/// Runs `ringcap flows ARGS` to completion; its standard error.
fn flows(args: &[&str]) -> String {
    let out = ringcap_in(None, &[&["flows"], args].concat())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ringcap flows {args:?}: {err}");
    assert!(err.contains("flow counts add up"), "{err}");
    err
}

/// `file` through ringcap to a fresh nfcapd by `proto` (`--ipfix` or `--netflow9`); what
/// nfdump reads back.
fn through_nfcapd(name: &str, file: &str, proto: &str, extra: &[&str]) -> (Vec<NfFlow>, String) {
    let dir = tools::tmpdir(name);
    let port = free_udp_port(None);
    let mut c = Collector::nfcapd(None, &dir.join("nfcapd"), port);
    let to = format!("127.0.0.1:{port}");
    let err = flows(&[&["-r", file, proto, &to], extra].concat());
    // nfcapd writes its file when it stops; give the last datagrams a moment to arrive first.
    std::thread::sleep(std::time::Duration::from_millis(300));
    c.stop();
    (nfdump_flows(&c.dir), err)
}

fn known_pcap(name: &str) -> (Traffic, String) {
    let t = Traffic::known();
    let dir = tools::tmpdir(name);
    let file = dir.join("known.pcap");
    write_pcap(&file, &t.frames, T0_US, 1000);
    (t, file.display().to_string())
}

fn exact_flows(proto: &str, name: &str) {
    if !skip::tools(&["nfcapd", "nfdump", "ss"]) {
        return;
    }
    let (t, file) = known_pcap(&format!("{name}-pcap"));
    let (nf, err) = through_nfcapd(name, &file, proto, &[]);
    // One record per flow (nothing timed out in 38 ms), with nfdump's counts exactly those sent.
    assert_eq!(nf.len(), t.flows.len(), "{nf:#?}\n{err}");
    assert_eq!(sum_by_flow(&nf), without_l2(&t.flows), "{err}");
    // Times are the packets' own: the first packet at T0, every flow within the file's span.
    let span = (T0_US / 1000)..=(T0_US / 1000 + t.packets());
    for f in &nf {
        assert!(
            span.contains(&f.first_ms) && span.contains(&f.last_ms),
            "{f:?}"
        );
        assert!(f.first_ms <= f.last_ms, "{f:?}");
    }
    assert!(nf.iter().any(|f| f.first_ms == T0_US / 1000), "{nf:#?}");
}

#[test]
fn ipfix_to_nfcapd_exact_counts_and_flags() {
    exact_flows("--ipfix", "ipfix-nfcapd");
}

#[test]
fn netflow9_to_nfcapd_exact_counts_and_flags() {
    exact_flows("--netflow9", "nf9-nfcapd");
}

/// A flow longer than the active timeout arrives as several records whose counts sum exactly;
/// a flow quiet for longer than the idle timeout ends and a new record starts.
#[test]
fn active_timeout_splits_and_idle_expiry_ends() {
    if !skip::tools(&["nfcapd", "nfdump", "ss"]) {
        return;
    }
    let mut t = Traffic::default();
    // 100 packets over 9.9 s (one each 100 ms): active timeout 2 s splits it into 5 or more.
    for i in 0..100 {
        t.packet(17, v4("10.9.0.1"), 1000, v4("10.9.0.2"), 2000, 0, i % 50, 0);
    }
    let dir = tools::tmpdir("active-pcap");
    let file = dir.join("long.pcap");
    write_pcap(&file, &t.frames, T0_US, 100_000);
    let (nf, err) = through_nfcapd(
        "active",
        &file.display().to_string(),
        "--ipfix",
        &["--active-timeout", "2", "--idle-timeout", "30"],
    );
    assert!(nf.len() >= 5, "{} records: {nf:#?}\n{err}", nf.len());
    assert_eq!(sum_by_flow(&nf), without_l2(&t.flows), "{err}");

    // The same flow with a 3 s gap in the middle and an idle timeout of 1 s: two records.
    let mut t = Traffic::default();
    for i in 0..10 {
        t.packet(17, v4("10.9.0.3"), 1000, v4("10.9.0.4"), 2000, 0, 10 + i, 0);
    }
    let file = dir.join("gap.pcap");
    let mut bytes = Vec::new();
    let half = t.frames.len() / 2;
    write_pcap(&file, &t.frames[..half], T0_US, 10_000);
    bytes.extend(std::fs::read(&file).unwrap());
    let second = dir.join("gap2.pcap");
    write_pcap(&second, &t.frames[half..], T0_US + 3_000_000, 10_000);
    bytes.extend(&std::fs::read(&second).unwrap()[24..]);
    std::fs::write(&file, bytes).unwrap();
    let (nf, err) = through_nfcapd(
        "idle",
        &file.display().to_string(),
        "--ipfix",
        &["--idle-timeout", "1"],
    );
    assert_eq!(nf.len(), 2, "{nf:#?}\n{err}");
    assert!(nf.iter().all(|f| f.totals.packets == 5), "{nf:#?}");
    assert_eq!(sum_by_flow(&nf), without_l2(&t.flows), "{err}");
}

/// A table too small for the traffic evicts flows early: counted in the summary, exported
/// (nothing lost: nfdump's totals are exactly what was sent).
#[test]
fn max_flows_eviction_is_counted_and_exported() {
    if !skip::tools(&["nfcapd", "nfdump", "ss"]) {
        return;
    }
    let mut t = Traffic::default();
    for round in 0..3 {
        for i in 0..200u16 {
            t.packet(
                17,
                v4("10.8.0.1"),
                10_000 + i,
                v4("10.8.0.2"),
                53,
                0,
                round,
                0,
            );
        }
    }
    let dir = tools::tmpdir("evict-pcap");
    let file = dir.join("many.pcap");
    write_pcap(&file, &t.frames, T0_US, 10);
    let (nf, err) = through_nfcapd(
        "evict",
        &file.display().to_string(),
        "--ipfix",
        &["--max-flows", "64"],
    );
    assert_eq!(sum_by_flow(&nf), without_l2(&t.flows), "{err}");
    assert!(
        nf.len() > t.flows.len(),
        "no flow was split by eviction: {err}"
    );
    let evicted: u64 = err
        .lines()
        .find_map(|l| l.split_once(" flows evicted by a full table"))
        .and_then(|(a, _)| a.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no eviction count: {err}"));
    assert!(evicted > 0, "{err}");
    // Every record the summary counts reached the collector, evicted ones included.
    let records: usize = err
        .lines()
        .find_map(|l| l.strip_prefix("flows: ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no record count: {err}"));
    assert_eq!(nf.len(), records, "{err}");
}

/// Packets and bytes per flow from pmacct's nfacctd (print plugin, CSV), a decoder independent
/// of nfdump, from the same IPFIX messages.
#[test]
fn ipfix_decoded_by_nfacctd() {
    if !skip::tools(&["nfacctd", "ss"]) {
        return;
    }
    let (t, file) = known_pcap("nfacctd-pcap");
    let dir = tools::tmpdir("nfacctd");
    let port = free_udp_port(None);
    let mut c = Collector::nfacctd(None, &dir, port);
    let err = flows(&["-r", &file, "--ipfix", &format!("127.0.0.1:{port}")]);
    // The print plugin writes every print_refresh_time (1 s).
    std::thread::sleep(std::time::Duration::from_millis(3000));
    c.stop();
    let csv = std::fs::read_to_string(dir.join("nfacctd.csv")).unwrap_or_default();
    let got = nfacctd_flows(&csv);
    let want: BTreeMap<FlowId, (u64, u64)> = t
        .flows
        .iter()
        .map(|(k, v)| (k.clone(), (v.packets, v.bytes)))
        .collect();
    assert_eq!(got, want, "nfacctd csv:\n{csv}\nringcap:\n{err}");
}

/// nfacctd's CSV (header line names the columns) summed per flow: packets and bytes.
fn nfacctd_flows(csv: &str) -> BTreeMap<FlowId, (u64, u64)> {
    let mut lines = csv.lines();
    let mut m = BTreeMap::new();
    let Some(head) = lines.next() else {
        return m;
    };
    let cols: Vec<&str> = head.split(',').collect();
    let at = |name: &str| {
        cols.iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no {name} in {head}"))
    };
    let (pr, sa, da, sp, dp, vl) = (
        at("PROTOCOL"),
        at("SRC_IP"),
        at("DST_IP"),
        at("SRC_PORT"),
        at("DST_PORT"),
        at("VLAN"),
    );
    let (pk, by) = (at("PACKETS"), at("BYTES"));
    for l in lines.filter(|l| !l.starts_with("TAG") && !l.trim().is_empty()) {
        let f: Vec<&str> = l.split(',').collect();
        if f.len() < cols.len() {
            continue;
        }
        let proto = match f[pr].to_ascii_lowercase().as_str() {
            "tcp" => 6,
            "udp" => 17,
            "icmp" => 1,
            "ipv6-icmp" | "icmpv6" | "icmp6" => 58,
            p => p.parse().unwrap_or(255),
        };
        let id = FlowId {
            proto,
            src: f[sa].parse().unwrap(),
            sport: f[sp].parse().unwrap(),
            dst: f[da].parse().unwrap(),
            dport: f[dp].parse().unwrap(),
            vlan: f[vl].parse().unwrap_or(0),
        };
        let e = m.entry(id).or_insert((0, 0));
        e.0 += f[pk].parse::<u64>().unwrap();
        e.1 += f[by].parse::<u64>().unwrap();
    }
    m
}

/// The same capture file through nfpcapd (nfdump's own pcap-to-flow tool) and through ringcap:
/// packets and bytes per 5-tuple agree.
#[test]
fn offline_agrees_with_nfpcapd() {
    if !skip::tools(&["nfpcapd", "nfcapd", "nfdump", "ss"]) {
        return;
    }
    let (t, file) = known_pcap("nfpcapd-pcap");
    let dir = tools::tmpdir("nfpcapd");
    let out = Command::new("nfpcapd")
        .args(["-r", &file, "-w"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nfpcapd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = nfdump_flows(&dir);
    let (ours, err) = through_nfcapd("nfpcapd-ours", &file, "--ipfix", &[]);
    let key = |m: BTreeMap<FlowId, Totals>| -> BTreeMap<FlowId, (u64, u64)> {
        m.into_iter()
            .map(|(mut k, v)| {
                // nfpcapd keeps no VLAN; compare by 5-tuple.
                k.vlan = 0;
                (k, (v.packets, v.bytes))
            })
            .collect()
    };
    assert!(!theirs.is_empty(), "nfpcapd made no flows");
    assert_eq!(key(sum_by_flow(&ours)), key(sum_by_flow(&theirs)), "{err}");
    assert_eq!(key(sum_by_flow(&ours)), key(t.flows.clone()));
}

/// Bad collectors: an unresolvable name is one line at start with exit 2.
#[test]
fn unresolvable_collector_is_one_line() {
    let (_, file) = known_pcap("bad-pcap");
    let out = ringcap_in(
        None,
        &["flows", "-r", &file, "--ipfix", "no-such-host.invalid:4739"],
    )
    .output()
    .unwrap();
    let line = tools::one_line_error(&out);
    assert!(line.contains("no-such-host.invalid"), "{line}");
    let out = ringcap_in(None, &["flows", "-r", &file]).output().unwrap();
    let line = tools::one_line_error(&out);
    assert!(line.contains("--ipfix"), "{line}");
}

/// An unreachable collector is one line at start too: in a namespace of the test's own, whose
/// only routes are its veth's and loopback's, no route leads to a documentation address.
#[test]
fn unreachable_collector_is_one_line() {
    if !ringcap_netlab::can_run("unreachable_collector_is_one_line") {
        return;
    }
    let net = ringcap_netlab::TestNet::new().unwrap();
    let (_, file) = known_pcap("unreachable-pcap");
    for (flag, to) in [
        ("--ipfix", "203.0.113.1:4739"),
        ("--netflow9", "[2001:db8::1]:2055"),
    ] {
        let out = ringcap_in(Some(&net), &["flows", "-r", &file, flag, to])
            .output()
            .unwrap();
        let line = tools::one_line_error(&out);
        assert!(line.contains(&format!("{flag} {to}")), "{line}");
        assert!(line.contains("no route"), "{line}");
    }
}

/// A ring option out of range is one line at start, from the engine's check of the ring.
#[test]
fn zero_block_timeout_is_one_line() {
    let out = ringcap_in(
        None,
        &[
            "flows",
            "-i",
            "lo",
            "--json",
            "-",
            "--block-timeout-ms",
            "0",
        ],
    )
    .output()
    .unwrap();
    let line = tools::one_line_error(&out);
    assert!(
        line.contains("--block-timeout-ms must be at least 1"),
        "{line}"
    );
}

/// Times out of range are one line at start: zero, negative, not a number, and too large for a
/// duration (1e30 s once panicked converting it).
#[test]
fn times_out_of_range_are_one_line() {
    let (_, file) = known_pcap("bad-times-pcap");
    for (flag, v) in [
        ("--idle-timeout", "0"),
        ("--idle-timeout", "-1"),
        ("--active-timeout", "1e30"),
        ("--active-timeout", "nan"),
        ("--template-refresh", "inf"),
        ("--idle-timeout", "1000000001"),
    ] {
        let out = ringcap_in(
            None,
            &["flows", "-r", &file, "--json", "-", &format!("{flag}={v}")],
        )
        .output()
        .unwrap();
        let line = tools::one_line_error(&out);
        assert!(
            line.contains(flag) && line.contains("needs a number of seconds above 0"),
            "{flag} {v}: {line}"
        );
    }
    // The largest accepted: the file's flows all come out.
    let out = ringcap_in(
        None,
        &["flows", "-r", &file, "--json", "-", "--idle-timeout", "1e9"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Limits beyond what can be allocated are one line at start, never an abort: a table limit
/// beyond 2^31 flows, one whose tables need more memory than the machine has (2^31 flows take
/// about 534 GiB), and an export queue beyond its cap.
#[test]
fn limits_beyond_memory_are_one_line() {
    let (_, file) = known_pcap("bad-limits-pcap");
    for (flag, v, says) in [
        (
            "--max-flows",
            "18446744073709551615",
            "at most 2147483648 per worker",
        ),
        (
            "--max-flows",
            "2147483648",
            "of memory available; lower --max-flows",
        ),
        (
            "--export-queue",
            "18446744073709551615",
            "at most 16777216 records",
        ),
    ] {
        let out = ringcap_in(None, &["flows", "-r", &file, "--json", "-", flag, v])
            .output()
            .unwrap();
        let line = tools::one_line_error(&out);
        assert!(line.contains(says), "{flag} {v}: {line}");
    }
    // Refused before the --json file is created: nothing left behind.
    let json = std::env::temp_dir().join(format!("ringcap-limits-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&json);
    let out = ringcap_in(
        None,
        &[
            "flows",
            "-r",
            &file,
            "--json",
            json.to_str().unwrap(),
            "--max-flows",
            "2147483648",
        ],
    )
    .output()
    .unwrap();
    tools::one_line_error(&out);
    assert!(!json.exists(), "{} was created", json.display());
}
