//! `ringcap flows -i`: known traffic sent into a veth pair in a private namespace, captured,
//! exported by IPFIX and NetFlow v9 at once to two real nfcapd (127.0.0.1 in the namespace, free
//! ports, scratch directories) and as JSON lines; nfdump must show exactly the flows sent.

mod flows_common;

use std::collections::BTreeMap;
use std::process::Child;
use std::time::Duration;

use flows_common::*;
use ringcap_netlab::{skip, tools, TestNet};

/// SIGINT to ringcap; its exit code and the rest of its standard error.
fn interrupt(mut child: Child) -> (i32, String) {
    std::thread::sleep(Duration::from_millis(300));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), stderr_rest())
}

/// nfdump's flows restricted to those the test sent (the kernel may add its own IPv6 chatter).
fn ours(nf: &[NfFlow], sent: &BTreeMap<FlowId, Totals>) -> BTreeMap<FlowId, Totals> {
    sum_by_flow(nf)
        .into_iter()
        .filter(|(k, _)| sent.contains_key(k))
        .collect()
}

#[test]
fn live_ipfix_netflow9_and_json_exact() {
    if !skip::root() || !skip::tools(&["nfcapd", "nfdump", "ss", "nsenter"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tools::tmpdir("live-exact");
    let (p1, p2) = (free_udp_port(Some(&net)), free_udp_port(Some(&net)));
    let mut a = Collector::nfcapd(Some(&net), &dir.join("ipfix"), p1);
    let mut b = Collector::nfcapd(Some(&net), &dir.join("nf9"), p2);
    let json = dir.join("flows.json");
    let (ipfix, nf9) = (format!("127.0.0.1:{p1}"), format!("127.0.0.1:{p2}"));
    let json_s = json.display().to_string();
    let mut child = ringcap_in(
        Some(&net),
        &[
            "flows",
            "-i",
            net.capture_if(),
            "--threads",
            "2",
            "--no-pin",
            "--ipfix",
            &ipfix,
            "--netflow9",
            &nf9,
            "--json",
            &json_s,
            "-q",
        ],
    )
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // -q: no start line; the capture is running once its sockets are bound.
    std::thread::sleep(Duration::from_millis(800));
    let _ = wait_started_or_nothing(&mut child);
    let t = Traffic::known();
    send_all(&net, &t.frames);
    let (code, err) = interrupt(child);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("flow counts add up"), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    a.stop();
    b.stop();
    let want = without_l2(&t.flows);
    assert_eq!(ours(&nfdump_flows(&a.dir), &want), want, "ipfix\n{err}");
    assert_eq!(ours(&nfdump_flows(&b.dir), &want), want, "netflow9\n{err}");
    // JSON lines: one object per record; our flows' packets all there.
    let text = std::fs::read_to_string(&json).unwrap();
    let mut packets = 0u64;
    for l in text.lines() {
        assert!(
            l.starts_with('{') && l.ends_with('}'),
            "not one object: {l}"
        );
        let n = l
            .split_once("\"packets\":")
            .and_then(|(_, r)| {
                r.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no packet count: {l}"));
        packets += n;
    }
    assert!(packets >= t.packets(), "json has {packets} packets: {text}");
}

/// Reads ringcap's standard error in the background (nothing to wait for with -q).
fn wait_started_or_nothing(child: &mut Child) -> Option<String> {
    // With -q the first line is the summary; hand the pipe to the background reader.
    let err = child.stderr.take()?;
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let mut r = err;
        let _ = std::io::Read::read_to_string(&mut r, &mut s);
        s
    });
    set_rest(rest);
    None
}

/// A collector that goes away mid-run costs counted failed messages and the capture goes on; a
/// collector started later on the same port decodes records once the templates are resent
/// (--template-refresh 1).
#[test]
fn collector_gone_counted_and_restarted_collector_decodes() {
    if !skip::root() || !skip::tools(&["nfcapd", "nfdump", "ss", "nsenter"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tools::tmpdir("live-restart");
    let port = free_udp_port(Some(&net));
    let mut first = Collector::nfcapd(Some(&net), &dir.join("first"), port);
    let to = format!("127.0.0.1:{port}");
    let mut child = ringcap_in(
        Some(&net),
        &[
            "flows",
            "-i",
            net.capture_if(),
            "--threads",
            "1",
            "--no-pin",
            "--ipfix",
            &to,
            "--idle-timeout",
            "1",
            "--template-refresh",
            "1",
            "-q",
        ],
    )
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let _ = wait_started_or_nothing(&mut child);
    first.stop();
    // Flows that end (idle 1 s) while nothing listens: their messages fail and are counted.
    let mut gone = Traffic::default();
    for i in 0..5 {
        gone.packet(17, v4("10.7.0.1"), 3000 + i, v4("10.7.0.2"), 53, 0, 20, 0);
    }
    send_all(&net, &gone.frames);
    std::thread::sleep(Duration::from_millis(2500));
    let mut second = Collector::nfcapd(Some(&net), &dir.join("second"), port);
    let mut later = Traffic::default();
    for i in 0..5 {
        later.packet(17, v4("10.6.0.1"), 4000 + i, v4("10.6.0.2"), 53, 0, 30, 0);
    }
    send_all(&net, &later.frames);
    // Idle expiry (1 s) and a template refresh (1 s) both pass before the end.
    std::thread::sleep(Duration::from_millis(3000));
    let (code, err) = interrupt(child);
    std::thread::sleep(Duration::from_millis(300));
    second.stop();
    assert!(err.contains("flow counts add up"), "{err}");
    assert!(
        err.contains("failed to send"),
        "no failed messages counted: {err}"
    );
    assert_ne!(code, -1, "{err}");
    let want = without_l2(&later.flows);
    assert_eq!(ours(&nfdump_flows(&second.dir), &want), want, "{err}");
}
