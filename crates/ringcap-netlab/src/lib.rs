//! Test-only helpers for every crate's tests: a dev-dependency, never shipped in a binary.
//!
//! **Owns:** skip reporting ([`skip`], [`can_run`]), running the real tools tests check against
//! and reading what they print ([`tools`]), hand-made capture files ([`craft`]), test frames
//! ([`udp_frame`], [`with_vlan`]) and one thread of a capture stalled on purpose ([`freeze`]). [`TestNet`] is the run-time private network of
//! `ringcap-netns` (a fresh namespace with a veth pair, removed on drop), re-exported under the
//! name the tests use.
//!
//! **Must not depend on:** the engine or the CLI (every crate's tests use it), and nothing may
//! depend on it except as a dev-dependency: it panics freely, as tests do.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

use ringcap_wire::{
    ethertype, ip_proto, vlan, EthernetFrame, Ipv4Packet, MacAddr, UdpPacket, VlanTag,
};

pub mod craft;
pub mod freeze;
pub mod skip;
pub mod tools;

/// The tests' private network is the run-time one: [`ringcap_netns::PrivateNet`].
pub use ringcap_netns::{
    Error, NsGuard, Options, PacketSocket, PrivateNet as TestNet, Result, Sender,
};

/// True when the caller can build test networks (root, and `ip` from iproute2). Otherwise the
/// test skips, reported through [`skip`] (a failure under CI). `test` is only used when the
/// thread does not carry the test's name.
pub fn can_run(test: &str) -> bool {
    skip::root_as(Some(test)) && skip::tools(&["ip"])
}

/// Test frames: Ethernet/IPv4/UDP, `size` bytes in all (60..=1514), carrying `seq` in the
/// payload so a receiver can tell every frame apart; the UDP source port varies with `flow`
/// so hash fanout spreads them. Checksums are valid.
pub fn udp_frame(seq: u32, flow: u16, size: usize) -> Vec<u8> {
    let size = size.clamp(60, 9014);
    let mut f = vec![0u8; size];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    eth.set_dst_addr(MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]));
    eth.set_src_addr(MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]));
    eth.set_ethertype(ethertype::IPV4);
    let ip_len = (size - 14) as u16;
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.set_header_len(20);
    ip.set_total_len(ip_len);
    ip.set_ident(seq as u16);
    ip.set_ttl(64);
    ip.set_protocol(ip_proto::UDP);
    ip.set_src_addr(Ipv4Addr::new(10, 0, (flow >> 8) as u8, flow as u8));
    ip.set_dst_addr(Ipv4Addr::new(10, 1, 0, 1));
    ip.fill_checksum();
    let pseudo = ip.pseudo_header_sum();
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    udp.set_src_port(10000u16.wrapping_add(flow));
    udp.set_dst_port(9);
    udp.set_len(ip_len - 20);
    let payload = udp.payload_mut();
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in payload[4..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    udp.fill_checksum(pseudo);
    f
}

/// The sequence number [`udp_frame`] put in a frame (None if it is not one of ours).
pub fn frame_seq(frame: &[u8]) -> Option<u32> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != ethertype::IPV4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != ip_proto::UDP {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    Some(u32::from_be_bytes(udp.payload().get(..4)?.try_into().ok()?))
}

/// Inserts an 802.1Q (0x8100) or 802.1ad (0x88a8) tag after the MAC addresses.
pub fn with_vlan(frame: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    let mut f = vec![0u8; frame.len() + vlan::TAG_LEN];
    f[..12].copy_from_slice(&frame[..12]);
    f[12 + vlan::TAG_LEN..].copy_from_slice(&frame[12..]);
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    eth.set_ethertype(tpid);
    // The tag's own type field already holds the frame's EtherType, copied above.
    VlanTag::new_unchecked(eth.payload_mut()).set_tci(tci);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_sequence_and_valid_ip_checksum() {
        for size in [60, 61, 100, 1514] {
            let f = udp_frame(12345, 7, size);
            assert_eq!(f.len(), size);
            assert_eq!(frame_seq(&f), Some(12345));
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum());
            let pseudo = ip.pseudo_header_sum();
            assert!(UdpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(pseudo));
        }
    }

    #[test]
    fn vlan_tag_goes_after_the_addresses() {
        let f = udp_frame(1, 1, 60);
        let t = with_vlan(&f, 0x8100, 100);
        assert_eq!(&t[12..16], &[0x81, 0x00, 0x00, 100]);
        assert_eq!(&t[16..], &f[12..]);
    }
}
