//! One-pass layer summary: what a flow table's key extraction, or a one-line packet summary,
//! needs from a frame. Read without allocation and without building the full views, because it
//! runs once per packet on the capture path.

use crate::consts::{ethertype, ip_proto};

/// Network-layer addresses found in a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Addrs {
    #[default]
    None,
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
    },
}

/// What a flow table or a one-line summary needs from an Ethernet frame, read in one pass
/// without allocation. VLAN tags in the bytes (0x8100, 0x88a8, 0x9100) are skipped; the outermost ID is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// Outermost VLAN ID found in the bytes.
    pub vlan: Option<u16>,
    /// After any tags (for 802.3 frames: the length field value < 0x600).
    pub ethertype: u16,
    pub addrs: Addrs,
    /// IPv4 total length / IPv6 payload length + 40; 0 when not IP.
    pub l3_len: u32,
    /// IPv4 protocol / IPv6 upper-layer next header after extension headers.
    pub proto: u8,
    /// TCP/UDP/SCTP ports; 0 when absent or a non-first fragment.
    pub src_port: u16,
    /// For ICMP/ICMPv6: type << 8 | code (as NetFlow/IPFIX exporters do), src_port 0.
    pub dst_port: u16,
    /// Low 8 flag bits (FIN..CWR); 0 when not TCP.
    pub tcp_flags: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// A non-first fragment (no L4 header).
    pub fragment: bool,
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => Some(u16::from_be_bytes([hi, lo])),
        _ => None,
    }
}

#[inline(always)]
fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N).and_then(|s| s.try_into().ok())
}

/// Summarise an Ethernet (DLT_EN10MB) frame. Truncated frames are summarised as far as the
/// bytes go; this never panics.
pub fn summarize(frame: &[u8]) -> Summary {
    let mut s = Summary::default();
    let Some((eth, mut rest)) = frame.split_first_chunk::<14>() else {
        if let Some(m) = array::<6>(frame, 0) {
            s.dst_mac = m;
        }
        if let Some(m) = array::<6>(frame, 6) {
            s.src_mac = m;
        }
        return s;
    };
    s.dst_mac = [eth[0], eth[1], eth[2], eth[3], eth[4], eth[5]];
    s.src_mac = [eth[6], eth[7], eth[8], eth[9], eth[10], eth[11]];
    let mut ty = u16::from_be_bytes([eth[12], eth[13]]);
    while ethertype::is_vlan(ty) {
        let Some((tag, inner)) = rest.split_first_chunk::<4>() else {
            // A tag cut short: report the tag's own type, nothing inside it.
            s.ethertype = ty;
            return s;
        };
        if s.vlan.is_none() {
            s.vlan = Some(u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff);
        }
        ty = u16::from_be_bytes([tag[2], tag[3]]);
        rest = inner;
    }
    s.ethertype = ty;
    match ty {
        ethertype::IPV4 => ipv4(rest, &mut s),
        ethertype::IPV6 => ipv6(rest, &mut s),
        _ => {}
    }
    s
}

/// Summarise a raw IPv4 or IPv6 packet (raw-IP and cooked link types: the caller strips the
/// link header). The version nibble picks the family; `ethertype` is set to match it.
pub fn summarize_ip(packet: &[u8]) -> Summary {
    let mut s = Summary::default();
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            s.ethertype = ethertype::IPV4;
            ipv4(packet, &mut s);
        }
        Some(6) => {
            s.ethertype = ethertype::IPV6;
            ipv6(packet, &mut s);
        }
        _ => {}
    }
    s
}

#[inline(always)]
fn ipv4(p: &[u8], s: &mut Summary) {
    let Some((h, _)) = p.split_first_chunk::<20>() else {
        // Fill the fixed fields the bytes still hold; no addresses without both of them.
        if let Some(len) = be16(p, 2) {
            s.l3_len = u32::from(len);
        }
        if let Some(&ttl) = p.get(8) {
            s.ttl = ttl;
        }
        if let Some(&proto) = p.get(9) {
            s.proto = proto;
        }
        return;
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    s.l3_len = u32::from(u16::from_be_bytes([h[2], h[3]]));
    s.ttl = h[8];
    s.proto = h[9];
    s.addrs = Addrs::V4 {
        src: [h[12], h[13], h[14], h[15]],
        dst: [h[16], h[17], h[18], h[19]],
    };
    if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
        s.fragment = true;
        return;
    }
    if ihl >= 20 {
        if let Some(l4) = p.get(ihl..) {
            transport(l4, s);
        }
    }
}

#[inline(always)]
fn ipv6(p: &[u8], s: &mut Summary) {
    let Some((h, _)) = p.split_first_chunk::<40>() else {
        if let Some(len) = be16(p, 4) {
            s.l3_len = u32::from(len) + 40;
        }
        if let Some(&nh) = p.get(6) {
            s.proto = nh;
        }
        if let Some(&hl) = p.get(7) {
            s.ttl = hl;
        }
        return;
    };
    s.l3_len = u32::from(u16::from_be_bytes([h[4], h[5]])) + 40;
    s.ttl = h[7];
    let (src, dst) = h[8..].split_at(16);
    s.addrs = Addrs::V6 {
        src: src.try_into().unwrap_or_default(),
        dst: dst.try_into().unwrap_or_default(),
    };
    let mut nh = h[6];
    let mut at = 40;
    loop {
        s.proto = nh;
        let len = match nh {
            ip_proto::HOPOPT | ip_proto::ROUTING | ip_proto::DSTOPTS => match p.get(at + 1) {
                Some(&l) => (usize::from(l) + 1) * 8,
                None => return,
            },
            ip_proto::AH => match p.get(at + 1) {
                Some(&l) => (usize::from(l) + 2) * 4,
                None => return,
            },
            ip_proto::FRAGMENT => {
                let Some(off) = be16(p, at + 2) else { return };
                if off & 0xfff8 != 0 {
                    // Non-first fragment: the upper-layer protocol is known, its header is not here.
                    if let Some(&next) = p.get(at) {
                        s.proto = next;
                    }
                    s.fragment = true;
                    return;
                }
                8
            }
            _ => break,
        };
        let Some(&next) = p.get(at) else { return };
        nh = next;
        at += len;
    }
    if let Some(l4) = p.get(at..) {
        transport(l4, s);
    }
}

