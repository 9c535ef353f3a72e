//! Layer-by-layer dissection: a packet becomes a sequence of typed views, outermost first,
//! without allocation. A printer walks the sequence and formats each layer, keeping what it
//! needs from earlier ones (the IP addresses for a TCP line, say); the views give every field.
//!
//! What is followed: Ethernet (802.3 lengths into LLC/SNAP), VLAN tags (802.1Q, 802.1ad,
//! 0x9100), MPLS label stacks, ARP, LLDP, IPv4, IPv6 and its extension headers, GRE (its
//! inner packet, bridged Ethernet included), IP-in-IP, TCP, UDP, ICMP, ICMPv6; the Linux
//! cooked headers and BSD loopback as link layers. The walk stops at a transport header, at a
//! protocol it does not know ([`Layer::Ethertype`], [`Layer::IpProto`]), at a non-first
//! fragment ([`Layer::Fragment`]), or at a header the bytes cut short ([`Layer::Bad`]).

use crate::consts::{ethertype, ip_proto};
use crate::ipv6::ExtHeaders;
use crate::link::{family_is_ipv6, loopback_family, Link, AF_INET};
use crate::{
    ArpPacket, Error, EthernetFrame, ExtHeader, GrePacket, IcmpPacket, Icmpv6Packet, Ipv4Packet,
    Ipv6Packet, LlcPdu, MplsLabel, Sll2Header, SllHeader, TcpPacket, UdpPacket, VlanTag,
};

/// Which header a [`Layer::Bad`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    Ethernet,
    Vlan,
    LinuxSll,
    LinuxSll2,
    Loopback,
    Llc,
    Mpls,
    Arp,
    Ipv4,
    Ipv6,
    Ipv6Ext(u8),
    Gre,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
}

