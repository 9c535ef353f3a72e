//! `gen --replay` takes capture files compressed by the real `zstd` and `gzip` tools as they
//! are: the same frames, bytes and timing as from the plain file, for pcap and pcapng.

use std::path::Path;
use std::process::Command;

use ringcap_gen::Replay;
use ringcap_netlab::{skip, tools::tmpdir};
use ringcap_pcap::{linktype, Format, Writer, WriterOptions};

/// Frames of several sizes, 1.5 ms apart, each with its index in its bytes.
fn frames() -> Vec<(u64, Vec<u8>)> {
    (0..200u64)
        .map(|i| {
            let len = 60 + (i as usize * 37) % 1400;
            let mut f = vec![(i % 251) as u8; len];
            f[..8].copy_from_slice(&i.to_be_bytes());
            (1_795_000_000_000_000_000 + i * 1_500_000, f)
        })
        .collect()
}

fn write(path: &Path, format: Format) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = Writer::new(file, &WriterOptions::new(format, linktype::ETHERNET, 65535)).unwrap();
    for (ts, f) in frames() {
        w.write_packet(ts, f.len() as u32, &[&f]).unwrap();
    }
    w.finish(&[]).unwrap();
}

fn same(a: &Replay, b: &Replay) -> bool {
    a.data == b.data
        && a.frames.len() == b.frames.len()
        && a.frames
            .iter()
            .zip(&b.frames)
            .all(|(x, y)| (x.offset, x.len, x.time_ns) == (y.offset, y.len, y.time_ns))
}

#[test]
fn replay_reads_zstd_and_gzip_files_as_the_plain_file() {
    if !skip::tools(&["zstd", "gzip"]) {
        return;
    }
    let dir = tmpdir("replay-compressed");
    for (format, ext) in [(Format::Pcap, "pcap"), (Format::Pcapng, "pcapng")] {
        let plain = dir.join(format!("t.{ext}"));
        write(&plain, format);
        let want = Replay::load(&plain).unwrap();
        let sent = frames();
        assert_eq!(want.frames.len(), sent.len());
        for (f, (ts, bytes)) in want.frames.iter().zip(&sent) {
            assert_eq!(&want.data[f.offset..f.offset + f.len as usize], &bytes[..]);
            assert_eq!(f.time_ns, ts - sent[0].0);
        }
        for (tool, suffix) in [("zstd", "zst"), ("gzip", "gz")] {
            let st = Command::new(tool)
                .args(["-q", "-k", "-f"])
                .arg(&plain)
                .status()
                .unwrap();
            assert!(st.success(), "{tool} failed");
            let packed = dir.join(format!("t.{ext}.{suffix}"));
            assert!(
                std::fs::metadata(&packed).unwrap().len()
                    < std::fs::metadata(&plain).unwrap().len()
            );
            let got = Replay::load(&packed).unwrap();
            assert!(same(&want, &got), "{ext}.{suffix} differs from {ext}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
