//! The frame builder: Ethernet/IPv4|IPv6/TCP SYN|UDP|ICMP echo frames whose addresses, ports
//! and sequence numbers change from frame to frame, with valid checksums.
//!
//! Pure code over byte buffers. A [`FrameBuilder`] lays out a base frame once, with every field
//! that varies set to zero, and remembers the one's complement sums of its IP header and of its
//! L4 part (with the constant part of the pseudo header). Each further frame only writes the
//! varying fields and finishes the checksums by adding their words to the stored sums: a few
//! additions instead of a pass over the frame. A TX ring whose slots already hold the base frame
//! therefore costs about twenty byte writes per frame, whatever the frame's size.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ringcap_wire::{
    checksum, ethertype, ip_proto, tcp, EthernetFrame, IcmpPacket, Icmpv6Packet, Ipv4Packet,
    Ipv6Packet, TcpPacket, UdpPacket,
};

use crate::wire::{IpRange, MacAddr, PortRange};

/// Ethernet header length.
pub const ETH_LEN: usize = ringcap_wire::ethernet::HEADER_LEN;
/// The smallest Ethernet frame without FCS; shorter frames are padded with zeros.
pub const MIN_FRAME: usize = 60;
/// The largest frame `--size` accepts (a 9000-byte jumbo frame's worth).
pub const MAX_FRAME: usize = 9000;

/// The L4 part of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// A TCP SYN without options or data (the classic SYN flood).
    Syn,
    /// UDP with a payload filling the frame.
    Udp,
    /// ICMP (or ICMPv6) echo request; the source "port" range walks the echo identifier.
    Icmp,
}

/// Everything that defines the frames a template produces.
#[derive(Debug, Clone)]
pub struct FrameSpec {
    pub proto: Proto,
    /// IPv6 instead of IPv4 (the address ranges must be IPv6 too).
    pub v6: bool,
    /// Frame length without FCS; `None` is the template's minimum (60 bytes for IPv4).
    /// For SYN frames the extra is Ethernet padding; UDP and ICMP carry it as payload.
    pub size: Option<usize>,
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src_ip: IpRange,
    pub dst_ip: IpRange,
    pub src_port: PortRange,
    pub dst_port: PortRange,
    /// Pick each field at random in its range instead of walking the flows in order.
    pub random: bool,
    pub seed: u64,
}

/// Why a [`FrameSpec`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame size {size} is out of range: {template} frames are {min} to {max} bytes")]
    Size {
        size: usize,
        template: String,
        min: usize,
        max: usize,
    },
    #[error("{what} {range} is IPv{got} but the template is IPv{want} (use --ipv6 or IPv{want} addresses)")]
    Family {
        what: &'static str,
        range: String,
        got: u8,
        want: u8,
    },
}

impl FrameSpec {
    /// The defaults for a template: many flows (source ports 1024-65535 and 254 source addresses),
    /// one destination, locally administered MAC addresses.
    pub fn new(proto: Proto, v6: bool) -> FrameSpec {
        let (src, dst) = if v6 {
            ("fd00::1-fd00::fe", "fd00:1::1")
        } else {
            ("10.0.0.0/24", "10.1.0.1")
        };
        FrameSpec {
            proto,
            v6,
            size: None,
            src_mac: MacAddr([0x02, 0, 0, 0, 0, 0x01]),
            dst_mac: MacAddr([0x02, 0, 0, 0, 0, 0x02]),
            src_ip: src.parse().expect("default range"),
            dst_ip: dst.parse().expect("default range"),
            src_port: PortRange::new(1024, 65535),
            // The discard port for UDP, HTTP for SYN floods (unused by ICMP).
            dst_port: if proto == Proto::Udp {
                PortRange::new(9, 9)
            } else {
                PortRange::new(80, 80)
            },
            random: false,
            seed: 0x5eed_f4a1_1ca9_5000,
        }
    }

