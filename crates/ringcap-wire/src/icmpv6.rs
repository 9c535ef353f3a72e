//! ICMPv6 (RFC 4443) with the neighbour discovery messages (RFC 4861): type, code, checksum
//! (over the IPv6 pseudo-header), the message body, and the ND options that follow it.

use std::net::Ipv6Addr;

use crate::be::{array, set_u16, u16_at, u32_at};
use crate::checksum;
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const BODY: usize = 8;
    /// Target address of NS, NA and redirect.
    pub const TARGET: Range<usize> = 8..24;
    /// Destination address of redirect.
    pub const REDIRECT_DST: Range<usize> = 24..40;
}

pub const HEADER_LEN: usize = field::BODY;

/// Message types.
pub mod kind {
    pub const DST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAM_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const MLD_QUERY: u8 = 130;
    pub const MLD_REPORT: u8 = 131;
    pub const MLD_DONE: u8 = 132;
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    pub const REDIRECT: u8 = 137;
    pub const MLDV2_REPORT: u8 = 143;
}

/// ND option types.
pub mod nd_option {
    pub const SOURCE_LL_ADDR: u8 = 1;
    pub const TARGET_LL_ADDR: u8 = 2;
    pub const PREFIX_INFO: u8 = 3;
    pub const REDIRECTED_HEADER: u8 = 4;
    pub const MTU: u8 = 5;
}

/// Error messages (types below 128) carry as much of the offending packet as fits.
pub const fn is_error(t: u8) -> bool {
    t < 128
}

/// A read/write view of an ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Icmpv6Packet<T> {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer holding the 8-byte header, and the 16-byte target address for the
    /// messages that have one (NS, NA, redirect; redirect's destination too).
    pub fn new_checked(buffer: T) -> Result<Icmpv6Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let need = match self.msg_type() {
            kind::NEIGHBOR_SOLICIT | kind::NEIGHBOR_ADVERT => field::TARGET.end,
            kind::REDIRECT => field::REDIRECT_DST.end,
            _ => HEADER_LEN,
        };
        if len < need {
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

    #[inline]
    pub fn echo_ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ECHO_SEQNO.start)
    }

    /// The word after the checksum: MTU of "packet too big", pointer of "parameter problem",
    /// the R/S/O flags of a neighbour advertisement in its top bits.
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    /// Target address of NS, NA and redirect.
    pub fn target_addr(&self) -> Option<Ipv6Addr> {
        matches!(
            self.msg_type(),
            kind::NEIGHBOR_SOLICIT | kind::NEIGHBOR_ADVERT | kind::REDIRECT
        )
        .then(|| Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::TARGET.start)))
    }

    /// Destination address of a redirect.
    pub fn redirect_dst(&self) -> Option<Ipv6Addr> {
        (self.msg_type() == kind::REDIRECT)
            .then(|| Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::REDIRECT_DST.start)))
    }

    /// Whether the checksum verifies over the buffer and the pseudo-header sum.
    pub fn verify_checksum(&self, pseudo_header_sum: u64) -> bool {
        checksum::finish(pseudo_header_sum + checksum::sum(self.buffer.as_ref())) == 0
    }

    /// Where the ND options start, for the ND messages.
    fn nd_options_at(&self) -> Option<usize> {
        match self.msg_type() {
            kind::ROUTER_SOLICIT => Some(8),
            kind::ROUTER_ADVERT => Some(16),
            kind::NEIGHBOR_SOLICIT | kind::NEIGHBOR_ADVERT => Some(24),
            kind::REDIRECT => Some(40),
            _ => None,
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv6Packet<&'a T> {
    /// The body after the 8-byte header (for errors, the offending packet).
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::BODY..]
    }

    /// The ND options of an ND message (an empty walk for other messages).
    pub fn nd_options(&self) -> NdOptions<'a> {
        let b = self.buffer.as_ref();
        let rest = self
            .nd_options_at()
            .and_then(|at| b.get(at..))
            .unwrap_or(&[]);
        NdOptions { rest }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
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

    pub fn set_target_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&a.octets());
    }

    /// Computes and writes the checksum over the buffer and the pseudo-header sum.
    pub fn fill_checksum(&mut self, pseudo_header_sum: u64) {
        self.set_checksum(0);
        let c = checksum::finish(pseudo_header_sum + checksum::sum(self.buffer.as_ref()));
        self.set_checksum(c);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::BODY..]
    }
}

/// One ND option: its type and its bytes after the type and length octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdOption<'a> {
    pub kind: u8,
    pub data: &'a [u8],
}

/// Iterator over ND options (length in units of 8 bytes, zero is invalid). A bad or cut
/// option yields an error once, then the walk ends.
#[derive(Debug, Clone)]
pub struct NdOptions<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = Result<NdOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = std::mem::take(&mut self.rest);
        let (&kind, after) = b.split_first()?;
        let Some(&units) = after.first() else {
            return Some(Err(Error::Truncated));
        };
        if units == 0 {
            return Some(Err(Error::Malformed));
        }
        let len = usize::from(units) * 8;
        let Some(data) = b.get(2..len) else {
            return Some(Err(Error::Truncated));
        };
        self.rest = &b[len..];
        Some(Ok(NdOption { kind, data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> Vec<u8> {
        // Neighbour solicitation for fd00::2 with a source link-layer address option.
        let mut b = vec![135, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 1]);
        b
    }

    #[test]
    fn neighbor_solicitation() {
        let b = ns();
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.msg_type(), kind::NEIGHBOR_SOLICIT);
        assert_eq!(p.target_addr(), Some("fd00::2".parse().unwrap()));
        let o: Vec<_> = p.nd_options().collect::<Result<_>>().unwrap();
        assert_eq!(
            o,
            [NdOption {
                kind: nd_option::SOURCE_LL_ADDR,
                data: &[2, 0, 0, 0, 0, 1]
            }]
        );
        assert_eq!(Icmpv6Packet::new_checked(&b[..23]), Err(Error::Truncated));
        let mut bad = b.clone();
        bad[25] = 0;
        let p = Icmpv6Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(p.nd_options().collect::<Vec<_>>(), [Err(Error::Malformed)]);
    }

    #[test]
    fn echo_checksum() {
        let (s, d): (Ipv6Addr, Ipv6Addr) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let mut b = [128, 0, 0, 0, 0, 7, 0, 1, b'p', b'i'];
        let ph = checksum::pseudo_v6(s, d, 58, b.len() as u32);
        let mut p = Icmpv6Packet::new_unchecked(&mut b[..]);
        p.fill_checksum(ph);
        assert!(p.verify_checksum(ph));
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.echo_ident(), p.echo_seq_no(), p.target_addr()),
            (7, 1, None)
        );
        assert!(!is_error(p.msg_type()));
        assert!(!p.verify_checksum(checksum::pseudo_v6(d, d, 58, 10)));
    }
}
