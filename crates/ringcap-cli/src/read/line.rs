//! The one-line decode `ringcap read` prints after each packet's time: the link header, VLAN
//! tags, one IP header and the transport header after it, written while walking the layers
//! `ringcap_wire::dissect` yields.

use std::net::{IpAddr, Ipv4Addr};

use ringcap_pcap::linktype;
use ringcap_wire::dissect::Header;
use ringcap_wire::link::{family_is_ipv6, AF_INET};
use ringcap_wire::{
    arp, dissect, ethertype, icmp, ip_proto, ipv4, tcp, udp, ArpPacket, IcmpPacket, Icmpv6Packet,
    Ipv4Packet, Layer, Link, MacAddr, TcpPacket, UdpPacket,
};

/// Appends `len N` and a short decode of the packet's headers.
pub fn summarize(out: &mut String, lt: u32, data: &[u8], orig_len: u32) {
    use std::fmt::Write;
    let _ = write!(out, "len {orig_len}");
    if (data.len() as u32) < orig_len {
        let _ = write!(out, " (cap {})", data.len());
    }
    out.push(' ');
    let link = match lt {
        linktype::ETHERNET => Link::Ethernet,
        linktype::LINUX_SLL => Link::LinuxSll,
        linktype::LINUX_SLL2 => Link::LinuxSll2,
        linktype::RAW if matches!(data.first().map(|b| b >> 4), Some(4 | 6)) => Link::Raw,
        linktype::RAW => return out.push_str("raw IP, unknown version"),
        linktype::IPV4 => Link::Ipv4,
        linktype::IPV6 => Link::Ipv6,
        linktype::NULL => Link::Null,
        other => {
            let _ = write!(out, "link type {other}");
            return;
        }
    };
    let mut line = Line { out, ip: None };
    for layer in dissect(link, data) {
        if line.layer(layer).is_break() {
            break;
        }
    }
}

/// One summary line being written, layer by layer. It names the outer headers, one IP header,
/// and the transport header after it, then stops.
struct Line<'o> {
    out: &'o mut String,
    /// The IP header's addresses, for the transport part.
    ip: Option<(IpAddr, IpAddr)>,
}

type Flow = std::ops::ControlFlow<()>;
const GO: Flow = Flow::Continue(());
const STOP: Flow = Flow::Break(());

