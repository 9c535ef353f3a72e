//! Frames for the decoder tests, written byte by byte: every protocol `ringcap read` prints,
//! in the forms tcpdump prints differently (flags, options, codes, truncation, bad
//! checksums). The expected lines are never written here: the tests ask tcpdump.
#![allow(dead_code)]

use ringcap_wire::checksum;

pub mod sets;

pub const LT_NULL: u32 = 0;
pub const LT_ETHERNET: u32 = 1;
pub const LT_RAW: u32 = 101;
pub const LT_LOOP: u32 = 108;
pub const LT_SLL: u32 = 113;
pub const LT_SLL2: u32 = 276;

/// One record: its bytes, its length on the wire, and its time (ns since the epoch).
pub struct Rec {
    pub data: Vec<u8>,
    pub wire: u32,
    pub ts_ns: u64,
}

/// A little-endian pcap file with micro- or nanosecond timestamps (truncated to the unit).
pub fn pcap(nano: bool, linktype: u32, recs: &[Rec]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(if nano { 0xa1b2_3c4du32 } else { 0xa1b2_c3d4 }).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&262_144u32.to_le_bytes());
    b.extend_from_slice(&linktype.to_le_bytes());
    for r in recs {
        let secs = (r.ts_ns / 1_000_000_000) as u32;
        let frac = (r.ts_ns % 1_000_000_000) as u32;
        b.extend_from_slice(&secs.to_le_bytes());
        b.extend_from_slice(&(if nano { frac } else { frac / 1000 }).to_le_bytes());
        b.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
        b.extend_from_slice(&r.wire.to_le_bytes());
        b.extend_from_slice(&r.data);
    }
    b
}

/// Records of whole frames, 1.234567891 s apart from `t0` (so `-ttt` has something to say).
pub fn recs(t0: u64, frames: Vec<Vec<u8>>) -> Vec<Rec> {
    frames
        .into_iter()
        .enumerate()
        .map(|(i, data)| Rec {
            wire: data.len() as u32,
            data,
            ts_ns: t0 + i as u64 * 1_234_567_891,
        })
        .collect()
}

pub const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const BCAST: [u8; 6] = [0xff; 6];
pub const IP_A: [u8; 4] = [10, 0, 0, 1];
pub const IP_B: [u8; 4] = [10, 0, 0, 2];

pub fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