#[inline(always)]
fn transport(l4: &[u8], s: &mut Summary) {
    match s.proto {
        ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP => {
            if let (Some(sp), Some(dp)) = (be16(l4, 0), be16(l4, 2)) {
                s.src_port = sp;
                s.dst_port = dp;
            }
            if s.proto == ip_proto::TCP {
                if let Some(&f) = l4.get(13) {
                    s.tcp_flags = f;
                }
            }
        }
        ip_proto::ICMP | ip_proto::ICMPV6 => {
            if let Some(tc) = be16(l4, 0) {
                s.dst_port = tc;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 60-byte Ethernet/IPv4/TCP SYN, 10.0.0.1:40000 -> 10.0.0.2:80, TTL 64, padded to 60.
    pub(crate) const SYN: [u8; 60] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, //
        0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, //
        0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, //
        0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
        0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn tcp_syn() {
        let s = summarize(&SYN);
        assert_eq!(s.dst_mac, [2, 0, 0, 0, 0, 2]);
        assert_eq!(s.src_mac, [2, 0, 0, 0, 0, 1]);
        assert_eq!(s.vlan, None);
        assert_eq!(s.ethertype, 0x0800);
        assert_eq!(
            s.addrs,
            Addrs::V4 {
                src: [10, 0, 0, 1],
                dst: [10, 0, 0, 2]
            }
        );
        assert_eq!((s.l3_len, s.proto, s.ttl), (40, 6, 64));
        assert_eq!((s.src_port, s.dst_port, s.tcp_flags), (40000, 80, 0x02));
        assert!(!s.fragment);
    }

    #[test]
    fn every_truncation_is_safe_and_a_prefix() {
        let full = summarize(&SYN);
        for n in 0..SYN.len() {
            let s = summarize(&SYN[..n]);
            if n >= 14 {
                assert_eq!(s.ethertype, 0x0800, "len {n}");
            }
            if n >= 34 {
                assert_eq!(s.addrs, full.addrs, "len {n}");
            }
            if n >= 38 {
                assert_eq!(s.dst_port, 80, "len {n}");
            }
        }
    }

    #[test]
    fn qinq_keeps_outer_id() {
        let mut f = Vec::from(&SYN[..12]);
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0xc8, 0x08, 0x00]);
        f.extend_from_slice(&SYN[14..]);
        let s = summarize(&f);
        assert_eq!(s.vlan, Some(100));
        assert_eq!(s.ethertype, 0x0800);
        assert_eq!((s.src_port, s.dst_port), (40000, 80));
        // Cut inside the inner tag: the tag's own type is reported, no IP.
        let s = summarize(&f[..20]);
        assert_eq!(
            (s.vlan, s.ethertype, s.addrs),
            (Some(100), 0x8100, Addrs::None)
        );
    }

    #[test]
    fn ipv4_non_first_fragment_has_no_ports() {
        let mut f = SYN;
        f[20] = 0x00;
        f[21] = 0x10; // offset 16 * 8
        let s = summarize(&f);
        assert!(s.fragment);
        assert_eq!((s.src_port, s.dst_port, s.tcp_flags, s.proto), (0, 0, 0, 6));
    }

    #[test]
    fn ipv6_ext_headers_then_udp() {
        // IPv6, hop-by-hop (8 bytes) -> fragment (first, MF) -> UDP 53 -> 5353.
        let mut p = vec![0x60, 0, 0, 0, 0, 24, 0, 7];
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb]);
        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 9]);
        p.extend_from_slice(&[0x00, 0x35, 0x14, 0xe9, 0, 8, 0, 0]);
        let s = summarize_ip(&p);
        assert_eq!(s.ethertype, 0x86dd);
        assert_eq!((s.l3_len, s.proto, s.ttl), (64, 17, 7));
        assert_eq!((s.src_port, s.dst_port, s.fragment), (53, 5353, false));
        // Non-first: offset 8, no ports.
        p[40 + 8 + 2] = 0x00;
        p[40 + 8 + 3] = 0x08;
        let s = summarize_ip(&p);
        assert_eq!(
            (s.proto, s.src_port, s.dst_port, s.fragment),
            (17, 0, 0, true)
        );
    }

    #[test]
    fn icmp_type_code_in_dst_port() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ];
        p.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
        let s = summarize_ip(&p);
        assert_eq!((s.proto, s.src_port, s.dst_port), (1, 0, 0x0303));
    }

    #[test]
    fn ieee_802_3_length_and_non_ip() {
        let mut f = [0u8; 20];
        f[12] = 0x00;
        f[13] = 0x26;
        let s = summarize(&f);
        assert_eq!((s.ethertype, s.l3_len, s.addrs), (0x26, 0, Addrs::None));
        assert_eq!(summarize_ip(&[]), Summary::default());
        assert_eq!(summarize_ip(&[0x50; 60]), Summary::default());
    }
}
