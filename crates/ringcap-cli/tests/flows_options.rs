//! What the collector learns beyond the flows: every flow end reason (idle, active, FIN/RST,
//! end of capture, evicted) and the exporter's options records (records exported, in total and
//! per end reason; flows observed; kernel drops; records not sent; packets the filter observed
//! and selected), decoded by tshark's IPFIX dissector (nfdump does not show these).
//!
//! `ringcap flows -r` exports a capture file built here to a UDP socket on 127.0.0.1 held by
//! the test; the datagrams as received are written into a pcap (Ethernet/IPv4/UDP around each,
//! as a capture of the loopback would have them) and tshark decodes that file. Every expected
//! value follows from the traffic's timeline below, and the per-reason counts of the options
//! record are checked against the flow records tshark decoded one by one. No root needed.

mod flows_common;

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use flows_common::*;
use ringcap_netlab::{skip, tools};

/// 2023-11-14T22:13:20Z, in microseconds.
const T0_US: u64 = 1_700_000_000_000_000;

/// The UDP datagrams `sock` receives until `done` is set and nothing came for 300 ms.
fn receive(sock: UdpSocket, done: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(_) if done.load(Ordering::SeqCst) => return got,
                Err(_) => {}
            }
        }
    })
}

/// Datagrams to `port` on 127.0.0.1, as Ethernet/IPv4/UDP frames in a pcap file.
fn datagrams_pcap(path: &std::path::Path, port: u16, dgrams: &[Vec<u8>]) {
    let frames: Vec<(u64, Vec<u8>)> = dgrams
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            let total = (20 + 8 + d.len()) as u16;
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
            let sum = ringcap_wire::checksum::checksum(&ip);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
            f.extend_from_slice(&ip);
            f.extend_from_slice(&4739u16.to_be_bytes());
            f.extend_from_slice(&port.to_be_bytes());
            f.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0]);
            f.extend_from_slice(d);
            (T0_US + i as u64, f)
        })
        .collect();
    flows_common::write_pcap_at(path, &frames);
}

/// One record as tshark -V prints it: the frame, the set (template id) and its fields.
#[derive(Debug)]
struct Rec {
    frame: u32,
    set: u16,
    f: BTreeMap<String, String>,
}

impl Rec {
    /// A field's number: the value itself, or the number in its last parentheses
    /// ("Idle timeout (1)").
    fn num(&self, name: &str) -> u64 {
        let v = self
            .f
            .get(name)
            .unwrap_or_else(|| panic!("no {name:?} in {self:?}"));
        let v = match v.rsplit_once('(') {
            Some((_, n)) if v.ends_with(')') => n.trim_end_matches(')'),
            _ => v.as_str(),
        };
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {v:?} is not a number"))
    }
}

/// Every data record of every IPFIX message in `pcap` as tshark's cflow dissector decodes it.
fn tshark_records(pcap: &std::path::Path, port: u16) -> Vec<Rec> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-d", &format!("udp.port=={port},cflow"), "-V"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut frame, mut set) = (0u32, None::<u16>);
    let mut recs: Vec<Rec> = Vec::new();
    let mut in_rec = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = line.strip_prefix("Frame ") {
            frame = rest.split(':').next().unwrap().parse().unwrap();
            set = None;
            in_rec = false;
        } else if let Some(id) = t.strip_prefix("FlowSet Id: (Data) (") {
            set = id.trim_end_matches(')').parse().ok();
            in_rec = false;
        } else if t.starts_with("FlowSet Id:") {
            set = None;
            in_rec = false;
        } else if t
            .strip_prefix("Flow ")
            .is_some_and(|n| n.parse::<u32>().is_ok())
        {
            if let Some(set) = set {
                recs.push(Rec {
                    frame,
                    set,
                    f: BTreeMap::new(),
                });
                in_rec = true;
            }
        } else if in_rec {
            if let Some((k, v)) = t.split_once(": ") {
                let r = recs.last_mut().unwrap();
                r.f.entry(k.to_string()).or_insert_with(|| v.to_string());
            }
        }
    }
    recs
}

