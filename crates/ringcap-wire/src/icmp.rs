//! ICMP for IPv4 (RFC 792): type, code, checksum, the four "rest of header" bytes (echo
//! identifier and sequence, or the unused/MTU word of errors), then data (for errors, the
//! offending packet's IP header and first 8 bytes).

use crate::be::{set_u16, u16_at, u32_at};
use crate::checksum;
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const DATA: usize = 8;
}

pub const HEADER_LEN: usize = field::DATA;

/// Message types.
pub mod kind {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const SOURCE_QUENCH: u8 = 4;
    pub const REDIRECT: u8 = 5;
    pub const ECHO_REQUEST: u8 = 8;
    pub const ROUTER_ADVERT: u8 = 9;
    pub const ROUTER_SOLICIT: u8 = 10;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAM_PROBLEM: u8 = 12;
    pub const TIMESTAMP: u8 = 13;
    pub const TIMESTAMP_REPLY: u8 = 14;
}

/// Whether a message type carries the offending packet (the error messages).
pub const fn is_error(t: u8) -> bool {
    matches!(
        t,
        kind::DST_UNREACHABLE
            | kind::SOURCE_QUENCH
            | kind::REDIRECT
            | kind::TIME_EXCEEDED
            | kind::PARAM_PROBLEM
    )
}

/// A read/write view of an ICMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> IcmpPacket<T> {
        IcmpPacket { buffer }
    }

    /// Wraps a buffer holding the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<IcmpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Echo identifier (echo request/reply, timestamp).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ECHO_SEQNO.start)
    }

    /// The four bytes after the checksum as one word (redirect gateway, MTU of "fragmentation
    /// needed" in its low half, parameter problem pointer in its top byte).
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    /// Whether the checksum over the whole buffer verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> IcmpPacket<&'a T> {
    /// The data after the 8-byte header (for errors, the offending IP packet).
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::DATA..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    #[inline]
    pub fn set_msg_type(&mut self, t: u8) {
        self.buffer.as_mut()[field::TYPE] = t;
    }

    #[inline]
    pub fn set_msg_code(&mut self, c: u8) {
        self.buffer.as_mut()[field::CODE] = c;
    }

    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }

    #[inline]
    pub fn set_echo_ident(&mut self, id: u16) {
        set_u16(self.buffer.as_mut(), field::ECHO_IDENT.start, id);
    }

    #[inline]
    pub fn set_echo_seq_no(&mut self, seq: u16) {
        set_u16(self.buffer.as_mut(), field::ECHO_SEQNO.start, seq);
    }

    /// Computes and writes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo request (id 0x1234, seq 1, payload "ring") with its checksum.
    const ECHO: [u8; 12] = [
        0x08, 0x00, 0x04, 0xfa, 0x12, 0x34, 0x00, 0x01, b'r', b'i', b'n', b'g',
    ];

    #[test]
    fn echo() {
        let p = IcmpPacket::new_checked(&ECHO[..]).unwrap();
        assert_eq!((p.msg_type(), p.msg_code()), (kind::ECHO_REQUEST, 0));
        assert_eq!((p.echo_ident(), p.echo_seq_no()), (0x1234, 1));
        assert_eq!(p.data(), b"ring");
        assert!(!is_error(p.msg_type()));
        assert_eq!(IcmpPacket::new_checked(&ECHO[..7]), Err(Error::Truncated));
        let mut b = [0u8; 12];
        let mut w = IcmpPacket::new_unchecked(&mut b[..]);
        w.set_msg_type(8);
        w.set_echo_ident(0x1234);
        w.set_echo_seq_no(1);
        w.data_mut().copy_from_slice(b"ring");
        w.fill_checksum();
        assert!(w.verify_checksum());
        assert_eq!(b, ECHO);
    }

    #[test]
    fn frag_needed_mtu() {
        let b = [3, 4, 0, 0, 0, 0, 0x05, 0xdc, 0x45];
        let p = IcmpPacket::new_checked(&b[..]).unwrap();
        assert!(is_error(p.msg_type()));
        assert_eq!((p.msg_code(), p.rest_of_header() & 0xffff), (4, 1500));
        assert_eq!(p.data(), &[0x45]);
    }
}