impl Line<'_> {
    fn layer(&mut self, layer: Layer<'_>) -> Flow {
        use std::fmt::Write;
        match layer {
            Layer::Ethernet(f) => {
                let _ = write!(self.out, "{} > {}", f.src_addr(), f.dst_addr());
                self.after_type(f.ethertype())
            }
            Layer::Vlan { tpid, tag } => {
                let q = if tpid == ethertype::VLAN {
                    "vlan"
                } else {
                    "qinq"
                };
                let _ = write!(self.out, ", {q} {} p {}", tag.vlan_id(), tag.pcp());
                self.after_type(tag.ethertype())
            }
            Layer::LinuxSll(h) => {
                let _ = write!(self.out, "SLL {} ", pkttype(h.packet_type()));
                self.ethertype(h.protocol())
            }
            Layer::LinuxSll2(h) => {
                let dir = pkttype(h.packet_type());
                let _ = write!(self.out, "SLL2 ifindex {} {dir} ", h.ifindex());
                self.ethertype(h.protocol())
            }
            Layer::Loopback { family } => {
                if family != AF_INET && !family_is_ipv6(family) {
                    let _ = write!(self.out, "loopback, address family {family}");
                    return STOP;
                }
                GO
            }
            Layer::Ipv4(p) => self.ipv4(p),
            Layer::Ipv6(p) => {
                if self.ip.is_some() {
                    return self.proto(ip_proto::IPV6);
                }
                self.out.push_str("IPv6 ");
                self.ip = Some((p.src_addr().into(), p.dst_addr().into()));
                GO
            }
            Layer::IpExt(h) => match h.kind {
                ip_proto::FRAGMENT => self.addrs(": fragment"),
                ip_proto::AH => self.proto(ip_proto::AH),
                _ => GO,
            },
            Layer::Arp(a) => {
                arp(self.out, a);
                STOP
            }
            Layer::Tcp(t) => self.tcp(t.into_inner()),
            Layer::Udp(u) => self.udp(u.into_inner()),
            Layer::Icmp(i) => self.icmp(i.into_inner()),
            Layer::Icmpv6(i) => self.icmpv6(i.into_inner()),
            Layer::Gre(_) => self.proto(ip_proto::GRE),
            Layer::IpProto { proto, .. } => self.proto(proto),
            Layer::Bad { header, bytes, .. } => self.bad(header, bytes),
            // Not reached: the line stops at the EtherTypes it does not name.
            Layer::Llc { .. }
            | Layer::Mpls(_)
            | Layer::Lldp(_)
            | Layer::Fragment { .. }
            | Layer::Ethertype { .. } => STOP,
        }
    }

    /// After an Ethernet type field: more tags, or the payload's type.
    fn after_type(&mut self, t: u16) -> Flow {
        if ethertype::is_vlan(t) {
            return GO;
        }
        self.out.push_str(", ");
        self.ethertype(t)
    }

    /// The payload types the line decodes; any other is named by number.
    fn ethertype(&mut self, t: u16) -> Flow {
        use std::fmt::Write;
        match t {
            ethertype::IPV4 | ethertype::IPV6 | ethertype::ARP => GO,
            _ => {
                let _ = write!(self.out, "ethertype 0x{t:04x}");
                STOP
            }
        }
    }

    fn ipv4(&mut self, p: Ipv4Packet<&[u8]>) -> Flow {
        use std::fmt::Write;
        if self.ip.is_some() {
            return self.proto(ip_proto::IPIP);
        }
        let (src, dst) = (p.src_addr(), p.dst_addr());
        if p.frag_offset() != 0 {
            let (proto, off) = (p.protocol(), p.frag_offset());
            let _ = write!(
                self.out,
                "IPv4 {src} > {dst}: proto {proto} fragment offset {off}"
            );
            return STOP;
        }
        self.out.push_str("IPv4 ");
        self.ip = Some((src.into(), dst.into()));
        GO
    }

    /// `SRC > DST` and `tail`.
    fn addrs(&mut self, tail: &str) -> Flow {
        use std::fmt::Write;
        if let Some((s, d)) = self.ip {
            let _ = write!(self.out, "{s} > {d}{tail}");
        }
        STOP
    }

    /// A protocol the line does not decode; the four it does are truncated if they end here.
    fn proto(&mut self, p: u8) -> Flow {
        use std::fmt::Write;
        if let Some((s, d)) = self.ip {
            let _ = write!(self.out, "{s} > {d}: proto {p}");
            if matches!(
                p,
                ip_proto::TCP | ip_proto::UDP | ip_proto::ICMP | ip_proto::ICMPV6
            ) {
                self.out.push_str(" [truncated]");
            }
        }
        STOP
    }

    /// A header cut short or inconsistent: what its fixed part still tells.
    fn bad(&mut self, header: Header, b: &[u8]) -> Flow {
        use std::fmt::Write;
        let what = match header {
            Header::Ethernet => "Ethernet",
            Header::Vlan => ", vlan",
            Header::LinuxSll => "SLL",
            Header::LinuxSll2 => "SLL2",
            Header::Loopback => "NULL",
            Header::Arp => "ARP",
            Header::Ipv4 if self.ip.is_some() => return self.proto(ip_proto::IPIP),
            Header::Ipv6 if self.ip.is_some() => return self.proto(ip_proto::IPV6),
            Header::Ipv4 if b.len() < ipv4::MIN_HEADER_LEN || b[0] >> 4 != 4 => "IPv4",
            Header::Ipv4 => {
                let p = Ipv4Packet::new_unchecked(b);
                if p.header_len() < ipv4::MIN_HEADER_LEN || b.len() < p.header_len() {
                    let _ = write!(
                        self.out,
                        "IPv4 {} > {} [bad header length]",
                        p.src_addr(),
                        p.dst_addr()
                    );
                    return STOP;
                }
                // Total length below the header length: nothing of the payload is trusted.
                if p.frag_offset() != 0 {
                    return self.ipv4(p);
                }
                self.out.push_str("IPv4 ");
                self.ip = Some((p.src_addr().into(), p.dst_addr().into()));
                return self.proto(p.protocol());
            }
            Header::Ipv6 => "IPv6",
            Header::Ipv6Ext(ip_proto::AH) => return self.proto(ip_proto::AH),
            Header::Ipv6Ext(_) => return self.addrs(" [truncated]"),
            Header::Tcp if b.len() >= tcp::MIN_HEADER_LEN => return self.tcp(b),
            Header::Udp if b.len() >= udp::HEADER_LEN => return self.udp(b),
            Header::Icmp if b.len() >= 4 => return self.icmp(b),
            Header::Icmpv6 if b.len() >= 4 => return self.icmpv6(b),
            Header::Tcp => return self.proto(ip_proto::TCP),
            Header::Udp => return self.proto(ip_proto::UDP),
            Header::Icmp => return self.proto(ip_proto::ICMP),
            Header::Icmpv6 => return self.proto(ip_proto::ICMPV6),
            Header::Gre => return self.proto(ip_proto::GRE),
            Header::Llc | Header::Mpls => return STOP,
        };
        self.out.push_str(what);
        self.out.push_str(" [truncated]");
        STOP
    }

    /// TCP from its fixed 20 bytes (the options may be cut short).
    fn tcp(&mut self, b: &[u8]) -> Flow {
        use std::fmt::Write;
        let Some((s, d)) = self.ip else { return STOP };
        let t = TcpPacket::new_unchecked(b);
        let _ = write!(
            self.out,
            "{s}.{} > {d}.{}: TCP [",
            t.src_port(),
            t.dst_port()
        );
        let flags = t.flags();
        let mut any = false;
        for (bit, c) in [
            (tcp::flags::SYN, 'S'),
            (tcp::flags::FIN, 'F'),
            (tcp::flags::RST, 'R'),
            (tcp::flags::PSH, 'P'),
            (tcp::flags::URG, 'U'),
            (tcp::flags::ACK, '.'),
        ] {
            if flags & bit != 0 {
                self.out.push(c);
                any = true;
            }
        }
        if !any {
            self.out.push_str("none");
        }
        let _ = write!(self.out, "] seq {}", t.seq_number());
        if t.ack() {
            let _ = write!(self.out, " ack {}", t.ack_number());
        }
        let off = t.header_len().min(b.len());
        let _ = write!(self.out, " win {} len {}", t.window_len(), b.len() - off);
        STOP
    }

    fn udp(&mut self, b: &[u8]) -> Flow {
        use std::fmt::Write;
        let Some((s, d)) = self.ip else { return STOP };
        let u = UdpPacket::new_unchecked(b);
        let len = u.len().saturating_sub(8);
        let (sp, dp) = (u.src_port(), u.dst_port());
        let _ = write!(self.out, "{s}.{sp} > {d}.{dp}: UDP len {len}");
        STOP
    }

    /// ICMP from its type and code (and the echo fields when they are there).
    fn icmp(&mut self, b: &[u8]) -> Flow {
        use ringcap_wire::icmp::kind;
        use std::fmt::Write;
        let Some((s, d)) = self.ip else { return STOP };
        let _ = write!(self.out, "{s} > {d}: ICMP ");
        let (t, c) = (b[0], b[1]);
        let _ = match t {
            kind::ECHO_REQUEST if c == 0 => write!(self.out, "echo request"),
            kind::ECHO_REPLY if c == 0 => write!(self.out, "echo reply"),
            kind::DST_UNREACHABLE => write!(self.out, "unreachable code {c}"),
            kind::TIME_EXCEEDED => write!(self.out, "time exceeded code {c}"),
            _ => write!(self.out, "type {t} code {c}"),
        };
        if matches!(t, kind::ECHO_REPLY | kind::ECHO_REQUEST) && b.len() >= icmp::HEADER_LEN {
            let i = IcmpPacket::new_unchecked(b);
            let _ = write!(self.out, " id {} seq {}", i.echo_ident(), i.echo_seq_no());
        }
        STOP
    }

    fn icmpv6(&mut self, b: &[u8]) -> Flow {
        use ringcap_wire::icmpv6::kind;
        use std::fmt::Write;
        let Some((s, d)) = self.ip else { return STOP };
        let _ = write!(self.out, "{s} > {d}: ICMPv6 ");
        let (t, c) = (b[0], b[1]);
        let _ = match t {
            kind::ECHO_REQUEST => write!(self.out, "echo request"),
            kind::ECHO_REPLY => write!(self.out, "echo reply"),
            kind::ROUTER_SOLICIT => write!(self.out, "router solicitation"),
            kind::ROUTER_ADVERT => write!(self.out, "router advertisement"),
            kind::NEIGHBOR_SOLICIT => write!(self.out, "neighbor solicitation"),
            kind::NEIGHBOR_ADVERT => write!(self.out, "neighbor advertisement"),
            kind::DST_UNREACHABLE => write!(self.out, "unreachable code {c}"),
            _ => write!(self.out, "type {t} code {c}"),
        };
        if let Some(target) = Icmpv6Packet::new_checked(b)
            .ok()
            .and_then(|i| i.target_addr())
        {
            if t != kind::REDIRECT {
                let _ = write!(self.out, " {target}");
            }
        }
        STOP
    }
}

