//! `ringcap info` on veth devices in a private namespace, checked against what the namespace
//! was built with and against the real `ethtool` where it is installed.

use std::process::Output;

use ringcap_netlab::{Options, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

fn run(net: &TestNet, args: &[&str]) -> Output {
    net.command(BIN).args(args).output().unwrap()
}

fn info(net: &TestNet, iface: &str) -> String {
    let out = run(net, &["info", iface]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value after `key:` on its line of the report.
fn field<'a>(report: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}:");
    report
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} in {report}"))
        .trim()
}

/// `ethtool -k` state of one feature line ("on" or "off").
fn ethtool_k(net: &TestNet, iface: &str, feature: &str) -> String {
    let out = net.sh(&format!("ethtool -k {iface}")).unwrap();
    out.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{feature}: ")))
        .unwrap_or_else(|| panic!("no {feature} in {out}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn veth_facts() {
    if !ringcap_netlab::can_run("veth_facts") || !ringcap_netlab::skip::tools(&["ethtool"]) {
        return;
    }
    let net = TestNet::with_options(Options {
        mtu: Some(4000),
        ..Options::default()
    })
    .unwrap();
    let r = info(&net, "rc0");
    assert!(r.starts_with("rc0 (ifindex "), "{r}");
    assert!(field(&r, "driver").starts_with("veth"), "{r}");
    assert!(field(&r, "driver").contains("virtual device"), "{r}");
    assert!(field(&r, "link").starts_with("up, carrier"), "{r}");
    assert_eq!(field(&r, "mtu"), "4000");
    assert!(
        field(&r, "queues").starts_with("1 RX, 1 TX (ethtool channels"),
        "{r}"
    );
    assert!(field(&r, "speed").starts_with("10000 Mbit/s"), "{r}");
    assert_eq!(field(&r, "promiscuous"), "off");
    assert_eq!(field(&r, "rps"), "off");
    assert!(
        r.contains("MTU 4000: a capture needs a snap length (-s) of at least 4018"),
        "{r}"
    );

    let drv = net.sh("ethtool -i rc0").unwrap();
    assert!(drv.contains("driver: veth"), "{drv}");
    // Each offload as ethtool -k reports it.
    for (ours, theirs) in [
        ("gro", "generic-receive-offload"),
        ("lro", "large-receive-offload"),
        ("rx-vlan", "rx-vlan-offload"),
    ] {
        let state = ethtool_k(&net, "rc0", theirs);
        assert!(
            field(&r, ours).starts_with(&state),
            "{ours}: ethtool says {state}: {r}"
        );
    }
}

#[test]
fn offload_changes_show_with_advice() {
    if !ringcap_netlab::can_run("offload_changes_show_with_advice") {
        return;
    }
    if !ringcap_netlab::tools::have("ethtool") {
        return;
    }
    let net = TestNet::new().unwrap();
    net.sh("ethtool -K rc0 gro on rxvlan on").unwrap();
    let r = info(&net, "rc0");
    assert_eq!(field(&r, "gro"), "on", "{r}");
    assert!(
        r.contains("GRO is on: captures see merged super-frames; `ethtool -K rc0 gro off`"),
        "{r}"
    );
    assert!(field(&r, "rx-vlan").starts_with("on"), "{r}");
    assert!(r.contains("`ethtool -K rc0 rxvlan off`"), "{r}");

    net.sh("ethtool -K rc0 gro off rxvlan off").unwrap();
    let r = info(&net, "rc0");
    assert_eq!(field(&r, "gro"), "off", "{r}");
    assert!(field(&r, "rx-vlan").starts_with("off"), "{r}");
    assert!(!r.contains("GRO is on"), "{r}");
    assert!(!r.contains("rxvlan off"), "{r}");
}

#[test]
fn queues_promisc_and_down_links() {
    if !ringcap_netlab::can_run("queues_promisc_and_down_links") {
        return;
    }
    let net = TestNet::new().unwrap();
    net.add_veth("rq0", "rq1", 3, 4).unwrap();
    let r = info(&net, "rq0");
    assert!(field(&r, "queues").starts_with("3 RX, 4 TX"), "{r}");
    assert!(field(&r, "link").starts_with("down"), "{r}");
    assert!(r.contains("rq0 is down: nothing will be captured"), "{r}");

    net.ip(&["link", "set", "rc0", "promisc", "on"]).unwrap();
    let r = info(&net, "rc0");
    assert_eq!(field(&r, "promiscuous"), "on (configured)");
    assert!(!r.contains("promiscuous mode is off"), "{r}");

    net.sh("echo 1 > /sys/class/net/rc0/queues/rx-0/rps_cpus")
        .unwrap();
    let r = info(&net, "rc0");
    assert_eq!(field(&r, "rps"), "rx-0: 0");
}

#[test]
fn unknown_interface_is_one_line() {
    if !ringcap_netlab::can_run("unknown_interface_is_one_line") {
        return;
    }
    let net = TestNet::new().unwrap();
    let out = run(&net, &["info", "nosuch0"]);
    assert!(out.stdout.is_empty());
    let err = ringcap_netlab::tools::one_line_error(&out);
    assert_eq!(
        err.trim_end(),
        "ringcap: no interface named \"nosuch0\" (available: lo, rc0, rc1)"
    );
}
