//! GRE header (RFC 2784 with the key and sequence extensions of RFC 2890; version 1 is the
//! PPTP variant of RFC 2637 with an acknowledgement number). The payload's type is an
//! EtherType (0x6558 for bridged Ethernet).

use crate::be::{u16_at, u32_at};
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const FLAGS_VER: Range<usize> = 0..2;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const OPTIONAL: usize = 4;
}

const F_CHECKSUM: u16 = 0x8000;
const F_ROUTING: u16 = 0x4000;
const F_KEY: u16 = 0x2000;
const F_SEQ: u16 = 0x1000;
/// Acknowledgement present (version 1 only).
const F_ACK: u16 = 0x0080;

/// A read-only view of a GRE packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GrePacket<T> {
    pub const fn new_unchecked(buffer: T) -> GrePacket<T> {
        GrePacket { buffer }
    }

    /// Wraps a buffer holding the header with every optional field its flags announce.
    /// Versions above 1 and the obsolete routing field are refused as malformed.
    pub fn new_checked(buffer: T) -> Result<GrePacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < field::OPTIONAL {
            return Err(Error::Truncated);
        }
        if self.version() > 1 || self.flags() & F_ROUTING != 0 {
            return Err(Error::Malformed);
        }
        if self.buffer.as_ref().len() < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn flags(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::FLAGS_VER.start)
    }

    #[inline]
    pub fn version(&self) -> u8 {
        (self.flags() & 7) as u8
    }

    /// EtherType of the payload.
    #[inline]
    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PROTOCOL.start)
    }

    pub fn has_checksum(&self) -> bool {
        self.flags() & F_CHECKSUM != 0
    }

    pub fn has_key(&self) -> bool {
        self.flags() & F_KEY != 0
    }

    pub fn has_seq(&self) -> bool {
        self.flags() & F_SEQ != 0
    }

    fn has_ack(&self) -> bool {
        self.version() == 1 && self.flags() & F_ACK != 0
    }

    /// Header length with the optional fields.
    pub fn header_len(&self) -> usize {
        let n = |b: bool| if b { 4 } else { 0 };
        field::OPTIONAL
            + n(self.has_checksum())
            + n(self.has_key())
            + n(self.has_seq())
            + n(self.has_ack())
    }

    fn optional(&self, present: bool, before: usize) -> Option<u32> {
        present.then(|| u32_at(self.buffer.as_ref(), field::OPTIONAL + before))
    }

    /// The checksum field (its top half; the bottom half is reserved).
    pub fn checksum(&self) -> Option<u16> {
        self.optional(self.has_checksum(), 0)
            .map(|w| (w >> 16) as u16)
    }

    /// The key (version 0), or payload length << 16 | call ID (version 1).
    pub fn key(&self) -> Option<u32> {
        let before = if self.has_checksum() { 4 } else { 0 };
        self.optional(self.has_key(), before)
    }

    pub fn seq(&self) -> Option<u32> {
        let before = 4 * (usize::from(self.has_checksum()) + usize::from(self.has_key()));
        self.optional(self.has_seq(), before)
    }

    /// Acknowledgement number (version 1).
    pub fn ack(&self) -> Option<u32> {
        let before = 4
            * (usize::from(self.has_checksum())
                + usize::from(self.has_key())
                + usize::from(self.has_seq()));
        self.optional(self.has_ack(), before)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> GrePacket<&'a T> {
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_keyed() {
        let b = [0x00, 0x00, 0x08, 0x00, 0x45];
        let p = GrePacket::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.protocol(), p.header_len()), (0, 0x0800, 4));
        assert_eq!((p.key(), p.seq(), p.checksum()), (None, None, None));
        assert_eq!(p.payload(), &[0x45]);
        // Checksum, key and sequence: 16 bytes of header, bridged Ethernet inside.
        let b = [
            0xb0, 0x00, 0x65, 0x58, 0xab, 0xcd, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7, 0x02,
        ];
        let p = GrePacket::new_checked(&b[..]).unwrap();
        assert_eq!((p.header_len(), p.protocol()), (16, 0x6558));
        assert_eq!(
            (p.checksum(), p.key(), p.seq()),
            (Some(0xabcd), Some(42), Some(7))
        );
        assert_eq!(GrePacket::new_checked(&b[..15]), Err(Error::Truncated));
    }

    #[test]
    fn pptp_and_refusals() {
        // Version 1: key (payload length 0, call ID 9), sequence 1, acknowledgement 0.
        let b = [0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0];
        let p = GrePacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.version(), p.header_len(), p.key(), p.seq(), p.ack()),
            (1, 16, Some(9), Some(1), Some(0))
        );
        assert_eq!(
            GrePacket::new_checked(&[0x00, 0x02, 0x08, 0x00][..]),
            Err(Error::Malformed)
        );
        assert_eq!(
            GrePacket::new_checked(&[0x40, 0x00, 0x08, 0x00][..]),
            Err(Error::Malformed)
        );
        assert_eq!(
            GrePacket::new_checked(&[0x00, 0x00, 0x08][..]),
            Err(Error::Truncated)
        );
    }
}
