//! Shared by the filter tests: a tiny pcap writer/reader and a builder of varied test traffic.
#![allow(dead_code)]

use ringcap_filter::{CompileError, LinkType, Options, Program, Protocols, Services, Target};
use std::path::Path;
use std::sync::OnceLock;

/// The service names tcpdump sees: the host's /etc/services (an empty table when there is none,
/// so both refuse names alike).
pub fn host_services() -> &'static Services {
    static S: OnceLock<Services> = OnceLock::new();
    S.get_or_init(|| Services::parse(&std::fs::read_to_string("/etc/services").unwrap_or_default()))
}

/// The IP protocol names tcpdump sees: the host's /etc/protocols (an empty table when there is
/// none, so both refuse names alike).
pub fn host_protocols() -> &'static Protocols {
    static P: OnceLock<Protocols> = OnceLock::new();
    P.get_or_init(|| {
        Protocols::parse(&std::fs::read_to_string("/etc/protocols").unwrap_or_default())
    })
}

/// ringcap's compiler with the host's service and protocol names, as tcpdump compiles.
pub fn compile(
    expr: &str,
    link: LinkType,
    snaplen: u32,
    target: Target,
    optimize: bool,
) -> Result<Program, CompileError> {
    let opts = Options {
        snaplen,
        target,
        optimize,
        protocols: host_protocols(),
        ..Options::new(link, host_services())
    };
    ringcap_filter::compile(expr, &opts)
}

#[derive(Clone, Debug)]
pub struct Pkt {
    pub data: Vec<u8>,
    pub wirelen: u32,
}

pub fn write_pcap(path: &Path, linktype: u32, pkts: &[Pkt]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&262144u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (i, p) in pkts.iter().enumerate() {
        // the timestamp second identifies the packet
        out.extend_from_slice(&(1000 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&p.wirelen.to_le_bytes());
        out.extend_from_slice(&p.data);
    }
    std::fs::write(path, out).expect("write pcap");
}

/// Packet indices (from the timestamps) in a pcap file tcpdump wrote.
pub fn read_pcap_indices(path: &Path) -> Vec<usize> {
    let b = std::fs::read(path).expect("read pcap");
    let mut v = Vec::new();
    let mut o = 24;
    while o + 16 <= b.len() {
        let ts = u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let cap = u32::from_le_bytes(b[o + 8..o + 12].try_into().unwrap()) as usize;
        v.push(ts as usize - 1000);
        o += 16 + cap;
    }
    v
}

pub const MAC_A: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
pub const MAC_B: [u8; 6] = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];
pub const MAC_BC: [u8; 6] = [0xff; 6];
pub const MAC_MC4: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];
pub const MAC_MC6: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];

pub fn eth(dst: [u8; 6], src: [u8; 6], et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&et.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Inserts an 802.1Q/802.1ad tag after the MAC addresses.
pub fn tag(frame: &[u8], tpid: u16, vid: u16, pcp: u8) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    v.extend_from_slice(&tpid.to_be_bytes());
    v.extend_from_slice(&(((pcp as u16) << 13) | vid).to_be_bytes());
    v.extend_from_slice(&frame[12..]);
    v
}

pub fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    payload: &[u8],
    opts: &[u8],
    frag: u16,
    ttl: u8,
) -> Vec<u8> {
    let ihl = (20 + opts.len()) / 4;
    let total = 20 + opts.len() + payload.len();
    let mut v = vec![0x40 | ihl as u8, 0];
    v.extend_from_slice(&(total as u16).to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34]);
    v.extend_from_slice(&frag.to_be_bytes());
    v.push(ttl);
    v.push(proto);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    v
}

pub fn ipv6(src: [u8; 16], dst: [u8; 16], nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.push(nh);
    v.push(64);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

/// An IPv6 extension header with the (len + 1) * 8 layout (hop-by-hop, routing, destination
/// options; fragment when `len` is 0), followed by `rest`.
pub fn ext6(nh: u8, len: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![nh, len];
    v.resize((len as usize + 1) * 8, 0);
    if len == 0 {
        // options or fragment fields: a PadN option / fragment id, never a header type
        v[2..8].copy_from_slice(&[1, 4, 0, 0, 0, 0]);
    }
    v.extend_from_slice(rest);
    v
}

/// An AH header (RFC 4302, 96-bit ICV: payload length 4), followed by `rest`.
pub fn ah(nh: u8, spi: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![nh, 4, 0, 0];
    v.extend_from_slice(&spi.to_be_bytes());
    v.extend_from_slice(&7u32.to_be_bytes());
    v.extend_from_slice(&[0xa5; 12]);
    v.extend_from_slice(rest);
    v
}

/// `n` IPv6 extension headers (cycling through destination options, hop-by-hop and routing;
/// the first is of type `first`), then `nh`, then `rest`; returns (first header type, bytes).
pub fn ext_chain(n: usize, nh: u8, rest: &[u8]) -> (u8, Vec<u8>) {
    let types = [60u8, 0, 43];
    let mut v = rest.to_vec();
    let mut next = nh;
    for i in (0..n).rev() {
        v = ext6(next, (i % 2) as u8, &v);
        next = types[i % 3];
    }
    (next, v)
}

pub fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

pub fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(b"payload!");
    v
}

