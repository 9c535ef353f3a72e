//! UDP header (RFC 768).

use crate::be::{set_u16, u16_at};
use crate::checksum;
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const PAYLOAD: usize = 8;
}

pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> UdpPacket<T> {
        UdpPacket { buffer }
    }

    /// Wraps a buffer holding the 8-byte header whose length field is at least 8. The payload
    /// may be cut short by the capture.
    pub fn new_checked(buffer: T) -> Result<UdpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if usize::from(self.len()) < HEADER_LEN {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// The length field: header and payload.
    #[inline]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::LENGTH.start)
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Whether the checksum verifies (a zero checksum, "none" in IPv4, counts as valid); the
    /// buffer must hold the datagram.
    pub fn verify_checksum(&self, pseudo_header_sum: u64) -> bool {
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).min(b.len());
        self.checksum() == 0 || checksum::finish(pseudo_header_sum + checksum::sum(&b[..end])) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> UdpPacket<&'a T> {
    /// The payload the length field covers, clamped to the captured bytes.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).max(HEADER_LEN).min(b.len());
        &b[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT.start, p);
    }

    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT.start, p);
    }

    #[inline]
    pub fn set_len(&mut self, len: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH.start, len);
    }

    /// Writes a checksum; 0 (which means "no checksum") is sent as 0xffff, as RFC 768 says.
    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        set_u16(
            self.buffer.as_mut(),
            field::CHECKSUM.start,
            if c == 0 { 0xffff } else { c },
        );
    }

    /// Computes and writes the checksum over the length field's bytes and the pseudo-header.
    pub fn fill_checksum(&mut self, pseudo_header_sum: u64) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM.start, 0);
        let end = usize::from(self.len()).min(self.buffer.as_ref().len());
        let c = checksum::finish(pseudo_header_sum + checksum::sum(&self.buffer.as_ref()[..end]));
        self.set_checksum(c);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A DNS query header stub 10.0.0.1:53000 -> 10.0.0.2:53, 4 payload bytes, 2 of padding.
    const DGRAM: [u8; 14] = [
        0xcf, 0x08, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 0x12, 0x34, 0x01, 0x00, 0xee, 0xee,
    ];

    #[test]
    fn read_write() {
        let p = UdpPacket::new_checked(&DGRAM[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (53000, 53, 12));
        assert_eq!(p.payload(), &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(UdpPacket::new_checked(&DGRAM[..7]), Err(Error::Truncated));
        let mut bad = DGRAM;
        bad[5] = 7;
        assert_eq!(UdpPacket::new_checked(&bad[..]), Err(Error::Malformed));
        // Cut inside the payload: clamped.
        assert_eq!(
            UdpPacket::new_checked(&DGRAM[..9]).unwrap().payload(),
            &[0x12]
        );

        let mut b = DGRAM;
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        let ph = checksum::pseudo_v4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            17,
            12,
        );
        p.fill_checksum(ph);
        assert!(p.verify_checksum(ph));
        assert_ne!(p.checksum(), 0);
        p.set_dst_port(54);
        assert!(!p.verify_checksum(ph));
        p.set_checksum(0);
        assert_eq!(p.checksum(), 0xffff);
    }
}
