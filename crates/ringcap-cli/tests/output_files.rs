//! `ringcap capture -w` through the writer threads, in a private network namespace: one file in
//! time order from two workers under a flood (capinfos' "Strict time order"), a slow reader of
//! `-w -` that makes the writer fall behind without stalling the ring, a full disk with O_DIRECT
//! (a loop-mounted ext4 image), zstd files that `zstd -d` turns into what tshark and capinfos
//! read, gzip, and `read --since/--until` over a rotated set checked against tshark. Root only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ringcap_netlab::tools::{stdout_of, tmpdir, tshark_frames, tshark_times};
use ringcap_netlab::{skip, udp_frame, TestNet};

mod capture_common;

use capture_common::{finish, now_ns, start};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// The numbers of the summary's `output:` line and of its `counts add up` line.
fn output_line(e: &str) -> &str {
    e.lines()
        .find(|l| l.starts_with("output:"))
        .unwrap_or_else(|| panic!("no output line: {e}"))
}

fn number_after(text: &str, key: &str) -> u64 {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} in {text}"))
        + key.len();
    text[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn capinfos(f: &Path) -> String {
    stdout_of(Command::new("capinfos").arg("-M").arg(f))
}

/// Floods the capture end with `count` SYN frames from both CPUs.
fn flood(net: &TestNet, count: u64, pps: &str) {
    let o = net
        .command(BIN)
        .args(["gen", "-i", net.peer_if(), "-q", "--threads", "2"])
        .args(["-c", &count.to_string(), "--pps", pps])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn one_file_in_time_order_from_two_workers_under_a_flood() {
    if !skip::root() || !skip::tools(&["capinfos"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("ordered");
    for format in ["pcap", "pcapng"] {
        let f = dir.join(format!("flood.{format}"));
        let script = format!(
            "exec {BIN} capture -i rc0 --threads 2 --duration 4 -w {} --format {format}",
            f.display()
        );
        let (child, err) = start(&net, &script);
        flood(&net, 40_000, "400k");
        let (code, _, e) = finish(child, err);
        assert_eq!(code, 0, "{e}");
        let received = number_after(&e, "= received");
        let line = output_line(&e);
        assert!(
            line.contains(&format!("output: {received} packets written to 1 file")),
            "{e}"
        );
        // Both workers took part.
        let per_worker: Vec<u64> = e
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                t.starts_with("0 ") || t.starts_with("1 ")
            })
            .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
            .collect();
        assert!(per_worker.iter().all(|&n| n > 1000), "{e}");
        let info = capinfos(&f);
        assert!(info.contains("Strict time order:   True"), "{info}");
        assert_eq!(
            number_after(&info, "Number of packets:"),
            received,
            "{info}"
        );
        let times = tshark_times(&f);
        assert_eq!(times.len() as u64, received);
        assert!(times.windows(2).all(|w| w[0].0 <= w[1].0));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_slow_reader_of_stdout_makes_the_writer_fall_behind_without_ring_drops() {
    if !skip::root() {
        return;
    }
    let net = TestNet::new().unwrap();
    // The reader sleeps 4 s before it reads: the pipe, the output buffers and then the workers'
    // buffers fill; the workers go on taking packets and count what they cannot write.
    let script = format!(
        "{BIN} capture -i rc0 --threads 1 -c 600000 --duration 20 -w - | (sleep 4; {BIN} read -r - --count)"
    );
    let (child, err) = start(&net, &script);
    // A rate the worker takes whole on this shared machine: any drop would be the output's.
    flood(&net, 600_000, "150k");
    let (code, out, e) = finish(child, err);
    assert_eq!(code, 0, "{e}");
    let line = output_line(&e);
    let written = number_after(line, "output:");
    let behind = number_after(line, "not written (");
    assert!(line.contains("writer behind"), "{e}");
    assert!(behind > 0, "{e}");
    let received = number_after(&e, "= received");
    let dropped = number_after(&e, "+ dropped");
    assert_eq!(dropped, 0, "the ring dropped: {e}");
    assert_eq!(written + behind, received, "{e}");
    // The reader got every packet written.
    assert_eq!(number_after(&out, ""), written, "{out}");
}

/// Unmounts and detaches on drop.
struct LoopMount {
    dir: PathBuf,
    image: PathBuf,
}
impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_file(&self.image);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A small ext4 file system on a loop device, or why none can be made here.
fn small_ext4(name: &str, mib: u32) -> Result<LoopMount, String> {
    let base = tmpdir(name);
    let image = base.join("fs.img");
    let dir = base.join("mnt");
    std::fs::create_dir_all(&dir).unwrap();
    let f = std::fs::File::create(&image).unwrap();
    f.set_len((mib as u64) << 20).unwrap();
    let mk = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&image)
        .output()
        .map_err(|e| format!("mkfs.ext4: {e}"))?;
    if !mk.status.success() {
        return Err(format!(
            "mkfs.ext4: {}",
            String::from_utf8_lossy(&mk.stderr)
        ));
    }
    let m = Command::new("mount")
        .args(["-o", "loop"])
        .arg(&image)
        .arg(&dir)
        .output()
        .map_err(|e| format!("mount: {e}"))?;
    if !m.status.success() {
        return Err(format!(
            "loop devices do not work here (mount -o loop: {})",
            String::from_utf8_lossy(&m.stderr).trim()
        ));
    }
    Ok(LoopMount { dir, image })
}

#[test]
fn full_disk_with_o_direct_leaves_a_valid_file_and_counts() {
    if !skip::root() || !skip::tools(&["mkfs.ext4", "capinfos", "tshark"]) {
        return;
    }
    let fs = match small_ext4("enospc", 8) {
        Ok(m) => m,
        Err(why) => {
            skip::skip(&why);
            return;
        }
    };
    let net = TestNet::new().unwrap();
    let out = fs.dir.join("out.pcap");
    let script = format!(
        "exec {BIN} capture -i rc0 --threads 2 -c 100000 --duration 20 -w {}",
        out.display()
    );
    let (child, err) = start(&net, &script);
    // 1000-byte frames: more than the file system holds.
    let o = net
        .command(BIN)
        .args([
            "gen",
            "-i",
            net.peer_if(),
            "-q",
            "-t",
            "udp",
            "--size",
            "1000",
        ])
        .args(["-c", "20000", "--pps", "50k"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let (code, _, e) = finish(child, err);
    assert_eq!(code, 1, "{e}");
    let line = output_line(&e);
    assert!(line.contains("(O_DIRECT)"), "{e}");
    assert!(line.contains("No space left on device"), "{e}");
    let written = number_after(line, "output:");
    let not_written = number_after(line, "file (O_DIRECT), ");
    let received = number_after(&e, "= received");
    assert_eq!(written + not_written, received, "{e}");
    assert!(written > 1000 && not_written > 0, "{e}");
    // Valid to its last whole record: capinfos and tshark read every packet written.
    let info = capinfos(&out);
    assert!(info.contains("Strict time order:   True"), "{info}");
    let got = tshark_times(&out);
    assert_eq!(got.len() as u64, written);
    assert!(got.iter().all(|&(_, len)| len == 1000));
}

#[test]
fn full_tmpfs_says_it_writes_buffered() {
    if !skip::root() {
        return;
    }
    let dir = tmpdir("fulltmpfs");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _m = Unmount(dir.clone());
    let net = TestNet::new().unwrap();
    let out = dir.join("out.pcap");
    let script = format!(
        "exec {BIN} capture -i rc0 --threads 2 -c 2000 --duration 20 -w {}",
        out.display()
    );
    let (child, err) = start(&net, &script);
    let o = net
        .command(BIN)
        .args([
            "gen",
            "-i",
            net.peer_if(),
            "-q",
            "-t",
            "udp",
            "--size",
            "1000",
        ])
        .args(["-c", "2000", "--pps", "20k"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let (code, _, e) = finish(child, err);
    assert_eq!(code, 1, "{e}");
    assert!(e.contains("tmpfs keeps files in memory"), "{e}");
    let line = output_line(&e);
    assert!(!line.contains("O_DIRECT"), "{e}");
    let written = number_after(line, "output:");
    let not_written = number_after(line, "file, ");
    assert_eq!(written + not_written, number_after(&e, "= received"), "{e}");
    assert_eq!(tshark_times(&out).len() as u64, written);
}

#[test]
fn zstd_files_decompress_to_what_tshark_reads_and_read_takes_them_as_they_are() {
    if !skip::root() || !skip::tools(&["zstd", "gzip", "tshark", "capinfos"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("zstd");
    let sent: Vec<Vec<u8>> = (0..300)
        .map(|i| udp_frame(i, (i % 7) as u16, 60 + (i as usize * 13) % 1400))
        .collect();
    for (format, precision) in [("pcap", "nano"), ("pcap", "micro"), ("pcapng", "nano")] {
        let f = dir.join(format!("c-{precision}.{format}"));
        let script = format!(
            "exec {BIN} capture -i rc0 --threads 2 -c 300 --duration 20 -w {} --format {format} --time-precision {precision} --compress zstd:5",
            f.display()
        );
        let (child, err) = start(&net, &script);
        let t0 = now_ns();
        let tx = net.sender().unwrap();
        for s in &sent {
            tx.send(s).unwrap();
        }
        let (code, _, e) = finish(child, err);
        let t1 = now_ns();
        assert_eq!(code, 0, "{e}");
        let zst = PathBuf::from(format!("{}.zst", f.display()));
        assert!(zst.exists(), "{e}");
        // zstd -d gives a file tshark and capinfos read: the frames sent, their timestamps.
        let st = Command::new("zstd")
            .args(["-q", "-d", "-f"])
            .arg(&zst)
            .arg("-o")
            .arg(&f)
            .status()
            .unwrap();
        assert!(st.success());
        let info = capinfos(&f);
        assert!(info.contains("Number of packets:   300"), "{info}");
        let got = tshark_frames(&f);
        let mut have: Vec<Vec<u8>> = got.iter().map(|g| g.bytes.clone()).collect();
        let mut want = sent.clone();
        have.sort();
        want.sort();
        assert!(have == want, "{format} {precision}: the frames differ");
        assert!(got
            .iter()
            .all(|g| g.ts_ns >= t0 - 1_000_000_000 && g.ts_ns <= t1));
        // ringcap reads the compressed file as it is: the same lines as the plain one.
        let plain = stdout_of(Command::new(BIN).args(["read", "-r"]).arg(&f));
        let packed = stdout_of(Command::new(BIN).args(["read", "-r"]).arg(&zst));
        assert_eq!(plain, packed);
        assert_eq!(plain.lines().count(), 300);
        // And gzip.
        let st = Command::new("gzip")
            .args(["-k", "-f"])
            .arg(&f)
            .status()
            .unwrap();
        assert!(st.success());
        let gz = PathBuf::from(format!("{}.gz", f.display()));
        let gzl = stdout_of(Command::new(BIN).args(["read", "-r"]).arg(&gz));
        assert_eq!(plain, gzl);
        // merge takes them too.
        let m = dir.join("m.pcapng");
        stdout_of(
            Command::new(BIN)
                .args(["merge", "--format", "pcapng", "-w"])
                .arg(&m)
                .arg(&zst)
                .arg(&gz),
        );
        assert_eq!(tshark_times(&m).len(), 600);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn since_until_over_a_rotated_set_returns_what_tshark_selects() {
    if !skip::root() || !skip::tools(&["tshark"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("range");
    let pattern = dir.join("cap-%s.pcap");
    let script = format!(
        "exec {BIN} capture -i rc0 --threads 2 --fanout hash --duration 5 -G 1 -w {}",
        pattern.display()
    );
    let (child, err) = start(&net, &script);
    let tx = net.sender().unwrap();
    let t = Instant::now();
    let mut i = 0u32;
    while t.elapsed() < Duration::from_millis(4200) {
        tx.send(&udp_frame(i, (i % 5) as u16, 100)).unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, _, e) = finish(child, err);
    assert_eq!(code, 0, "{e}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    // Every packet's time, as tshark reads the files.
    let mut all: Vec<u64> = files
        .iter()
        .flat_map(|f| tshark_times(f))
        .map(|t| t.0)
        .collect();
    all.sort();
    assert!(all.len() > 200);
    // A range from one packet (included) to another (excluded), inside the set.
    let (since, until) = (all[all.len() / 3], all[all.len() / 2]);
    let fmt = |t: u64| format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000);
    let filter = format!(
        "frame.time_epoch >= {} && frame.time_epoch < {}",
        fmt(since),
        fmt(until)
    );
    let mut want: Vec<u64> = Vec::new();
    for f in &files {
        let o = stdout_of(Command::new("tshark").arg("-r").arg(f).args([
            "-Y",
            &filter,
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
        ]));
        want.extend(o.lines().map(ringcap_netlab::tools::epoch_ns));
    }
    want.sort();
    let copy = std::env::temp_dir().join(format!("ringcap-range-{}.pcap", std::process::id()));
    let o = Command::new(BIN)
        .args(["read", "-r", &format!("{}/*.pcap", dir.display())])
        .args(["--since", &fmt(since), "--until", &fmt(until), "-w"])
        .arg(&copy)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // Only the files that overlap the range were read.
    let opened = number_after(&err, "ringcap:");
    assert!(opened < files.len() as u64 && opened >= 1, "{err}");
    assert!(
        err.contains(&format!("of {} files overlap", files.len())),
        "{err}"
    );
    let got: Vec<u64> = tshark_times(&copy).into_iter().map(|t| t.0).collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want, "ringcap's range differs from tshark's");
    let _ = std::fs::remove_file(&copy);
    let _ = std::fs::remove_dir_all(&dir);
}
