//! Files written by ringcap-pcap, checked with the real tools (tshark, capinfos): every format
//! and option, rotation, statistics blocks. Skips (with a message) where the tools are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use ringcap_netlab::tools::{have, tmpdir, tshark_frames as tshark, Frame as Seen};
use ringcap_netlab::{udp_frame, with_vlan};
use ringcap_pcap::{
    vlan_parts, Format, IfStats, Interface, Precision, Reader, RotatingWriter, Rotation, Writer,
    WriterOptions,
};

fn capinfos(file: &Path, flags: &[&str]) -> String {
    let out = Command::new("capinfos")
        .args(flags)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "capinfos {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The interface statistics blocks as Wireshark's pcapng dissector shows them (capinfos 4.0
/// only counts them).
fn isb_text(file: &Path) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-X", "read_format:MIME Files Format", "-V"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    match s.find("Interface Statistics Block") {
        Some(i) => s[i..].to_string(),
        None => String::new(),
    }
}

/// Writes frames of varied sizes, every third with a VLAN tag put back; returns what the file
/// must hold.
fn write_sample(path: &Path, format: Format, precision: Precision, snaplen: u32) -> Vec<Seen> {
    let mut o = WriterOptions::new(format, 1, snaplen);
    o.precision = precision;
    o.interfaces[0].name = Some("rc0".into());
    let mut w = Writer::new(std::fs::File::create(path).unwrap(), &o).unwrap();
    let mut expect = Vec::new();
    let t0 = 1_700_000_000_123_456_789u64;
    for i in 0..200u32 {
        let f = udp_frame(i, i as u16, 60 + (i as usize * 37) % 1400);
        let ts = t0 + i as u64 * 1_234_567;
        let mut tag = [0; 4];
        let (wire, len) = if i % 3 == 0 {
            let (parts, len) = vlan_parts(&f, f.len() as u32, 0x6000 | i as u16, 0x8100, &mut tag);
            w.write_packet(ts, len, &parts).unwrap();
            (with_vlan(&f, 0x8100, 0x6000 | i as u16), len)
        } else {
            w.write_packet(ts, f.len() as u32, &[&f]).unwrap();
            (f.clone(), f.len() as u32)
        };
        let keep = wire.len().min(snaplen as usize);
        let ts_file = match precision {
            Precision::Nano => ts,
            Precision::Micro => ts / 1000 * 1000,
        };
        expect.push(Seen {
            ts_ns: ts_file,
            len,
            bytes: wire[..keep].to_vec(),
        });
    }
    w.finish(&[IfStats {
        interface: 0,
        received: Some(250),
        dropped: Some(50),
        start_ns: t0,
        end_ns: t0 + 1_000_000_000,
    }])
    .unwrap();
    expect
}

