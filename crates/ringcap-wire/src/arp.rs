//! ARP (RFC 826): a fixed 8-byte part, then sender and target hardware and protocol addresses
//! whose lengths the fixed part gives (6 and 4 for Ethernet/IPv4).

use std::net::Ipv4Addr;

use crate::be::{set_u16, u16_at};
use crate::ethernet::MacAddr;
use crate::{Error, Result};

/// ARP operation codes.
pub mod op {
    pub const REQUEST: u16 = 1;
    pub const REPLY: u16 = 2;
    pub const RARP_REQUEST: u16 = 3;
    pub const RARP_REPLY: u16 = 4;
    pub const INARP_REQUEST: u16 = 8;
    pub const INARP_REPLY: u16 = 9;
}

/// Hardware type of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: usize = 8;
    pub const fn spa(hlen: u8) -> usize {
        SHA + hlen as usize
    }
    pub const fn tha(hlen: u8, plen: u8) -> usize {
        spa(hlen) + plen as usize
    }
    pub const fn tpa(hlen: u8, plen: u8) -> usize {
        tha(hlen, plen) + hlen as usize
    }
    pub const fn end(hlen: u8, plen: u8) -> usize {
        tpa(hlen, plen) + plen as usize
    }
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = field::end(6, 4);

/// A read/write view of an ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps a buffer holding the fixed part and all four addresses.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < field::SHA || b.len() < field::end(self.hw_len(), self.proto_len()) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn hw_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::HTYPE.start)
    }

    /// The protocol addresses' EtherType (0x0800 for IPv4).
    #[inline]
    pub fn proto_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PTYPE.start)
    }

    #[inline]
    pub fn hw_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    #[inline]
    pub fn proto_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    #[inline]
    pub fn operation(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::OPER.start)
    }

    /// Ethernet hardware and IPv4 protocol addresses (the only pair the accessors below type).
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hw_type() == HTYPE_ETHERNET
            && self.proto_type() == crate::ethertype::IPV4
            && self.hw_len() == 6
            && self.proto_len() == 4
    }

    fn slice(&self, at: usize, len: u8) -> &[u8] {
        &self.buffer.as_ref()[at..at + usize::from(len)]
    }

    pub fn sender_hw_addr(&self) -> &[u8] {
        self.slice(field::SHA, self.hw_len())
    }

    pub fn sender_proto_addr(&self) -> &[u8] {
        self.slice(field::spa(self.hw_len()), self.proto_len())
    }

    pub fn target_hw_addr(&self) -> &[u8] {
        self.slice(field::tha(self.hw_len(), self.proto_len()), self.hw_len())
    }

    pub fn target_proto_addr(&self) -> &[u8] {
        self.slice(
            field::tpa(self.hw_len(), self.proto_len()),
            self.proto_len(),
        )
    }

    /// The addresses typed, for Ethernet/IPv4 ARP: (sender MAC, sender IP, target MAC, target IP).
    pub fn ethernet_ipv4(&self) -> Option<(MacAddr, Ipv4Addr, MacAddr, Ipv4Addr)> {
        if !self.is_ethernet_ipv4() {
            return None;
        }
        let mac = |s: &[u8]| MacAddr(s.try_into().unwrap_or_default());
        let ip = |s: &[u8]| Ipv4Addr::from(<[u8; 4]>::try_from(s).unwrap_or_default());
        Some((
            mac(self.sender_hw_addr()),
            ip(self.sender_proto_addr()),
            mac(self.target_hw_addr()),
            ip(self.target_proto_addr()),
        ))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes a whole Ethernet/IPv4 ARP packet (28 bytes).
    pub fn set_ethernet_ipv4(
        &mut self,
        operation: u16,
        sha: MacAddr,
        spa: Ipv4Addr,
        tha: MacAddr,
        tpa: Ipv4Addr,
    ) {
        let b = self.buffer.as_mut();
        set_u16(b, field::HTYPE.start, HTYPE_ETHERNET);
        set_u16(b, field::PTYPE.start, crate::ethertype::IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        set_u16(b, field::OPER.start, operation);
        b[8..14].copy_from_slice(&sha.0);
        b[14..18].copy_from_slice(&spa.octets());
        b[18..24].copy_from_slice(&tha.0);
        b[24..28].copy_from_slice(&tpa.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO_HAS: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet/IPv4, request
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 2, // target
    ];

    #[test]
    fn request() {
        let p = ArpPacket::new_checked(&WHO_HAS[..]).unwrap();
        assert_eq!(p.operation(), op::REQUEST);
        let (sha, spa, tha, tpa) = p.ethernet_ipv4().unwrap();
        assert_eq!(sha.to_string(), "02:00:00:00:00:01");
        assert_eq!(
            (spa, tha, tpa),
            (
                Ipv4Addr::new(10, 0, 0, 1),
                MacAddr::default(),
                Ipv4Addr::new(10, 0, 0, 2)
            )
        );
        assert_eq!(
            ArpPacket::new_checked(&WHO_HAS[..27]),
            Err(Error::Truncated)
        );
        assert_eq!(ArpPacket::new_checked(&WHO_HAS[..5]), Err(Error::Truncated));
        let mut w = [0xffu8; 28];
        ArpPacket::new_unchecked(&mut w[..]).set_ethernet_ipv4(op::REQUEST, sha, spa, tha, tpa);
        assert_eq!(w, WHO_HAS);
    }

    #[test]
    fn other_address_lengths() {
        // A made-up hardware length of 8 and protocol length of 16 still walks.
        let mut b = vec![0x00, 0x20, 0x86, 0xdd, 8, 16, 0x00, 0x02];
        b.extend((0..48).map(|i| i as u8));
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert!(!p.is_ethernet_ipv4());
        assert_eq!(p.sender_proto_addr()[0], 8);
        assert_eq!(p.target_proto_addr()[0], 32);
        assert_eq!(p.ethernet_ipv4(), None);
    }
}
