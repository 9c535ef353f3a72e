//! The Internet checksum (RFC 1071), once for the whole project: word sums, folding, the IPv4
//! and IPv6 pseudo-headers, and the incremental update of RFC 1624.
//!
//! Sums are kept unfolded in a `u64` so callers can add partial sums (a stored template sum,
//! a pseudo-header, a few changed words) and fold once at the end; a `u64` cannot overflow on
//! any frame this project handles (2^48 words).

use std::net::{Ipv4Addr, Ipv6Addr};

/// One's complement sum of `data` as 16-bit big-endian words (an odd trailing byte is padded
/// with zero), not folded.
#[inline]
pub fn sum(data: &[u8]) -> u64 {
    // 32-bit words summed into 64 bits: since 2^16 ≡ 1 (mod 2^16 - 1), folding this gives the
    // same result as summing 16-bit words, in half the additions.
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    match *words.remainder() {
        [a, b, c] => acc + u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        [a, b] => acc + u64::from(u16::from_be_bytes([a, b])),
        [a] => acc + (u64::from(a) << 8),
        _ => acc,
    }
}

/// Folds a sum to 16 bits with end-around carry (the sum, not yet complemented).
#[inline]
pub fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum field value for `data` (whose own checksum field is zero), or zero when
/// `data` including a correct checksum field is verified.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// The checksum of a finished sum: complement of the fold.
#[inline]
pub fn finish(sum: u64) -> u16 {
    !fold(sum)
}

/// Word sum of an IPv4 address.
#[inline]
pub fn sum_v4(a: Ipv4Addr) -> u64 {
    u64::from(u32::from(a) >> 16) + u64::from(u32::from(a) & 0xffff)
}

/// Word sum of an IPv6 address.
#[inline]
pub fn sum_v6(a: Ipv6Addr) -> u64 {
    let n = u128::from(a);
    (0..8).map(|i| ((n >> (16 * i)) & 0xffff) as u64).sum()
}

/// Sum of the IPv4 pseudo-header (RFC 793 / 768) for an upper-layer segment of `len` bytes.
#[inline]
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u64 {
    sum_v4(src) + sum_v4(dst) + u64::from(proto) + u64::from(len)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
#[inline]
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u64 {
    sum_v6(src)
        + sum_v6(dst)
        + u64::from(next_header)
        + u64::from(len >> 16)
        + u64::from(len & 0xffff)
}

/// RFC 1624 equation 3: the new checksum field after one 16-bit word of the covered data
/// changed from `old` to `new`, without summing the data again: HC' = ~(~HC + ~m + m').
#[inline]
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old) + u64::from(new))
}

/// [`update`] for a 32-bit field (two words).
#[inline]
pub fn update32(checksum: u16, old: u32, new: u32) -> u16 {
    let c = update(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update(c, old as u16, new as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (before complement).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
        // Odd lengths: the last byte is the high half of a word.
        assert_eq!(
            fold(sum(&d[..7])),
            fold(sum(&[0, 1, 0xf2, 3, 0xf4, 0xf5, 0xf6, 0]))
        );
        assert_eq!(fold(sum(&d[..5])), fold(sum(&[0, 1, 0xf2, 3, 0xf4, 0])));
        assert_eq!(
            u32::from(fold(sum(&d[..6]))),
            0x0001 + 0xf203 + 0xf4f5 - 0xffff
        );
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn ipv4_header_from_a_capture() {
        // The commonly quoted worked example of an IPv4 header checksum: 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0);
        let mut z = h;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(checksum(&z), 0xb861);
    }

    #[test]
    fn incremental_update_matches_a_full_recompute() {
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        let mut c = 0xb861;
        for ttl_proto in [0x3f11u16, 0x0111, 0xff11, 0x0000] {
            let old = u16::from_be_bytes([h[8], h[9]]);
            c = update(c, old, ttl_proto);
            h[8..10].copy_from_slice(&ttl_proto.to_be_bytes());
            h[10..12].copy_from_slice(&c.to_be_bytes());
            assert_eq!(checksum(&h), 0, "after {ttl_proto:#06x}");
        }
        let old = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        c = update32(c, old, 0x0a00_0001);
        h[12..16].copy_from_slice(&[10, 0, 0, 1]);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn pseudo_headers() {
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 1, 0, 1));
        let bytes = [10, 0, 0, 1, 10, 1, 0, 1, 0, 17, 0, 8];
        assert_eq!(fold(pseudo_v4(s, d, 17, 8)), fold(sum(&bytes)));
        let (s, d): (Ipv6Addr, Ipv6Addr) =
            ("fd00::1".parse().unwrap(), "ff02::fb".parse().unwrap());
        let mut b = Vec::from(s.octets());
        b.extend_from_slice(&d.octets());
        b.extend_from_slice(&[0, 1, 0, 8, 0, 0, 0, 58]);
        assert_eq!(fold(pseudo_v6(s, d, 58, 0x10008)), fold(sum(&b)));
    }
}
