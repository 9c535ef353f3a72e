//! Flow keys: what makes two packets the same flow.
//!
//! IP flows are keyed as exporters key them: addresses, ports, protocol, and the VLAN the packet
//! was seen on. ICMP has no ports, so the type and code sit in the destination port
//! (`type << 8 | code`), as Cisco, softflowd and nfdump put them. Frames that carry no IP header
//! fold into one flow per (source MAC, destination MAC, EtherType, VLAN), so ARP, LLDP and the
//! like are counted too and every captured frame lands in some record.

use crate::wire::{Addrs, Summary};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// "No VLAN" in [`FlowKey::vlan`] (VLAN ids are 12 bits).
pub const VLAN_NONE: u16 = 0xffff;

/// Which of the three record shapes (and IPFIX templates) a flow has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Kind {
    /// Not IP: MAC addresses in `src[..6]`/`dst[..6]`, the EtherType in `ethertype`.
    #[default]
    L2 = 0,
    V4 = 4,
    V6 = 6,
}

/// A flow's identity. Addresses are stored in 16 bytes whatever their kind (IPv4 in the first 4,
/// a MAC in the first 6, the rest zero), so one comparison and one hash cover every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(C, align(8))]
pub struct FlowKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    /// ICMP and ICMPv6: `type << 8 | code`.
    pub dst_port: u16,
    /// 802.1Q VLAN id, or [`VLAN_NONE`].
    pub vlan: u16,
    pub ethertype: u16,
    pub proto: u8,
    pub kind: Kind,
}

impl FlowKey {
    /// The key of a packet from its header summary. `vlan` is the VLAN id the capture reported
    /// beside the frame (a ring strips the tag); without one, the tag found in the bytes counts.
    #[inline]
    pub fn from_summary(s: &Summary, vlan: Option<u16>) -> FlowKey {
        let mut k = FlowKey {
            vlan: vlan.or(s.vlan).map_or(VLAN_NONE, |v| v & 0x0fff),
            ..FlowKey::default()
        };
        match s.addrs {
            Addrs::V4 { src, dst } => {
                k.src[..4].copy_from_slice(&src);
                k.dst[..4].copy_from_slice(&dst);
                k.kind = Kind::V4;
                k.ethertype = ETHERTYPE_IPV4;
            }
            Addrs::V6 { src, dst } => {
                k.src = src;
                k.dst = dst;
                k.kind = Kind::V6;
                k.ethertype = ETHERTYPE_IPV6;
            }
            Addrs::None => {
                k.src[..6].copy_from_slice(&s.src_mac);
                k.dst[..6].copy_from_slice(&s.dst_mac);
                k.ethertype = s.ethertype;
                return k;
            }
        }
        k.proto = s.proto;
        k.src_port = s.src_port;
        k.dst_port = s.dst_port;
        k
    }

    pub fn is_icmp(&self) -> bool {
        matches!((self.kind, self.proto), (Kind::V4, 1) | (Kind::V6, 58))
    }

    pub fn has_vlan(&self) -> bool {
        self.vlan != VLAN_NONE
    }

    pub fn src_ip(&self) -> Option<std::net::IpAddr> {
        ip(self.kind, &self.src)
    }

    pub fn dst_ip(&self) -> Option<std::net::IpAddr> {
        ip(self.kind, &self.dst)
    }

    pub fn src_mac(&self) -> [u8; 6] {
        self.src[..6].try_into().unwrap_or_default()
    }

    pub fn dst_mac(&self) -> [u8; 6] {
        self.dst[..6].try_into().unwrap_or_default()
    }

    /// Five little-endian words covering every field, for [`Hasher`].
    #[inline(always)]
    fn words(&self) -> [u64; 5] {
        let w = |b: &[u8; 16], i: usize| {
            u64::from_le_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ])
        };
        let ports = self.src_port as u64
            | (self.dst_port as u64) << 16
            | (self.vlan as u64) << 32
            | (self.ethertype as u64) << 48;
        let small = (self.proto as u64) << 8 | self.kind as u64;
        [
            w(&self.src, 0),
            w(&self.src, 8) ^ small << 48,
            w(&self.dst, 0),
            w(&self.dst, 8),
            ports,
        ]
    }
}

fn ip(kind: Kind, a: &[u8; 16]) -> Option<std::net::IpAddr> {
    match kind {
        Kind::V4 => Some(std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).into()),
        Kind::V6 => Some(std::net::Ipv6Addr::from(*a).into()),
        Kind::L2 => None,
    }
}