#[test]
fn every_format_reads_back_in_tshark() {
    if !have("tshark") || !have("capinfos") {
        return;
    }
    let dir = tmpdir("formats");
    for format in [Format::Pcap, Format::Pcapng] {
        for precision in [Precision::Nano, Precision::Micro] {
            for snaplen in [262_144, 100] {
                let path = dir.join(format!("f-{precision:?}-{snaplen}.{format}"));
                let expect = write_sample(&path, format, precision, snaplen);
                let seen = tshark(&path);
                assert_eq!(seen.len(), expect.len(), "{}", path.display());
                for (i, (s, e)) in seen.iter().zip(&expect).enumerate() {
                    assert_eq!(s, e, "{} packet {i}", path.display());
                }
                let info = capinfos(&path, &[]);
                assert!(info.contains("Number of packets:   200"), "{info}");
                let want = match (format, precision) {
                    (_, Precision::Nano) => "nanoseconds (9)",
                    (_, Precision::Micro) => "microseconds (6)",
                };
                assert!(info.contains(want), "{info}");
                if format == Format::Pcapng {
                    assert!(info.contains("Name = rc0"), "{info}");
                    // The interface statistics block.
                    assert!(info.contains("Number of stat entries = 1"), "{info}");
                    let isb = isb_text(&path);
                    assert!(isb.contains("Number of Received Packets = 250"), "{isb}");
                    assert!(isb.contains("Number of Dropped Packets = 50"), "{isb}");
                    assert!(isb.contains("Start Time"), "{isb}");
                    assert!(info.contains("Capture application: ringcap"), "{info}");
                }
                // Our own reader agrees too.
                let data = std::fs::read(&path).unwrap();
                let mut r = Reader::new(&data[..]).unwrap();
                let mut n = 0;
                while let Some((m, d)) = r.next_packet().unwrap() {
                    assert_eq!(m.ts_ns, expect[n].ts_ns);
                    assert_eq!(d, &expect[n].bytes[..]);
                    n += 1;
                }
                assert_eq!(n, 200);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotation_by_size_is_a_ring_of_valid_files() {
    if !have("capinfos") {
        return;
    }
    let dir = tmpdir("rot-size");
    let base = dir.join("ring.pcap").to_string_lossy().into_owned();
    let rot = Rotation {
        size_limit: Some(20_000),
        interval_s: None,
        max_files: Some(3),
    };
    let mut o = WriterOptions::new(Format::Pcap, 1, 65535);
    o.buffer_size = 64 << 10;
    let mut w = RotatingWriter::create(&base, o, rot, 0).unwrap();
    let f = udp_frame(1, 1, 1000);
    for i in 0..100u64 {
        w.write_packet(i * 1000, f.len() as u32, &[&f]).unwrap();
    }
    w.finish(&[]).unwrap();
    assert_eq!(w.packets_written(), 100);
    assert!(w.files() > 3);
    let mut total = 0;
    for n in 0..3 {
        let p = PathBuf::from(format!("{base}{n}"));
        let info = capinfos(&p, &["-c", "-M"]);
        let c: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("Number of packets:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Each file stops once it reaches 20 000 bytes: at most 20 packets of 1016 bytes.
        assert!((1..=20).contains(&c), "{info}");
        total += c;
    }
    assert!(!PathBuf::from(format!("{base}3")).exists());
    assert!(!Path::new(&base).exists());
    assert!(total < 100);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotation_by_time_names_files_and_stops_after_w() {
    if !have("capinfos") {
        return;
    }
    let dir = tmpdir("rot-time");
    let base = dir.join("t-%s.pcapng").to_string_lossy().into_owned();
    let rot = Rotation {
        size_limit: None,
        interval_s: Some(10),
        max_files: Some(3),
    };
    let t0 = 1_700_000_000u64;
    let o = WriterOptions::new(Format::Pcapng, 1, 65535);
    let mut w = RotatingWriter::create(&base, o, rot, t0 * 1_000_000_000).unwrap();
    let f = udp_frame(1, 1, 100);
    let mut stopped_at = None;
    for s in 0..60u64 {
        let ts = (t0 + s) * 1_000_000_000;
        match w.write_packet(ts, f.len() as u32, &[&f]) {
            Ok(()) => {}
            Err(ringcap_pcap::RotationError::Done) => {
                stopped_at = Some(s);
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    w.finish(&[]).unwrap();
    assert_eq!(stopped_at, Some(30));
    for k in 0..3 {
        let p = dir.join(format!("t-{}.pcapng", t0 + k * 10));
        let info = capinfos(&p, &["-c", "-M"]);
        assert!(
            info.contains("Number of packets:   10"),
            "{}: {info}",
            p.display()
        );
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pcapng_several_interfaces_in_tshark() {
    if !have("tshark") {
        return;
    }
    let dir = tmpdir("ifaces");
    let path = dir.join("two.pcapng");
    let mut o = WriterOptions::new(Format::Pcapng, 1, 65535);
    o.interfaces.push(Interface::new(Some("lo"), 101, 65535));
    let mut w = Writer::new(std::fs::File::create(&path).unwrap(), &o).unwrap();
    let f = udp_frame(5, 5, 80);
    w.write_packet_on(0, 1_000_000_000, 80, &[&f]).unwrap();
    w.write_packet_on(1, 2_000_000_000, 66, &[&f[14..]])
        .unwrap();
    w.finish(&[]).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.interface_id",
            "-e",
            "ip.src",
            "-e",
            "udp.dstport",
        ])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(s, "0\t10.0.0.5\t9\n1\t10.0.0.5\t9\n", "{s}");
    let _ = std::fs::remove_dir_all(&dir);
}