fn pkttype(t: u8) -> &'static str {
    use ringcap_wire::link::pkttype;
    match t {
        pkttype::HOST => "In",
        pkttype::BROADCAST => "B",
        pkttype::MULTICAST => "M",
        pkttype::OTHERHOST => "P",
        pkttype::OUTGOING => "Out",
        _ => "?",
    }
}

fn arp(out: &mut String, a: ArpPacket<&[u8]>) {
    use std::fmt::Write;
    if a.hw_len() != 6 || a.proto_len() != 4 {
        return out.push_str("ARP [truncated]");
    }
    let ip = |s: &[u8]| Ipv4Addr::from(<[u8; 4]>::try_from(s).unwrap_or_default());
    let (spa, tpa) = (ip(a.sender_proto_addr()), ip(a.target_proto_addr()));
    let _ = match a.operation() {
        arp::op::REQUEST => write!(out, "ARP who-has {tpa} tell {spa}"),
        arp::op::REPLY => {
            let sha = MacAddr(a.sender_hw_addr().try_into().unwrap_or_default());
            write!(out, "ARP reply {spa} is-at {sha}")
        }
        op => write!(out, "ARP op {op}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of each decoded protocol (the format the dissector had before it moved onto
    /// the wire views; both printed exactly these).
    #[test]
    fn print_lines() {
        use ringcap_gen::{FrameBuilder, FrameSpec, Proto};
        let frame = |proto, v6| {
            let mut b = FrameBuilder::new(&FrameSpec::new(proto, v6)).unwrap();
            let mut f = vec![0u8; b.len()];
            b.write_next(&mut f);
            f
        };
        let mut arp = vec![255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 1, 8, 6];
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        let mut frag = ringcap_netlab::udp_frame(1, 1, 100);
        frag[20..22].copy_from_slice(&[0x20, 0x10]);
        let syn6 = frame(Proto::Syn, true);
        let mut null6 = vec![30, 0, 0, 0];
        null6.extend_from_slice(&frame(Proto::Icmp, true)[14..]);
        for (lt, f, want) in [
            (linktype::ETHERNET, frame(Proto::Syn, false),
                "len 60 02:00:00:00:00:01 > 02:00:00:00:00:02, IPv4 10.0.0.1.1024 > 10.1.0.1.80: TCP [S] seq 0 win 64240 len 0",
            ),
            (linktype::ETHERNET, ringcap_netlab::with_vlan(&syn6, 0x88a8, 0x0064),
                "len 78 02:00:00:00:00:01 > 02:00:00:00:00:02, qinq 100 p 0, IPv6 fd00::1.1024 > fd00:1::1.80: TCP [S] seq 0 win 64240 len 0",
            ),
            (linktype::RAW, frame(Proto::Icmp, false)[14..].to_vec(),
                "len 46 IPv4 10.0.0.1 > 10.1.0.1: ICMP echo request id 1024 seq 0",
            ),
            (linktype::NULL, null6,
                "len 52 IPv6 fd00::1 > fd00:1::1: ICMPv6 echo request",
            ),
            (linktype::ETHERNET, arp,
                "len 42 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ARP who-has 10.0.0.2 tell 10.0.0.1",
            ),
            (linktype::ETHERNET, frag,
                "len 100 02:00:00:00:00:01 > 02:00:00:00:00:02, IPv4 10.0.0.1 > 10.1.0.1: proto 17 fragment offset 128",
            ),
        ] {
            let mut s = String::new();
            summarize(&mut s, lt, &f, f.len() as u32);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn decode_udp_in_vlan() {
        let f = ringcap_netlab::udp_frame(7, 3, 100);
        let f = ringcap_netlab::with_vlan(&f, 0x8100, 0x2005);
        let mut s = String::new();
        summarize(&mut s, linktype::ETHERNET, &f, f.len() as u32);
        assert!(s.contains("vlan 5 p 1"), "{s}");
        assert!(
            s.contains("IPv4 10.0.0.3.10003 > 10.1.0.1.9: UDP len 58"),
            "{s}"
        );
        // Every prefix decodes without a panic.
        for n in 0..f.len() {
            let mut s = String::new();
            summarize(&mut s, linktype::ETHERNET, &f[..n], f.len() as u32);
        }
    }
}
