//! tcpdump's flags in `ringcap capture`, each checked on real sockets in a private network
//! namespace and, where tcpdump has the same flag, against real tcpdump run beside it on the
//! same traffic: `-i any` (LINUX_SLL2 / `-y LINUX_SLL`), `-D`, `-L`, `-Q`, `-p`, `-B`, `-F`,
//! `-Z`, `-s 0`, `--time-stamp-precision`; options after the expression; hints for unknown
//! flags; the defaults (workers from the RX queues, rings from a budget) and `--threads 64`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::tools::{one_line_error, stdout_of, tmpdir};
use ringcap_netlab::{udp_frame, Sender, TestNet};

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// A program running in the namespace, its standard error going to a file.
struct Bg {
    child: Child,
    err: PathBuf,
}

fn spawn(net: &TestNet, program: &str, args: &[&str], err: PathBuf) -> Bg {
    let child = net
        .command(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    Bg { child, err }
}

impl Bg {
    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits until standard error holds `needle` (ringcap's start line, said once its workers
    /// take packets; tcpdump's "listening on", once its socket is open), and a little more.
    fn ready(&mut self, needle: &str) {
        let t = Instant::now();
        while !self.stderr().contains(needle) {
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("exited ({s}) before {needle:?}: {}", self.stderr());
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no {needle:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
    }

    /// SIGINT (ringcap and tcpdump both end normally on it), then its standard error.
    fn stop(mut self) -> String {
        // `ip netns exec` execs the program: the child's pid is the program's.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let err = self.stderr();
        assert!(status.success(), "{status}: {err}");
        err
    }

    /// Waits for the program to end by itself (`-c`), at most 10 s.
    fn wait(mut self) -> String {
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running after 10 s: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = self.stderr();
        assert!(status.success(), "{status}: {err}");
        err
    }
}

fn run_in(net: &TestNet, args: &[&str]) -> Output {
    net.command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ringcap(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A raw sender on `ifname` of the namespace.
fn sender_on(net: &TestNet, ifname: &str) -> Sender {
    let _in = net.enter().unwrap();
    Sender::open(ifname).unwrap()
}

/// `received R` of ringcap's "counts add up" line.
fn received(err: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.starts_with("counts add up"))
        .unwrap_or_else(|| panic!("no reconciled summary: {err}"));
    let after = line.split("received ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// tcpdump's "N packets captured".
fn captured(err: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.ends_with("packets captured") || l.ends_with("packet captured"))
        .unwrap_or_else(|| panic!("no count from tcpdump: {err}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

/// `tcpdump -nn -r FILE` in the namespace (so interface indexes name its interfaces), each
/// line without its timestamp, sorted; and the "reading from file" header.
fn tcpdump_read(net: &TestNet, file: &Path) -> (Vec<String>, String) {
    let out = net
        .command("tcpdump")
        .args(["-nn", "-r"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
        .collect();
    lines.sort();
    let header = text(&out.stderr)
        .lines()
        .find(|l| l.starts_with("reading from file"))
        .unwrap_or_default()
        .to_string();
    (lines, header)
}

#[test]
fn any_is_cooked_linux_sll2_and_tcpdump_reads_what_it_captures_itself() {
    if !ringcap_netlab::can_run("any_is_cooked") || !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("any");
    for (y, header) in [
        (None, "link-type LINUX_SLL2"),
        (Some("LINUX_SLL"), "link-type LINUX_SLL "),
    ] {
        let ours = dir.join(format!("ringcap-{}.pcap", y.unwrap_or("default")));
        let theirs = dir.join(format!("tcpdump-{}.pcap", y.unwrap_or("default")));
        let mut r_args = vec!["capture", "-i", "any", "--threads", "1", "-w"];
        r_args.push(ours.to_str().unwrap());
        let mut t_args = vec![
            "-i",
            "any",
            // Not --immediate-mode: libpcap's immediate ring on `any` drops most of a burst
            // (here 12 of 20, "dropped by kernel"); tcpdump ends at -c 20 on its own.
            "-c",
            "20",
            "-w",
            theirs.to_str().unwrap(),
        ];
        if let Some(y) = y {
            r_args.extend(["-y", y]);
            t_args.extend(["-y", y]);
        }
        let mut r = spawn(&net, BIN, &r_args, dir.join("r.err"));
        let mut t = spawn(&net, "tcpdump", &t_args, dir.join("t.err"));
        r.ready("capturing on any");
        t.ready("listening on");
        let tx = net.sender().unwrap();
        for i in 0..10u32 {
            tx.send(&udp_frame(i, i as u16 % 3, 100 + i as usize))
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
        let r_err = r.stop();
        assert!(r_err.contains(", link type "), "{r_err}");
        // Each frame twice: leaving rc1 and arriving on rc0.
        assert_eq!(received(&r_err), 20, "{r_err}");
        t.wait();
        let (our_lines, our_header) = tcpdump_read(&net, &ours);
        let (their_lines, _) = tcpdump_read(&net, &theirs);
        assert!(our_header.contains(header), "{our_header}");
        assert_eq!(our_lines.len(), 20, "{our_lines:?}");
        assert_eq!(our_lines, their_lines);
        if y.is_none() {
            // SLL2 names the interface and the packet type (P: to another host), as tcpdump shows.
            assert!(our_lines.iter().any(|l| l.starts_with("rc0   P   IP")));
            assert!(our_lines.iter().any(|l| l.starts_with("rc1   Out IP")));
        }
    }
    // -i any has no Ethernet link type.
    let o = run_in(&net, &["capture", "-i", "any", "-y", "EN10MB", "-c", "1"]);
    let e = one_line_error(&o);
    assert!(e.contains("LINUX_SLL, LINUX_SLL2"), "{e}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn list_interfaces_as_tcpdump_lists_them() {
    if !ringcap_netlab::can_run("list_interfaces") || !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    // Interfaces in every state: down, up without a carrier.
    net.add_veth("rc2", "rc3", 1, 1).unwrap();
    net.ip(&["link", "set", "rc2", "up"]).unwrap();
    let ours = run_in(&net, &["capture", "-D"]);
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let theirs = run_in_tcpdump(&net, &["-D"]);
    // libpcap also lists devices that are not network interfaces (nflog, dbus...); ringcap
    // lists the network interfaces and `any`, in tcpdump's order and with its state words.
    let ifaces = net.sh("ls /sys/class/net").unwrap();
    let names: Vec<&str> = ifaces.split_whitespace().chain(["any"]).collect();
    let strip = |l: &str| l.split_once('.').map(|(_, r)| r.to_string()).unwrap();
    let ours: Vec<String> = text(&ours.stdout).lines().map(strip).collect();
    let theirs: Vec<String> = theirs
        .lines()
        .map(strip)
        .filter(|l| names.contains(&l.split(' ').next().unwrap()))
        .collect();
    assert_eq!(ours.len(), 6, "{ours:?}");
    assert_eq!(ours, theirs);
    assert!(
        ours.iter().any(|l| l == "rc2 [Up, Disconnected]"),
        "{ours:?}"
    );
    // A number from the list picks that interface, as tcpdump -i 2.
    let first = ours[0].split(' ').next().unwrap();
    let o = run_in(&net, &["capture", "-i", "1", "-L"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with(&format!("Data link types for {first} ")),
        "{}",
        text(&o.stderr)
    );
}

fn run_in_tcpdump(net: &TestNet, args: &[&str]) -> String {
    stdout_of(net.command("tcpdump").args(args))
}

#[test]
fn link_types_as_tcpdump_lists_them() {
    if !ringcap_netlab::can_run("link_types") || !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    for iface in ["any", "rc0", "lo"] {
        let ours = run_in(&net, &["capture", "-L", "-i", iface]);
        assert!(ours.status.success(), "{}", text(&ours.stderr));
        let theirs = net
            .command("tcpdump")
            .args(["-L", "-i", iface])
            .output()
            .unwrap();
        assert!(theirs.status.success());
        let ours = text(&ours.stderr);
        let theirs = text(&theirs.stderr);
        // Every type ringcap offers is one tcpdump offers, in the same words; tcpdump's
        // others are those ringcap cannot write (DOCSIS, which tcpdump cannot print either).
        let their_lines: Vec<&str> = theirs.lines().collect();
        for l in ours.lines() {
            assert!(their_lines.contains(&l), "{l:?} not in {theirs}");
        }
        for l in theirs.lines().filter(|l| !ours.contains(l)) {
            assert!(l.contains("DOCSIS"), "{iface}: ringcap lacks {l:?}");
        }
        if iface == "any" {
            assert_eq!(ours, theirs);
        }
    }
    let o = run_in(&net, &["capture", "-i", "rc0", "-y", "FDDI", "-c", "1"]);
    let e = one_line_error(&o);
    assert!(e.contains("-y FDDI: unknown data link type"), "{e}");
}

#[test]
fn direction_in_and_out_count_as_tcpdump_q() {
    if !ringcap_netlab::can_run("direction") || !ringcap_netlab::skip::tools(&["tcpdump", "kill"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("direction");
    let mut procs = Vec::new();
    for q in ["in", "out", "inout"] {
        let mut r = spawn(
            &net,
            BIN,
            &["capture", "-i", "rc0", "--threads", "1", "-Q", q],
            dir.join(format!("r-{q}.err")),
        );
        r.ready("capturing on rc0");
        let mut t = spawn(
            &net,
            "tcpdump",
            &["-i", "rc0", "--immediate-mode", "-Q", q, "-w", "/dev/null"],
            dir.join(format!("t-{q}.err")),
        );
        t.ready("listening on");
        procs.push((q, r, t));
    }
    // 7 frames arrive on rc0 (sent from its peer), 4 leave it.
    let peer = net.sender().unwrap();
    let own = sender_on(&net, "rc0");
    for i in 0..7u32 {
        peer.send(&udp_frame(i, 1, 80)).unwrap();
    }
    for i in 0..4u32 {
        own.send(&udp_frame(100 + i, 2, 80)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    for (q, r, t) in procs {
        let r_err = r.stop();
        let t_err = t.stop();
        let want = match q {
            "in" => 7,
            "out" => 4,
            _ => 11,
        };
        assert_eq!(captured(&t_err), want, "tcpdump -Q {q}: {t_err}");
        assert_eq!(received(&r_err), captured(&t_err), "-Q {q}: {r_err}");
        if q != "inout" {
            assert!(r_err.contains(&format!(", direction {q}")), "{r_err}");
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

/// The `promiscuity` count of `ip -d link show IFACE`.
fn promiscuity(net: &TestNet, iface: &str) -> u32 {
    let out = net.ip(&["-d", "link", "show", iface]).unwrap();
    let after = out.split("promiscuity ").nth(1).expect(&out);
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn promiscuous_unless_p_as_tcpdump() {
    if !ringcap_netlab::can_run("promiscuous") || !ringcap_netlab::skip::tools(&["tcpdump", "kill"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("promisc");
    for p in [false, true] {
        let mut r_args = vec!["capture", "-i", "rc0", "--threads", "2"];
        let mut t_args = vec!["-i", "rc0", "-w", "/dev/null"];
        if p {
            r_args.push("-p");
            t_args.push("-p");
        }
        assert_eq!(promiscuity(&net, "rc0"), 0);
        let mut r = spawn(&net, BIN, &r_args, dir.join("r.err"));
        r.ready("capturing on rc0");
        let ours = promiscuity(&net, "rc0");
        r.stop();
        let mut t = spawn(&net, "tcpdump", &t_args, dir.join("t.err"));
        t.ready("listening on");
        let theirs = promiscuity(&net, "rc0");
        t.stop();
        // Promiscuous as tcpdump makes it, or not at all with -p. ringcap asks once per
        // worker socket (PACKET_ADD_MEMBERSHIP, so it ends with each socket): the device
        // counts one per worker.
        assert_eq!(theirs, u32::from(!p));
        assert_eq!(ours, if p { 0 } else { 2 }, "-p {p}");
    }
    // It ends with the capture.
    assert_eq!(promiscuity(&net, "rc0"), 0);
    let _ = fs::remove_dir_all(&dir);
}

/// Sizes of the process's shared socket mappings (its rings), from /proc/PID/maps.
fn ring_mappings(pid: u32) -> Vec<u64> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    maps.lines()
        .filter(|l| l.ends_with(']') && l.contains("socket:["))
        .map(|l| {
            let range = l.split(' ').next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            u64::from_str_radix(b, 16).unwrap() - u64::from_str_radix(a, 16).unwrap()
        })
        .collect()
}

#[test]
fn buffer_size_in_kib_sizes_each_ring() {
    if !ringcap_netlab::can_run("buffer_size") || !ringcap_netlab::skip::tools(&["kill"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("buffer");
    // -B 2048: 2 MiB per worker, in whole blocks; -B 1000 rounds up to whole blocks.
    for (kib, bytes) in [("2048", 2u64 << 20), ("1000", 1u64 << 20)] {
        let mut r = spawn(
            &net,
            BIN,
            &["capture", "-i", "rc0", "--threads", "2", "-B", kib],
            dir.join("r.err"),
        );
        r.ready("capturing on rc0");
        let maps = ring_mappings(r.child.id());
        let err = r.stderr();
        r.stop();
        assert_eq!(maps, vec![bytes, bytes], "-B {kib}: {err}");
        assert!(err.contains(&format!("ring by -B {kib}")), "{err}");
    }
    // Recv mode: the socket's receive buffer.
    let mut r = spawn(
        &net,
        BIN,
        &[
            "capture",
            "-i",
            "rc0",
            "--mode",
            "recv",
            "--threads",
            "1",
            "-B",
            "512",
        ],
        dir.join("r.err"),
    );
    r.ready("capturing on rc0");
    let err = r.stop();
    assert!(err.contains("receive buffer 512 KiB"), "{err}");
    let o = run_in(&net, &["capture", "-i", "rc0", "-B", "0"]);
    assert!(one_line_error(&o).contains("-B takes KiB"));
    let o = run_in(&net, &["capture", "-i", "rc0", "-B", "64", "--blocks", "8"]);
    assert!(one_line_error(&o).contains("not both"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn filter_file_takes_the_packets_tcpdump_f_takes() {
    if !ringcap_netlab::can_run("filter_file") || !ringcap_netlab::skip::tools(&["tcpdump", "kill"])
    {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("filterfile");
    let filter = dir.join("f.txt");
    fs::write(
        &filter,
        "# two of the flows\nudp and (src port 10003 # the third\n or src port 10005)\n",
    )
    .unwrap();
    let ours = dir.join("ours.pcap");
    let theirs = dir.join("theirs.pcap");
    let f = filter.to_str().unwrap();
    let mut r = spawn(
        &net,
        BIN,
        &[
            "capture",
            "-i",
            "rc0",
            "--threads",
            "1",
            "-F",
            f,
            "-w",
            ours.to_str().unwrap(),
        ],
        dir.join("r.err"),
    );
    let mut t = spawn(
        &net,
        "tcpdump",
        &[
            "-i",
            "rc0",
            "--immediate-mode",
            "-U",
            "-F",
            f,
            "-w",
            theirs.to_str().unwrap(),
        ],
        dir.join("t.err"),
    );
    r.ready("kernel filter attached");
    t.ready("listening on");
    let tx = net.sender().unwrap();
    for i in 0..40u32 {
        tx.send(&udp_frame(i, (i % 8) as u16, 90)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let r_err = r.stop();
    t.stop();
    assert_eq!(received(&r_err), 10, "{r_err}");
    let (ours, _) = tcpdump_read(&net, &ours);
    let (theirs, _) = tcpdump_read(&net, &theirs);
    assert_eq!(ours.len(), 10);
    assert_eq!(ours, theirs);
    // A file and an expression: refused, as tcpdump does.
    let o = run_in(&net, &["capture", "-i", "rc0", "-F", f, "tcp"]);
    assert!(one_line_error(&o).contains("refused"));
    let _ = fs::remove_dir_all(&dir);
}

/// The real, effective, saved and file-system ids of a `Uid:`/`Gid:` line of /proc/PID/status.
fn ids(pid: u32, key: &str) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn relinquish_privileges_after_the_sockets_are_open() {
    if !ringcap_netlab::can_run("relinquish")
        || !ringcap_netlab::skip::tools(&["tcpdump", "kill", "id"])
    {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let net = TestNet::new().unwrap();
    let dir = tmpdir("relinquish");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let uid: u32 = stdout_of(Command::new("id").args(["-u", "nobody"]))
        .trim()
        .parse()
        .unwrap();
    let gid: u32 = stdout_of(Command::new("id").args(["-g", "nobody"]))
        .trim()
        .parse()
        .unwrap();
    let ours = dir.join("ours.pcap");
    let theirs = dir.join("theirs.pcap");
    let mut r = spawn(
        &net,
        BIN,
        &[
            "capture",
            "-i",
            "rc0",
            "--threads",
            "2",
            "--fanout",
            "hash",
            "-Z",
            "nobody",
            "-w",
            ours.to_str().unwrap(),
        ],
        dir.join("r.err"),
    );
    let mut t = spawn(
        &net,
        "tcpdump",
        &[
            "-i",
            "rc0",
            "--immediate-mode",
            "-U",
            "-Z",
            "nobody",
            "-w",
            theirs.to_str().unwrap(),
        ],
        dir.join("t.err"),
    );
    r.ready("capturing on rc0");
    t.ready("listening on");
    // The process (every thread) runs as nobody once the capture runs.
    std::thread::sleep(Duration::from_millis(200));
    let pid = r.child.id();
    assert_eq!(ids(pid, "Uid:"), vec![uid; 4], "{}", r.stderr());
    assert_eq!(ids(pid, "Gid:"), vec![gid; 4]);
    for task in fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let status = fs::read_to_string(task.path().join("status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(
            line.split_whitespace()
                .skip(1)
                .all(|n| n == uid.to_string()),
            "{line}"
        );
    }
    assert_eq!(ids(t.child.id(), "Uid:"), vec![uid; 4]);
    let tx = net.sender().unwrap();
    for i in 0..12u32 {
        tx.send(&udp_frame(i, i as u16, 100)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let err = r.stop();
    t.stop();
    assert!(err.contains("dropped privileges to nobody"), "{err}");
    assert_eq!(received(&err), 12, "{err}");
    // The files belong to the user, as tcpdump's does.
    let files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("ours"))
        .collect();
    // one file in time order (the default with several workers)
    assert_eq!(files.len(), 1, "{files:?}");
    let their_owner = fs::metadata(&theirs).unwrap().uid();
    assert_eq!(their_owner, uid);
    let mut packets = 0;
    for f in &files {
        assert_eq!(fs::metadata(f).unwrap().uid(), their_owner, "{f:?}");
        packets += tcpdump_read(&net, f).0.len();
    }
    assert_eq!(packets, 12);
    // An unknown user: one line, before anything is opened.
    let o = run_in(&net, &["capture", "-i", "rc0", "-Z", "no-such-user-rc"]);
    assert!(one_line_error(&o).contains("no such user"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn snaplen_zero_and_time_stamp_precision_as_tcpdump_writes_them() {
    if !ringcap_netlab::can_run("snaplen") || !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("snaplen");
    const MICRO: u32 = 0xa1b2_c3d4;
    const NANO: u32 = 0xa1b2_3c4d;
    // (the flags, the magic numbers of ringcap's file and tcpdump's): ringcap writes
    // nanoseconds by default, tcpdump microseconds.
    let cases: [(&[&str], u32, u32); 4] = [
        (&["-s", "0"], NANO, MICRO),
        (
            &["-s", "100", "--time-stamp-precision", "micro"],
            MICRO,
            MICRO,
        ),
        (&["--time-stamp-precision", "nano"], NANO, NANO),
        (&["-s", "60"], NANO, MICRO),
    ];
    for (i, (flags, our_magic, their_magic)) in cases.iter().enumerate() {
        let (ours_flags, their_flags) = (flags, flags);
        let ours = dir.join(format!("ours-{i}.pcap"));
        let theirs = dir.join(format!("theirs-{i}.pcap"));
        let mut args = vec!["capture", "-i", "rc0", "--threads", "1", "-c", "3", "-w"];
        args.push(ours.to_str().unwrap());
        args.extend_from_slice(ours_flags);
        let r = spawn(&net, BIN, &args, dir.join("r.err"));
        let mut targs = vec![
            "-i",
            "rc0",
            "--immediate-mode",
            "-c",
            "3",
            "-w",
            theirs.to_str().unwrap(),
        ];
        targs.extend_from_slice(their_flags);
        let mut t = spawn(&net, "tcpdump", &targs, dir.join("t.err"));
        let mut r = r;
        r.ready("capturing on rc0");
        t.ready("listening on");
        let tx = net.sender().unwrap();
        for s in 0..3u32 {
            tx.send(&udp_frame(s, 1, 300)).unwrap();
        }
        r.wait();
        t.wait();
        let head = |p: &Path| u32::from_le_bytes(fs::read(p).unwrap()[..4].try_into().unwrap());
        assert_eq!(head(&ours), *our_magic, "{ours_flags:?}");
        assert_eq!(head(&theirs), *their_magic, "{their_flags:?}");
        let (our_lines, our_header) = tcpdump_read(&net, &ours);
        let (their_lines, their_header) = tcpdump_read(&net, &theirs);
        assert_eq!(
            our_header.replace(ours.to_str().unwrap(), "F"),
            their_header.replace(theirs.to_str().unwrap(), "F")
        );
        assert_eq!(our_lines, their_lines);
        assert_eq!(our_lines.len(), 3);
    }
    let o = run_in(&net, &["capture", "-i", "rc0", "-s", "262145"]);
    assert!(one_line_error(&o).contains("invalid snaplen"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn options_may_follow_the_expression() {
    if !ringcap_netlab::skip::tools(&["tcpdump"]) {
        return;
    }
    let dir = tmpdir("order");
    let file = dir.join("f.pcap");
    let frames: Vec<Vec<u8>> = (0..6u32).map(|i| udp_frame(i, i as u16, 80)).collect();
    let records: Vec<(u32, u32, &[u8])> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (1_700_000_000 + i as u32, 0, f.as_slice()))
        .collect();
    fs::write(&file, ringcap_netlab::craft::pcap(false, &records)).unwrap();
    let f = file.to_str().unwrap();
    // tcpdump's own order: the expression, then options.
    let theirs = stdout_of(Command::new("tcpdump").args(["-nn", "-r", f, "udp", "-c", "2"]));
    for args in [
        &["read", "-r", f, "udp", "-c", "2"][..],
        &["read", "-r", f, "-c", "2", "udp"],
        &["read", "udp", "-c", "2", "-r", f],
        &["read", "-r", f, "udp", "-nn", "-c", "2"],
    ] {
        let o = ringcap(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        assert_eq!(
            text(&o.stdout).lines().count(),
            theirs.lines().count(),
            "{args:?}"
        );
    }
    // A filter taking the second half of the flows, with options after it.
    let o = ringcap(&[
        "read", "-r", f, "src", "port", "10003", "or", "src", "port", "10004", "-c", "5",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 2);
    // A word starting with `-` after the expression is an option, never part of the filter.
    let o = ringcap(&["read", "-r", f, "udp", "--snapshot-length", "5"]);
    let e = one_line_error(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        e.contains("--snapshot-length is an option of `ringcap capture`"),
        "{e}"
    );
    assert!(!e.contains("filter"), "{e}");
    let o = ringcap(&["read", "-r", f, "udp", "-Y"]);
    let e = one_line_error(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(e.contains("'-Y'") && !e.contains("filter"), "{e}");
    // `--` still ends the options: what follows is the expression.
    let o = ringcap(&["read", "-r", f, "--", "udp"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn options_after_the_expression_of_a_live_capture() {
    if !ringcap_netlab::can_run("options_after_live") {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("order-live");
    let mut r = spawn(
        &net,
        BIN,
        &[
            "capture",
            "-i",
            "rc0",
            "udp",
            "src",
            "port",
            "10001",
            "-c",
            "3",
            "--threads",
            "1",
        ],
        dir.join("r.err"),
    );
    r.ready("kernel filter attached");
    let tx = net.sender().unwrap();
    for i in 0..12u32 {
        tx.send(&udp_frame(i, (i % 4) as u16, 80)).unwrap();
    }
    let err = r.wait();
    assert!(err.contains("packet count reached"), "{err}");
    assert_eq!(received(&err), 3, "{err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn unknown_flags_say_what_to_use_and_missing_arguments_are_named() {
    // (the words typed, what the one line must say)
    let cases: &[(&[&str], &str)] = &[
        (
            &["capture", "-i", "rc0", "--count"],
            "capture has no --count; use --count-only",
        ),
        (
            &["capture", "-i", "rc0", "--nano"],
            "use --time-stamp-precision nano",
        ),
        (
            &["capture", "-i", "rc0", "udp", "--micro"],
            "capture has no --micro; use --time-stamp-precision micro",
        ),
        (
            &["capture", "-i", "rc0", "-I"],
            "monitor mode is not supported",
        ),
        (
            &["capture", "-r", "x.pcap"],
            "-r is an option of `ringcap read`, not of `ringcap capture`",
        ),
        (
            &["-i", "eth0"],
            "-i belongs to a subcommand: ringcap capture -i",
        ),
        (
            &["capture"],
            "capture needs -i IFACE (interface to capture on",
        ),
        (&["read"], "read needs -r FILE (file to read"),
        (
            &["capture", "-i"],
            "-i needs a value: -i IFACE (interface to capture on",
        ),
        (&["read", "-r"], "-r needs a value: -r FILE"),
    ];
    for (args, want) in cases {
        let o = ringcap(args);
        let e = one_line_error(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(!e.contains("error:"), "{args:?}: {e}");
    }
}

/// "N in total" of the start line, in bytes (`128 MiB in total`).
fn total_ring(line: &str) -> u64 {
    let words: Vec<&str> = line.split([' ', ',', ';']).collect();
    let i = words.iter().position(|w| *w == "total").unwrap();
    let (n, unit) = (words[i - 3], words[i - 2]);
    let n: f64 = n.parse().unwrap();
    let mult = match unit {
        "KiB" => 1u64 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => panic!("{line}"),
    };
    (n * mult as f64) as u64
}

fn allowed_cpus() -> usize {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    list.split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

#[test]
fn defaults_follow_the_rx_queues_and_the_start_line_says_so() {
    if !ringcap_netlab::can_run("defaults") {
        return;
    }
    let net = TestNet::new().unwrap();
    let cpus = allowed_cpus();
    // A veth with 4 RX queues: one worker per queue, at most one per CPU.
    net.add_veth("mq0", "mq1", 4, 4).unwrap();
    net.ip(&["link", "set", "mq0", "up"]).unwrap();
    net.ip(&["link", "set", "mq1", "up"]).unwrap();
    for (iface, queues) in [("rc0", 1usize), ("mq0", 4)] {
        let dir = tmpdir("defaults");
        let mut r = spawn(&net, BIN, &["capture", "-i", iface], dir.join("r.err"));
        r.ready("capturing on");
        let err = r.stop();
        let first = err.lines().next().unwrap();
        let workers = queues.min(cpus);
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        assert!(
            first.contains(&format!(
                "; chosen: {workers} worker{} for {queues} RX queue{} and {cpus} CPU{}",
                plural(workers),
                plural(queues),
                plural(cpus)
            )),
            "{first}"
        );
        assert!(first.contains("rings from a budget of"), "{first}");
        // Within the budget: at most 64 MiB a worker and at most 1 GiB.
        let total = total_ring(first);
        assert!(total <= workers as u64 * (64 << 20), "{first}");
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn sixty_four_threads_start_within_the_budget_and_count_right() {
    if !ringcap_netlab::can_run("sixty_four_threads") {
        return;
    }
    let net = TestNet::new().unwrap();
    let dir = tmpdir("threads64");
    let mut r = spawn(
        &net,
        BIN,
        &["capture", "-i", "rc0", "--threads", "64", "-c", "200"],
        dir.join("r.err"),
    );
    r.ready("capturing on rc0");
    let tx = net.sender().unwrap();
    for i in 0..240u32 {
        tx.send(&udp_frame(i, i as u16, 64)).unwrap();
    }
    let err = r.wait();
    let first = err.lines().next().unwrap();
    assert!(first.contains(", 64 workers on CPU "), "{first}");
    assert!(
        first.contains("; chosen: 64 workers by --threads"),
        "{first}"
    );
    // 64 rings share the budget (at most 1 GiB, and below --max-memory's 2 GiB).
    let total = total_ring(first);
    assert!(total <= 1 << 30, "{first}");
    assert!(err.contains("packet count reached"), "{err}");
    assert_eq!(received(&err), 200, "{err}");
    // Every worker has its row in the summary.
    let rows = err
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .count();
    assert!(rows >= 64, "{err}");
    let _ = fs::remove_dir_all(&dir);
}
