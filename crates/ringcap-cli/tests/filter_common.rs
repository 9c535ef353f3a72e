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
    pkts
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
