//! `ringcap read` reads the old "modified" pcap format (magic a1b2cd34, 24-byte record headers),
//! as written by the real editcap (`-F modpcap`), and agrees with tcpdump and tshark on it:
//! packet count, timestamps, lengths, and what a filter keeps.

use std::path::Path;
use std::process::Command;

use ringcap_netlab::tools::{stdout_of, tmpdir, tshark_times};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// A standard pcap (microseconds, Ethernet) with packets of varied lengths, one cut short.
fn standard_pcap(path: &Path) {
    let mut f = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        f.extend(v.to_le_bytes());
    }
    let udp = {
        let mut p = vec![0xff; 6];
        p.extend([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00]);
        p.extend([
            0x45, 0, 0, 36, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        p.extend([0x13, 0x88, 0x13, 0x89, 0, 16, 0, 0]);
        p.extend([7u8; 8]);
        p
    };
    let arp = {
        let mut p = vec![0xff; 6];
        p.extend([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x06]);
        p.extend([0u8; 28]);
        p
    };
    let frames: [(Vec<u8>, usize); 4] = [
        (udp.clone(), udp.len()),
        (arp, 42),
        (udp.clone(), 30), // cut inside the IP header
        (vec![0x5a; 1500], 1500),
    ];
    for (i, (data, cap)) in frames.iter().enumerate() {
        f.extend((1_700_000_000 + i as u32).to_le_bytes());
        f.extend((123_456 * (i as u32 + 1)).to_le_bytes());
        f.extend((*cap as u32).to_le_bytes());
        f.extend((data.len() as u32).to_le_bytes());
        f.extend(&data[..*cap]);
    }
    std::fs::write(path, f).unwrap();
}

fn ringcap_count(file: &Path, filter: &[&str]) -> u64 {
    let s = stdout_of(
        Command::new(BIN)
            .args(["read", "--count", "-r"])
            .arg(file)
            .args(filter),
    );
    s.split_whitespace().next().unwrap().parse().unwrap()
}

fn tcpdump_count(file: &Path, filter: &[&str]) -> u64 {
    let s = stdout_of(
        Command::new("tcpdump")
            .args(["--count", "-r"])
            .arg(file)
            .args(filter),
    );
    s.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn modified_pcap_from_editcap_reads_as_tcpdump_and_tshark_read_it() {
    if !ringcap_netlab::skip::tools(&["editcap", "tcpdump", "tshark"]) {
        return;
    }
    let dir = tmpdir("pcap-modified");
    let (std, modified) = (dir.join("std.pcap"), dir.join("mod.pcap"));
    standard_pcap(&std);
    stdout_of(
        Command::new("editcap")
            .args(["-F", "modpcap"])
            .arg(&std)
            .arg(&modified),
    );
    // editcap wrote the modified format: its magic, and 8 more header bytes per record
    let bytes = std::fs::read(&modified).unwrap();
    assert_eq!(bytes[..4], [0x34, 0xcd, 0xb2, 0xa1]);
    assert_eq!(
        bytes.len(),
        std::fs::metadata(&std).unwrap().len() as usize + 4 * 8
    );

    // every packet, with tshark's timestamps and lengths
    let text = stdout_of(
        Command::new(BIN)
            .args(["read", "-tt", "-e", "-r"])
            .arg(&modified),
    );
    // tcpdump's -tt -e line: `SECS.FRAC SRC > DST, ethertype …, length N: …`
    let ours: Vec<(u64, u32)> = text
        .lines()
        .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let t = ringcap_netlab::tools::epoch_ns(l.split(' ').next().unwrap());
            let len = l
                .split_once(", length ")
                .and_then(|(_, rest)| rest.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no length in {l}"));
            (t, len)
        })
        .collect();
    assert_eq!(ours, tshark_times(&modified));
    assert_eq!(ours.len(), 4);
    assert_eq!(ringcap_count(&modified, &[]), tcpdump_count(&modified, &[]));

    // a filter keeps what tcpdump's keeps (the cut packet included: it is not UDP to them)
    for filter in [
        &["udp"][..],
        &["arp"],
        &["ip", "and", "len", ">", "100"],
        &["not", "ip"],
    ] {
        assert_eq!(
            ringcap_count(&modified, filter),
            tcpdump_count(&modified, filter),
            "{filter:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
