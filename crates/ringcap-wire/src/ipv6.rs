//! IPv6 header (RFC 8200) and the walk over its extension headers: hop-by-hop, routing,
//! fragment, destination options and AH. The walk ends at the upper-layer header, at ESP or
//! "no next header", or after a non-first fragment's header (its data is not a header).

use std::net::Ipv6Addr;

use crate::be::{array, set_u16, set_u32, u16_at, u32_at};
use crate::checksum;
use crate::consts::ip_proto;
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
    pub const PAYLOAD: usize = 40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer holding a version-6 fixed header. The payload may be cut short.
    pub fn new_checked(buffer: T) -> Result<Ipv6Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (u16_at(self.buffer.as_ref(), 0) >> 4) as u8
    }

    #[inline]
    pub fn flow_label(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::VER_TC_FLOW.start) & 0x000f_ffff
    }

    #[inline]
    pub fn payload_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The first next-header value (an extension header or the upper layer).
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::SRC.start))
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::DST.start))
    }

    /// The capture holds fewer bytes than the payload length says.
    pub fn is_truncated(&self) -> bool {
        self.buffer.as_ref().len() < HEADER_LEN + usize::from(self.payload_len())
    }

    /// Sum of the pseudo-header for an upper-layer packet of `len` bytes.
    pub fn pseudo_header_sum(&self, next_header: u8, len: u32) -> u64 {
        checksum::pseudo_v6(self.src_addr(), self.dst_addr(), next_header, len)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv6Packet<&'a T> {
    /// The payload the payload length covers, clamped to the captured bytes. A zero payload
    /// length with a hop-by-hop header (a jumbogram, RFC 2675) runs to the end of the buffer.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let len = match self.payload_len() {
            0 if self.next_header() == ip_proto::HOPOPT => b.len(),
            n => HEADER_LEN + usize::from(n),
        };
        &b[HEADER_LEN..len.min(b.len())]
    }

    /// Walks the extension headers of the payload.
    pub fn ext_headers(&self) -> ExtHeaders<'a> {
        ExtHeaders::new(self.next_header(), self.payload())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label.
    #[inline]
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let w = 6 << 28 | u32::from(traffic_class) << 20 | (flow_label & 0x000f_ffff);
        set_u32(self.buffer.as_mut(), field::VER_TC_FLOW.start, w);
    }

    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH.start, len);
    }

    #[inline]
    pub fn set_next_header(&mut self, nh: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = nh;
    }

    #[inline]
    pub fn set_hop_limit(&mut self, hl: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hl;
    }

    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// Whether `nh` is an extension header the walk steps over.
pub const fn is_ext_header(nh: u8) -> bool {
    matches!(
        nh,
        ip_proto::HOPOPT
            | ip_proto::ROUTING
            | ip_proto::FRAGMENT
            | ip_proto::DSTOPTS
            | ip_proto::AH
    )
}

/// One extension header, borrowed whole (its next-header and length bytes included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader<'a> {
    /// This header's own protocol number (0, 43, 44, 60 or 51).
    pub kind: u8,
    pub bytes: &'a [u8],
}

/// The fields of a fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Offset in bytes.
    pub offset: u16,
    pub more: bool,
    pub ident: u32,
}

impl<'a> ExtHeader<'a> {
    /// Parses one header of kind `kind` at the start of `b`; also used for AH after IPv4.
    pub fn parse(kind: u8, b: &'a [u8]) -> Result<ExtHeader<'a>> {
        let [_, l, ..] = *b else {
            return Err(Error::Truncated);
        };
        let len = match kind {
            ip_proto::FRAGMENT => 8,
            ip_proto::AH => (usize::from(l) + 2) * 4,
            _ => (usize::from(l) + 1) * 8,
        };
        match b.get(..len) {
            Some(bytes) if len >= 8 || kind != ip_proto::FRAGMENT => Ok(ExtHeader { kind, bytes }),
            _ => Err(Error::Truncated),
        }
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.bytes[0]
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The fragment header's fields.
    pub fn fragment(&self) -> Option<Fragment> {
        (self.kind == ip_proto::FRAGMENT).then(|| {
            let w = u16_at(self.bytes, 2);
            Fragment {
                offset: w & 0xfff8,
                more: w & 1 != 0,
                ident: u32_at(self.bytes, 4),
            }
        })
    }

    /// The routing header's (routing type, segments left).
    pub fn routing(&self) -> Option<(u8, u8)> {
        (self.kind == ip_proto::ROUTING).then(|| (self.bytes[2], self.bytes[3]))
    }

    /// AH's (security parameters index, sequence number), when the header holds them.
    pub fn ah(&self) -> Option<(u32, u32)> {
        (self.kind == ip_proto::AH && self.bytes.len() >= 12)
            .then(|| (u32_at(self.bytes, 4), u32_at(self.bytes, 8)))
    }

    /// Hop-by-hop and destination options: the TLV area after the two fixed bytes.
    pub fn options(&self) -> &'a [u8] {
        match self.kind {
            ip_proto::HOPOPT | ip_proto::DSTOPTS => &self.bytes[2..],
            _ => &[],
        }
    }
}

/// Iterator over the extension headers; afterwards [`ExtHeaders::upper_layer`] tells where
/// the walk stopped.
#[derive(Debug, Clone)]
pub struct ExtHeaders<'a> {
    next: u8,
    rest: &'a [u8],
    state: WalkEnd,
}