pub fn eth(dst: [u8; 6], src: [u8; 6], t: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&t.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An Ethernet frame padded to the 60-byte minimum, as a NIC sends it.
pub fn eth_pad(dst: [u8; 6], src: [u8; 6], t: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = eth(dst, src, t, payload);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// A VLAN tag (TPID, TCI) followed by the EtherType of what it carries.
pub fn tag(tpid: u16, tci: u16, inner: u16) -> Vec<u8> {
    let mut t = tpid.to_be_bytes().to_vec();
    t.extend_from_slice(&tci.to_be_bytes());
    t.extend_from_slice(&inner.to_be_bytes());
    t
}

/// Ethernet with tags: `tags` are (TPID, TCI) outermost first.
pub fn eth_tagged(tags: &[(u16, u16)], t: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&B);
    f.extend_from_slice(&A);
    let mut types: Vec<u16> = tags.iter().map(|t| t.0).collect();
    types.push(t);
    f.extend_from_slice(&types[0].to_be_bytes());
    for (i, (_, tci)) in tags.iter().enumerate() {
        f.extend_from_slice(&tci.to_be_bytes());
        f.extend_from_slice(&types[i + 1].to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// IPv4 header fields the tests vary.
#[derive(Clone)]
pub struct V4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    pub tos: u8,
    pub ttl: u8,
    pub id: u16,
    /// Flags and fragment offset word (DF 0x4000, MF 0x2000, offset in 8-byte units).
    pub frag: u16,
    pub options: Vec<u8>,
    pub bad_sum: bool,
    /// Total length to write instead of the real one.
    pub total: Option<u16>,
}

impl V4 {
    pub fn new(proto: u8) -> V4 {
        V4 {
            src: IP_A,
            dst: IP_B,
            proto,
            tos: 0,
            ttl: 64,
            id: 1,
            frag: 0x4000,
            options: Vec::new(),
            bad_sum: false,
            total: None,
        }
    }

    pub fn rev(mut self) -> V4 {
        std::mem::swap(&mut self.src, &mut self.dst);
        self
    }

    /// The header and `payload`, with the header checksum (and a transport checksum for
    /// TCP, UDP and ICMP, when `l4_sum` and the packet is not a fragment).
    pub fn build(&self, payload: &[u8], l4_sum: bool) -> Vec<u8> {
        let hl = 20 + self.options.len();
        let total = self.total.unwrap_or((hl + payload.len()) as u16);
        let mut p = vec![
            0x40 | (hl / 4) as u8,
            self.tos,
            (total >> 8) as u8,
            total as u8,
            (self.id >> 8) as u8,
            self.id as u8,
            (self.frag >> 8) as u8,
            self.frag as u8,
            self.ttl,
            self.proto,
            0,
            0,
        ];
        p.extend_from_slice(&self.src);
        p.extend_from_slice(&self.dst);
        p.extend_from_slice(&self.options);
        let mut s = checksum::checksum(&p);
        if self.bad_sum {
            s ^= 0x1111;
        }
        p[10..12].copy_from_slice(&s.to_be_bytes());
        let mut l4 = payload.to_vec();
        if l4_sum && self.frag & 0x3fff == 0 {
            let at = match self.proto {
                6 => Some(16),
                17 => Some(6),
                1 => Some(2),
                _ => None,
            };
            if let Some(at) = at.filter(|&a| l4.len() >= a + 2) {
                l4[at..at + 2].fill(0);
                let pseudo = if self.proto == 1 {
                    0
                } else {
                    checksum::pseudo_v4(
                        self.src.into(),
                        self.dst.into(),
                        self.proto,
                        l4.len() as u16,
                    )
                };
                let c = checksum::finish(pseudo + checksum::sum(&l4));
                l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
            }
        }
        p.extend_from_slice(&l4);
        p
    }
}

/// An IPv6 packet; the upper-layer checksum at `sum_at` (offset in the upper-layer header,
/// which starts after `ext` bytes of extension headers) is filled in for protocol `ulp`.
pub fn ipv6(
    src: [u8; 16],
    dst: [u8; 16],
    nh: u8,
    ext: &[u8],
    ulp: Option<(u8, usize)>,
    upper: &[u8],
) -> Vec<u8> {
    ipv6_with(0x6000_0000, 64, src, dst, nh, ext, ulp, upper)
}

#[allow(clippy::too_many_arguments)]
pub fn ipv6_with(
    vtf: u32,
    hlim: u8,
    src: [u8; 16],
    dst: [u8; 16],
    nh: u8,
    ext: &[u8],
    ulp: Option<(u8, usize)>,
    upper: &[u8],
) -> Vec<u8> {
    let plen = (ext.len() + upper.len()) as u16;
    let mut p = vtf.to_be_bytes().to_vec();
    p.extend_from_slice(&plen.to_be_bytes());
    p.push(nh);
    p.push(hlim);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(ext);
    let mut u = upper.to_vec();
    if let Some((proto, at)) = ulp {
        u[at..at + 2].fill(0);
        let s = checksum::pseudo_v6(src.into(), dst.into(), proto, u.len() as u32);
        let c = checksum::finish(s + checksum::sum(&u));
        u[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(&u);
    p
}

/// A TCP header (checksum left zero) with options and payload.
pub fn tcp(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    opts: &[u8],
    data: &[u8],
) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push((((20 + opts.len()) / 4) << 4) as u8);
    t.push(flags);
    t.extend_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t.extend_from_slice(data);
    t
}

pub fn udp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    u
}

/// ICMP(v6) type, code, zero checksum, four bytes of rest-of-header, then `data`.
pub fn icmp(t: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = vec![t, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    m
}

pub fn arp(hrd: u16, pro: u16, op: u16, sha: &[u8], spa: &[u8], tha: &[u8], tpa: &[u8]) -> Vec<u8> {
    let mut a = hrd.to_be_bytes().to_vec();
    a.extend_from_slice(&pro.to_be_bytes());
    a.push(sha.len() as u8);
    a.push(spa.len() as u8);
    a.extend_from_slice(&op.to_be_bytes());
    for x in [sha, spa, tha, tpa] {
        a.extend_from_slice(x);
    }
    a
}

/// An 802.3 frame: the length field, then `llc` (DSAP, SSAP, control…) and payload.
pub fn dot3(dst: [u8; 6], llc: &[u8]) -> Vec<u8> {
    let mut f = eth(dst, A, llc.len() as u16, llc);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// An STP configuration BPDU (version 0 or RSTP version 2 with type 2).
pub fn bpdu(version: u8, kind: u8, flags: u8) -> Vec<u8> {
    let mut b = vec![0, 0, version, kind, flags];
    b.extend_from_slice(&[0x80, 0x00, 2, 0, 0, 0, 0, 0x01]); // root id
    b.extend_from_slice(&4u32.to_be_bytes()); // root path cost
    b.extend_from_slice(&[0x80, 0x00, 2, 0, 0, 0, 0, 0x02]); // bridge id
    b.extend_from_slice(&0x8001u16.to_be_bytes()); // port id
    for v in [256u16, 20 * 256, 2 * 256, 15 * 256 + 128] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    if version >= 2 {
        b.push(0);
    }
    b
}

/// An LLDP TLV.
pub fn tlv(kind: u8, v: &[u8]) -> Vec<u8> {
    let h = (u16::from(kind) << 9) | v.len() as u16;
    let mut t = h.to_be_bytes().to_vec();
    t.extend_from_slice(v);
    t
}

/// One MPLS label stack entry.
pub fn label(label: u32, tc: u8, bottom: bool, ttl: u8) -> [u8; 4] {
    (label << 12 | u32::from(tc) << 9 | u32::from(bottom) << 8 | u32::from(ttl)).to_be_bytes()
}