    /// The template's name as the CLI spells it (`syn`, `udp6`, ...).
    pub fn name(&self) -> String {
        let p = match self.proto {
            Proto::Syn => "syn",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        };
        format!("{p}{}", if self.v6 { "6" } else { "" })
    }

    fn ip_len(&self) -> usize {
        if self.v6 {
            40
        } else {
            20
        }
    }

    fn l4_header_len(&self) -> usize {
        match self.proto {
            Proto::Syn => 20,
            Proto::Udp | Proto::Icmp => 8,
        }
    }

    /// Ethernet + IP + L4 headers.
    pub fn header_len(&self) -> usize {
        ETH_LEN + self.ip_len() + self.l4_header_len()
    }

    /// The smallest frame of this template.
    pub fn min_len(&self) -> usize {
        self.header_len().max(MIN_FRAME)
    }

    /// The frame length this spec produces, or why it cannot.
    pub fn frame_len(&self) -> Result<usize, FrameError> {
        let min = self.min_len();
        match self.size {
            None => Ok(min),
            Some(s) if (min..=MAX_FRAME).contains(&s) => Ok(s),
            Some(s) => Err(FrameError::Size {
                size: s,
                template: self.name(),
                min,
                max: MAX_FRAME,
            }),
        }
    }

    /// Distinct (source, destination, ports) flows, saturating at `u128::MAX`.
    pub fn flows(&self) -> u128 {
        let n = |span: u128| span.saturating_add(1);
        let dports = if self.proto == Proto::Icmp {
            1
        } else {
            n((self.dst_port.last - self.dst_port.first) as u128)
        };
        n(self.src_ip.span())
            .saturating_mul(n(self.dst_ip.span()))
            .saturating_mul(n((self.src_port.last - self.src_port.first) as u128))
            .saturating_mul(dports)
    }

    fn check_family(&self) -> Result<(), FrameError> {
        for (what, r) in [("--src-ip", &self.src_ip), ("--dst-ip", &self.dst_ip)] {
            if r.v6 != self.v6 {
                let v = |b: bool| if b { 6 } else { 4 };
                return Err(FrameError::Family {
                    what,
                    range: format!("{}", r.addr(r.first)),
                    got: v(r.v6),
                    want: v(self.v6),
                });
            }
        }
        Ok(())
    }
}

/// What varies between the frames of one template, and where.
#[derive(Debug, Clone, Copy)]
struct Layout {
    v6: bool,
    proto: Proto,
    /// L4 start.
    l4: usize,
    /// Whether the L4 checksum covers a pseudo header (all but ICMPv4).
    pseudo: bool,
}

/// xorshift64*: fast, good enough to spread flows; not for anything secret.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    #[inline]
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform-ish in 0..=span (multiply-shift, no division).
    #[inline]
    fn below_or_eq(&mut self, span: u128) -> u128 {
        if span == 0 {
            0
        } else if span < u64::MAX as u128 {
            ((self.next() as u128 * (span + 1)) >> 64) & u64::MAX as u128
        } else {
            let r = ((self.next() as u128) << 64) | self.next() as u128;
            if span == u128::MAX {
                r
            } else {
                r % (span + 1)
            }
        }
    }
}

/// Builds frames of one [`FrameSpec`], flow after flow.
#[derive(Debug, Clone)]
pub struct FrameBuilder {
    base: Vec<u8>,
    lay: Layout,
    /// Word sum of the IPv4 header with id, addresses and checksum zero.
    ip_sum: u64,
    /// Word sum of the L4 header and payload with the varying fields and checksum zero, plus the
    /// pseudo header's protocol and length.
    l4_sum: u64,
    src_ip: IpRange,
    dst_ip: IpRange,
    src_port: PortRange,
    dst_port: PortRange,
    random: bool,
    rng: Rng,
    // Sequential walk: offsets into each range (an odometer, source port fastest).
    sp: u16,
    sip: u128,
    dp: u16,
    dip: u128,
    counter: u64,
}

