//! The link layer: which network protocol a packet carries (libpcap's gen_linktype per link
//! type), `vlan` and `mpls` and the offsets they move, Ethernet addresses, broadcast and
//! multicast, direction, `ifindex`, `byte`.

use super::{cmp, err, Codegen, R};
use crate::ast::{ByteOp, Dir, Proto, Span};
use crate::bpf::*;
use crate::cond::{ins, Cond};
use crate::{LinkType, Target};

pub(super) const ETHERTYPE_IP: u32 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u32 = 0x86dd;
pub(super) const ETHERTYPE_ARP: u32 = 0x0806;
pub(super) const ETHERTYPE_REVARP: u32 = 0x8035;
const ETHERTYPE_ATALK: u32 = 0x809b;
const ETHERTYPE_AARP: u32 = 0x80f3;
const ETHERTYPE_IPX: u32 = 0x8137;
const ETHERTYPE_MPLS: u32 = 0x8847;
const ETHERMTU: u32 = 1500;
const LLCSAP_IP: u32 = 0x06;
const LLCSAP_ISONS: u32 = 0xfe;
const LLCSAP_NETBEUI: u32 = 0xf0;
const LLCSAP_IPX: u32 = 0xe0;
const LLCSAP_8021D: u32 = 0x42;
/// Linux cooked headers: the protocol of 802.2 LLC frames and of raw 802.3 (Novell) frames.
const LINUX_SLL_P_802_2: u32 = 4;
const LINUX_SLL_P_802_3: u32 = 1;

