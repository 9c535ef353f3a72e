//! Live filters: the program ringcap attaches to a Linux socket (VLAN tags and direction from the
//! kernel's ancillary data, since the kernel takes the outer tag out of the bytes) passes exactly
//! the frames that the program for files passes on the same frames as sent, tags included.

mod filter_common;

use filter_common::compile;
use ringcap_filter::{Aux, LinkType, Target};
use ringcap_netlab::{udp_frame, with_vlan, TestNet};
use std::process::Stdio;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

const VLAN_EXPRS: &[&str] = &[
    "vlan",
    "vlan 10",
    "vlan 20",
    "not vlan",
    "vlan and udp",
    "vlan 20 and udp port 9",
    "vlan 100 and vlan 20",
    "vlan and vlan",
    "vlan 10 or vlan 20",
    "vlan and not vlan",
    "vlan 30 and ip",
    "vlan and host 10.1.0.1",
    // protochain: the unrolled walk (X register, scratch memory) must pass the kernel's checker
    // (a live program sees inside tagged frames where the file program does not, as libpcap's:
    // a trailing `not vlan` makes them comparable without moving the offsets before it)
    "ip6 protochain 17 and not vlan",
    "protochain 51 and not vlan",
    "vlan 20 and protochain 17",
    "vlan and ip6 protochain 60",
    "not ip6 protochain 0 and udp and not vlan",
    // several walks: long jumps go through `ja` and copies of the returns
    "(protochain 44 or 17 or 58) and not vlan",
];

/// Frames as sent: untagged, 802.1Q, 802.1ad, QinQ; each with a unique sequence number.
fn frames() -> Vec<Vec<u8>> {
    let base = |i: u32| udp_frame(0xc0de_0000 + i, i as u16, 120);
    vec![
        base(0),
        with_vlan(&base(1), 0x8100, 10),
        with_vlan(&base(2), 0x8100, 20),
        with_vlan(&with_vlan(&base(3), 0x8100, 20), 0x88a8, 100),
        with_vlan(&base(4), 0x8100, (3 << 13) | 10),
        with_vlan(&base(5), 0x88a8, 30),
        with_vlan(&with_vlan(&base(6), 0x8100, 10), 0x8100, 10),
        base(7),
        chain6(8, &[0]),
        ah4(9),
        with_vlan(&chain6(10, &[60, 43]), 0x8100, 20),
        chain6(11, &[]),
        with_vlan(&ah4(12), 0x8100, 20),
    ]
}

/// UDP carrying the sequence number, as `udp_frame` does.
fn udp_seq(seq: u32) -> Vec<u8> {
    let mut u = vec![0x27, 0x10, 0, 9, 0, 20, 0, 0];
    u.extend_from_slice(&(0xc0de_0000 + seq).to_be_bytes());
    u.extend_from_slice(&[0; 8]);
    u
}

/// IPv6 with the given extension headers (types, in order) before UDP.
fn chain6(seq: u32, exts: &[u8]) -> Vec<u8> {
    let mut pl = udp_seq(seq);
    let mut nh = 17;
    for t in exts.iter().rev() {
        pl = filter_common::ext6(nh, 0, &pl);
        nh = *t;
    }
    let ip = filter_common::ipv6(
        filter_common::v6("2001:db8::1"),
        filter_common::v6("2001:db8::2"),
        nh,
        &pl,
    );
    filter_common::eth(LIVE_DST, LIVE_SRC, 0x86dd, &ip)
}

/// IPv4 with AH before UDP.
fn ah4(seq: u32) -> Vec<u8> {
    let ip = filter_common::ipv4(
        [10, 0, 0, 1],
        [10, 1, 0, 1],
        51,
        &filter_common::ah(17, 0x100, &udp_seq(seq)),
        &[],
        0,
        64,
    );
    filter_common::eth(LIVE_DST, LIVE_SRC, 0x0800, &ip)
}

const LIVE_DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const LIVE_SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

