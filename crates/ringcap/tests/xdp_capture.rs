//! AF_XDP capture on a veth pair in a private network namespace: every frame exactly once with
//! the right bytes, counts that reconcile, the program gone afterwards, refusal to replace a
//! program ringcap did not attach, filters in user space, and drops that still reconcile.
//! Needs root (CI is root); otherwise each test says it skips.

mod common;

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::{capture, check_reconciles, promiscuity, send, Seen};

use ringcap::config::XdpOptions;
use ringcap::{Capture, Config, EndReason, Mode, Report};
use ringcap_netlab::{udp_frame, TestNet};
use ringcap_sys::bpf;
use ringcap_sys::netlink::{self as nl, Netlink};

fn busy(mut cfg: Config) -> Config {
    cfg.xdp.busy_poll = true;
    cfg
}

fn base(native: Option<bool>) -> Config {
    let mut cfg = Config::new("rc0").mode(Mode::Xdp).pin(false);
    cfg.xdp = XdpOptions {
        native,
        ..XdpOptions::default()
    };
    cfg
}

fn extra(r: &Report, name: &str) -> u64 {
    r.extra
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {name} in {:?}", r.extra))
}

fn assert_no_xdp(net: &TestNet) {
    let link = net.ip(&["-d", "link", "show", "rc0"]).unwrap();
    assert!(
        !link.contains("xdp"),
        "an XDP program is still attached:\n{link}"
    );
}

fn exactly_once(native: Option<bool>, busy_poll: bool, what: &str) {
    let n = 600u32;
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| udp_frame(i, (i % 97) as u16, 60 + (i as usize * 37) % (1514 - 60 + 1)))
        .collect();
    let net = TestNet::new().unwrap();
    let mut cfg = base(native).count(Some(n as u64));
    if busy_poll {
        cfg = busy(cfg);
    }
    let (report, seen) = capture(&net, cfg, Duration::ZERO, |net| {
        // The program is attached in the mode asked for while the capture runs.
        let link = net.ip(&["link", "show", "rc0"]).unwrap();
        match native {
            Some(true) => assert!(
                link.contains(" xdp ") || link.contains("prog/xdp "),
                "{link}"
            ),
            Some(false) => assert!(link.contains("xdpgeneric"), "{link}"),
            None => assert!(link.contains("xdp"), "{link}"),
        }
        send(net, &frames)
    });
    assert_eq!(report.reason, EndReason::Count, "{what}");
    assert_eq!(report.total.received, n as u64, "{what}");
    assert_eq!(report.total.drops, 0, "{what}");
    check_reconciles(&report);
    assert_eq!(
        extra(&report, "xdp_redirected"),
        report.total.kernel_packets
    );
    let mut by_seq: HashMap<u32, Seen> = HashMap::new();
    for s in seen {
        assert!(
            by_seq.insert(s.seq, s.clone()).is_none(),
            "{what}: frame {} twice",
            s.seq
        );
    }
    assert_eq!(by_seq.len(), n as usize, "{what}");
    for (i, f) in frames.iter().enumerate() {
        let s = &by_seq[&(i as u32)];
        assert_eq!(s.data, *f, "{what}: bytes of frame {i}");
        assert_eq!(s.len as usize, f.len(), "{what}: length of frame {i}");
    }
    assert_no_xdp(&net);
}

#[test]
fn xdp_native_delivers_every_frame_once_and_detaches() {
    if !ringcap_netlab::can_run("xdp_native_delivers_every_frame_once") {
        return;
    }
    exactly_once(Some(true), false, "native");
}

#[test]
fn xdp_generic_delivers_every_frame_once_and_detaches() {
    if !ringcap_netlab::can_run("xdp_generic_delivers_every_frame_once") {
        return;
    }
    exactly_once(Some(false), false, "generic");
}

/// Loads a trivial `return XDP_PASS` program and attaches it through netlink, as some other
/// tool would.
fn attach_foreign(ifindex: u32, flags: u32) -> std::os::fd::OwnedFd {
    let insns = [
        bpf::Insn::new(bpf::BPF_ALU64 | bpf::BPF_MOV | bpf::BPF_K, 0, 0, 0, 2),
        bpf::Insn::new(bpf::BPF_JMP | bpf::BPF_EXIT, 0, 0, 0, 0),
    ];
    let mut log = vec![0u8; 4096];
    let prog = bpf::prog_load(bpf::BPF_PROG_TYPE_XDP, &insns, c"MIT", "foreign", &mut log)
        .unwrap_or_else(|e| panic!("{e}: {}", bpf::log_text(&log)));
    Netlink::open()
        .unwrap()
        .set_xdp(ifindex, prog.as_raw_fd(), flags, None)
        .unwrap();
    prog
}