/// IPFIX flowEndReason values (RFC 7011 / IANA).
const IDLE: u64 = 1;
const ACTIVE: u64 = 2;
const END_OF_FLOW: u64 = 3;
const FORCED: u64 = 4;
const LACK_OF_RESOURCES: u64 = 5;

#[test]
fn end_reasons_and_exporter_statistics_decoded_by_tshark() {
    if !skip::tools(&["tshark"]) {
        return;
    }
    let ms = 1_000u64;
    let mut t = Traffic::default();
    let mut at: Vec<u64> = Vec::new();
    let mut add = |t: &mut Traffic, us: u64, p: (u8, &str, u16, &str, u16, u8)| {
        t.packet(p.0, v4(p.1), p.2, v4(p.3), p.4, p.5, 10, 0);
        at.push(T0_US + us);
    };
    // --max-flows 4. 0–9 ms: ten one-packet UDP flows; each from the fifth on evicts the
    // quietest (the oldest): E1..E6 evicted, E7..E10 in the table.
    const EVICT_FLOWS: u16 = 10;
    for i in 0..EVICT_FLOWS {
        add(
            &mut t,
            i as u64 * ms,
            (17, "10.5.0.1", 5000 + i, "10.5.0.2", 53, 0),
        );
    }
    // 10–14 ms: a TCP connection, SYN to FIN: it stays in the table to the end (flushed with
    // FIN seen: end of flow). Its first packet evicts E7.
    for (i, fl) in [0x02u8, 0x12, 0x10, 0x11, 0x10].into_iter().enumerate() {
        add(
            &mut t,
            (10 + i as u64) * ms,
            (6, "10.1.0.1", 1111, "10.1.0.2", 80, fl),
        );
    }
    // 15–17 ms: three packets the filter `not port 9999` rejects.
    const REJECTED: u64 = 3;
    for i in 0..REJECTED {
        add(
            &mut t,
            (15 + i) * ms,
            (17, "10.9.0.1", 7, "10.9.0.2", 9999, 0),
        );
    }
    // 18 ms and 4.018 s: one flow, quiet for longer than --idle-timeout 3 between: its second
    // packet ends the first record (idle) and starts another (flushed at the end: forced). Its
    // first packet evicts E8.
    add(&mut t, 18 * ms, (17, "10.3.0.1", 3000, "10.3.0.2", 3000, 0));
    // 20 ms on, every 200 ms, 30 packets: a flow older than --active-timeout 2 at its 11th and
    // 21st packet (active, active), the last 10 flushed at the end (forced). It evicts E9.
    const LONG: u64 = 30;
    for i in 0..LONG {
        add(
            &mut t,
            20 * ms + i * 200 * ms,
            (17, "10.2.0.1", 2000, "10.2.0.2", 2000, 0),
        );
    }
    add(
        &mut t,
        4_018 * ms,
        (17, "10.3.0.1", 3000, "10.3.0.2", 3000, 0),
    );
    // Expected from that timeline: 9 evicted (E1..E9), 2 active, 1 idle, 1 end of flow, and 3
    // forced at the end (E10, the long flow's last piece, the idle flow's second record).
    let expect_reasons: BTreeMap<u64, u64> = [
        (IDLE, 1),
        (ACTIVE, 2),
        (END_OF_FLOW, 1),
        (FORCED, 3),
        (LACK_OF_RESOURCES, 9),
    ]
    .into();
    let records: u64 = expect_reasons.values().sum();

    let mut frames: Vec<(u64, Vec<u8>)> = at.into_iter().zip(t.frames.clone()).collect();
    frames.sort_by_key(|(ts, _)| *ts);
    let dir = tools::tmpdir("flows-options");
    let input = dir.join("timeline.pcap");
    flows_common::write_pcap_at(&input, &frames);

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let done = Arc::new(AtomicBool::new(false));
    let rx = receive(sock, done.clone());
    let out = ringcap_in(
        None,
        &[
            "flows",
            "-r",
            &input.display().to_string(),
            "--ipfix",
            &format!("127.0.0.1:{port}"),
            "--max-flows",
            "4",
            "--idle-timeout",
            "3",
            "--active-timeout",
            "2",
            "not",
            "port",
            "9999",
        ],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("flow counts add up"), "{err}");
    done.store(true, Ordering::SeqCst);
    let dgrams = rx.join().unwrap();
    assert!(!dgrams.is_empty(), "nothing received: {err}");
    let export = dir.join("export.pcap");
    datagrams_pcap(&export, port, &dgrams);
    let recs = tshark_records(&export, port);

    // The flow records (template 256, IPv4), one by one.
    let flows: Vec<&Rec> = recs.iter().filter(|r| r.set == 256).collect();
    assert_eq!(flows.len() as u64, records, "{flows:#?}\n{err}");
    let mut by_reason: BTreeMap<u64, u64> = BTreeMap::new();
    for r in &flows {
        *by_reason.entry(r.num("Flow End Reason")).or_default() += 1;
    }
    assert_eq!(by_reason, expect_reasons, "{flows:#?}");
    let of = |port: u64| -> Vec<(u64, u64)> {
        flows
            .iter()
            .filter(|r| r.num("SrcPort") == port)
            .map(|r| (r.num("Packets"), r.num("Flow End Reason")))
            .collect()
    };
    assert_eq!(of(1111), [(5, END_OF_FLOW)]);
    let mut long = of(2000);
    long.sort_by_key(|&(_, reason)| reason);
    assert_eq!(long, [(10, ACTIVE), (10, ACTIVE), (10, FORCED)]);
    let mut idle = of(3000);
    idle.sort_by_key(|&(_, reason)| reason);
    assert_eq!(idle, [(1, IDLE), (1, FORCED)]);
    for i in 0..EVICT_FLOWS as u64 {
        let want = if i < 9 { LACK_OF_RESOURCES } else { FORCED };
        assert_eq!(of(5000 + i), [(1, want)], "flow E{}", i + 1);
    }
    assert!(of(7).is_empty(), "a rejected packet made a record");
    let packets: u64 = flows.iter().map(|r| r.num("Packets")).sum();
    let selected = frames.len() as u64 - REJECTED;
    assert_eq!(packets, selected);

    // The options records of the last message: the final statistics.
    let last = recs
        .iter()
        .filter(|r| r.set == 259)
        .map(|r| r.frame)
        .max()
        .unwrap_or_else(|| panic!("no statistics record: {recs:#?}"));
    let opts = |set: u16| recs.iter().filter(move |r| r.frame == last && r.set == set);
    let stats = opts(259).next().unwrap();
    assert_eq!(stats.num("FlowsExp"), records, "{stats:?}");
    assert_eq!(stats.num("Flows"), records, "{stats:?}");
    // A capture file has no kernel: nothing dropped before ringcap saw it.
    assert_eq!(stats.num("Ignored Packets"), 0, "{stats:?}");
    for f in ["Not Sent Flows", "Not Sent Packets", "Not Sent Octets"] {
        assert_eq!(stats.num(f), 0, "{f}: {stats:?}");
    }
    assert_eq!(
        stats.num("PacketsExp") + 1,
        dgrams.len() as u64,
        "{stats:?}"
    );
    let reasons: BTreeMap<u64, u64> = opts(260)
        .map(|r| (r.num("Flow End Reason"), r.num("FlowsExp")))
        .collect();
    assert_eq!(reasons, expect_reasons, "per-reason options records");
    let filter = opts(261).next().expect("no filter options record");
    assert_eq!(
        filter.num("Selector Id Total Pkts Observed"),
        frames.len() as u64
    );
    assert_eq!(filter.num("Selector Id Total Pkts Selected"), selected);
    // The summary says the same.
    assert!(
        err.contains(&format!(
            "{} flows evicted",
            expect_reasons[&LACK_OF_RESOURCES]
        )),
        "{err}"
    );
}
