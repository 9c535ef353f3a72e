//! Protocol numbers, in one place, as plain constants so they can be used in `match` patterns.

/// EtherType values (IEEE 802 numbers). Values below [`ethertype::MAX_LENGTH`]+1 are 802.3
/// length fields, not types.
pub mod ethertype {
    /// Largest 802.3 length field; values from 0x0600 up are EtherTypes.
    pub const MAX_LENGTH: u16 = 0x05dc;
    /// First value that is an EtherType rather than an 802.3 length.
    pub const MIN_TYPE: u16 = 0x0600;
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const RARP: u16 = 0x8035;
    /// IEEE 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS_UNICAST: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    pub const PPPOE_DISCOVERY: u16 = 0x8863;
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
    pub const LLDP: u16 = 0x88cc;
    /// Transparent Ethernet bridging (GRE payload type for an inner Ethernet frame).
    pub const TEB: u16 = 0x6558;
    /// Pre-standard QinQ outer tag used by some switches.
    pub const VLAN_9100: u16 = 0x9100;

    /// Whether `t` is one of the VLAN tag protocol identifiers skipped by the decoders.
    #[inline]
    pub const fn is_vlan(t: u16) -> bool {
        matches!(t, VLAN | QINQ | VLAN_9100)
    }
}

/// IP protocol / IPv6 next-header numbers (IANA "Assigned Internet Protocol Numbers").
pub mod ip_proto {
    /// IPv6 hop-by-hop options header.
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IGMP: u8 = 2;
    /// IPv4 encapsulated in IP.
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP.
    pub const IPV6: u8 = 41;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const NONE: u8 = 59;
    /// IPv6 destination options header.
    pub const DSTOPTS: u8 = 60;
    pub const OSPF: u8 = 89;
    pub const PIM: u8 = 103;
    pub const VRRP: u8 = 112;
    pub const SCTP: u8 = 132;
    pub const UDPLITE: u8 = 136;
}