/// How an extension-header walk ended (or [`WalkEnd::Walking`] while it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkEnd {
    Walking,
    /// At the upper-layer header.
    Upper,
    /// After the header of a non-first fragment: the rest is fragment data.
    Fragment,
    /// An extension header ran past the captured bytes.
    Truncated,
}

impl<'a> ExtHeaders<'a> {
    pub fn new(first: u8, payload: &'a [u8]) -> ExtHeaders<'a> {
        ExtHeaders {
            next: first,
            rest: payload,
            state: WalkEnd::Walking,
        }
    }

    /// The protocol number reached, the bytes from there, and how the walk ended. Call after
    /// the iterator returned `None` (it walks the remaining headers itself if not).
    pub fn upper_layer(mut self) -> (u8, &'a [u8], WalkEnd) {
        for _ in self.by_ref() {}
        (self.next, self.rest, self.state)
    }
}

impl<'a> Iterator for ExtHeaders<'a> {
    type Item = Result<ExtHeader<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != WalkEnd::Walking {
            return None;
        }
        if !is_ext_header(self.next) {
            self.state = WalkEnd::Upper;
            return None;
        }
        match ExtHeader::parse(self.next, self.rest) {
            Ok(h) => {
                self.next = h.next_header();
                self.rest = &self.rest[h.len()..];
                if h.fragment().is_some_and(|f| f.offset != 0) {
                    self.state = WalkEnd::Fragment;
                }
                Some(Ok(h))
            }
            Err(e) => {
                self.state = WalkEnd::Truncated;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fd00::1 -> ff02::fb, hop limit 255, flow label 0x12345, TC 0xb8: hop-by-hop (8 bytes,
    /// PadN), routing type 4 (24 bytes, 1 segment left), fragment (offset 0, MF, id 7), UDP.
    fn packet() -> Vec<u8> {
        let mut p = vec![0x6b, 0x81, 0x23, 0x45, 0x00, 48, 0, 255];
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb]);
        p.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[44, 2, 4, 1, 0, 0, 0, 0]);
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 7]);
        p.extend_from_slice(&[0x00, 0x35, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00]);
        p
    }

    #[test]
    fn fixed_header() {
        let b = packet();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xb8, 0x12345)
        );
        assert_eq!(
            (p.payload_len(), p.next_header(), p.hop_limit()),
            (48, 0, 255)
        );
        assert_eq!(p.src_addr(), "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "ff02::fb".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.payload().len(), 48);
        assert!(!p.is_truncated());
        assert_eq!(Ipv6Packet::new_checked(&b[..39]), Err(Error::Truncated));
        let mut v4 = b.clone();
        v4[0] = 0x45;
        assert_eq!(Ipv6Packet::new_checked(&v4[..]), Err(Error::Malformed));
    }

    #[test]
    fn ext_walk() {
        let b = packet();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let hs: Vec<_> = p.ext_headers().collect::<Result<_>>().unwrap();
        assert_eq!(
            hs.iter().map(|h| (h.kind, h.len())).collect::<Vec<_>>(),
            [(0, 8), (43, 24), (44, 8)]
        );
        assert_eq!(hs[0].options(), &[1, 4, 0, 0, 0, 0]);
        assert_eq!(hs[1].routing(), Some((4, 1)));
        assert_eq!(
            hs[2].fragment(),
            Some(Fragment {
                offset: 0,
                more: true,
                ident: 7
            })
        );
        let (nh, rest, end) = p.ext_headers().upper_layer();
        assert_eq!((nh, rest.len(), end), (17, 8, WalkEnd::Upper));
        // A non-first fragment ends the walk after its header.
        let mut nf = b.clone();
        nf[40 + 32 + 3] = 0x10;
        let p = Ipv6Packet::new_checked(&nf[..]).unwrap();
        let (nh, rest, end) = p.ext_headers().upper_layer();
        assert_eq!((nh, rest.len(), end), (17, 8, WalkEnd::Fragment));
        // Cut inside the routing header.
        let p = Ipv6Packet::new_checked(&b[..60]).unwrap();
        assert!(p.is_truncated());
        let items: Vec<_> = p.ext_headers().collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], Err(Error::Truncated));
        assert_eq!(p.ext_headers().upper_layer().2, WalkEnd::Truncated);
    }

    #[test]
    fn ah_length_is_in_words_of_four() {
        let ah = [
            6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        let h = ExtHeader::parse(ip_proto::AH, &ah).unwrap();
        assert_eq!((h.len(), h.next_header(), h.ah()), (24, 6, Some((256, 9))));
        assert_eq!(
            ExtHeader::parse(ip_proto::AH, &ah[..23]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn write() {
        let mut b = [0u8; 40];
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_version_tc_flow(0xb8, 0x12345);
        p.set_payload_len(48);
        p.set_next_header(0);
        p.set_hop_limit(255);
        p.set_src_addr("fd00::1".parse().unwrap());
        p.set_dst_addr("ff02::fb".parse().unwrap());
        assert_eq!(b[..], packet()[..40]);
    }
}