#[test]
fn xdp_refuses_to_replace_a_foreign_program() {
    if !ringcap_netlab::can_run("xdp_refuses_to_replace_a_foreign_program") {
        return;
    }
    let net = TestNet::new().unwrap();
    let _in = net.enter().unwrap();
    let ifindex = ringcap_sys::if_nametoindex("rc0").unwrap();
    for (flags, mode) in [
        (nl::XDP_FLAGS_DRV_MODE, "native"),
        (nl::XDP_FLAGS_SKB_MODE, "generic"),
    ] {
        let prog = attach_foreign(ifindex, flags);
        let id = bpf::prog_id(std::os::fd::AsFd::as_fd(&prog)).unwrap();
        for native in [None, Some(true), Some(false)] {
            let err = match Capture::open(base(native)) {
                Ok(_) => panic!("{mode}: replaced a foreign program"),
                Err(e) => e.to_string(),
            };
            assert!(
                err.contains("already has an XDP program") && err.contains(&id.to_string()),
                "{mode}: unclear refusal: {err}"
            );
            // Still there, untouched.
            let state = Netlink::open().unwrap().link_info(ifindex).unwrap().xdp;
            assert_eq!(state.prog_ids(), vec![id], "{mode}");
        }
        Netlink::open()
            .unwrap()
            .set_xdp(ifindex, -1, flags, None)
            .unwrap();
    }
    assert_no_xdp(&net);
}

#[test]
fn xdp_program_is_removed_when_open_capture_is_dropped_unused() {
    if !ringcap_netlab::can_run("xdp_program_is_removed_when_dropped") {
        return;
    }
    let net = TestNet::new().unwrap();
    let _in = net.enter().unwrap();
    let cap = Capture::open(base(None)).expect("open");
    let link = net.ip(&["link", "show", "rc0"]).unwrap();
    assert!(
        link.contains("xdp"),
        "no program attached while open:\n{link}"
    );
    assert!(promiscuity(&net) > 0, "not promiscuous while open");
    drop(cap);
    assert_no_xdp(&net);
    assert_eq!(promiscuity(&net), 0, "promiscuous mode not restored");
}

#[test]
fn xdp_filter_runs_in_user_space_and_counts_reconcile() {
    if !ringcap_netlab::can_run("xdp_filter_runs_in_user_space") {
        return;
    }
    // ldh [12]; jeq #0x800; ldb [23]; jeq #17 -> ret #snaplen; else ret #0 ("udp"),
    // applied to frames of which every third is turned into TCP.
    use ringcap_filter::Insn as I;
    let prog = vec![
        I {
            code: 0x28,
            jt: 0,
            jf: 0,
            k: 12,
        },
        I {
            code: 0x15,
            jt: 0,
            jf: 3,
            k: 0x0800,
        },
        I {
            code: 0x30,
            jt: 0,
            jf: 0,
            k: 23,
        },
        I {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: 17,
        },
        I {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 100,
        },
        I {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let n = 300u32;
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut f = udp_frame(i, 3, 400);
            if i % 3 == 0 {
                f[23] = 6;
            }
            f
        })
        .collect();
    let net = TestNet::new().unwrap();
    let mut cfg = base(None)
        .filter(Some(ringcap_filter::Program { insns: prog }))
        .duration(Some(Duration::from_millis(800)));
    cfg.xdp.user_filter = true;
    let (report, seen) = capture(&net, cfg, Duration::ZERO, |net| send(net, &frames));
    check_reconciles(&report);
    assert_eq!(report.total.received, 200);
    assert_eq!(extra(&report, "xdp_filtered"), 100);
    assert_eq!(extra(&report, "xdp_redirected"), 300);
    assert_eq!(seen.len(), 200);
    for s in &seen {
        assert_ne!(s.seq % 3, 0);
        assert_eq!(
            s.data.len(),
            100,
            "the filter's return value is the snap length"
        );
        assert_eq!(s.len, 400);
        assert_eq!(s.data[..], frames[s.seq as usize][..100]);
    }
    assert_no_xdp(&net);
}

#[test]
fn xdp_slow_reader_drops_and_still_reconciles() {
    if !ringcap_netlab::can_run("xdp_slow_reader_drops") {
        return;
    }
    let frames: Vec<Vec<u8>> = (0..12000u32).map(|i| udp_frame(i, 1, 200)).collect();
    let net = TestNet::new().unwrap();
    let cfg = base(None).duration(Some(Duration::from_millis(2000)));
    // 64 frames per batch and 20 ms per batch: about 3200 frames/s, far below the sender.
    let (report, seen) = capture(&net, cfg, Duration::from_millis(20), |net| {
        send(net, &frames)
    });
    check_reconciles(&report);
    assert!(
        report.total.drops > 0,
        "no drops: {:?} {:?}",
        report.total,
        report.extra
    );
    assert_eq!(report.total.received as usize, seen.len());
    assert_eq!(
        report.total.drops,
        extra(&report, "rx_ring_full") + extra(&report, "rx_dropped")
    );
    let mut seqs: Vec<u32> = seen.iter().map(|s| s.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), seen.len(), "a frame was delivered twice");
    assert_no_xdp(&net);
}