/// A keyed hash of flow keys: three independent 64x64->128-bit multiplies folded together, a
/// few cycles per key. The keys are random per table, so a sender cannot aim a flood of
/// crafted flows at one probe sequence.
#[derive(Debug, Clone, Copy)]
pub struct Hasher {
    k: [u64; 6],
}

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Hasher {
    /// A hasher with keys from the standard library's per-process random source.
    pub fn random() -> Hasher {
        use std::hash::{BuildHasher, Hasher as _};
        let rs = std::collections::hash_map::RandomState::new();
        let mut k = [0u64; 6];
        for (i, v) in k.iter_mut().enumerate() {
            let mut h = rs.build_hasher();
            h.write_usize(i);
            // Odd, so that a multiply never collapses to zero for every input.
            *v = h.finish() | 1;
        }
        Hasher { k }
    }

    /// Fixed keys, for reproducible tests and benchmarks.
    pub fn fixed() -> Hasher {
        Hasher {
            k: [
                0x9e37_79b9_7f4a_7c15,
                0xbf58_476d_1ce4_e5b9,
                0x94d0_49bb_1331_11eb,
                0x2545_f491_4f6c_dd1d,
                0xd6e8_feb8_6659_fd93,
                0xa076_1d64_78bd_642f,
            ],
        }
    }

    /// A hash of two words (the compact IPv4 key).
    #[inline(always)]
    pub fn hash_words(&self, a: u64, b: u64) -> u64 {
        fold_mul(a ^ self.k[0], b ^ self.k[1])
    }

    #[inline(always)]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        let w = key.words();
        let k = &self.k;
        fold_mul(w[0] ^ k[0], w[1] ^ k[1])
            ^ fold_mul(w[2] ^ k[2], w[3] ^ k[3])
            ^ fold_mul(w[4] ^ k[4], k[5])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::summarize;

    fn udp4(vlan: Option<u16>) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&1234u16.to_be_bytes());
        f[36..38].copy_from_slice(&53u16.to_be_bytes());
        match vlan {
            Some(v) => {
                let mut t = f[..12].to_vec();
                t.extend_from_slice(&[0x81, 0x00]);
                t.extend_from_slice(&v.to_be_bytes());
                t.extend_from_slice(&f[12..]);
                t
            }
            None => f,
        }
    }

    #[test]
    fn ipv4_udp_key() {
        let k = FlowKey::from_summary(&summarize(&udp4(None)), None);
        assert_eq!(k.kind, Kind::V4);
        assert_eq!(&k.src[..4], &[10, 0, 0, 1]);
        assert_eq!(&k.src[4..], &[0; 12]);
        assert_eq!((k.src_port, k.dst_port, k.proto), (1234, 53, 17));
        assert_eq!(k.vlan, VLAN_NONE);
        assert_eq!(k.src_ip().unwrap().to_string(), "10.0.0.1");
    }

    #[test]
    fn vlan_from_bytes_or_from_the_ring() {
        let tagged = summarize(&udp4(Some(0x2064)));
        assert_eq!(FlowKey::from_summary(&tagged, None).vlan, 100);
        // The ring stripped the tag: the bytes have none, the metadata says 7.
        let stripped = summarize(&udp4(None));
        assert_eq!(FlowKey::from_summary(&stripped, Some(7)).vlan, 7);
        assert_ne!(
            FlowKey::from_summary(&stripped, Some(7)),
            FlowKey::from_summary(&stripped, None)
        );
    }

    #[test]
    fn non_ip_frames_key_on_macs_and_ethertype() {
        let mut arp = vec![0xffu8; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x06]);
        arp.resize(60, 0);
        let k = FlowKey::from_summary(&summarize(&arp), None);
        assert_eq!(k.kind, Kind::L2);
        assert_eq!(k.ethertype, 0x0806);
        assert_eq!(k.src_mac(), [2, 0, 0, 0, 0, 9]);
        assert_eq!(k.dst_mac(), [0xff; 6]);
        assert!(k.src_ip().is_none());
    }

    #[test]
    fn every_field_changes_the_hash() {
        let h = Hasher::fixed();
        let base = FlowKey::from_summary(&summarize(&udp4(None)), None);
        let mut variants = vec![base];
        let mut k = base;
        k.src[15] = 1;
        variants.push(k);
        let mut k = base;
        k.dst[0] = 11;
        variants.push(k);
        let mut k = base;
        k.src_port = 1235;
        variants.push(k);
        let mut k = base;
        k.dst_port = 54;
        variants.push(k);
        let mut k = base;
        k.vlan = 1;
        variants.push(k);
        let mut k = base;
        k.proto = 6;
        variants.push(k);
        let mut k = base;
        k.kind = Kind::V6;
        variants.push(k);
        let hashes: std::collections::HashSet<u64> = variants.iter().map(|k| h.hash(k)).collect();
        assert_eq!(hashes.len(), variants.len());
        assert_ne!(Hasher::random().hash(&base), h.hash(&base));
    }
}
