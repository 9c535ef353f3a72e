//! `ringcap capture --mode xdp` as a user runs it, on a veth pair in a private network
//! namespace: the host-stack warning, a summary that adds up, the XDP program gone after -c,
//! SIGINT and SIGTERM, and a one-line refusal to replace a program ringcap did not attach.

use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ringcap_netlab::tools::one_line_error;
use ringcap_netlab::{udp_frame, TestNet};
use ringcap_sys::bpf;
use ringcap_sys::netlink::{self as nl, Netlink};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_no_xdp(net: &TestNet) {
    let link = net.ip(&["link", "show", "rc0"]).unwrap();
    assert!(
        !link.contains("xdp"),
        "an XDP program is still attached:\n{link}"
    );
}

/// Waits until ringcap's program shows on rc0 (the capture is open), up to 5 s.
fn wait_attached(net: &TestNet) {
    for _ in 0..100 {
        if net.ip(&["link", "show", "rc0"]).unwrap().contains("xdp") {
            // Attached; the workers open their intake right after.
            std::thread::sleep(Duration::from_millis(200));
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("ringcap never attached its XDP program");
}

#[test]
fn xdp_count_summary_adds_up_and_the_program_is_gone() {
    if !ringcap_netlab::can_run("xdp_count_summary_adds_up") {
        return;
    }
    let net = TestNet::new().unwrap();
    for mode in ["native", "generic"] {
        let child = net
            .command(BIN)
            .args([
                "capture",
                "-i",
                "rc0",
                "--mode",
                "xdp",
                "--xdp-mode",
                mode,
                "-c",
                "50",
                "-q",
                "--stats",
                "json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_attached(&net);
        let tx = net.sender().unwrap();
        for i in 0..80u32 {
            tx.send(&udp_frame(i, (i % 8) as u16, 60 + i as usize * 10))
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{mode}: {err}");
        assert!(
            err.contains("no longer reach"),
            "{mode}: no host-stack warning: {err}"
        );
        assert!(err.contains("counts add up"), "{mode}: {err}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = stdout
            .lines()
            .find(|l| l.contains("\"summary\":true"))
            .expect(&stdout);
        assert!(summary.contains("\"received\":50,"), "{mode}: {summary}");
        assert!(summary.contains("\"reconciles\":true"), "{mode}: {summary}");
        assert_no_xdp(&net);
    }
}

#[test]
fn xdp_sigint_and_sigterm_remove_the_program() {
    if !ringcap_netlab::can_run("xdp_sigint_and_sigterm_remove_the_program")
        || !ringcap_netlab::skip::tools(&["nsenter", "kill"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    for name in ["INT", "TERM"] {
        // The binary itself inside the namespace, so the signal reaches it and not `ip`.
        let child = Command::new("nsenter")
            .args([
                &format!("--net=/run/netns/{}", net.ns()),
                BIN,
                "capture",
                "-i",
                "rc0",
                "--mode",
                "xdp",
                "-q",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_attached(&net);
        let tx = net.sender().unwrap();
        for i in 0..10u32 {
            tx.send(&udp_frame(i, 1, 64)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        let killed = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "SIG{name}: {:?} {err}", out.status);
        assert!(!err.contains("panicked"), "{err}");
        assert_no_xdp(&net);
    }
}

#[test]
fn xdp_refuses_a_foreign_program_in_one_line() {
    if !ringcap_netlab::can_run("xdp_refuses_a_foreign_program_in_one_line") {
        return;
    }
    let net = TestNet::new().unwrap();
    let id = {
        let _in = net.enter().unwrap();
        let ifindex = ringcap_sys::if_nametoindex("rc0").unwrap();
        let insns = [
            bpf::Insn::new(bpf::BPF_ALU64 | bpf::BPF_MOV | bpf::BPF_K, 0, 0, 0, 2),
            bpf::Insn::new(bpf::BPF_JMP | bpf::BPF_EXIT, 0, 0, 0, 0),
        ];
        let prog =
            bpf::prog_load(bpf::BPF_PROG_TYPE_XDP, &insns, c"MIT", "foreign", &mut []).unwrap();
        Netlink::open()
            .unwrap()
            .set_xdp(ifindex, prog.as_raw_fd(), nl::XDP_FLAGS_SKB_MODE, None)
            .unwrap();
        bpf::prog_id(std::os::fd::AsFd::as_fd(&prog)).unwrap()
    };
    let out = net
        .command(BIN)
        .args(["capture", "-i", "rc0", "--mode", "xdp", "-c", "1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("already has an XDP program"), "{err}");
    assert!(err.contains(&id.to_string()), "{err}");
    // The foreign program is still attached, untouched.
    let link = net.ip(&["link", "show", "rc0"]).unwrap();
    assert!(link.contains(&format!("id {id}")), "{link}");
}

#[test]
fn xdp_zero_copy_on_veth_is_refused_in_one_line() {
    if !ringcap_netlab::can_run("xdp_zero_copy_on_veth_is_refused") {
        return;
    }
    // veth has no zero-copy AF_XDP support: --zero-copy must say so, not fall back silently.
    let net = TestNet::new().unwrap();
    let out = net
        .command(BIN)
        .args([
            "capture",
            "-i",
            "rc0",
            "--mode",
            "xdp",
            "--zero-copy",
            "-c",
            "1",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("zero-copy"), "{err}");
    assert_no_xdp(&net);
}

#[test]
fn xdp_filter_and_pcap_output_checked_with_tshark() {
    if !ringcap_netlab::can_run("xdp_filter_and_pcap_output")
        || !ringcap_netlab::skip::tools(&["tshark"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = std::env::temp_dir().join(format!("ringcap-xdp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("xdp.pcap");
    let file_s = file.to_str().unwrap();
    let child = net
        .command(BIN)
        .args([
            "capture",
            "-i",
            "rc0",
            "--mode",
            "xdp",
            "--duration",
            "2.5",
            "-q",
            "-w",
            file_s,
        ])
        .args(["udp", "src", "port", "10001"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_attached(&net);
    let tx = net.sender().unwrap();
    for i in 0..200u32 {
        tx.send(&udp_frame(i, (i % 4) as u16, 60 + i as usize * 7))
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("counts add up"), "{err}");
    // the filter runs in the XDP program by default: what it does not match goes to the host
    assert!(err.contains("xdp_passed: 150"), "{err}");
    assert_no_xdp(&net);
    // Every matching frame once, in order, with its length: tshark reads the file.
    let fields = Command::new("tshark")
        .args([
            "-r",
            file_s,
            "-T",
            "fields",
            "-e",
            "udp.srcport",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ])
        .output()
        .unwrap();
    assert!(
        fields.status.success(),
        "{}",
        String::from_utf8_lossy(&fields.stderr)
    );
    let text = String::from_utf8_lossy(&fields.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 50, "{text}");
    for (k, row) in rows.iter().enumerate() {
        let i = 4 * k + 1;
        let len = 60 + i * 7;
        assert_eq!(*row, format!("10001\t{len}\t{len}"), "frame {k}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn xdp_program_left_by_a_killed_run_is_named_in_the_refusal() {
    if !ringcap_netlab::can_run("xdp_program_left_by_a_killed_run")
        || !ringcap_netlab::skip::tools(&["nsenter"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let mut child = Command::new("nsenter")
        .args([
            &format!("--net=/run/netns/{}", net.ns()),
            BIN,
            "capture",
            "-i",
            "rc0",
            "--mode",
            "xdp",
            "-q",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_attached(&net);
    // SIGKILL: the one way out nothing can clean up after.
    child.kill().unwrap();
    child.wait().unwrap();
    let out = net
        .command(BIN)
        .args(["capture", "-i", "rc0", "--mode", "xdp", "-c", "1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("already has an XDP program"), "{err}");
    assert!(err.contains("killed"), "{err}");
    // The way out the message gives works.
    net.ip(&["link", "set", "dev", "rc0", "xdp", "off"])
        .unwrap();
    assert_no_xdp(&net);
}
