//! Shared by the flow tests: known traffic with the flows it makes (recorded while each frame is
//! built, not parsed back), capture files, collectors started on free ports in the test's
//! namespace, and readers of what nfdump and tshark decode.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringcap_netlab::TestNet;
use ringcap_wire::checksum::checksum;

pub const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

/// A flow as exporters key it (ICMP type and code in the destination port).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId {
    pub proto: u8,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// VLAN id, 0 for none.
    pub vlan: u16,
}

/// What a flow carried: packets, IP bytes (header and payload), frame bytes, TCP flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
    pub l2_bytes: u64,
    pub flags: u8,
}

/// Frames to send and the flows they make.
#[derive(Debug, Default, Clone)]
pub struct Traffic {
    pub frames: Vec<Vec<u8>>,
    pub flows: BTreeMap<FlowId, Totals>,
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

pub fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
}

pub fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

/// Transport header and payload for `proto`: TCP with `flags`, UDP, ICMP/ICMPv6 echo with
/// `ty`/`code` in `port_or_type`.
fn l4(proto: u8, sport: u16, dport: u16, flags: u8, payload: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..payload).map(|i| (i * 7) as u8).collect();
    let mut h = match proto {
        6 => {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&sport.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[4..8].copy_from_slice(&1000u32.to_be_bytes());
            t[12] = 5 << 4;
            t[13] = flags;
            t[14..16].copy_from_slice(&65535u16.to_be_bytes());
            t
        }
        17 => {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&sport.to_be_bytes());
            u[2..4].copy_from_slice(&dport.to_be_bytes());
            u[4..6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
            u
        }
        // ICMP / ICMPv6: type and code from the "destination port", identifier and sequence.
        _ => vec![(dport >> 8) as u8, dport as u8, 0, 0, 0, 1, 0, 1],
    };
    h.extend_from_slice(&body);
    h
}

/// The L4 checksum over the pseudo header (`ph`) and segment; its offset by protocol.
fn set_l4_checksum(proto: u8, ph: &[u8], seg: &mut [u8]) {
    let at = match proto {
        6 => 16,
        17 => 6,
        1 | 58 => 2,
        _ => return,
    };
    let mut buf = if proto == 1 { Vec::new() } else { ph.to_vec() };
    buf.extend_from_slice(seg);
    let mut c = checksum(&buf);
    if c == 0 && proto == 17 {
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// One Ethernet frame (padded to 60 bytes), with a VLAN tag when `vlan` is not 0.
fn frame(src: IpAddr, dst: IpAddr, proto: u8, seg: Vec<u8>, vlan: u16) -> (Vec<u8>, u64) {
    let mut seg = seg;
    let (et, ip) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ph = Vec::new();
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&[0, proto]);
            ph.extend_from_slice(&(seg.len() as u16).to_be_bytes());
            set_l4_checksum(proto, &ph, &mut seg);
            let mut h = vec![0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&((20 + seg.len()) as u16).to_be_bytes());
            h[8] = 64;
            h[9] = proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend_from_slice(&seg);
            (0x0800u16, h)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut ph = Vec::new();
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&(seg.len() as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, proto]);
            set_l4_checksum(proto, &ph, &mut seg);
            let mut h = vec![0u8; 40];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(seg.len() as u16).to_be_bytes());
            h[6] = proto;
            h[7] = 64;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            h.extend_from_slice(&seg);
            (0x86dd, h)
        }
        _ => panic!("mixed address families"),
    };
    let ip_len = ip.len() as u64;
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_B);
    f.extend_from_slice(&MAC_A);
    if vlan != 0 {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&vlan.to_be_bytes());
    }
    f.extend_from_slice(&et.to_be_bytes());
    f.extend_from_slice(&ip);
    let min = if vlan != 0 { 64 } else { 60 };
    if f.len() < min {
        f.resize(min, 0);
    }
    (f, ip_len)
}

