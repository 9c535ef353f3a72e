//! Link-layer framings other than Ethernet that captures carry: Linux "cooked" headers
//! (SLL, SLL2) and BSD loopback (NULL/LOOP). Which one a packet has comes from the file's link
//! type, named here by [`Link`].

use crate::be::{u16_at, u32_at};
use crate::{Error, Result};

/// The link-layer framings the dissector reads, by pcap LINKTYPE value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
    /// LINKTYPE_RAW (101): IPv4 or IPv6 by the version nibble.
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_NULL (0): address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): address family in network byte order.
    Loop,
}

impl Link {
    pub const fn from_linktype(lt: u32) -> Option<Link> {
        Some(match lt {
            1 => Link::Ethernet,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            101 => Link::Raw,
            228 => Link::Ipv4,
            229 => Link::Ipv6,
            0 => Link::Null,
            108 => Link::Loop,
            _ => return None,
        })
    }
}

/// Packet types of the cooked headers (`sll_pkttype`).
pub mod pkttype {
    pub const HOST: u8 = 0;
    pub const BROADCAST: u8 = 1;
    pub const MULTICAST: u8 = 2;
    pub const OTHERHOST: u8 = 3;
    pub const OUTGOING: u8 = 4;
}

mod sll_field {
    pub const PKTTYPE: usize = 0;
    pub const HATYPE: usize = 2;
    pub const HALEN: usize = 4;
    pub const ADDR: usize = 6;
    pub const PROTOCOL: usize = 14;
    pub const PAYLOAD: usize = 16;
}

/// A read-only view of a Linux cooked (v1) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SllHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SllHeader<T> {
    pub const fn new_unchecked(buffer: T) -> SllHeader<T> {
        SllHeader { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<SllHeader<T>> {
        if buffer.as_ref().len() < sll_field::PAYLOAD {
            return Err(Error::Truncated);
        }
        Ok(SllHeader { buffer })
    }

    /// See [`pkttype`].
    pub fn packet_type(&self) -> u8 {
        u16_at(self.buffer.as_ref(), sll_field::PKTTYPE) as u8
    }

    /// ARPHRD_ type of the device.
    pub fn hatype(&self) -> u16 {
        u16_at(self.buffer.as_ref(), sll_field::HATYPE)
    }

    /// Link-layer source address (up to 8 bytes are kept).
    pub fn addr(&self) -> &[u8] {
        let n = usize::from(u16_at(self.buffer.as_ref(), sll_field::HALEN)).min(8);
        &self.buffer.as_ref()[sll_field::ADDR..sll_field::ADDR + n]
    }

    /// EtherType of the payload (or a Linux `ETH_P_` value below 0x0600).
    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), sll_field::PROTOCOL)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> SllHeader<&'a T> {
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[sll_field::PAYLOAD..]
    }
}

mod sll2_field {
    pub const PROTOCOL: usize = 0;
    pub const IFINDEX: usize = 4;
    pub const HATYPE: usize = 8;
    pub const PKTTYPE: usize = 10;
    pub const HALEN: usize = 11;
    pub const ADDR: usize = 12;
    pub const PAYLOAD: usize = 20;
}

/// A read-only view of a Linux cooked v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sll2Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Sll2Header<T> {
    pub const fn new_unchecked(buffer: T) -> Sll2Header<T> {
        Sll2Header { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Sll2Header<T>> {
        if buffer.as_ref().len() < sll2_field::PAYLOAD {
            return Err(Error::Truncated);
        }
        Ok(Sll2Header { buffer })
    }

    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), sll2_field::PROTOCOL)
    }

    pub fn ifindex(&self) -> u32 {
        u32_at(self.buffer.as_ref(), sll2_field::IFINDEX)
    }

    pub fn hatype(&self) -> u16 {
        u16_at(self.buffer.as_ref(), sll2_field::HATYPE)
    }

    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[sll2_field::PKTTYPE]
    }

    pub fn addr(&self) -> &[u8] {
        let n = usize::from(self.buffer.as_ref()[sll2_field::HALEN]).min(8);
        &self.buffer.as_ref()[sll2_field::ADDR..sll2_field::ADDR + n]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Sll2Header<&'a T> {
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[sll2_field::PAYLOAD..]
    }
}

/// The address family of a NULL (host order, guessed the way tcpdump does: a value that only
/// fits in the low byte in one of the two orders) or LOOP (network order) header.
pub fn loopback_family(header: [u8; 4], network_order: bool) -> u32 {
    let be = u32::from_be_bytes(header);
    if network_order {
        return be;
    }
    let le = u32::from_le_bytes(header);
    if le < 256 {
        le
    } else {
        be
    }
}

/// BSD address family values that mean IPv6 (Linux/FreeBSD/NetBSD, Darwin, OpenBSD… differ).
pub const fn family_is_ipv6(f: u32) -> bool {
    matches!(f, 10 | 24 | 28 | 30)
}

/// AF_INET, the same everywhere.
pub const AF_INET: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sll_and_sll2() {
        let mut b = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00, 0x45];
        let h = SllHeader::new_checked(&b[..]).unwrap();
        assert_eq!(
            (h.packet_type(), h.hatype(), h.protocol()),
            (pkttype::OUTGOING, 1, 0x0800)
        );
        assert_eq!(
            (h.addr(), h.payload()),
            (&[2, 0, 0, 0, 0, 1][..], &[0x45][..])
        );
        b.truncate(15);
        assert_eq!(SllHeader::new_checked(&b[..]), Err(Error::Truncated));

        let b = [
            0x86, 0xdd, 0, 0, 0, 0, 0, 7, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, 0x60,
        ];
        let h = Sll2Header::new_checked(&b[..]).unwrap();
        assert_eq!(
            (h.protocol(), h.ifindex(), h.hatype(), h.packet_type()),
            (0x86dd, 7, 1, 0)
        );
        assert_eq!((h.addr().len(), h.payload()), (6, &[0x60][..]));
        assert_eq!(Sll2Header::new_checked(&b[..19]), Err(Error::Truncated));
    }

    #[test]
    fn loopback() {
        assert_eq!(loopback_family([2, 0, 0, 0], false), 2);
        assert_eq!(loopback_family([0, 0, 0, 30], false), 30);
        assert_eq!(loopback_family([0, 0, 0, 24], true), 24);
        assert!(family_is_ipv6(30) && !family_is_ipv6(AF_INET));
        assert_eq!(Link::from_linktype(276), Some(Link::LinuxSll2));
        assert_eq!(Link::from_linktype(147), None);
    }
}
