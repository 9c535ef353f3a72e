//! IPv4 header (RFC 791). The checked constructor needs the whole header (options included);
//! the payload is what the total length covers, clamped to the bytes captured, so a view over a
//! snapped packet still reads its transport header.

use std::net::Ipv4Addr;

use crate::be::{array, set_u16, u16_at};
use crate::checksum;
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

/// Flag bits of the flags/fragment-offset word.
const DONT_FRAG: u16 = 0x4000;
const MORE_FRAGS: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer holding a version-4 header of at least 20 bytes whose header length and
    /// total length agree with each other. The payload may be cut short by the capture.
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if self.version() != 4 || hl < MIN_HEADER_LEN || usize::from(self.total_len()) < hl {
            return Err(Error::Malformed);
        }
        if len < hl {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 3
    }

    /// The whole second byte (TOS), as tcpdump prints it.
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    #[inline]
    pub fn total_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::LENGTH.start)
    }

    #[inline]
    pub fn ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::IDENT.start)
    }

    #[inline]
    pub fn dont_frag(&self) -> bool {
        u16_at(self.buffer.as_ref(), field::FLG_OFF.start) & DONT_FRAG != 0
    }

    #[inline]
    pub fn more_frags(&self) -> bool {
        u16_at(self.buffer.as_ref(), field::FLG_OFF.start) & MORE_FRAGS != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (u16_at(self.buffer.as_ref(), field::FLG_OFF.start) & OFFSET_MASK) << 3
    }

    /// Any fragment, first or not.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::SRC.start))
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::DST.start))
    }

    /// Whether the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// The capture holds fewer bytes than the total length says.
    pub fn is_truncated(&self) -> bool {
        self.buffer.as_ref().len() < usize::from(self.total_len())
    }

    /// Sum of the pseudo-header for the payload (RFC 793/768), for transport checksums.
    pub fn pseudo_header_sum(&self) -> u64 {
        let len = self.total_len().saturating_sub(self.header_len() as u16);
        checksum::pseudo_v4(self.src_addr(), self.dst_addr(), self.protocol(), len)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// Header options (between the fixed header and the header length).
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// The payload the total length covers, clamped to the captured bytes (Ethernet padding is
    /// left out).
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.total_len()).clamp(self.header_len(), b.len());
        &b[self.header_len()..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (a multiple of 4, 20..=60).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((len / 4) as u8 & 0x0f);
    }

    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = tos;
    }

    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH.start, len);
    }

    #[inline]
    pub fn set_ident(&mut self, id: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT.start, id);
    }

    /// Sets the flags and the fragment offset (in bytes, a multiple of 8) together.
    #[inline]
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let w = if dont_frag { DONT_FRAG } else { 0 }
            | if more_frags { MORE_FRAGS } else { 0 }
            | ((offset >> 3) & OFFSET_MASK);
        set_u16(self.buffer.as_mut(), field::FLG_OFF.start, w);
    }

    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    #[inline]
    pub fn set_protocol(&mut self, p: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = p;
    }

    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }

    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Computes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(c);
    }

    /// Everything after the header, up to the end of the buffer.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UDP 192.168.0.1 -> 192.168.0.199, TTL 64, DF, total length 0x73; a commonly quoted
    /// header whose checksum is 0xb861. Followed here by 2 payload bytes and 2 bytes padding.
    const PACKET: [u8; 24] = [
        0x45, 0x00, 0x00, 0x16, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7, 0xaa, 0xbb, 0x00, 0x00,
    ];

    #[test]
    fn read() {
        let p = Ipv4Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(
            (p.version(), p.header_len(), p.tos(), p.total_len()),
            (4, 20, 0, 22)
        );
        assert_eq!(
            (p.dont_frag(), p.more_frags(), p.frag_offset()),
            (true, false, 0)
        );
        assert!(!p.is_fragment());
        assert_eq!((p.ttl(), p.protocol()), (64, 17));
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
        assert!(p.options().is_empty());
        assert!(!p.is_truncated());
        // Total length 0x16 instead of the original 0x73 changes the checksum.
        assert!(!p.verify_checksum());
    }

    #[test]
    fn checksum_round_trip() {
        let mut b = PACKET;
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_total_len(0x73);
        assert!(p.verify_checksum(), "the quoted header verifies");
        p.set_total_len(22);
        p.fill_checksum();
        assert!(p.verify_checksum());
        // 0x5d less in the sum is 0x5d more in its complement.
        assert_eq!(p.checksum(), 0xb8be);
        assert_eq!(checksum::update(0xb861, 0x73, 0x16), 0xb8be);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Ipv4Packet::new_checked(&PACKET[..19]),
            Err(Error::Truncated)
        );
        let mut b = PACKET;
        b[0] = 0x65;
        assert_eq!(Ipv4Packet::new_checked(&b[..]), Err(Error::Malformed));
        b[0] = 0x44;
        assert_eq!(Ipv4Packet::new_checked(&b[..]), Err(Error::Malformed));
        b[0] = 0x46;
        b[3] = 0x20;
        assert_eq!(Ipv4Packet::new_checked(&b[..23]), Err(Error::Truncated));
        b[3] = 0x10;
        assert_eq!(Ipv4Packet::new_checked(&b[..]), Err(Error::Malformed));
        // Cut by the capture: accepted, payload clamped.
        let p = Ipv4Packet::new_checked(&PACKET[..21]).unwrap();
        assert!(p.is_truncated());
        assert_eq!(p.payload(), &[0xaa]);
    }

    #[test]
    fn write() {
        let mut b = [0u8; 20];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_header_len(20);
        p.set_total_len(0x73);
        p.set_frag(true, false, 0);
        p.set_ttl(64);
        p.set_protocol(17);
        p.set_src_addr(Ipv4Addr::new(192, 168, 0, 1));
        p.set_dst_addr(Ipv4Addr::new(192, 168, 0, 199));
        p.fill_checksum();
        assert_eq!(p.checksum(), 0xb861);
        let mut f = [0u8; 20];
        let mut p = Ipv4Packet::new_unchecked(&mut f[..]);
        p.set_header_len(20);
        p.set_frag(false, true, 1480);
        let p = Ipv4Packet::new_unchecked(&f[..]);
        assert_eq!(
            (p.more_frags(), p.frag_offset(), p.is_fragment()),
            (true, 1480, true)
        );
    }
}