/// What the kernel does on receive: the outer 802.1Q/802.1ad tag moves to metadata.
fn kernel_view(frame: &[u8]) -> (Vec<u8>, Aux) {
    let tpid = u16::from_be_bytes([frame[12], frame[13]]);
    if frame.len() >= 18 && (tpid == 0x8100 || tpid == 0x88a8) {
        let tci = u16::from_be_bytes([frame[14], frame[15]]);
        let mut v = frame[..12].to_vec();
        v.extend_from_slice(&frame[16..]);
        (
            v,
            Aux {
                vlan_tci: Some(tci),
                vlan_tpid: tpid,
                pkttype: 0,
            },
        )
    } else {
        (frame.to_vec(), Aux::default())
    }
}

/// Without root: the live program run on the kernel's view of each frame agrees with the file
/// program on the frame's bytes, over these frames and the tagged part of the test traffic.
#[test]
fn live_program_on_kernel_view_agrees_with_file_program() {
    let mut all = frames();
    for p in filter_common::ethernet_traffic() {
        if p.data.len() >= 18
            && matches!(
                u16::from_be_bytes([p.data[12], p.data[13]]),
                0x8100 | 0x88a8
            )
        {
            all.push(p.data);
        }
    }
    for expr in VLAN_EXPRS.iter().chain(&[
        "vlan and tcp port 80",
        "vlan 200 and vlan 10",
        "vlan 4095 and udp",
        "vlan and arp",
    ]) {
        let file = compile(expr, LinkType::Ethernet, 262144, Target::File, true).unwrap();
        let live = compile(expr, LinkType::Ethernet, 262144, Target::LinuxLive, true).unwrap();
        for (i, f) in all.iter().enumerate() {
            let (bytes, aux) = kernel_view(f);
            let want = file.matches(f, f.len() as u32);
            let got = live.run(&bytes, bytes.len() as u32, &aux) != 0;
            assert_eq!(got, want, "{expr:?} frame {i}");
        }
    }
}

fn captured_seqs(path: &std::path::Path) -> Vec<u32> {
    let b = std::fs::read(path).unwrap_or_default();
    let mut seqs = Vec::new();
    let mut o = if b.len() >= 24 { 24 } else { return seqs };
    while o + 16 <= b.len() {
        let cap = u32::from_le_bytes(b[o + 8..o + 12].try_into().unwrap()) as usize;
        let data = &b[(o + 16).min(b.len())..(o + 16 + cap).min(b.len())];
        for w in data.windows(4) {
            let v = u32::from_be_bytes(w.try_into().unwrap());
            if v & 0xffff_0000 == 0xc0de_0000 {
                seqs.push(v & 0xffff);
                break;
            }
        }
        o += 16 + cap;
    }
    seqs
}

/// With root: the kernel-attached program on a veth passes the frames the file program passes.
#[test]
fn kernel_attached_filter_passes_what_the_file_program_passes() {
    if !ringcap_netlab::can_run("kernel_attached_filter_passes_what_the_file_program_passes") {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = std::env::temp_dir().join(format!("ringcap-filter-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let frames = frames();
    let mut failures = Vec::new();
    for (n, expr) in VLAN_EXPRS.iter().enumerate() {
        let out = dir.join(format!("{n}.pcap"));
        let child = net
            .command(BIN)
            .args([
                "capture",
                "-i",
                net.capture_if(),
                "--threads",
                "1",
                "-q",
                "--duration",
                "1.5",
                "-w",
            ])
            .arg(&out)
            .arg(expr)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(600));
        {
            let tx = net.sender().unwrap();
            for f in &frames {
                tx.send(f).unwrap();
            }
        }
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{expr}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let file = compile(expr, LinkType::Ethernet, 262144, Target::File, true).unwrap();
        let mut want: Vec<u32> = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| file.matches(f, f.len() as u32))
            .map(|(i, _)| i as u32)
            .collect();
        let mut got = captured_seqs(&out);
        want.sort();
        got.sort();
        if want != got {
            failures.push(format!(
                "{expr:?}: file program passes {want:?}, kernel passed {got:?}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