impl FrameBuilder {
    pub fn new(spec: &FrameSpec) -> Result<FrameBuilder, FrameError> {
        spec.check_family()?;
        let len = spec.frame_len()?;
        let v6 = spec.v6;
        let ip = ETH_LEN;
        let l4 = ip + spec.ip_len();
        let mut f = vec![0u8; len];
        let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
        eth.set_dst_addr(spec.dst_mac);
        eth.set_src_addr(spec.src_mac);
        eth.set_ethertype(if v6 { ethertype::IPV6 } else { ethertype::IPV4 });
        let (proto_num, l4_len) = match spec.proto {
            // A SYN carries no data: anything past its headers is Ethernet padding.
            Proto::Syn => (ip_proto::TCP, 20),
            Proto::Udp => (ip_proto::UDP, len - l4),
            Proto::Icmp if v6 => (ip_proto::ICMPV6, len - l4),
            Proto::Icmp => (ip_proto::ICMP, len - l4),
        };
        if v6 {
            let mut p = Ipv6Packet::new_unchecked(&mut f[ip..]);
            p.set_version_tc_flow(0, 0);
            p.set_payload_len(l4_len as u16);
            p.set_next_header(proto_num);
            p.set_hop_limit(64);
        } else {
            let mut p = Ipv4Packet::new_unchecked(&mut f[ip..]);
            p.set_header_len(20);
            p.set_total_len((20 + l4_len) as u16);
            p.set_frag(true, false, 0);
            p.set_ttl(64);
            p.set_protocol(proto_num);
        }
        let seg = &mut f[l4..];
        match spec.proto {
            Proto::Syn => {
                let mut t = TcpPacket::new_unchecked(seg);
                t.set_header_len_flags(20, tcp::flags::SYN);
                t.set_window_len(64240);
            }
            Proto::Udp => UdpPacket::new_unchecked(seg).set_len(l4_len as u16),
            Proto::Icmp if v6 => Icmpv6Packet::new_unchecked(seg)
                .set_msg_type(ringcap_wire::icmpv6::kind::ECHO_REQUEST),
            Proto::Icmp => {
                IcmpPacket::new_unchecked(seg).set_msg_type(ringcap_wire::icmp::kind::ECHO_REQUEST)
            }
        }
        let payload = l4 + spec.l4_header_len();
        if spec.proto != Proto::Syn {
            const FILL: &[u8] = b"ringcap ";
            for (i, b) in f[payload..].iter_mut().enumerate() {
                *b = FILL[i % FILL.len()];
            }
        }
        let lay = Layout {
            v6,
            proto: spec.proto,
            l4,
            pseudo: v6 || spec.proto != Proto::Icmp,
        };
        // The stored sums cover everything constant; `patch` adds the varying words.
        let ip_sum = if v6 { 0 } else { checksum::sum(&f[ip..l4]) };
        let mut l4_sum = checksum::sum(&f[l4..l4 + l4_len]);
        if lay.pseudo {
            l4_sum += u64::from(proto_num) + l4_len as u64;
        }
        Ok(FrameBuilder {
            base: f,
            lay,
            ip_sum,
            l4_sum,
            src_ip: spec.src_ip,
            dst_ip: spec.dst_ip,
            src_port: spec.src_port,
            dst_port: spec.dst_port,
            random: spec.random,
            rng: Rng::new(spec.seed),
            sp: 0,
            sip: 0,
            dp: 0,
            dip: 0,
            counter: 0,
        })
    }

    /// Frame length.
    pub fn len(&self) -> usize {
        self.base.len()
    }

    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// The base frame (varying fields zero, checksums unset).
    pub fn base(&self) -> &[u8] {
        &self.base
    }