impl Traffic {
    /// Adds one packet of a flow: TCP with `flags`, UDP, or ICMP (type/code in `dport`).
    #[allow(clippy::too_many_arguments)]
    pub fn packet(
        &mut self,
        proto: u8,
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        flags: u8,
        payload: usize,
        vlan: u16,
    ) {
        let (f, ip_len) = frame(
            src,
            dst,
            proto,
            l4(proto, sport, dport, flags, payload),
            vlan,
        );
        let icmp = proto == 1 || proto == 58;
        let id = FlowId {
            proto,
            src,
            sport: if icmp { 0 } else { sport },
            dst,
            dport,
            vlan,
        };
        let t = self.flows.entry(id).or_default();
        t.packets += 1;
        t.bytes += ip_len;
        t.l2_bytes += f.len() as u64;
        t.flags |= if proto == 6 { flags } else { 0 };
        self.frames.push(f);
    }

    /// A TCP connection from open to close: SYN, SYN-ACK, ACK, data both ways, FIN-ACK both
    /// ways, the last ACK.
    pub fn tcp_conversation(&mut self, c: IpAddr, cp: u16, s: IpAddr, sp: u16, vlan: u16) {
        const SYN: u8 = 0x02;
        const ACK: u8 = 0x10;
        const PSH: u8 = 0x08;
        const FIN: u8 = 0x01;
        self.packet(6, c, cp, s, sp, SYN, 0, vlan);
        self.packet(6, s, sp, c, cp, SYN | ACK, 0, vlan);
        self.packet(6, c, cp, s, sp, ACK, 0, vlan);
        self.packet(6, c, cp, s, sp, PSH | ACK, 120, vlan);
        self.packet(6, s, sp, c, cp, ACK, 0, vlan);
        self.packet(6, s, sp, c, cp, PSH | ACK, 1200, vlan);
        self.packet(6, c, cp, s, sp, ACK, 0, vlan);
        self.packet(6, c, cp, s, sp, FIN | ACK, 0, vlan);
        self.packet(6, s, sp, c, cp, FIN | ACK, 0, vlan);
        self.packet(6, c, cp, s, sp, ACK, 0, vlan);
    }

    /// The mix the export tests send: IPv4 and IPv6, TCP from SYN to FIN, UDP, ICMP echo both
    /// ways, VLAN-tagged IPv4 and IPv6.
    pub fn known() -> Traffic {
        let mut t = Traffic::default();
        t.tcp_conversation(v4("10.1.0.1"), 40001, v4("10.2.0.1"), 80, 0);
        for size in [20, 400, 1000] {
            t.packet(17, v4("10.1.0.2"), 5353, v4("10.2.0.2"), 53, 0, size, 0);
        }
        for _ in 0..2 {
            t.packet(1, v4("10.1.0.3"), 0, v4("10.2.0.3"), 8 << 8, 0, 56, 0);
            t.packet(1, v4("10.2.0.3"), 0, v4("10.1.0.3"), 0, 0, 56, 0);
        }
        t.tcp_conversation(v6("2001:db8::1"), 40002, v6("2001:db8::2"), 443, 0);
        for size in [30, 300] {
            t.packet(
                17,
                v6("2001:db8::3"),
                6000,
                v6("2001:db8::4"),
                6001,
                0,
                size,
                0,
            );
        }
        t.packet(
            58,
            v6("2001:db8::5"),
            0,
            v6("2001:db8::6"),
            128 << 8,
            0,
            32,
            0,
        );
        for size in [10, 500, 900] {
            t.packet(17, v4("10.1.0.5"), 7000, v4("10.2.0.5"), 7001, 0, size, 100);
        }
        for size in [10, 200] {
            t.packet(
                17,
                v6("2001:db8::7"),
                7000,
                v6("2001:db8::8"),
                7001,
                0,
                size,
                200,
            );
        }
        t
    }

    pub fn packets(&self) -> u64 {
        self.frames.len() as u64
    }
}

