//! The exposition as real clients see it: curl fetches `/metrics` over HTTP, `promtool check
//! metrics` (Prometheus' own linter) accepts the text format, and a client asking for
//! OpenMetrics gets OpenMetrics. No root needed: the server listens on loopback.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ringcap_metrics::*;

fn sample_metrics(received: Arc<AtomicU64>) -> Metrics {
    let mut m = Metrics::new("capture");
    let info = CaptureInfo {
        interface: "eth0".into(),
        mode: "ring".into(),
        fanout: "hash".into(),
        workers: 2,
        block_size: Some(1 << 20),
        blocks: Some(64),
        frame_size: Some(2048),
        snaplen: 262144,
        filter: true,
    };
    m.capture(move || CaptureSnapshot {
        info: Some(info.clone()),
        running: true,
        start_time_seconds: 1.7e9,
        workers: (0..2)
            .map(|i| WorkerSample {
                worker: i,
                cpu: Some(i),
                received_packets: received.load(Ordering::Relaxed) + i as u64,
                received_bytes: 60 * 10,
                kernel_packets: 12,
                dropped_packets: 1,
                ring_blocks: Some((3, 64)),
                freezes: 2,
                past_count_packets: 5,
                filter_rejected: Some(9),
                xdp_passed: Some(9),
                other: vec![("rx_ring_full".into(), 4)],
                ..Default::default()
            })
            .collect(),
    });
    m.output(|| OutputSnapshot {
        records_written: 20,
        bytes_written: Some(2000),
        files_rotated: Some(1),
        ..Default::default()
    });
    m.flows(|| FlowSnapshot {
        meters: vec![FlowMeterSample {
            worker: 0,
            active: 5,
            exported: 7,
            evicted: 1,
            records_lost: 2,
        }],
        collectors: vec![CollectorSample {
            collector: "127.0.0.1:4739".into(),
            protocol: "ipfix".into(),
            messages_sent: 3,
            messages_failed: 1,
        }],
    });
    m.generator(|| GenSnapshot {
        threads: vec![GenThreadSample {
            thread: 0,
            cpu: Some(0),
            frames_sent: 100,
            bytes_sent: 6000,
            frames_refused: 2,
        }],
    });
    m
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn promtool_accepts_the_text_format_and_values_are_read_at_scrape_time() {
    if !ringcap_netlab::skip::tools(&["curl", "promtool"]) {
        return;
    }
    let received = Arc::new(AtomicU64::new(41));
    let listener = Listener::bind("127.0.0.1:0").unwrap();
    let server = listener.serve(sample_metrics(received.clone())).unwrap();
    let url = format!("http://{}/metrics", server.local_addr());

    let text = curl(&[&url]);
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let lint = lint.wait_with_output().unwrap();
    assert!(
        lint.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(
        text.contains("# TYPE ringcap_packets_received_total counter"),
        "{text}"
    );
    assert!(
        text.contains("ringcap_packets_received_total{worker=\"1\",cpu=\"1\"} 42"),
        "{text}"
    );
    assert!(text.contains("ringcap_received_bytes_total{worker=\"0\",cpu=\"0\"} 600"));
    assert!(text.contains("ringcap_xdp_rx_ring_full_total{worker=\"0\",cpu=\"0\"} 4"));
    assert!(text.contains("ringcap_ring_blocks_user{worker=\"0\",cpu=\"0\"} 3"));
    assert!(
        text.contains("ringcap_output_written_bytes_total 2000"),
        "{text}"
    );
    assert!(
        text.contains("ringcap_flows_active{worker=\"0\"} 5"),
        "{text}"
    );
    assert!(text.contains(
        "ringcap_flow_export_messages_failed_total{collector=\"127.0.0.1:4739\",protocol=\"ipfix\"} 1"
    ));
    assert!(text.contains("ringcap_gen_frames_refused_total{thread=\"0\",cpu=\"0\"} 2"));
    assert!(
        text.contains("ringcap_flow_records_lost_total{worker=\"0\"} 2"),
        "{text}"
    );
    assert!(text.contains("ringcap_build_info{version=\""), "{text}");
    assert!(text.contains("mode=\"ring\",fanout=\"hash\""), "{text}");
    assert!(!text.contains("# EOF") && !text.contains("# UNIT"));

    // Read at scrape time: a changed counter shows in the next scrape.
    received.store(1000, Ordering::Relaxed);
    let again = curl(&[&url]);
    assert!(again.contains("ringcap_packets_received_total{worker=\"0\",cpu=\"0\"} 1000"));

    // Prometheus asks for OpenMetrics and gets it.
    let om = curl(&[
        "-H",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        "-D",
        "-",
        &url,
    ]);
    assert!(
        om.contains("Content-Type: application/openmetrics-text"),
        "{om}"
    );
    assert!(
        om.contains("# TYPE ringcap_packets_received counter"),
        "{om}"
    );
    assert!(om.contains("# UNIT ringcap_received_bytes bytes"), "{om}");
    assert!(om.trim_end().ends_with("# EOF"), "{om}");

    // Anything but /metrics is not found; only GET and HEAD.
    let code = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{}/x", server.local_addr()),
    ]);
    assert_eq!(code, "404");
    let code = curl(&["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", &url]);
    assert_eq!(code, "405");
    drop(server);
}