/// One layer of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer<'a> {
    Ethernet(EthernetFrame<&'a [u8]>),
    /// A VLAN tag and the TPID that announced it (0x8100, 0x88a8 or 0x9100).
    Vlan {
        tpid: u16,
        tag: VlanTag<&'a [u8]>,
    },
    LinuxSll(SllHeader<&'a [u8]>),
    LinuxSll2(Sll2Header<&'a [u8]>),
    /// BSD loopback header: the address family.
    Loopback {
        family: u32,
    },
    /// LLC (and SNAP) after an 802.3 length field; `length` is that field.
    Llc {
        length: u16,
        pdu: LlcPdu<&'a [u8]>,
    },
    Mpls(MplsLabel<&'a [u8]>),
    Arp(ArpPacket<&'a [u8]>),
    /// An LLDP PDU; walk it with [`crate::LldpTlvs`].
    Lldp(&'a [u8]),
    Ipv4(Ipv4Packet<&'a [u8]>),
    Ipv6(Ipv6Packet<&'a [u8]>),
    /// An IPv6 extension header, or AH after IPv4.
    IpExt(ExtHeader<'a>),
    /// The data of a non-first fragment: the upper-layer protocol, the fragment offset in
    /// bytes, and the bytes (no header to decode).
    Fragment {
        proto: u8,
        offset: u16,
        data: &'a [u8],
    },
    Gre(GrePacket<&'a [u8]>),
    Tcp(TcpPacket<&'a [u8]>),
    Udp(UdpPacket<&'a [u8]>),
    Icmp(IcmpPacket<&'a [u8]>),
    Icmpv6(Icmpv6Packet<&'a [u8]>),
    /// A payload of an EtherType (or LLC SAP / loopback family / MPLS payload) not decoded.
    Ethertype {
        value: u16,
        bytes: &'a [u8],
    },
    /// An IP payload of a protocol not decoded (ESP, OSPF, SCTP, …).
    IpProto {
        proto: u8,
        bytes: &'a [u8],
    },
    /// A header the bytes cut short, or whose fields contradict each other. `bytes` is what
    /// was there, for a printer that shows what it can.
    Bad {
        header: Header,
        error: Error,
        bytes: &'a [u8],
    },
}

/// Upper bound on layers, so a crafted packet (tunnels in tunnels) costs bounded work.
const MAX_LAYERS: u8 = 32;

#[derive(Debug, Clone)]
enum Next<'a> {
    Link(Link),
    Ethertype(u16),
    /// After an 802.3 length field.
    Llc(u16),
    Mpls,
    Ip {
        proto: u8,
        v6: bool,
    },
    Ext(ExtHeaders<'a>),
    Fragment {
        proto: u8,
        offset: u16,
    },
    Done,
}

/// The layers of one packet, outermost first. See [`dissect`].
#[derive(Debug, Clone)]
pub struct Layers<'a> {
    next: Next<'a>,
    rest: &'a [u8],
    count: u8,
}

/// Dissects a packet of link type `link`.
pub fn dissect(link: Link, packet: &[u8]) -> Layers<'_> {
    Layers {
        next: Next::Link(link),
        rest: packet,
        count: 0,
    }
}

impl<'a> Iterator for Layers<'a> {
    type Item = Layer<'a>;

    fn next(&mut self) -> Option<Layer<'a>> {
        if self.count >= MAX_LAYERS {
            return None;
        }
        self.count += 1;
        let next = std::mem::replace(&mut self.next, Next::Done);
        let b = std::mem::take(&mut self.rest);
        Some(match next {
            Next::Done => return None,
            Next::Link(link) => self.link(link, b),
            Next::Ethertype(t) => self.ethertype(t, b),
            Next::Llc(length) => self.llc(length, b),
            Next::Mpls => self.mpls(b),
            Next::Ip { proto, v6 } => self.ip_payload(proto, v6, b),
            Next::Ext(walk) => self.ext(walk),
            Next::Fragment { proto, offset } => Layer::Fragment {
                proto,
                offset,
                data: b,
            },
        })
    }
}

fn bad(header: Header, error: Error, bytes: &[u8]) -> Layer<'_> {
    Layer::Bad {
        header,
        error,
        bytes,
    }
}

impl<'a> Layers<'a> {
    fn go(&mut self, next: Next<'a>, rest: &'a [u8]) {
        self.next = next;
        self.rest = rest;
    }

    fn link(&mut self, link: Link, b: &'a [u8]) -> Layer<'a> {
        match link {
            Link::Ethernet => match EthernetFrame::new_checked(b) {
                Ok(f) => {
                    self.after_type(f.ethertype(), f.payload());
                    Layer::Ethernet(f)
                }
                Err(e) => bad(Header::Ethernet, e, b),
            },
            Link::LinuxSll => match SllHeader::new_checked(b) {
                Ok(h) => {
                    self.go(Next::Ethertype(h.protocol()), h.payload());
                    Layer::LinuxSll(h)
                }
                Err(e) => bad(Header::LinuxSll, e, b),
            },
            Link::LinuxSll2 => match Sll2Header::new_checked(b) {
                Ok(h) => {
                    self.go(Next::Ethertype(h.protocol()), h.payload());
                    Layer::LinuxSll2(h)
                }
                Err(e) => bad(Header::LinuxSll2, e, b),
            },
            Link::Raw => self.raw_ip(b),
            Link::Ipv4 => self.ethertype(ethertype::IPV4, b),
            Link::Ipv6 => self.ethertype(ethertype::IPV6, b),
            Link::Null | Link::Loop => {
                let Some((h, rest)) = b.split_first_chunk::<4>() else {
                    return bad(Header::Loopback, Error::Truncated, b);
                };
                let family = loopback_family(*h, link == Link::Loop);
                if family == AF_INET {
                    self.go(Next::Ethertype(ethertype::IPV4), rest);
                } else if family_is_ipv6(family) {
                    self.go(Next::Ethertype(ethertype::IPV6), rest);
                }
                Layer::Loopback { family }
            }
        }
    }

    /// Ethernet type field: an EtherType, or an 802.3 length followed by LLC.
    fn after_type(&mut self, t: u16, payload: &'a [u8]) {
        if t < ethertype::MIN_TYPE {
            self.go(Next::Llc(t), payload);
        } else {
            self.go(Next::Ethertype(t), payload);
        }
    }

    /// An IP packet of either version, by its version nibble.
    fn raw_ip(&mut self, b: &'a [u8]) -> Layer<'a> {
        match b.first().map(|v| v >> 4) {
            Some(6) => self.ethertype(ethertype::IPV6, b),
            Some(4) => self.ethertype(ethertype::IPV4, b),
            Some(_) => bad(Header::Ipv4, Error::Malformed, b),
            None => bad(Header::Ipv4, Error::Truncated, b),
        }
    }

    fn ethertype(&mut self, t: u16, b: &'a [u8]) -> Layer<'a> {
        match t {
            ethertype::IPV4 => self.ipv4(b),
            ethertype::IPV6 => match Ipv6Packet::new_checked(b) {
                Ok(p) => {
                    self.go(Next::Ext(p.ext_headers()), &[]);
                    Layer::Ipv6(p)
                }
                Err(e) => bad(Header::Ipv6, e, b),
            },
            ethertype::VLAN | ethertype::QINQ | ethertype::VLAN_9100 => {
                match VlanTag::new_checked(b) {
                    Ok(tag) => {
                        self.after_type(tag.ethertype(), tag.payload());
                        Layer::Vlan { tpid: t, tag }
                    }
                    Err(e) => bad(Header::Vlan, e, b),
                }
            }
            ethertype::ARP | ethertype::RARP => match ArpPacket::new_checked(b) {
                Ok(a) => Layer::Arp(a),
                Err(e) => bad(Header::Arp, e, b),
            },
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => self.mpls(b),
            ethertype::LLDP => Layer::Lldp(b),
            // Bridged Ethernet (the payload of GRE type 0x6558).
            ethertype::TEB => self.link(Link::Ethernet, b),
            value => Layer::Ethertype { value, bytes: b },
        }
    }

    fn ipv4(&mut self, b: &'a [u8]) -> Layer<'a> {
        match Ipv4Packet::new_checked(b) {
            Ok(p) => {
                let next = if p.frag_offset() != 0 {
                    Next::Fragment {
                        proto: p.protocol(),
                        offset: p.frag_offset(),
                    }
                } else {
                    Next::Ip {
                        proto: p.protocol(),
                        v6: false,
                    }
                };
                self.go(next, p.payload());
                Layer::Ipv4(p)
            }
            Err(e) => bad(Header::Ipv4, e, b),
        }
    }

    fn llc(&mut self, length: u16, b: &'a [u8]) -> Layer<'a> {
        match LlcPdu::new_checked(b) {
            Ok(pdu) => {
                if let (Some(0), Some(pid)) = (pdu.snap_oui(), pdu.snap_pid()) {
                    self.go(Next::Ethertype(pid), pdu.payload());
                }
                Layer::Llc { length, pdu }
            }
            Err(e) => bad(Header::Llc, e, b),
        }
    }

    fn mpls(&mut self, b: &'a [u8]) -> Layer<'a> {
        match MplsLabel::new_checked(b) {
            Ok(m) => {
                let inner = m.payload();
                if !m.bottom_of_stack() {
                    self.go(Next::Mpls, inner);
                } else {
                    // No type field: guess from the version nibble, as tcpdump does.
                    match inner.first().map(|v| v >> 4) {
                        Some(4) => self.go(Next::Ethertype(ethertype::IPV4), inner),
                        Some(6) => self.go(Next::Ethertype(ethertype::IPV6), inner),
                        _ => {}
                    }
                }
                Layer::Mpls(m)
            }
            Err(e) => bad(Header::Mpls, e, b),
        }
    }

    fn ext(&mut self, mut walk: ExtHeaders<'a>) -> Layer<'a> {
        match walk.next() {
            Some(Ok(h)) => {
                match h.fragment() {
                    Some(f) if f.offset != 0 => {
                        let (proto, rest, _) = walk.upper_layer();
                        let next = Next::Fragment {
                            proto,
                            offset: f.offset,
                        };
                        self.go(next, rest);
                    }
                    _ => self.go(Next::Ext(walk), &[]),
                }
                Layer::IpExt(h)
            }
            Some(Err(e)) => {
                let (nh, rest, _) = walk.upper_layer();
                bad(Header::Ipv6Ext(nh), e, rest)
            }
            None => {
                let (proto, rest, _) = walk.upper_layer();
                self.ip_payload(proto, true, rest)
            }
        }
    }

    /// The payload of an IP packet (or of the last IPv6 extension header).
    fn ip_payload(&mut self, proto: u8, v6: bool, b: &'a [u8]) -> Layer<'a> {
        match proto {
            ip_proto::TCP => match TcpPacket::new_checked(b) {
                Ok(p) => Layer::Tcp(p),
                Err(e) => bad(Header::Tcp, e, b),
            },
            ip_proto::UDP => match UdpPacket::new_checked(b) {
                Ok(p) => Layer::Udp(p),
                Err(e) => bad(Header::Udp, e, b),
            },
            ip_proto::ICMP if !v6 => match IcmpPacket::new_checked(b) {
                Ok(p) => Layer::Icmp(p),
                Err(e) => bad(Header::Icmp, e, b),
            },
            ip_proto::ICMPV6 if v6 => match Icmpv6Packet::new_checked(b) {
                Ok(p) => Layer::Icmpv6(p),
                Err(e) => bad(Header::Icmpv6, e, b),
            },
            ip_proto::GRE => match GrePacket::new_checked(b) {
                Ok(g) => {
                    self.go(Next::Ethertype(g.protocol()), g.payload());
                    Layer::Gre(g)
                }
                Err(e) => bad(Header::Gre, e, b),
            },
            ip_proto::AH if !v6 => match ExtHeader::parse(ip_proto::AH, b) {
                Ok(h) => {
                    self.go(
                        Next::Ip {
                            proto: h.next_header(),
                            v6,
                        },
                        &b[h.len()..],
                    );
                    Layer::IpExt(h)
                }
                Err(e) => bad(Header::Ipv6Ext(ip_proto::AH), e, b),
            },
            ip_proto::IPIP => self.ipv4(b),
            ip_proto::IPV6 => self.ethertype(ethertype::IPV6, b),
            proto => Layer::IpProto { proto, bytes: b },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpOption;

    const MACS: [u8; 12] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            proto,
            0,
            0,
        ];
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(payload);
        p
    }

    fn kinds(link: Link, b: &[u8]) -> Vec<&'static str> {
        dissect(link, b)
            .map(|l| match l {
                Layer::Ethernet(_) => "eth",
                Layer::Vlan { .. } => "vlan",
                Layer::LinuxSll(_) => "sll",
                Layer::LinuxSll2(_) => "sll2",
                Layer::Loopback { .. } => "lo",
                Layer::Llc { .. } => "llc",
                Layer::Mpls(_) => "mpls",
                Layer::Arp(_) => "arp",
                Layer::Lldp(_) => "lldp",
                Layer::Ipv4(_) => "ip",
                Layer::Ipv6(_) => "ip6",
                Layer::IpExt(_) => "ext",
                Layer::Fragment { .. } => "frag",
                Layer::Gre(_) => "gre",
                Layer::Tcp(_) => "tcp",
                Layer::Udp(_) => "udp",
                Layer::Icmp(_) => "icmp",
                Layer::Icmpv6(_) => "icmp6",
                Layer::Ethertype { .. } => "ethertype",
                Layer::IpProto { .. } => "ipproto",
                Layer::Bad { .. } => "bad",
            })
            .collect()
    }

    #[test]
    fn qinq_tcp_with_options() {
        let tcp = [
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0, 0, 0, 0, 2, 4, 5,
            0xb4,
        ];
        let mut f = Vec::from(MACS);
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0xc8, 0x08, 0x00]);
        f.extend_from_slice(&ipv4(6, &tcp));
        assert_eq!(
            kinds(Link::Ethernet, &f),
            ["eth", "vlan", "vlan", "ip", "tcp"]
        );
        let layers: Vec<_> = dissect(Link::Ethernet, &f).collect();
        let Layer::Vlan { tpid, tag } = layers[1] else {
            panic!()
        };
        assert_eq!((tpid, tag.vlan_id()), (0x88a8, 100));
        let Layer::Vlan { tpid, tag } = layers[2] else {
            panic!()
        };
        assert_eq!((tpid, tag.vlan_id(), tag.pcp()), (0x8100, 200, 1));
        let Layer::Tcp(t) = layers[4] else { panic!() };
        assert_eq!(
            t.option_iter().next(),
            Some(Ok(TcpOption::MaxSegmentSize(1460)))
        );
    }

    #[test]
    fn every_prefix_ends_in_a_bad_layer_or_earlier() {
        let mut f = Vec::from(MACS);
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        f.extend_from_slice(&ipv4(17, &[0, 53, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4]));
        for n in 0..=f.len() {
            let k = kinds(Link::Ethernet, &f[..n]);
            if n >= 46 {
                // The UDP header is whole; its payload is clamped to what is there.
                assert_eq!(k, ["eth", "vlan", "ip", "udp"], "{n}");
            } else {
                assert_eq!(k.last(), Some(&"bad"), "{n}: {k:?}");
            }
        }
        assert_eq!(kinds(Link::Ethernet, &f), ["eth", "vlan", "ip", "udp"]);
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        let mut p = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop
        p.extend_from_slice(&[58, 0, 0, 1, 0, 0, 0, 9]); // fragment, first
        p.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]); // echo request
        assert_eq!(kinds(Link::Raw, &p), ["ip6", "ext", "ext", "icmp6"]);
        p[40 + 8 + 3] = 0x08; // offset 8: not first
        let l: Vec<_> = dissect(Link::Ipv6, &p).collect();
        assert_eq!(l.len(), 4);
        assert_eq!(
            l[3],
            Layer::Fragment {
                proto: 58,
                offset: 8,
                data: &p[56..]
            }
        );
        // Cut inside the fragment header.
        assert_eq!(kinds(Link::Raw, &p[..52]), ["ip6", "ext", "bad"]);
    }

    #[test]
    fn ipv4_fragment_and_ah() {
        let mut p = ipv4(6, &[0; 24]);
        p[6] = 0x00;
        p[7] = 0xb9; // offset 185 * 8
        let l: Vec<_> = dissect(Link::Ipv4, &p).collect();
        assert_eq!(
            l[1],
            Layer::Fragment {
                proto: 6,
                offset: 1480,
                data: &p[20..]
            }
        );
        let mut ah = vec![17, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        ah.extend_from_slice(&[0; 12]);
        ah.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        assert_eq!(kinds(Link::Ipv4, &ipv4(51, &ah)), ["ip", "ext", "udp"]);
    }

    #[test]
    fn tunnels() {
        // GRE carrying bridged Ethernet carrying ARP.
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1];
        arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        let mut inner = Vec::from(MACS);
        inner.extend_from_slice(&[0x08, 0x06]);
        inner.extend_from_slice(&arp);
        let mut gre = vec![0x00, 0x00, 0x65, 0x58];
        gre.extend_from_slice(&inner);
        assert_eq!(
            kinds(Link::Ipv4, &ipv4(47, &gre)),
            ["ip", "gre", "eth", "arp"]
        );
        // MPLS two labels, then IPv4 with UDP; IPv6 in IPv4.
        let mut m = Vec::from(MACS);
        m.extend_from_slice(&[0x88, 0x47, 0, 1, 0, 64, 0, 2, 1, 64]);
        m.extend_from_slice(&ipv4(17, &[0, 1, 0, 2, 0, 8, 0, 0]));
        assert_eq!(
            kinds(Link::Ethernet, &m),
            ["eth", "mpls", "mpls", "ip", "udp"]
        );
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
        v6.extend_from_slice(&[0; 32]);
        assert_eq!(kinds(Link::Ipv4, &ipv4(41, &v6)), ["ip", "ip6", "ipproto"]);
    }

    #[test]
    fn llc_lldp_and_link_headers() {
        let mut f = Vec::from(MACS);
        f.extend_from_slice(&[0x00, 0x26, 0x42, 0x42, 0x03, 0, 0, 0]);
        assert_eq!(kinds(Link::Ethernet, &f), ["eth", "llc"]);
        let mut f = Vec::from(MACS);
        f.extend_from_slice(&[0x00, 0x30, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&ipv4(1, &[8, 0, 0, 0, 0, 1, 0, 1]));
        assert_eq!(kinds(Link::Ethernet, &f), ["eth", "llc", "ip", "icmp"]);
        let mut f = Vec::from(MACS);
        f.extend_from_slice(&[0x88, 0xcc, 0x00, 0x00]);
        assert_eq!(kinds(Link::Ethernet, &f), ["eth", "lldp"]);
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd];
        sll.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 59, 64]);
        sll.extend_from_slice(&[0; 32]);
        assert_eq!(kinds(Link::LinuxSll, &sll), ["sll", "ip6", "ipproto"]);
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&ipv4(99, &[]));
        assert_eq!(kinds(Link::Null, &null), ["lo", "ip", "ipproto"]);
        assert_eq!(kinds(Link::Loop, &[0, 0, 0, 7]), ["lo"]);
        assert_eq!(kinds(Link::Raw, &[0x50]), ["bad"]);
        assert_eq!(kinds(Link::Raw, &[]), ["bad"]);
    }

    #[test]
    fn nesting_is_bounded() {
        // IPv4 in IPv4 in IPv4 ... deeper than the layer cap.
        let mut p = ipv4(59, &[]);
        for _ in 0..40 {
            p = ipv4(4, &p);
        }
        assert_eq!(dissect(Link::Ipv4, &p).count(), usize::from(MAX_LAYERS));
    }
}