/// Writes Ethernet frames to a pcap file (microsecond timestamps `start_us + i * step_us`).
pub fn write_pcap(path: &Path, frames: &[Vec<u8>], start_us: u64, step_us: u64) {
    let timed: Vec<(u64, Vec<u8>)> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (start_us + i as u64 * step_us, f.clone()))
        .collect();
    write_pcap_at(path, &timed);
}

/// A microsecond pcap of Ethernet `frames`, each at its own time (µs since the epoch).
pub fn write_pcap_at(path: &Path, frames: &[(u64, Vec<u8>)]) {
    let mut out = Vec::new();
    for v in [0xa1b2c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (ts, f) in frames {
        out.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// A UDP port nothing listens on (bound and released), in the namespace or on the host.
pub fn free_udp_port(net: Option<&TestNet>) -> u16 {
    let _in = net.map(|n| n.enter().unwrap());
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// `program` run in the namespace (through nsenter, so signals reach it) or on the host.
pub fn in_ns(net: Option<&TestNet>, program: &str) -> Command {
    match net {
        Some(n) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{}", n.ns())).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Waits until something listens on UDP `port`.
pub fn wait_udp_listener(net: Option<&TestNet>, port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let out = in_ns(net, "ss")
            .args(["-Huln", &format!("sport = :{port}")])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if !out.trim().is_empty() {
            return;
        }
        assert!(Instant::now() < until, "nothing listens on udp port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A collector process, stopped (SIGTERM, then waited for) on drop.
pub struct Collector {
    pub child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Collector {
    /// nfcapd on 127.0.0.1:`port` writing into `dir`.
    pub fn nfcapd(net: Option<&TestNet>, dir: &Path, port: u16) -> Collector {
        std::fs::create_dir_all(dir).unwrap();
        let child = in_ns(net, "nfcapd")
            .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-w"])
            .arg(dir)
            .args(["-t", "3600"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nfcapd");
        wait_udp_listener(net, port);
        Collector {
            child,
            dir: dir.to_path_buf(),
            port,
        }
    }

    /// pmacct's nfacctd on 127.0.0.1:`port`, its print plugin writing CSV lines per flow
    /// (protocol, addresses, ports, VLAN) into `dir/nfacctd.csv`.
    pub fn nfacctd(net: Option<&TestNet>, dir: &Path, port: u16) -> Collector {
        std::fs::create_dir_all(dir).unwrap();
        let conf = dir.join("nfacctd.conf");
        std::fs::write(
            &conf,
            format!(
                "daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: {port}\n\
                 plugins: print\naggregate: proto, src_host, dst_host, src_port, dst_port, vlan\n\
                 print_output: csv\nprint_output_file: {}\nprint_output_file_append: true\n\
                 print_refresh_time: 1\n",
                dir.join("nfacctd.csv").display()
            ),
        )
        .unwrap();
        let child = in_ns(net, "nfacctd")
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("nfacctd.log")).unwrap())
            .spawn()
            .expect("nfacctd");
        wait_udp_listener(net, port);
        Collector {
            child,
            dir: dir.to_path_buf(),
            port,
        }
    }

    /// Stops the collector and waits for it (nfcapd writes its file on the way out).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// One flow as nfdump prints it, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfFlow {
    pub id: FlowId,
    pub totals: Totals,
    pub first_ms: u64,
    pub last_ms: u64,
}

fn nf_flags(s: &str) -> u8 {
    // nfdump: "CEUAPRSF" with '.' for clear bits (older: 6 characters "UAPRSF").
    let s = s.trim();
    let names = ['F', 'S', 'R', 'P', 'A', 'U', 'E', 'C'];
    let mut v = 0u8;
    for c in s.chars() {
        if let Some(bit) = names.iter().position(|&n| n == c) {
            v |= 1 << bit;
        }
    }
    v
}

/// Every flow record in the nfcapd files under `dir`, as nfdump reads them.
pub fn nfdump_flows(dir: &Path) -> Vec<NfFlow> {
    let out = Command::new("nfdump")
        .arg("-R")
        .arg(dir)
        .args([
            "-q",
            "-N",
            "-o",
            "fmt:%pr|%sa|%sp|%da|%dp|%pkt|%byt|%flg|%svln|%tsr|%ter",
        ])
        .output()
        .expect("nfdump");
    assert!(
        out.status.success(),
        "nfdump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.contains('|'))
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            let proto = match f[0] {
                "TCP" => 6,
                "UDP" => 17,
                "ICMP" => 1,
                "ICMP6" => 58,
                p => p.parse().unwrap_or(255),
            };
            let ms = |s: &str| (s.parse::<f64>().unwrap() * 1000.0).round() as u64;
            NfFlow {
                id: FlowId {
                    proto,
                    src: f[1].parse().unwrap(),
                    sport: f[2].parse().unwrap(),
                    dst: f[3].parse().unwrap(),
                    // nfdump prints ICMP as "type.code".
                    dport: match f[4].split_once('.') {
                        Some((t, c)) => t.parse::<u16>().unwrap() << 8 | c.parse::<u16>().unwrap(),
                        None => f[4].parse().unwrap(),
                    },
                    vlan: f[8].parse().unwrap_or(0),
                },
                totals: Totals {
                    packets: f[5].parse().unwrap(),
                    bytes: f[6].parse().unwrap(),
                    l2_bytes: 0,
                    flags: nf_flags(f[7]),
                },
                first_ms: ms(f[9]),
                last_ms: ms(f[10]),
            }
        })
        .collect()
}

/// nfdump's records summed per flow (several records of one flow, e.g. after an active timeout).
pub fn sum_by_flow(flows: &[NfFlow]) -> BTreeMap<FlowId, Totals> {
    let mut m: BTreeMap<FlowId, Totals> = BTreeMap::new();
    for f in flows {
        let t = m.entry(f.id.clone()).or_default();
        t.packets += f.totals.packets;
        t.bytes += f.totals.bytes;
        t.flags |= f.totals.flags;
    }
    m
}

/// The expected flows without their frame bytes (collectors see IP bytes).
pub fn without_l2(m: &BTreeMap<FlowId, Totals>) -> BTreeMap<FlowId, Totals> {
    m.iter()
        .map(|(k, v)| (k.clone(), Totals { l2_bytes: 0, ..*v }))
        .collect()
}

/// Runs `ringcap ARGS` in the namespace (nsenter, so signals reach ringcap itself) or on the
/// host.
pub fn ringcap_in(net: Option<&TestNet>, args: &[&str]) -> Command {
    let mut c = in_ns(net, BIN);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Sends every frame from the peer end.
pub fn send_all(net: &TestNet, frames: &[Vec<u8>]) {
    let tx = net.sender().unwrap();
    for f in frames {
        tx.send(f).unwrap();
    }
}

/// Waits until ringcap's capture says it is running (its first line on standard error).
pub fn wait_started(child: &mut Child) -> String {
    use std::io::{BufRead, BufReader};
    let err = child.stderr.take().unwrap();
    let mut r = BufReader::new(err);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    // Keep reading the rest in the background so the pipe never fills.
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut r, &mut s);
        s
    });
    STDERR_REST.with(|c| *c.borrow_mut() = Some(rest));
    line
}

thread_local! {
    static STDERR_REST: std::cell::RefCell<Option<std::thread::JoinHandle<String>>> =
        const { std::cell::RefCell::new(None) };
}

/// The rest of standard error after [`wait_started`], once the process ended.
pub fn stderr_rest() -> String {
    STDERR_REST
        .with(|c| c.borrow_mut().take())
        .map(|h| h.join().unwrap())
        .unwrap_or_default()
}

/// Hands a background reader of standard error to [`stderr_rest`].
pub fn set_rest(h: std::thread::JoinHandle<String>) {
    STDERR_REST.with(|c| *c.borrow_mut() = Some(h));
}