pub fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&16u16.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(b"udpdata!");
    v
}

pub fn sctp(sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 4]);
    v
}

pub fn icmp(ty: u8, code: u8) -> Vec<u8> {
    vec![ty, code, 0, 0, 0, 1, 0, 1, 0xde, 0xad, 0xbe, 0xef]
}

pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0, 1, 0x08, 0, 6, 4];
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sha);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&tha);
    v.extend_from_slice(&tpa);
    v
}

pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let bos = (i + 1 == labels.len()) as u32;
        v.extend_from_slice(&((l << 12) | (bos << 8) | 64).to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

const H1: [u8; 4] = [10, 0, 0, 1];
const H2: [u8; 4] = [10, 0, 0, 2];
const H3: [u8; 4] = [192, 168, 1, 10];
const H4: [u8; 4] = [1, 2, 3, 4];

/// Ethernet traffic covering what the filter language can tell apart.
pub fn ethernet_traffic() -> Vec<Pkt> {
    let mut f: Vec<Vec<u8>> = Vec::new();
    let ip4 = |s, d, p, pl: &[u8]| ipv4(s, d, p, pl, &[], 0x4000, 64);
    let e4 = |pl: Vec<u8>| eth(MAC_B, MAC_A, 0x0800, &pl);
    let e6 = |pl: Vec<u8>| eth(MAC_A, MAC_B, 0x86dd, &pl);
    // TCP with every flag, both directions and ports
    for (i, fl) in [
        0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x12, 0x11, 0x18, 0x00, 0xff,
    ]
    .iter()
    .enumerate()
    {
        f.push(e4(ip4(
            H1,
            H2,
            6,
            &tcp(40000 + i as u16, [80, 443, 22, 8080, 53][i % 5], *fl),
        )));
    }
    f.push(e4(ip4(H2, H1, 6, &tcp(80, 51000, 0x12))));
    f.push(e4(ip4(H3, H4, 6, &tcp(21, 20, 0x10))));
    f.push(e4(ip4(H3, H4, 6, &tcp(1023, 1025, 0x02))));
    // UDP: DNS, NTP, high ports, broadcast DHCP
    f.push(e4(ip4(H1, H3, 17, &udp(5353, 53))));
    f.push(e4(ip4(H3, H1, 17, &udp(53, 5353))));
    f.push(e4(ip4(H4, H2, 17, &udp(123, 123))));
    f.push(e4(ip4(H1, H2, 17, &udp(30000, 33434))));
    f.push(eth(
        MAC_BC,
        MAC_A,
        0x0800,
        &ipv4([0, 0, 0, 0], [255; 4], 17, &udp(68, 67), &[], 0, 64),
    ));
    // multicast IPv4 and IGMP
    f.push(eth(
        MAC_MC4,
        MAC_A,
        0x0800,
        &ipv4(
            H1,
            [224, 0, 0, 1],
            2,
            &[0x11, 0x64, 0, 0, 0, 0, 0, 0],
            &[0x94, 4, 0, 0],
            0,
            1,
        ),
    ));
    f.push(eth(
        MAC_MC4,
        MAC_A,
        0x0800,
        &ipv4(H1, [239, 1, 2, 3], 17, &udp(5000, 5001), &[], 0, 1),
    ));
    // ICMP
    for (t, c) in [(8u8, 0u8), (0, 0), (3, 3), (11, 0), (5, 1), (13, 0)] {
        f.push(e4(ip4(H1, H4, 1, &icmp(t, c))));
    }
    // IPv4 with options
    f.push(e4(ipv4(
        H1,
        H2,
        6,
        &tcp(1234, 80, 0x02),
        &[0x01, 0x01, 0x01, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0],
        0,
        64,
    )));
    f.push(e4(ipv4(
        H2,
        H1,
        17,
        &udp(53, 1234),
        &[0x94, 0x04, 0, 0],
        0,
        64,
    )));
    // fragments: first (MF), middle, last
    let big = tcp(5555, 80, 0x18);
    f.push(e4(ipv4(H1, H2, 6, &big, &[], 0x2000, 64)));
    f.push(e4(ipv4(
        H1,
        H2,
        6,
        &[0, 80, 0, 80, 1, 2, 3, 4],
        &[],
        0x2001,
        64,
    )));
    f.push(e4(ipv4(
        H1,
        H2,
        17,
        &[0, 53, 0, 53, 0, 0, 0, 0],
        &[],
        0x0003,
        64,
    )));
    // SCTP
    f.push(e4(ip4(H1, H2, 132, &sctp(2905, 80))));
    f.push(e6(ipv6(
        v6("2001:db8::1"),
        v6("2001:db8::2"),
        132,
        &sctp(9, 2905),
    )));
    // IPv6: TCP, UDP, ICMPv6, extension headers, fragments, multicast
    let (a6, b6, l6) = (v6("2001:db8::1"), v6("2001:db8::2"), v6("fe80::1"));
    f.push(e6(ipv6(a6, b6, 6, &tcp(40000, 80, 0x02))));
    f.push(e6(ipv6(b6, a6, 6, &tcp(443, 40001, 0x12))));
    f.push(e6(ipv6(a6, b6, 17, &udp(546, 547))));
    f.push(e6(ipv6(a6, b6, 17, &udp(1000, 53))));
    f.push(e6(ipv6(l6, v6("ff02::1"), 58, &icmp(134, 0))));
    f.push(eth(
        MAC_MC6,
        MAC_A,
        0x86dd,
        &ipv6(l6, v6("ff02::1:ff00:1"), 58, &icmp(135, 0)),
    ));
    f.push(e6(ipv6(a6, b6, 58, &icmp(128, 0))));
    f.push(e6(ipv6(b6, a6, 58, &icmp(129, 0))));
    let mut hbh = vec![6u8, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend(tcp(1111, 80, 0x02));
    f.push(e6(ipv6(a6, b6, 0, &hbh)));
    let mut fr1 = vec![6u8, 0, 0, 1, 0, 0, 0, 7];
    fr1.extend(tcp(2222, 80, 0x02));
    f.push(e6(ipv6(a6, b6, 44, &fr1)));
    let mut fr2 = vec![17u8, 0, 0, 0x10, 0, 0, 0, 7];
    fr2.extend([1, 2, 3, 4, 5, 6, 7, 8]);
    f.push(e6(ipv6(a6, b6, 44, &fr2)));
    let mut rt = vec![58u8, 0, 0, 0, 0, 0, 0, 0];
    rt.extend(icmp(128, 0));
    f.push(e6(ipv6(a6, b6, 43, &rt)));
    f.push(e6(ipv6(v6("::1"), v6("::1"), 17, &udp(7, 7))));
    // IPv6 extension header chains for protochain (libpcap follows 0, 60, 43, 44 and 51)
    f.extend(ipv6_chains().into_iter().map(e6));
    // ARP / RARP
    f.push(eth(MAC_BC, MAC_A, 0x0806, &arp(1, MAC_A, H1, [0; 6], H2)));
    f.push(eth(MAC_A, MAC_B, 0x0806, &arp(2, MAC_B, H2, MAC_A, H1)));
    f.push(eth(
        MAC_BC,
        MAC_A,
        0x8035,
        &arp(3, MAC_A, [0; 4], MAC_A, [0; 4]),
    ));
    // VLAN: 802.1Q, QinQ (0x88a8 then 0x8100), 0x9100, tagged ARP and IPv6
    let base = e4(ip4(H1, H2, 6, &tcp(40000, 80, 0x02)));
    f.push(tag(&base, 0x8100, 10, 0));
    f.push(tag(&base, 0x8100, 20, 5));
    f.push(tag(&tag(&base, 0x8100, 20, 0), 0x88a8, 100, 0));
    f.push(tag(&tag(&base, 0x8100, 10, 0), 0x9100, 200, 0));
    f.push(tag(
        &eth(MAC_BC, MAC_A, 0x0806, &arp(1, MAC_A, H1, [0; 6], H2)),
        0x8100,
        10,
        0,
    ));
    f.push(tag(&e6(ipv6(a6, b6, 17, &udp(1000, 53))), 0x8100, 30, 0));
    f.push(tag(&e4(ip4(H3, H4, 17, &udp(53, 1000))), 0x88a8, 4095, 0));
    // MPLS: one label, two labels, IPv6 inside
    f.push(eth(
        MAC_B,
        MAC_A,
        0x8847,
        &mpls(&[100], &ip4(H1, H2, 6, &tcp(1, 80, 2))),
    ));
    f.push(eth(
        MAC_B,
        MAC_A,
        0x8847,
        &mpls(&[100, 200], &ip4(H1, H2, 17, &udp(1, 53))),
    ));
    f.push(eth(
        MAC_B,
        MAC_A,
        0x8847,
        &mpls(&[7], &ipv6(a6, b6, 17, &udp(1, 53))),
    ));
    // LLC / short ethertype, odd ethertypes, tiny frames
    f.push(eth(
        MAC_B,
        MAC_A,
        0x0026,
        &[
            0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    ));
    f.push(eth(MAC_B, MAC_A, 0x0064, &[0x64, 0x64, 0x03, 0, 0]));
    f.push(eth(MAC_B, MAC_A, 0x88cc, &[0; 30]));
    f.push(eth(MAC_BC, MAC_B, 0x9000, &[0; 40]));
    // IPv4 with AH (libpcap's protochain follows AH after the IPv4 header)
    f.push(e4(ip4(H1, H2, 51, &ah(6, 0x100, &tcp(1, 80, 2)))));
    f.push(e4(ipv4(
        H2,
        H1,
        51,
        &ah(17, 0x200, &udp(53, 53)),
        &[0x94, 4, 0, 0],
        0,
        64,
    )));
    f.push(e4(ip4(
        H1,
        H4,
        51,
        &ah(51, 0x100, &ah(6, 0x300, &tcp(2, 443, 2))),
    )));
    f.push(e4(ip4(H3, H4, 51, &ah(1, 0x06000000, &icmp(8, 0)))));
    f.push(e4(ip4(H3, H4, 50, &[0, 0, 1, 0, 0, 0, 0, 1, 6, 6, 6, 6])));
    // a chain behind a VLAN tag and inside MPLS
    let (t, c) = ext_chain(3, 6, &tcp(3000, 80, 2));
    f.push(tag(&e6(ipv6(a6, b6, t, &c)), 0x8100, 10, 0));
    f.push(tag(
        &e4(ip4(H1, H2, 51, &ah(17, 9, &udp(9, 53)))),
        0x8100,
        20,
        0,
    ));
    let (t, c) = ext_chain(2, 17, &udp(1, 53));
    f.push(eth(MAC_B, MAC_A, 0x8847, &mpls(&[7], &ipv6(a6, b6, t, &c))));
    let mut pkts: Vec<Pkt> = f
        .into_iter()
        .map(|d| Pkt {
            wirelen: d.len() as u32,
            data: d,
        })
        .collect();
    // truncated captures: cut inside the IP header, inside TCP, inside the link header
    let full = e4(ip4(H1, H2, 6, &tcp(40000, 80, 0x02)));
    for cut in [10usize, 20, 30, 36, 50] {
        pkts.push(Pkt {
            data: full[..cut].to_vec(),
            wirelen: full.len() as u32,
        });
    }
    let full6 = e6(ipv6(a6, b6, 6, &tcp(40000, 80, 0x02)));
    for cut in [40usize, 56] {
        pkts.push(Pkt {
            data: full6[..cut].to_vec(),
            wirelen: full6.len() as u32,
        });
    }
    // truncated in the middle of an extension header chain (link 14 + IPv6 40, then headers
    // of 8, 16, 8, ... bytes): before a header's first byte, between its two first bytes,
    // inside it, and in the IPv4 AH
    let (t, c) = ext_chain(5, 6, &tcp(4000, 80, 2));
    let chain6 = e6(ipv6(a6, b6, t, &c));
    for cut in [55usize, 62, 63, 64, 70, 78, 79, 86] {
        pkts.push(Pkt {
            data: chain6[..cut].to_vec(),
            wirelen: chain6.len() as u32,
        });
    }
    let ah4 = e4(ip4(H1, H2, 51, &ah(6, 0x100, &tcp(1, 80, 2))));
    for cut in [34usize, 35, 40] {
        pkts.push(Pkt {
            data: ah4[..cut].to_vec(),
            wirelen: ah4.len() as u32,
        });
    }
    pkts.extend(cut_frames(&full, &full6));
    pkts
}

/// Frames that end inside a header, each twice: as a truncated capture (the wire length is the
/// whole frame's) and as a short frame (the wire length is the bytes there are, as an XDP
/// program sees every frame). libpcap's optimizer may fold away a load past their end (`net
/// 0.0.0.0/0` keeps none), so optimized and unoptimized programs can disagree on them, and
/// tcpdump's two verdicts are what both of ringcap's must reach.
fn cut_frames(tcp4: &[u8], tcp6: &[u8]) -> Vec<Pkt> {
    let (a6, b6) = (v6("2001:db8::1"), v6("2001:db8::2"));
    let udp4 = eth(
        MAC_B,
        MAC_A,
        0x0800,
        &ipv4(H1, H3, 17, &udp(5353, 53), &[], 0x4000, 64),
    );
    let icmp6 = eth(MAC_A, MAC_B, 0x86dd, &ipv6(a6, b6, 58, &icmp(128, 0)));
    let vlan = tag(tcp4, 0x8100, 10, 0);
    let qinq = tag(&vlan, 0x88a8, 100, 0);
    let mpls2 = eth(
        MAC_B,
        MAC_A,
        0x8847,
        &mpls(&[100, 200], &ipv4(H1, H2, 17, &udp(1, 53), &[], 0x4000, 64)),
    );
    let cuts: [(&[u8], &[usize]); 7] = [
        // inside the IPv4 header, and inside TCP
        (tcp4, &[13, 15, 20, 30, 33, 36, 47, 50]),
        // inside the IPv6 header, and inside TCP
        (tcp6, &[20, 40, 56, 70]),
        // inside UDP: the ports, the length
        (&udp4, &[35, 37, 40]),
        // inside ICMPv6: the type, the code, the checksum
        (&icmp6, &[54, 55, 57]),
        // inside the 802.1Q tag, the inner ethertype, the IPv4 and TCP headers behind it
        (&vlan, &[14, 16, 17, 30, 40, 55]),
        (&qinq, &[16, 19, 21, 26]),
        // inside the first MPLS label, the second, the IPv4 header and UDP behind them
        (&mpls2, &[15, 17, 21, 30, 44]),
    ];
    let mut out = Vec::new();
    for (frame, at) in cuts {
        for &cut in at {
            let data = frame[..cut].to_vec();
            out.push(Pkt {
                data: data.clone(),
                wirelen: frame.len() as u32,
            });
            out.push(Pkt {
                wirelen: cut as u32,
                data,
            });
        }
    }
    out
}

/// IPv6 packets (without link header) with extension header chains, up to 8 headers: the
/// longest chain ringcap's protochain follows (ringcap_filter's CHAIN_STEPS).
pub fn ipv6_chains() -> Vec<Vec<u8>> {
    let (a6, b6) = (v6("2001:db8::1"), v6("2001:db8::2"));
    let mut f = Vec::new();
    let t = tcp(5000, 80, 0x02);
    // hop-by-hop, destination options, routing, fragment (first), AH, TCP
    let p = ext6(
        60,
        0,
        &ext6(43, 1, &ext6(44, 0, &ext6(51, 0, &ah(6, 0x100, &t)))),
    );
    f.push(ipv6(a6, b6, 0, &p));
    // two destination options headers, UDP
    f.push(ipv6(a6, b6, 60, &ext6(60, 0, &ext6(17, 2, &udp(1, 53)))));
    // hop-by-hop, routing, a later fragment (offset 8), UDP
    let mut fr = vec![17u8, 0, 0, 0x40, 0, 0, 0, 9];
    fr.extend([9; 16]);
    f.push(ipv6(a6, b6, 0, &ext6(43, 0, &fr)));
    // a fragment header whose reserved byte is set (libpcap steps (1 + 1) * 8 bytes)
    let mut fr = vec![6u8, 1, 0, 0, 0, 0, 0, 9];
    fr.extend([0x3c; 8]);
    fr.extend(&t);
    f.push(ipv6(a6, b6, 44, &fr));
    // AH then ICMPv6; AH then destination options then TCP (libpcap restarts from (4 + 2) * 4)
    f.push(ipv6(a6, b6, 51, &ah(58, 0x100, &icmp(128, 0))));
    f.push(ipv6(a6, b6, 51, &ah(60, 0x100, &ext6(6, 0, &t))));
    // ESP, no next header
    f.push(ipv6(a6, b6, 50, &[0, 0, 1, 0, 0, 0, 0, 1, 6, 6, 6, 6]));
    f.push(ipv6(a6, b6, 59, &[0; 8]));
    // chains of 1 to 8 headers (8: the longest ringcap follows), ending in TCP, UDP, ICMPv6
    for n in 1..=8 {
        let nh = [6u8, 17, 58][n % 3];
        let pl = match nh {
            6 => tcp(6000 + n as u16, 80, 2),
            17 => udp(6000 + n as u16, 53),
            _ => icmp(128, 0),
        };
        let (t, c) = ext_chain(n, nh, &pl);
        f.push(ipv6(a6, b6, t, &c));
    }
    f
}

/// The same traffic as Linux cooked (SLL, or SLL2 when `v2`) captures; even packets inbound,
/// odd ones outbound.
pub fn cooked(eth_pkts: &[Pkt], v2: bool) -> Vec<Pkt> {
    let mut out = Vec::new();
    for (i, p) in eth_pkts.iter().enumerate() {
        if p.data.len() < 14 {
            continue;
        }
        let pkttype: u8 = if i % 2 == 0 { 0 } else { 4 };
        let mut h = Vec::new();
        if v2 {
            h.extend_from_slice(&p.data[12..14]);
            h.extend_from_slice(&[0, 0]);
            h.extend_from_slice(&3u32.to_be_bytes());
            h.extend_from_slice(&1u16.to_be_bytes());
            h.push(pkttype);
            h.push(6);
            h.extend_from_slice(&p.data[6..12]);
            h.extend_from_slice(&[0, 0]);
        } else {
            h.extend_from_slice(&(pkttype as u16).to_be_bytes());
            h.extend_from_slice(&1u16.to_be_bytes());
            h.extend_from_slice(&6u16.to_be_bytes());
            h.extend_from_slice(&p.data[6..12]);
            h.extend_from_slice(&[0, 0]);
            h.extend_from_slice(&p.data[12..14]);
        }
        let extra = h.len() as u32 - 14;
        h.extend_from_slice(&p.data[14..]);
        out.push(Pkt {
            data: h,
            wirelen: p.wirelen + extra,
        });
    }
    out
}

/// The IP packets of the traffic without a link header (LINKTYPE_RAW), or with the BSD
/// loopback header (LINKTYPE_NULL) when `null`.
pub fn raw_ip(eth_pkts: &[Pkt], null: bool) -> Vec<Pkt> {
    let mut out = Vec::new();
    for p in eth_pkts {
        if p.data.len() < 15 {
            continue;
        }
        let et = u16::from_be_bytes([p.data[12], p.data[13]]);
        let af: u32 = match et {
            0x0800 => 2,
            0x86dd => 30,
            _ => continue,
        };
        let mut d = Vec::new();
        if null {
            d.extend_from_slice(&af.to_le_bytes());
        }
        d.extend_from_slice(&p.data[14..]);
        let wl = p.wirelen - 14 + if null { 4 } else { 0 };
        out.push(Pkt {
            data: d,
            wirelen: wl,
        });
    }
    out
}

/// The differential corpus: expressions compared with tcpdump (filter_diff) and run in the
/// kernel as XDP programs (xdp_filter_equiv), including ones both must refuse.
pub const EXPRS: &[&str] = &[
    // protocols
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "igmp",
    "not ip",
    "! tcp",
    "tcp or udp",
    "tcp and udp",
    "ip and not tcp",
    "ip6 and udp",
    // hosts and nets
    "host 10.0.0.1",
    "src host 10.0.0.1",
    "dst host 10.0.0.2",
    "host 10.0.0.1 and host 10.0.0.2",
    "src or dst host 1.2.3.4",
    "src and dst host 10.0.0.1",
    "dst or src host 10.0.0.2",
    "host 10.0.0.1 or 10.0.0.2",
    "host 10.0.0.1 or 192.168.1.10 or 1.2.3.4",
    "not host 10.0.0.1 or 1.2.3.4",
    "host 10.0.0.1 and (10.0.0.2 or 1.2.3.4)",
    "ip host 10.0.0.1",
    "arp host 10.0.0.1",
    "rarp host 10.0.0.1",
    "ip src 10.0.0.1",
    "src 10.0.0.2",
    "dst 1.2.3.4",
    "10.0.0.1",
    "host 10.0.0.3",
    "net 10.0.0.0/8",
    "net 10.0.0.0/24",
    "src net 192.168.0.0/16",
    "dst net 1.2.3.0/24",
    "net 10",
    "net 192.168",
    "net 192.168.1",
    "net 10.0.0.0 mask 255.0.0.0",
    "net 10.0.0.1/8",
    "net 0.0.0.0/0",
    // loads libpcap's optimizer folds away (x & 0, x * 0): optimized and -O verdicts differ on
    // frames that end before the load, each as tcpdump's with the same optimization
    "ip6 net ::/0",
    "tcp[13] & 0 = 0",
    "udp[2:2] * 0 = 0 and ip",
    "tcp[udp[icmp6type] % 0x5:2] != 30 || (link host 01:00:5e:00:00:01) and ip6 multicast or ! icmp6[052]/32 < 26",
    "host 10.0.0.1/32",
    "host 2001:db8::1",
    "ip6 host 2001:db8::2",
    "src host 2001:db8::1",
    "dst host ff02::1",
    "net 2001:db8::/32",
    "net fe80::/10",
    "ip6 net ff00::/8",
    "host ::1",
    "net ::/0",
    "src net 2001:db8::/64 and dst net 2001:db8::/64",
    "ip host 2001:db8::1",
    // ethernet
    "ether host 00:11:22:33:44:55",
    "ether src 00:11:22:33:44:55",
    "ether dst 66:77:88:99:aa:bb",
    "ether src 00-11-22-33-44-55",
    "ether dst 6677.8899.aabb",
    "ether host ff:ff:ff:ff:ff:ff",
    "ether broadcast",
    "ether multicast",
    "broadcast",
    "multicast",
    "not broadcast and multicast",
    "ether proto 0x0800",
    "ether proto 0x86dd",
    "ether proto 0x88cc",
    "ether proto \\arp",
    "ether proto \\ip6",
    "ether proto 100",
    "ether proto 0x26",
    "ether proto 2048",
    "host 00:11:22:33:44:55",
    "ether src 10.0.0.1",
    // ip protocols
    "ip proto 6",
    "ip proto \\tcp",
    "ip proto \\udp",
    "ip proto 1",
    "ip6 proto 17",
    "ip6 proto \\tcp",
    "ip6 proto 58",
    "proto 17",
    "proto \\tcp",
    "ip proto \\icmp",
    "ip proto 132",
    "ip6 proto 0",
    "ip6 proto 44",
    "proto 2",
    "ip proto \\sctp",
    // protocol names from the host's /etc/protocols: aliases, case, numbers over 255
    "ip proto \\HOPOPT",
    "proto \\IPv6-ICMP",
    "ip6 proto \\IPv6-Frag",
    "ip proto \\gre or ip proto \\IPSEC-ESP",
    "ip proto \\Tcp",
    "proto \\mptcp",
    // ports
    "port 80",
    "tcp port 80",
    "udp port 53",
    "src port 80",
    "dst port 80",
    "tcp dst port 443",
    "port 80 or 443",
    "port 80 or port 443",
    "tcp port 80 or 443",
    "port 53 and udp",
    "src and dst port 123",
    "src or dst port 53",
    "port http",
    "port domain",
    "tcp port ssh",
    "port 2905",
    "sctp port 2905",
    "sctp port 80",
    "udp port 547",
    "port ftp or ftp-data",
    "portrange 20-22",
    "tcp portrange 1000-2000",
    "udp portrange 30000-40000",
    "portrange ftp-data-ftp",
    "src portrange 40000-40010",
    "dst portrange 440-450",
    "portrange 80",
    "port 65536",
    "port 70000",
    "not port 80",
    "tcp and not port 22",
    "port 80 and (10.0.0.1 or 10.0.0.2)",
    "host 10.0.0.1 and port 80",
    // tcp flags and byte access
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
    "tcp[13] = 2",
    "tcp[tcpflags] & tcp-fin != 0",
    "tcp[tcpflags] & tcp-rst != 0",
    "tcp[tcpflags] & tcp-push != 0",
    "tcp[tcpflags] & tcp-ack != 0",
    "tcp[tcpflags] & tcp-urg != 0",
    "tcp[tcpflags] & tcp-ece != 0",
    "tcp[tcpflags] & tcp-cwr != 0",
    "tcp[tcpflags] == 0",
    "tcp[tcpflags] = 0xff",
    "tcp[0:2] = 80",
    "tcp[2:2] > 1024",
    "tcp[2:2] >= 443",
    "tcp[2:2] < 100",
    "tcp[2:2] <= 80",
    "tcp[12] >> 4 = 5",
    "tcp[4:4] = 1",
    "udp[0:2] = 53",
    "udp[2:2] = 53",
    "udp[4:2] > 10",
    "icmp[icmptype] = icmp-echo",
    "icmp[icmptype] == icmp-echoreply",
    "icmp[icmptype] = icmp-unreach and icmp[icmpcode] = 3",
    "icmp[0] = 11",
    "icmp6[icmp6type] = icmp6-echo",
    "icmp6[icmp6type] == icmp6-neighborsolicit",
    "icmp6[0] = 134",
    "icmp6[icmp6type] = icmp6-echoreply",
    "ip[0] & 0xf != 5",
    "ip[0] & 0xf > 5",
    "ip[8] = 1",
    "ip[9] = 17",
    "ip[6:2] & 0x1fff != 0",
    "ip[6:2] & 0x2000 != 0",
    "ip[2:2] > 100",
    "ip[16] >= 224",
    "ip[12:4] = 0x0a000001",
    "ip6[6] = 44",
    "ip6[6] == 0",
    "ip6[24] = 0xff",
    "ip6[4:2] > 20",
    "ether[0] & 1 != 0",
    "ether[12:2] = 0x8100",
    "ether[0:4] = 0xffffffff",
    "link[12:2] = 0x0806",
    "arp[7] = 2",
    "arp[6:2] = 1",
    "sctp[0:2] = 2905",
    "igmp[0] = 0x11",
    // arithmetic
    "ip[2:2] - 20 > 30",
    "ip[2:2] * 2 > 100",
    "ip[2:2] / 4 = 10",
    "ip[2:2] % 7 = 0",
    "ip[2:2] + 1 = 41",
    "ip[0] << 1 = 0x8a",
    "ip[0] ^ 0x45 = 0",
    "ip[0] | 1 = 0x45",
    "-ip[8] = -64",
    "ip[1+1:2] = 40",
    "ip[ip[0] & 0xf] = 10",
    "tcp[(tcp[12] >> 4) * 4] = 0x70",
    "len > 100",
    "len <= 60",
    "len = 54",
    "len - 14 > 40",
    "less 60",
    "greater 100",
    "less 54",
    "greater 74",
    "1 = 1",
    "1 = 2",
    "2 + 3 = 5",
    "len > 0 and ip",
    "ip[2:2] > ip[8]",
    "tcp[2:2] = tcp[0:2]",
    "ip[ip[8]:1] = 0",
    // ip broadcast/multicast
    "ip broadcast",
    "ip multicast",
    "ip6 multicast",
    "ether multicast and ip",
    // vlan and mpls
    "vlan",
    "vlan 10",
    "vlan 20",
    "vlan 100",
    "vlan 4095",
    "vlan and ip",
    "vlan 10 and tcp",
    "vlan and vlan",
    "vlan 100 and vlan 20",
    "vlan 200 and vlan 10 and tcp port 80",
    "vlan and arp",
    "vlan and ip6",
    "vlan and udp port 53",
    "not vlan",
    "vlan or ip",
    "ip or vlan",
    "vlan and host 10.0.0.1",
    "vlan and not tcp",
    "vlan 30 or vlan 10",
    "mpls",
    "mpls 100",
    "mpls 7",
    "mpls and ip",
    "mpls 100 and mpls 200",
    "mpls and mpls and udp",
    "mpls and ip6",
    "mpls and host 10.0.0.1",
    "mpls 100 and tcp",
    "mpls and not mpls",
    // precedence and the implied qualifier
    "tcp or udp and port 53",
    "not tcp and udp",
    "not (tcp or udp)",
    "ip and (tcp or icmp)",
    "(tcp)",
    "((ip))",
    "not not ip",
    "tcp && port 80 || icmp",
    "!ip6 && !arp",
    "(host 10.0.0.1 or host 10.0.0.2) and not port 22",
    "port 80 and not host 10.0.0.2",
    "src host 10.0.0.1 and (dst port 80 or dst port 443)",
    "udp and (port 53 or 123)",
    // protochain: the walk along IPv6 extension headers / IPv4 AH
    "ip6 protochain 6",
    "ip6 protochain 17",
    "ip6 protochain 58",
    "ip6 protochain 44",
    "ip6 protochain 51",
    "ip6 protochain 0",
    "ip6 protochain 43",
    "ip6 protochain 60",
    "ip6 protochain 50",
    "ip6 protochain 59",
    "ip6 protochain 300",
    "ip protochain 6",
    "ip protochain 17",
    "ip protochain 1",
    "ip protochain 51",
    "ip protochain 0",
    "protochain 6",
    "protochain 17",
    "protochain 51",
    "protochain 44",
    "protochain \\tcp",
    "ip6 protochain \\udp",
    "ip protochain \\icmp",
    "ip6 protochain \\icmp6",
    "ip6 protochain \\ipv6-icmp",
    "ip proto tcp",
    "ip6 protochain 60 and ip6 protochain 6 and ip protochain 51",
    "protochain 44 or 17 or 58",
    "tcp and udp and protochain 6",
    "ip6 protochain \\ah",
    "protochain 44 or 17",
    "ip6 protochain 6 or 58",
    "not ip6 protochain 6",
    "not protochain 17",
    "ip6 protochain 6 and tcp port 80",
    "ip6 protochain 44 and not tcp",
    "protochain 6 or udp port 53",
    "tcp or ip6 protochain 58",
    "ip protochain 51 and host 10.0.0.1",
    "ip6 protochain 60 and ip6 protochain 6",
    "vlan and ip6 protochain 6",
    "vlan 20 and protochain 17",
    "vlan and not protochain 6",
    "mpls and ip6 protochain 17",
    "tcp protochain 6",
    "ether protochain 6",
    "protochain tcp",
    "src protochain 6",
    "protochain \\nosuchproto",
    "ip6 protochain",
    // inbound / outbound
    "inbound",
    "outbound",
    "inbound and tcp",
    "not outbound",
    // errors
    "",
    "tcp and",
    "port",
    "host",
    "ip[",
    "tcp[0:3] = 1",
    "ip and 80",
    "(host 10.0.0.1) and 10.0.0.2",
    "host foo.example.invalid",
    "port nosuchservice",
    "1-1 = 0",
    "ip[0] & 1",
    "ether host 10.0.0.1",
    "ip6 host 10.0.0.1",
    "tcp host 10.0.0.1",
    "net 10.0.0.1/33",
    "vlan 5000",
    "ether proto 0x12345",
    "ip / 2",
    "len > ",
    "))",
    "host 999.1.1.1",
    "tcp port 80 and 1.2.3.4",
    "ip[0] / 0 = 1",
    "portrange 10-",
    "icmp6[0:3] = 1",
    "tcp[13] = 2 or",
    "and tcp",
    "@",
    "tcp[13] = 0x1ffffffff",
];