impl Codegen<'_> {
    /// Where the link-layer payload starts (libpcap's off_linkpl): the LLC header, if any.
    fn off_llc(&self) -> u32 {
        match self.link {
            LinkType::Ethernet | LinkType::LinuxSll => self.st.off_lt + 2,
            _ => self.st.off_nl,
        }
    }

    /// The packet carries network protocol `et` (an Ethernet type, or an LLC SAP when at most
    /// 1500): libpcap's gen_linktype.
    pub(super) fn linktype(&self, et: u32, span: Span) -> R<Cond> {
        let nl = self.st.off_nl;
        if self.st.mpls_depth > 0 {
            // the bottom-of-stack bit of the last label, then the IP version
            let bos = self.mcmp(B, nl - 2, 0x01, 0x01);
            return match et {
                ETHERTYPE_IP => Ok(bos.and(self.mcmp(B, nl, 0xf0, 0x40))),
                ETHERTYPE_IPV6 => Ok(bos.and(self.mcmp(B, nl, 0xf0, 0x60))),
                _ => Err(err("unsupported protocol over mpls", span)),
            };
        }
        let lt = self.st.off_lt;
        Ok(match self.link {
            LinkType::Ethernet => self.ether_linktype(et),
            LinkType::LinuxSll => self.sll_linktype(et),
            LinkType::LinuxSll2 => cmp(H, lt, JEQ, et),
            LinkType::Raw => match et {
                ETHERTYPE_IP => self.mcmp(B, 0, 0xf0, 0x40),
                ETHERTYPE_IPV6 => self.mcmp(B, 0, 0xf0, 0x60),
                _ => self.konst(false),
            },
            LinkType::Ipv4 => self.konst(et == ETHERTYPE_IP),
            LinkType::Ipv6 => self.konst(et == ETHERTYPE_IPV6),
            // the BSD address family, in the byte order of this (little-endian) host
            LinkType::Null => match et {
                ETHERTYPE_IP => cmp(W, 0, JEQ, 2u32.to_be()),
                // Darwin's, then BSD's, then FreeBSD's AF_INET6
                ETHERTYPE_IPV6 => {
                    Cond::any_of([30u32, 24, 28].map(|af| cmp(W, 0, JEQ, af.to_be())))
                }
                _ => self.konst(false),
            },
        })
    }

    /// An 802.2 LLC header with SNAP, organization `org`, type `ptype` (gen_snap).
    fn snap(&self, org: u32, ptype: u32) -> Cond {
        let o = self.off_llc();
        let w0 = 0xaaaa_0300 | (org >> 16);
        let w1 = ((org & 0xffff) << 16) | ptype;
        cmp(W, o + 4, JEQ, w1).and(cmp(W, o, JEQ, w0))
    }

    fn ether_linktype(&self, et: u32) -> Cond {
        let (lt, llc) = (self.st.off_lt, self.off_llc());
        let not_type = || cmp(H, lt, JGT, ETHERMTU).not();
        match et {
            LLCSAP_ISONS | LLCSAP_IP | LLCSAP_NETBEUI => {
                not_type().and(cmp(H, llc, JEQ, (et << 8) | et))
            }
            LLCSAP_IPX => {
                let llc_ipx = cmp(B, llc, JEQ, LLCSAP_IPX).or(cmp(H, llc, JEQ, 0xffff));
                let b = self.snap(0, ETHERTYPE_IPX).or(llc_ipx);
                cmp(H, lt, JEQ, ETHERTYPE_IPX).or(not_type().and(b))
            }
            ETHERTYPE_ATALK | ETHERTYPE_AARP => {
                let org = if et == ETHERTYPE_ATALK { 0x080007 } else { 0 };
                cmp(H, lt, JEQ, et).or(not_type().and(self.snap(org, et)))
            }
            _ if et <= ETHERMTU => not_type().and(cmp(B, lt + 2, JEQ, et)),
            _ => cmp(H, lt, JEQ, et),
        }
    }

    fn sll_linktype(&self, et: u32) -> Cond {
        let (lt, llc) = (self.st.off_lt, self.off_llc());
        let p8022 = || cmp(H, lt, JEQ, LINUX_SLL_P_802_2);
        match et {
            LLCSAP_ISONS | LLCSAP_IP | LLCSAP_NETBEUI => {
                p8022().and(cmp(H, llc, JEQ, (et << 8) | et))
            }
            LLCSAP_IPX => {
                let b = cmp(B, llc, JEQ, LLCSAP_IPX).or(self.snap(0, ETHERTYPE_IPX));
                let b = cmp(H, lt, JEQ, LINUX_SLL_P_802_3).or(p8022().and(b));
                cmp(H, lt, JEQ, ETHERTYPE_IPX).or(b)
            }
            ETHERTYPE_ATALK | ETHERTYPE_AARP => {
                let org = if et == ETHERTYPE_ATALK { 0x080007 } else { 0 };
                cmp(H, lt, JEQ, et).or(p8022().and(self.snap(org, et)))
            }
            _ if et <= ETHERMTU => p8022().and(cmp(B, llc, JEQ, et)),
            _ => cmp(H, lt, JEQ, et),
        }
    }

    pub(super) fn ipv4(&self, span: Span) -> R<Cond> {
        self.linktype(ETHERTYPE_IP, span)
    }
    pub(super) fn ipv6(&self, span: Span) -> R<Cond> {
        self.linktype(ETHERTYPE_IPV6, span)
    }
    /// IPv4 carrying protocol `p` (gen_proto for `ip`).
    pub(super) fn v4_proto(&self, p: u32, span: Span) -> R<Cond> {
        Ok(self.ipv4(span)?.and(cmp(B, self.st.off_nl + 9, JEQ, p)))
    }
    /// IPv6 carrying protocol `p` directly or after a fragment header (gen_proto for `ip6`).
    pub(super) fn v6_proto(&self, p: u32, span: Span) -> R<Cond> {
        let nl = self.st.off_nl;
        let direct = cmp(B, nl + 6, JEQ, p);
        let frag = cmp(B, nl + 6, JEQ, 44).and(cmp(B, nl + 40, JEQ, p));
        Ok(self.ipv6(span)?.and(direct.or(frag)))
    }
    /// Not a fragment after the first (gen_ipfrag).
    pub(super) fn nofrag(&self) -> Cond {
        Cond::test(
            vec![ins(LD | H | ABS, self.st.off_nl + 6)],
            JSET | K,
            0x1fff,
        )
        .not()
    }

    /// A protocol on its own (gen_proto_abbrev).
    pub(super) fn proto_abbrev(&self, p: Proto, span: Span) -> R<Cond> {
        let both = |n: u32| -> R<Cond> { Ok(self.v4_proto(n, span)?.or(self.v6_proto(n, span)?)) };
        match p {
            Proto::Link => Err(err("link layer applied in wrong context", span)),
            Proto::Ip => self.ipv4(span),
            Proto::Ip6 => self.ipv6(span),
            Proto::Arp => self.linktype(ETHERTYPE_ARP, span),
            Proto::Rarp => self.linktype(ETHERTYPE_REVARP, span),
            Proto::Tcp => both(6),
            Proto::Udp => both(17),
            Proto::Sctp => both(132),
            Proto::Pim => both(103),
            Proto::Ah => both(51),
            Proto::Esp => both(50),
            Proto::Icmp => self.v4_proto(1, span),
            Proto::Igmp => self.v4_proto(2, span),
            Proto::Igrp => self.v4_proto(9, span),
            Proto::Vrrp | Proto::Carp => self.v4_proto(112, span),
            Proto::Icmp6 => self.v6_proto(58, span),
            Proto::Other(name) => {
                let et = match name {
                    "atalk" => ETHERTYPE_ATALK,
                    "aarp" => ETHERTYPE_AARP,
                    "decnet" => 0x6003,
                    "lat" => 0x6004,
                    "sca" => 0x6007,
                    "mopdl" => 0x6001,
                    "moprc" => 0x6002,
                    "iso" => LLCSAP_ISONS,
                    "stp" => LLCSAP_8021D,
                    "ipx" => LLCSAP_IPX,
                    "netbeui" => LLCSAP_NETBEUI,
                    _ => return Err(err(format!("'{name}' is not supported"), span)),
                };
                self.linktype(et, span)
            }
        }
    }

    pub(super) fn vlan(&mut self, id: Option<u32>, span: Span) -> R<Cond> {
        if self.st.mpls_depth > 0 {
            return Err(err("no VLAN match after MPLS", span));
        }
        if self.link != LinkType::Ethernet {
            return Err(err("no VLAN support for this link type", span));
        }
        if self.target == Target::LinuxLive && !self.st.live_vlan_done && self.st.off_lt == 12 {
            // The kernel took the outer tag out of the bytes: test its metadata, move nothing.
            self.st.live_vlan_done = true;
            let mut c = cmp(B, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT, JEQ, 1);
            if let Some(n) = id {
                if n > 0x0fff {
                    return Err(err(format!("VLAN tag {n} greater than maximum 4095"), span));
                }
                c = c.and(self.mcmp(H, SKF_AD_OFF + SKF_AD_VLAN_TAG, 0x0fff, n));
            }
            return Ok(c);
        }
        let tpid = [0x8100, 0x88a8, 0x9100]
            .iter()
            .map(|t| self.linktype(*t, span))
            .collect::<R<Vec<_>>>()?;
        let mut c = Cond::any_of(tpid);
        if let Some(n) = id {
            if n > 0x0fff {
                return Err(err(format!("VLAN tag {n} greater than maximum 4095"), span));
            }
            c = c.and(self.mcmp(H, self.st.off_nl, 0x0fff, n));
        }
        self.st.off_lt += 4;
        self.st.off_nl += 4;
        Ok(c)
    }

    pub(super) fn mpls(&mut self, label: Option<u32>, span: Span) -> R<Cond> {
        let nl = self.st.off_nl;
        let mut c = if self.st.mpls_depth > 0 {
            // the label before was not the bottom of the stack
            self.mcmp(B, nl - 2, 0x01, 0)
        } else if self.link == LinkType::Ethernet {
            self.linktype(ETHERTYPE_MPLS, span)?
        } else {
            return Err(err("no MPLS support for this link type", span));
        };
        if let Some(l) = label {
            if l > 0xfffff {
                return Err(err(
                    format!("MPLS label {l} greater than maximum 1048575"),
                    span,
                ));
            }
            c = c.and(self.mcmp(W, nl, 0xffff_f000, l << 12));
        }
        self.st.off_nl += 4;
        self.st.mpls_depth += 1;
        Ok(c)
    }

    /// `src`/`dst` tests of the 6-byte Ethernet address at offsets 6 and 0 (gen_ehostop).
    pub(super) fn ehost(&self, m: &[u8; 6], dir: Dir, span: Span) -> R<Cond> {
        let lo = u32::from_be_bytes([m[2], m[3], m[4], m[5]]);
        let hi = u16::from_be_bytes([m[0], m[1]]) as u32;
        let at = |o: u32| cmp(W, o + 2, JEQ, lo).and(cmp(H, o, JEQ, hi));
        Ok(match dir {
            Dir::Src => at(6),
            Dir::Dst => at(0),
            Dir::SrcAndDst => at(6).and(at(0)),
            Dir::Default | Dir::SrcOrDst => at(6).or(at(0)),
            Dir::Wlan(q) => {
                return Err(err(
                    format!("'{q}' is only supported on 802.11 with 802.11 headers"),
                    span,
                ))
            }
        })
    }

    pub(super) fn broadcast(&self, p: Option<Proto>, span: Span) -> R<Cond> {
        match p {
            None | Some(Proto::Link) => {
                if self.link != LinkType::Ethernet {
                    return Err(err("not a broadcast link", span));
                }
                self.ehost(&[0xff; 6], Dir::Dst, span)
            }
            Some(Proto::Ip) => {
                // reading files, tcpdump's netmask is 0: the whole address is the host part
                let o = self.st.off_nl + 16;
                Ok(self
                    .ipv4(span)?
                    .and(cmp(W, o, JEQ, 0).or(cmp(W, o, JEQ, 0xffff_ffff))))
            }
            _ => Err(err("only link-layer/IP broadcast filters supported", span)),
        }
    }

    pub(super) fn multicast(&self, p: Option<Proto>, span: Span) -> R<Cond> {
        match p {
            None | Some(Proto::Link) if self.link == LinkType::Ethernet => {
                Ok(cmp(B, 0, JSET, 1))
            }
            Some(Proto::Ip) => Ok(self.ipv4(span)?.and(cmp(B, self.st.off_nl + 16, JGE, 224))),
            Some(Proto::Ip6) => Ok(self.ipv6(span)?.and(cmp(B, self.st.off_nl + 24, JEQ, 255))),
            _ => Err(err(
                "link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel",
                span,
            )),
        }
    }

    pub(super) fn direction(&self, outbound: bool, span: Span) -> R<Cond> {
        let c = match (self.link, self.target) {
            (LinkType::LinuxSll, _) => cmp(H, 0, JEQ, 4),
            (LinkType::LinuxSll2, _) => cmp(B, 10, JEQ, 4),
            (LinkType::Ethernet, Target::LinuxLive) => cmp(H, SKF_AD_OFF + SKF_AD_PKTTYPE, JEQ, 4),
            (LinkType::Ethernet, Target::File) => {
                return Err(err(
                    "inbound/outbound not supported on Ethernet when reading savefiles",
                    span,
                ))
            }
            _ => {
                return Err(err(
                    "inbound/outbound not supported on this link type",
                    span,
                ))
            }
        };
        Ok(if outbound { c } else { c.not() })
    }

    pub(super) fn ifindex(&self, n: u32, span: Span) -> R<Cond> {
        match (self.link, self.target) {
            (LinkType::LinuxSll2, _) => Ok(cmp(W, 4, JEQ, n)),
            (_, Target::LinuxLive) => Ok(cmp(W, SKF_AD_OFF + SKF_AD_IFINDEX, JEQ, n)),
            _ => Err(err(
                "ifindex not supported on this link type when reading savefiles",
                span,
            )),
        }
    }

    /// `byte N op V` on the link-layer header (gen_byteop).
    pub(super) fn byte(&self, off: u32, op: ByteOp, v: u32, span: Span) -> R<Cond> {
        Ok(match op {
            ByteOp::Eq => cmp(B, off, JEQ, v),
            ByteOp::Lt => cmp(B, off, JGE, v).not(),
            ByteOp::Gt => cmp(B, off, JGT, v),
            // libpcap emits no load for these: they test whatever the accumulator holds
            ByteOp::And | ByteOp::Or => {
                return Err(err(
                    "'byte N & V' and 'byte N | V' are not supported (use ether[N] & V != 0)",
                    span,
                ))
            }
        })
    }
}
