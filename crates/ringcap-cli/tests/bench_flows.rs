//! `ringcap bench --flows`: ringcap's flow exporter and the compared exporters on the same
//! traffic, their records decoded by a real nfcapd/nfdump. Never asserts speed.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// The result row called `mode` in the bench's JSON.
fn row<'a>(json: &'a serde_json::Value, mode: &str) -> &'a serde_json::Value {
    json["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["mode"] == mode)
        .unwrap_or_else(|| panic!("no row {mode:?} in {json}"))
}

#[test]
fn flow_exporters_side_by_side_account_for_the_offered_packets() {
    if !ringcap_netlab::can_run("bench_flows")
        || !ringcap_netlab::skip::tools(&[
            "nfcapd",
            "nfdump",
            "fprobe",
            "softflowd",
            "softflowctl",
            "sleep",
        ])
    {
        return;
    }
    let out = Command::new(BIN)
        .args([
            "bench",
            "--flows",
            "--compare",
            "softflowd,fprobe,sleep",
            "--seconds",
            "1",
            "--runs",
            "1",
            "--pps",
            "2000",
            "--json",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bench JSON: {e}\n{err}"));
    let mine = row(&json, "ringcap flows --ipfix");
    assert_eq!(mine["failed"], false, "{mine}");
    let seen = mine["seen"].as_u64().unwrap();
    assert!(seen > 0, "{mine}");
    // Every packet the interface received is in a record nfdump decoded, none twice.
    assert_eq!(mine["captured"].as_u64(), Some(seen), "{mine}");
    assert_eq!(mine["adds_up"], true, "{mine}");
    // CPU per offered packet is reported beside CPU per captured packet; here they are equal.
    let (per_pkt, per_offered) = (
        mine["cpu_ns_per_pkt"].as_f64().unwrap(),
        mine["cpu_ns_per_offered_pkt"].as_f64().unwrap(),
    );
    assert!(per_offered > 0.0 && per_offered <= per_pkt, "{mine}");
    // The compared exporters have their rows, on the same traffic, each run once and stopped
    // (softflowd after its control socket was asked to expire its flows). What share of it
    // their records hold is their result, not asserted (at this rate softflowd's libpcap
    // never hands it a partly filled block, and fprobe's share varies from run to run).
    for name in ["softflowd -v 10", "fprobe NetFlow v5"] {
        let r = row(&json, name);
        assert_eq!(r["rounds"], 1, "{r}");
        assert!(
            r["captured"].as_u64().unwrap() <= r["seen"].as_u64().unwrap(),
            "{r}"
        );
    }
    // Ratios against each exporter, on both bases; none against the control.
    let ratios = json["cpu_ratios"].as_array().expect("cpu_ratios");
    assert_eq!(ratios.len(), 2, "{json}");
    assert!(ratios
        .iter()
        .all(|r| r["versus"] != "sleep (control: does nothing)"));
    marginal_cpu_is_reported_and_adds_up(&json);
}

/// The marginal CPU (the machine's busy time over the round's baseline, less the collector's
/// CPU): one baseline per round, every exporter's run says how its figure was reached, and
/// the figures follow from those parts. Their size is the bench's result, not asserted.
fn marginal_cpu_is_reported_and_adds_up(json: &serde_json::Value) {
    let baselines = json["baselines"].as_array().expect("baselines");
    assert_eq!(baselines.len(), 1, "{json}");
    let b = &baselines[0];
    assert_eq!(b["round"], 1, "{b}");
    assert!(b["offered"].as_u64().unwrap() > 0, "{b}");
    assert!(b["window"]["span"]["wall_ns"].as_u64().unwrap() > 0, "{b}");
    assert!(b["window"]["generator_ns"].as_u64().unwrap() > 0, "{b}");
    assert!(b["idle"]["wall_ns"].as_u64().unwrap() > 0, "{b}");
    assert!(json["cpu_notes"]["rusage"].is_string(), "{json}");
    assert!(json["cpu_notes"]["marginal"].is_string(), "{json}");
    for r in json["each_run"].as_array().expect("each_run") {
        let m = &r["marginal"];
        let get = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("no {k} in {r}"));
        // ns = busy - others' processes - baseline - collector - generator (each rounded
        // to 1 ns).
        let parts = get("window_busy_ns")
            - get("window_foreign_ns")
            - get("baseline_ns")
            - get("collector_ns")
            - get("generator_ns");
        assert!(get("generator_ns") > 0.0, "{r}");
        assert!((get("ns") - parts).abs() <= 2.0, "{r}");
        assert!(get("window_wall_ns") > 0.0, "{r}");
        let offered = (r["seen"].as_u64().unwrap() + r["if_drops"].as_u64().unwrap()) as f64;
        let per_offered = r["marginal_cpu_ns_per_offered_pkt"].as_f64().unwrap();
        assert!((per_offered - get("ns") / offered).abs() < 0.01, "{r}");
        // Per captured packet: for an exporter with records; never for the control.
        match r["captured"].as_u64().unwrap() {
            0 => assert!(r.get("marginal_cpu_ns_per_pkt").is_none(), "{r}"),
            n => {
                let per_pkt = r["marginal_cpu_ns_per_pkt"].as_f64().unwrap();
                assert!((per_pkt - get("ns") / n as f64).abs() < 0.01, "{r}");
            }
        }
    }
    // The control ran like an exporter, exported nothing, and counts.
    let control = row(json, "sleep (control: does nothing)");
    assert_eq!(control["captured"], 0, "{control}");
    assert_eq!(control["failed"], false, "{control}");
    assert!(
        control["marginal_cpu_ns_per_offered_pkt"].is_number(),
        "{control}"
    );
}

#[test]
fn flows_compares_only_with_flow_exporters() {
    if !ringcap_netlab::tools::have("tcpdump") || !ringcap_netlab::tools::have("nfcapd") {
        return;
    }
    let out = Command::new(BIN)
        .args(["bench", "--flows", "--compare", "tcpdump"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--flows compares with flow exporters (softflowd, fprobe), not tcpdump"),
        "{err}"
    );
}