#[test]
fn xdp_count_reached_ends_and_detaches() {
    if !ringcap_netlab::can_run("xdp_count_reached_ends_and_detaches") {
        return;
    }
    let frames: Vec<Vec<u8>> = (0..500u32).map(|i| udp_frame(i, 1, 100)).collect();
    let net = TestNet::new().unwrap();
    let (report, seen) = capture(&net, base(None).count(Some(50)), Duration::ZERO, |net| {
        send(net, &frames)
    });
    assert_eq!(report.reason, EndReason::Count);
    assert_eq!(report.total.received, 50);
    assert_eq!(seen.len(), 50);
    check_reconciles(&report);
    assert_no_xdp(&net);
}

#[test]
fn xdp_one_socket_per_rx_queue() {
    if !ringcap_netlab::can_run("xdp_one_socket_per_rx_queue") {
        return;
    }
    let cpus = ringcap_sys::allowed_cpus().unwrap();
    if cpus.len() < 2 {
        ringcap_netlab::skip::skip("needs 2 CPUs to feed 2 veth queues");
        return;
    }
    let net = TestNet::new().unwrap();
    // A second veth pair with 2 RX/TX queues each. A packet socket transmits on the queue of
    // the sending CPU, and veth delivers on the peer's RX queue of the same number.
    net.add_veth("mq0", "mq1", 2, 2).unwrap();
    net.ip(&["link", "set", "mq0", "up"]).unwrap();
    net.ip(&["link", "set", "mq1", "up"]).unwrap();
    for native in [Some(true), Some(false)] {
        let n = 400u32;
        let frames: Vec<Vec<u8>> = (0..n).map(|i| udp_frame(i, i as u16, 120)).collect();
        let mut cfg = base(native).count(Some(n as u64));
        cfg.iface = "mq0".into();
        let (report, seen) = capture(&net, cfg, Duration::ZERO, |net| {
            let tx = {
                let _in = net.enter().unwrap();
                ringcap_netlab::Sender::open("mq1").unwrap()
            };
            let tx = &tx;
            std::thread::scope(|s| {
                for (half, cpu) in cpus.iter().take(2).enumerate() {
                    let frames = &frames;
                    s.spawn(move || {
                        ringcap_sys::pin_current_thread(*cpu).unwrap();
                        for f in frames.iter().skip(half).step_by(2) {
                            tx.send(f).unwrap();
                        }
                    });
                }
            });
        });
        assert_eq!(report.workers.len(), 2, "one worker per RX queue");
        check_reconciles(&report);
        assert_eq!(report.total.received, n as u64, "{native:?}");
        // Generic XDP on veth sees every frame as RX queue 0 (veth forwards the TX queue
        // number, which the core reads back as "no RX queue recorded" for queue 0 and as queue
        // n-1 otherwise), so only native mode shows the spread.
        for w in report.workers.iter().filter(|_| native == Some(true)) {
            assert!(
                w.received > 0,
                "{native:?}: queue {} got nothing: {:?}",
                w.worker,
                report.workers
            );
        }
        let mut seqs: Vec<u32> = seen.iter().map(|s| s.seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..n).collect::<Vec<_>>(), "{native:?}");
        let link = net.ip(&["link", "show", "mq0"]).unwrap();
        assert!(!link.contains("xdp"), "{link}");
    }
}

#[test]
fn xdp_busy_poll_delivers_every_frame_once() {
    if !ringcap_netlab::can_run("xdp_busy_poll_delivers_every_frame_once") {
        return;
    }
    exactly_once(Some(true), true, "native, busy polling");
}

#[test]
fn xdp_interface_gone_mid_capture_ends_cleanly() {
    if !ringcap_netlab::can_run("xdp_interface_gone_mid_capture") {
        return;
    }
    let net = TestNet::new().unwrap();
    let started = std::time::Instant::now();
    let (report, _) = capture(
        &net,
        base(None).duration(Some(Duration::from_secs(10))),
        Duration::ZERO,
        |net| {
            send(net, &[udp_frame(1, 1, 100)]);
            std::thread::sleep(Duration::from_millis(100));
            net.delete_capture_if().unwrap();
        },
    );
    assert!(
        matches!(report.reason, EndReason::InterfaceGone(_)),
        "{:?}",
        report.reason
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn xdp_vlan_tags_stay_in_the_bytes() {
    if !ringcap_netlab::can_run("xdp_vlan_tags_stay_in_the_bytes") {
        return;
    }
    for native in [Some(true), Some(false)] {
        let frames: Vec<Vec<u8>> = (0..20u32)
            .map(|i| ringcap_netlab::with_vlan(&udp_frame(i, 1, 200), 0x8100, 100 + i as u16))
            .collect();
        let net = TestNet::new().unwrap();
        let (report, seen) = capture(&net, base(native).count(Some(20)), Duration::ZERO, |net| {
            send(net, &frames)
        });
        check_reconciles(&report);
        assert_eq!(report.total.received, 20, "{native:?}");
        assert_eq!(seen.len(), 20, "{native:?}");
        for s in &seen {
            assert_eq!(
                s.data, frames[s.seq as usize],
                "{native:?}: frame {}",
                s.seq
            );
        }
        assert_no_xdp(&net);
    }
}