/// Every quantity issue 16 lists, under its Prometheus name (counters end in `_total`, units
/// in base units), as promtool reads the text: a family per quantity, typed.
#[test]
fn every_quantity_has_a_typed_family() {
    if !ringcap_netlab::skip::tools(&["curl"]) {
        return;
    }
    let server = Listener::bind("127.0.0.1:0")
        .unwrap()
        .serve(sample_metrics(Arc::new(AtomicU64::new(1))))
        .unwrap();
    let text = curl(&[&format!("http://{}/metrics", server.local_addr())]);
    let families: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    for (name, ty) in [
        ("ringcap_build_info", "gauge"),
        ("ringcap_capture_info", "gauge"),
        ("ringcap_packets_received_total", "counter"),
        ("ringcap_received_bytes_total", "counter"),
        ("ringcap_kernel_packets_total", "counter"),
        ("ringcap_packets_dropped_total", "counter"),
        ("ringcap_ring_freezes_total", "counter"),
        ("ringcap_ring_blocks_user", "gauge"),
        ("ringcap_ring_blocks", "gauge"),
        ("ringcap_packets_past_count_total", "counter"),
        ("ringcap_filter_rejected_packets_total", "counter"),
        ("ringcap_xdp_passed_packets_total", "counter"),
        ("ringcap_output_records_written_total", "counter"),
        ("ringcap_output_written_bytes_total", "counter"),
        ("ringcap_output_write_errors_total", "counter"),
        ("ringcap_output_files_rotated_total", "counter"),
        ("ringcap_flows_active", "gauge"),
        ("ringcap_flows_exported_total", "counter"),
        ("ringcap_flows_evicted_total", "counter"),
        ("ringcap_flow_export_messages_sent_total", "counter"),
        ("ringcap_flow_export_messages_failed_total", "counter"),
        ("ringcap_gen_frames_sent_total", "counter"),
        ("ringcap_gen_frames_refused_total", "counter"),
    ] {
        assert!(
            families.contains(&(name, ty)),
            "no {ty} family {name} in:\n{text}"
        );
    }
    for (name, _) in &families {
        assert!(name.starts_with("ringcap_"), "{name}");
    }
    drop(server);
}

#[test]
fn a_port_in_use_and_an_address_not_here_are_refused_at_bind() {
    let first = Listener::bind("127.0.0.1:0").unwrap();
    let addr = first.local_addr().unwrap().to_string();
    let e = Listener::bind(&addr).err().expect("second bind must fail");
    let msg = e.to_string();
    assert!(
        msg.contains("cannot listen") && msg.contains("in use"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    // 192.0.2.1 (TEST-NET-1) is on no interface here: EADDRNOTAVAIL.
    let e = Listener::bind("192.0.2.1:9100").err().expect("must fail");
    assert!(
        e.to_string()
            .to_lowercase()
            .contains("cannot assign requested address"),
        "{e}"
    );
    let e = Listener::bind("not an address").err().expect("must fail");
    assert!(e.to_string().contains("not an ADDRESS:PORT"), "{e}");
}