    /// Starts the walk at flow number `index` (so several senders walk different flows), or,
    /// for random walks, reseeds with `index` mixed in. Also offsets the sequence counter.
    pub fn start_at(&mut self, index: u64) {
        self.counter = index;
        if self.random {
            self.rng = Rng::new(self.rng.0 ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            return;
        }
        let mut rest = index as u128;
        let mut digit = |span: u128| -> u128 {
            match span.checked_add(1) {
                Some(n) => {
                    let d = rest % n;
                    rest /= n;
                    d
                }
                None => std::mem::take(&mut rest),
            }
        };
        self.sp = digit((self.src_port.last - self.src_port.first) as u128) as u16;
        self.sip = digit(self.src_ip.span());
        self.dp = if self.lay.proto == Proto::Icmp {
            0
        } else {
            digit((self.dst_port.last - self.dst_port.first) as u128) as u16
        };
        self.dip = digit(self.dst_ip.span());
    }

    /// Writes the base frame into `buf` (which must hold [`FrameBuilder::len`] bytes).
    pub fn prefill(&self, buf: &mut [u8]) {
        buf[..self.base.len()].copy_from_slice(&self.base);
    }

    /// Writes the next flow's varying fields and checksums into `buf`, which must already hold
    /// the base frame (see [`FrameBuilder::prefill`]); returns the frame length.
    #[inline]
    pub fn patch(&mut self, buf: &mut [u8]) -> usize {
        let (sp, sip, dp, dip) = self.next_flow();
        let lay = self.lay;
        let buf = &mut buf[..self.base.len()];
        let c = self.counter;
        self.counter = c.wrapping_add(1);

        let (ip, seg) = buf[ETH_LEN..].split_at_mut(lay.l4 - ETH_LEN);
        let addrs = if lay.v6 {
            let (s, d) = (Ipv6Addr::from(sip), Ipv6Addr::from(dip));
            let mut p = Ipv6Packet::new_unchecked(ip);
            p.set_src_addr(s);
            p.set_dst_addr(d);
            checksum::sum_v6(s) + checksum::sum_v6(d)
        } else {
            let (s, d) = (Ipv4Addr::from(sip as u32), Ipv4Addr::from(dip as u32));
            let id = c as u16;
            let addrs = checksum::sum_v4(s) + checksum::sum_v4(d);
            let mut p = Ipv4Packet::new_unchecked(ip);
            p.set_src_addr(s);
            p.set_dst_addr(d);
            p.set_ident(id);
            p.set_checksum(checksum::finish(self.ip_sum + addrs + u64::from(id)));
            addrs
        };
        let sum = self.l4_sum + if lay.pseudo { addrs } else { 0 };
        match lay.proto {
            Proto::Syn => {
                let seq = (c as u32).wrapping_mul(0x9e37_79b1);
                let mut t = TcpPacket::new_unchecked(seg);
                t.set_src_port(sp);
                t.set_dst_port(dp);
                t.set_seq_number(seq);
                let words =
                    u64::from(sp) + u64::from(dp) + u64::from(seq >> 16) + u64::from(seq & 0xffff);
                t.set_checksum(checksum::finish(sum + words));
            }
            Proto::Udp => {
                let mut u = UdpPacket::new_unchecked(seg);
                u.set_src_port(sp);
                u.set_dst_port(dp);
                // 0 means "no checksum" in UDP: the view sends it as 0xffff.
                u.set_checksum(checksum::finish(sum + u64::from(sp) + u64::from(dp)));
            }
            Proto::Icmp => {
                // Echo identifier and sequence sit at the same offsets in both ICMP versions.
                let seq = c as u16;
                let mut i = IcmpPacket::new_unchecked(seg);
                i.set_echo_ident(sp);
                i.set_echo_seq_no(seq);
                i.set_checksum(checksum::finish(sum + u64::from(sp) + u64::from(seq)));
            }
        }
        self.base.len()
    }

    /// Writes a whole frame (base and next flow) into `buf`; returns its length.
    pub fn write_next(&mut self, buf: &mut [u8]) -> usize {
        self.prefill(buf);
        self.patch(buf)
    }

    /// The next flow's (source port, source address, destination port, destination address).
    #[inline]
    fn next_flow(&mut self) -> (u16, u128, u16, u128) {
        let sps = self.src_port.last - self.src_port.first;
        let dps = self.dst_port.last - self.dst_port.first;
        if self.random {
            let sp = self.rng.below_or_eq(sps as u128) as u16;
            let sip = self.rng.below_or_eq(self.src_ip.span());
            let dp = self.rng.below_or_eq(dps as u128) as u16;
            let dip = self.rng.below_or_eq(self.dst_ip.span());
            return (
                self.src_port.first + sp,
                self.src_ip.first + sip,
                self.dst_port.first + dp,
                self.dst_ip.first + dip,
            );
        }
        let out = (
            self.src_port.first + self.sp,
            self.src_ip.first + self.sip,
            self.dst_port.first + self.dp,
            self.dst_ip.first + self.dip,
        );
        // Advance the odometer: source port, source address, destination port, destination.
        if self.sp < sps {
            self.sp += 1;
        } else {
            self.sp = 0;
            if self.sip < self.src_ip.span() {
                self.sip += 1;
            } else {
                self.sip = 0;
                if self.dp < dps && self.lay.proto != Proto::Icmp {
                    self.dp += 1;
                } else {
                    self.dp = 0;
                    if self.dip < self.dst_ip.span() {
                        self.dip += 1;
                    } else {
                        self.dip = 0;
                    }
                }
            }
        }
        out
    }
}

/// Checks every checksum of an Ethernet/IPv4|IPv6 + TCP|UDP|ICMP frame from scratch (through
/// the wire views' full-sum verification, independent of the incremental path above), for
/// tests and for checking received frames. Returns a description of the frame on success.
pub fn verify_checksums(f: &[u8]) -> Result<String, String> {
    let eth = EthernetFrame::new_checked(f)
        .ok()
        .filter(|_| f.len() >= ETH_LEN + 20)
        .ok_or_else(|| format!("frame of {} bytes is too short", f.len()))?;
    let (proto, src, dst, seg, pseudo) = match eth.ethertype() {
        ethertype::IPV4 => {
            let p = Ipv4Packet::new_checked(eth.payload())
                .ok()
                .filter(|p| !p.is_truncated())
                .ok_or("bad IPv4 header")?;
            if !p.verify_checksum() {
                return Err("bad IPv4 header checksum".into());
            }
            let pseudo = p.pseudo_header_sum();
            let (s, d) = (IpAddr::from(p.src_addr()), IpAddr::from(p.dst_addr()));
            (p.protocol(), s, d, p.payload(), pseudo)
        }
        ethertype::IPV6 => {
            let p = Ipv6Packet::new_checked(eth.payload())
                .ok()
                .filter(|p| !p.is_truncated())
                .ok_or("bad IPv6 payload length")?;
            let seg = p.payload();
            let pseudo = p.pseudo_header_sum(p.next_header(), seg.len() as u32);
            let (s, d) = (IpAddr::from(p.src_addr()), IpAddr::from(p.dst_addr()));
            (p.next_header(), s, d, seg, pseudo)
        }
        t => return Err(format!("ethertype {t:#06x} is not IP")),
    };
    let (name, ok) = match proto {
        ip_proto::TCP => ("TCP", TcpPacket::new_unchecked(seg).verify_checksum(pseudo)),
        // Verified in full even when zero: the generator always fills it in.
        ip_proto::UDP => ("UDP", checksum::finish(pseudo + checksum::sum(seg)) == 0),
        ip_proto::ICMP => ("ICMP", IcmpPacket::new_unchecked(seg).verify_checksum()),
        ip_proto::ICMPV6 => (
            "ICMPv6",
            Icmpv6Packet::new_unchecked(seg).verify_checksum(pseudo),
        ),
        p => return Err(format!("IP protocol {p} is not TCP, UDP or ICMP")),
    };
    if !ok {
        return Err(format!("bad {name} checksum"));
    }
    Ok(format!("{name} {src} > {dst}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(proto: Proto, v6: bool) -> FrameSpec {
        FrameSpec::new(proto, v6)
    }

    #[test]
    fn syn_is_the_classic_60_byte_frame() {
        let mut b = FrameBuilder::new(&spec(Proto::Syn, false)).unwrap();
        let mut f = [0u8; 128];
        let n = b.write_next(&mut f);
        assert_eq!(n, 60);
        let f = &f[..n];
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 2]);
        assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(f[14], 0x45);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 40); // IP total length
        assert_eq!(f[23], 6);
        assert_eq!(&f[26..30], &[10, 0, 0, 1]);
        assert_eq!(&f[30..34], &[10, 1, 0, 1]);
        assert_eq!(u16::from_be_bytes([f[34], f[35]]), 1024);
        assert_eq!(u16::from_be_bytes([f[36], f[37]]), 80);
        assert_eq!(f[46], 0x50);
        assert_eq!(f[47], 0x02); // SYN only
        assert_eq!(&f[54..60], &[0; 6]); // Ethernet padding
        assert_eq!(verify_checksums(f).unwrap(), "TCP 10.0.0.1 > 10.1.0.1");
    }

    #[test]
    fn every_template_has_valid_checksums_frame_after_frame() {
        for proto in [Proto::Syn, Proto::Udp, Proto::Icmp] {
            for v6 in [false, true] {
                for random in [false, true] {
                    for size in [None, Some(81), Some(1000), Some(9000)] {
                        let mut s = spec(proto, v6);
                        s.random = random;
                        s.size = size;
                        s.dst_port = "1-3".parse().unwrap();
                        s.dst_ip = if v6 {
                            "fd00:1::/126"
                        } else {
                            "10.1.0.0-10.1.0.9"
                        }
                        .parse()
                        .unwrap();
                        let mut b = FrameBuilder::new(&s).unwrap();
                        let mut buf = vec![0u8; 9000];
                        b.prefill(&mut buf);
                        for i in 0..300 {
                            // Patching over the previous frame must equal writing afresh.
                            let mut fresh = b.clone();
                            let mut whole = vec![0u8; 9000];
                            let n = fresh.write_next(&mut whole);
                            assert_eq!(b.patch(&mut buf), n);
                            assert_eq!(buf[..n], whole[..n]);
                            if let Err(e) = verify_checksums(&buf[..n]) {
                                panic!(
                                    "{} v6={v6} random={random} size={size:?} #{i}: {e}",
                                    s.name()
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn udp_checksum_zero_becomes_ffff() {
        // Find a flow whose checksum would be zero and check it is sent as 0xffff.
        let mut s = spec(Proto::Udp, false);
        s.src_port = PortRange::new(0, 65535);
        let mut b = FrameBuilder::new(&s).unwrap();
        let mut f = vec![0u8; 60];
        b.prefill(&mut f);
        let mut seen = 0;
        for _ in 0..70000 {
            b.patch(&mut f);
            assert_ne!(&f[40..42], &[0, 0]);
            if f[40..42] == [0xff, 0xff] {
                seen += 1;
            }
            verify_checksums(&f).unwrap();
        }
        assert!(seen > 0, "some flow should have hit the all-ones checksum");
    }

    #[test]
    fn sequential_walk_covers_all_flows_in_order() {
        let mut s = spec(Proto::Udp, false);
        s.src_port = "100-101".parse().unwrap();
        s.src_ip = "10.0.0.1-10.0.0.3".parse().unwrap();
        s.dst_port = "7-8".parse().unwrap();
        s.dst_ip = "10.1.0.1".parse().unwrap();
        assert_eq!(s.flows(), 12);
        let mut b = FrameBuilder::new(&s).unwrap();
        let mut f = vec![0u8; 60];
        let mut seen = Vec::new();
        for _ in 0..13 {
            b.write_next(&mut f);
            seen.push((f[29], u16::from_be_bytes([f[34], f[35]]), f[37]));
        }
        assert_eq!(&seen[..3], &[(1, 100, 7), (1, 101, 7), (2, 100, 7)]);
        assert_eq!(seen[6], (1, 100, 8));
        assert_eq!(seen[12], seen[0]); // wraps around
        let mut sorted = seen[..12].to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 12);

        // start_at(5) begins where the sixth frame of the walk was.
        let mut b2 = FrameBuilder::new(&s).unwrap();
        b2.start_at(5);
        b2.write_next(&mut f);
        assert_eq!((f[29], u16::from_be_bytes([f[34], f[35]]), f[37]), seen[5]);
    }

    #[test]
    fn random_walk_stays_in_range() {
        let mut s = spec(Proto::Syn, false);
        s.random = true;
        s.src_port = "5000-5009".parse().unwrap();
        s.src_ip = "192.168.1.10-192.168.1.12".parse().unwrap();
        let mut b = FrameBuilder::new(&s).unwrap();
        let mut f = vec![0u8; 60];
        let mut ports = std::collections::HashSet::new();
        for _ in 0..1000 {
            b.write_next(&mut f);
            let p = u16::from_be_bytes([f[34], f[35]]);
            assert!((5000..=5009).contains(&p));
            assert!((10..=12).contains(&f[29]));
            ports.insert(p);
        }
        assert_eq!(ports.len(), 10);
    }

    #[test]
    fn icmp_echo_request() {
        let mut b = FrameBuilder::new(&spec(Proto::Icmp, false)).unwrap();
        let mut f = vec![0u8; 60];
        b.write_next(&mut f);
        assert_eq!(f[23], 1);
        assert_eq!((f[34], f[35]), (8, 0));
        let mut b = FrameBuilder::new(&spec(Proto::Icmp, true)).unwrap();
        let mut f = vec![0u8; 62];
        assert_eq!(b.write_next(&mut f), 62);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[20], 58);
        assert_eq!((f[54], f[55]), (128, 0));
        verify_checksums(&f).unwrap();
    }

    #[test]
    fn sizes_and_families_are_checked() {
        let mut s = spec(Proto::Syn, true);
        assert_eq!(s.frame_len(), Ok(74));
        s.size = Some(60);
        assert!(matches!(
            FrameBuilder::new(&s),
            Err(FrameError::Size { min: 74, .. })
        ));
        s.size = Some(9001);
        assert!(FrameBuilder::new(&s).is_err());
        let mut s = spec(Proto::Udp, false);
        s.size = Some(59);
        assert!(FrameBuilder::new(&s).is_err());
        s.size = Some(1514);
        assert_eq!(FrameBuilder::new(&s).unwrap().len(), 1514);
        s.dst_ip = "fd00::1".parse().unwrap();
        let e = FrameBuilder::new(&s).unwrap_err();
        assert!(e.to_string().contains("--dst-ip"), "{e}");
    }

    #[test]
    fn verifier_catches_a_flipped_bit() {
        let mut b = FrameBuilder::new(&spec(Proto::Udp, false)).unwrap();
        let mut f = vec![0u8; 60];
        b.write_next(&mut f);
        verify_checksums(&f).unwrap();
        f[50] ^= 1;
        assert_eq!(verify_checksums(&f).unwrap_err(), "bad UDP checksum");
        f[50] ^= 1;
        f[27] ^= 1;
        assert_eq!(
            verify_checksums(&f).unwrap_err(),
            "bad IPv4 header checksum"
        );
    }
}
