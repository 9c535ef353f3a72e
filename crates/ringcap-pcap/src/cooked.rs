//! The "Linux cooked" link-layer headers, LINUX_SLL (16 bytes) and LINUX_SLL2 (20 bytes), that
//! a capture on `any` writes in front of each packet, built from what the kernel says about the
//! packet's link layer (its `sockaddr_ll`), as libpcap builds them.
//!
//! ```text
//! LINUX_SLL2: protocol(2, BE) reserved(2, 0) ifindex(4, BE) hatype(2, BE) pkttype(1)
//!             halen(1) addr(8)
//! LINUX_SLL:  pkttype(2, BE) hatype(2, BE) halen(2, BE) addr(8) protocol(2, BE)
//! ```
//!
//! Address bytes past `halen` are zero (libpcap copies all 8 bytes of the kernel's address
//! field, whose unused end may hold whatever the ring had there).

/// Bytes of a LINUX_SLL header.
pub const SLL_HDR_LEN: usize = 16;
/// Bytes of a LINUX_SLL2 header.
pub const SLL2_HDR_LEN: usize = 20;
/// Offset of the protocol field in a LINUX_SLL header, where a VLAN tag is put back.
pub const SLL_PROTOCOL_OFFSET: usize = 14;

/// The fields of a cooked header: what the kernel's `sockaddr_ll` says about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CookedFields<'a> {
    /// Ethertype, host byte order.
    pub protocol: u16,
    pub ifindex: u32,
    /// ARP hardware type.
    pub hatype: u16,
    /// PACKET_HOST (0), PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING (4).
    pub pkttype: u8,
    /// The link-layer source address (its length is the header's halen; at most 8 bytes kept).
    pub addr: &'a [u8],
}

impl CookedFields<'_> {
    fn addr8(&self) -> [u8; 8] {
        let mut a = [0u8; 8];
        let n = self.addr.len().min(8);
        a[..n].copy_from_slice(&self.addr[..n]);
        a
    }

    /// The LINUX_SLL2 header.
    pub fn sll2(&self) -> [u8; SLL2_HDR_LEN] {
        let mut h = [0u8; SLL2_HDR_LEN];
        h[0..2].copy_from_slice(&self.protocol.to_be_bytes());
        h[4..8].copy_from_slice(&self.ifindex.to_be_bytes());
        h[8..10].copy_from_slice(&self.hatype.to_be_bytes());
        h[10] = self.pkttype;
        h[11] = self.addr.len().min(u8::MAX as usize) as u8;
        h[12..20].copy_from_slice(&self.addr8());
        h
    }

    /// The LINUX_SLL header.
    pub fn sll(&self) -> [u8; SLL_HDR_LEN] {
        let mut h = [0u8; SLL_HDR_LEN];
        h[0..2].copy_from_slice(&u16::from(self.pkttype).to_be_bytes());
        h[2..4].copy_from_slice(&self.hatype.to_be_bytes());
        h[4..6].copy_from_slice(&(self.addr.len().min(u16::MAX as usize) as u16).to_be_bytes());
        h[6..14].copy_from_slice(&self.addr8());
        h[14..16].copy_from_slice(&self.protocol.to_be_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_as_tcpdump_writes_them() {
        // The first SLL2 header of a `tcpdump -i any` file: an IPv6 multicast (pkttype 2) on
        // interface 3, Ethernet, from b2:33:a6:f4:cb:85.
        let mac = [0xb2, 0x33, 0xa6, 0xf4, 0xcb, 0x85];
        let f = CookedFields {
            protocol: 0x86dd,
            ifindex: 3,
            hatype: 1,
            pkttype: 2,
            addr: &mac,
        };
        assert_eq!(
            f.sll2(),
            [0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 2, 6, 0xb2, 0x33, 0xa6, 0xf4, 0xcb, 0x85, 0, 0]
        );
        assert_eq!(
            f.sll(),
            [0, 2, 0, 1, 0, 6, 0xb2, 0x33, 0xa6, 0xf4, 0xcb, 0x85, 0, 0, 0x86, 0xdd]
        );
        // Loopback: hardware type 772, an all-zero 6-byte address.
        let lo = CookedFields {
            protocol: 0x0800,
            ifindex: 1,
            hatype: 772,
            pkttype: 0,
            addr: &[0; 6],
        };
        assert_eq!(&lo.sll2()[8..12], &[0x03, 0x04, 0, 6]);
    }
}
