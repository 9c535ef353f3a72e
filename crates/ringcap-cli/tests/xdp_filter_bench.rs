//! `ringcap bench`'s AF_XDP filter rows, end to end: `xdp+filter` (the filter in the XDP
//! program) takes 1 frame in 64 and passes the rest to the host's stack, whose IP layer receives
//! exactly those; `xdp+ufilter` (the same filter in user space) takes every frame from the host.
//! Both add up with what the filter left out counted. `--compare xdpdump` runs xdp-tools'
//! capture on the same traffic and its row says it has no filter. Counts only: throughput is
//! the bench's to show, never asserted. Needs root (and xdpdump for its test).

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// Runs a short bench and returns its JSON, after checking that it succeeded.
fn bench_json(modes: &str, compare: &str) -> Value {
    let out = Command::new("timeout")
        .args(["300", BIN, "bench", "--modes", modes, "--compare", compare])
        .args(["--runs", "1", "--seconds", "1", "--pps", "50000", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"))
}

fn row<'a>(json: &'a Value, mode: &str) -> &'a Value {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mode"] == mode)
        .unwrap_or_else(|| panic!("no row {mode}: {json}"))
}

fn u(v: &Value, name: &str) -> u64 {
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[test]
fn xdp_filter_rows_pass_the_unmatched_frames_to_the_host_and_add_up() {
    if !ringcap_netlab::can_run("xdp_filter_rows") {
        return;
    }
    let json = bench_json("xdp+filter,xdp+ufilter", "none");

    let k = row(&json, "xdp+filter");
    assert_eq!(k["adds_up"], true, "{k}");
    let host = &k["host"];
    let (taken, passed) = (u(k, "captured") + u(k, "drops"), u(host, "passed"));
    assert!(taken > 0 && passed > 0, "{k}");
    // every frame the interface took is taken or passed (at most a few of the kernel's own)
    assert!(u(k, "seen") - (taken + passed) <= 10, "{k}");
    // the generator walks the source port: the filter matches 1 frame in 64
    let ratio = passed as f64 / taken as f64;
    assert!(
        (60.0..68.0).contains(&ratio),
        "passed/taken {ratio:.1}: {k}"
    );
    // the host's IP layer received exactly what the program passed (nothing else talks here)
    assert_eq!(u(host, "ip_in"), passed, "{k}");
    let without = &host["without"];
    assert!(u(without, "offered") > 0, "{k}");
    assert!(u(without, "ip_in") <= u(without, "offered"), "{k}");
    assert!(u(without, "ip_in") > u(without, "offered") / 2, "{k}");

    let user = row(&json, "xdp+ufilter");
    assert_eq!(user["adds_up"], true, "{user}");
    let host = &user["host"];
    // in user space the filter sees every frame after the redirect: the host gets none
    assert_eq!((u(host, "passed"), u(host, "ip_in")), (0, 0), "{user}");
    let captured = u(user, "captured") + u(user, "drops");
    let ratio = u(user, "seen") as f64 / captured.max(1) as f64;
    assert!(
        (60.0..68.0).contains(&ratio),
        "seen/taken {ratio:.1}: {user}"
    );
    assert!(u(&host["without"], "ip_in") > 0, "{user}");
}

#[test]
fn compare_xdpdump_runs_it_on_the_same_traffic_and_says_it_has_no_filter() {
    if !ringcap_netlab::can_run("compare_xdpdump") || !ringcap_netlab::skip::tools(&["xdpdump"]) {
        return;
    }
    let json = bench_json("xdp", "xdpdump");
    let r = row(&json, "xdpdump -w /dev/null (no filter)");
    assert_eq!(
        (r["adds_up"].clone(), r["failed"].clone()),
        (true.into(), false.into()),
        "{r}"
    );
    assert!(u(r, "captured") > 0, "{r}");
    assert!(u(r, "captured") + u(r, "drops") <= u(r, "seen"), "{r}");
    // ringcap's xdp row is compared with it
    assert_eq!(
        json["cpu_ratios"][0]["versus"],
        "xdpdump -w /dev/null (no filter)"
    );
}
