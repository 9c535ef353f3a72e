//! Test-only helpers for every crate's tests: a dev-dependency, never shipped in a binary.
//!
//! **Owns:** skip reporting ([`skip`], [`can_run`]), running the real tools tests check against
//! and reading what they print ([`tools`]), hand-made capture files ([`craft`]) and test frames
//! ([`udp_frame`], [`with_vlan`]). [`TestNet`] is the run-time private network of
//! `ringcap-netns` (a fresh namespace with a veth pair, removed on drop), re-exported under the
//! name the tests use.
//!
//! **Must not depend on:** the engine or the CLI (every crate's tests use it), and nothing may
//! depend on it except as a dev-dependency: it panics freely, as tests do.

#![forbid(unsafe_code)]

pub mod craft;
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
    f[0..6].copy_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (size - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, (flow >> 8) as u8, flow as u8]);
    ip[16..20].copy_from_slice(&[10, 1, 0, 1]);
    let csum = checksum(&f[14..34]);
    f[24..26].copy_from_slice(&csum.to_be_bytes());
    let udp_len = ip_len - 20;
    f[34..36].copy_from_slice(&(10000u16.wrapping_add(flow)).to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[38..40].copy_from_slice(&udp_len.to_be_bytes());
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[46..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    // UDP checksum over the pseudo header.
    let mut pseudo = Vec::with_capacity(12 + udp_len as usize);
    pseudo.extend_from_slice(&f[26..34]);
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    pseudo.extend_from_slice(&f[34..]);
    let mut c = checksum(&pseudo);
    if c == 0 {
        c = 0xffff;
    }
    f[40..42].copy_from_slice(&c.to_be_bytes());
    f
}

/// The sequence number [`udp_frame`] put in a frame (None if it is not one of ours).
pub fn frame_seq(frame: &[u8]) -> Option<u32> {
    if frame.len() < 46 || frame[12..14] != [0x08, 0x00] || frame[23] != 17 {
        return None;
    }
    Some(u32::from_be_bytes(frame[42..46].try_into().ok()?))
}

/// Inserts an 802.1Q (0x8100) or 802.1ad (0x88a8) tag after the MAC addresses.
pub fn with_vlan(frame: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(frame.len() + 4);
    f.extend_from_slice(&frame[..12]);
    f.extend_from_slice(&tpid.to_be_bytes());
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u32) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
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
            assert_eq!(checksum(&f[14..34]), 0);
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
