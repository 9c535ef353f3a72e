//! Addresses as tcpdump writes them with `-n`.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv6 address in RFC 5952 form with tcpdump's (and inet_ntop's) one exception: an
/// address of 96 zero bits or `::ffff:0:0/96` ends in dotted IPv4 (`::10.0.0.1`), except
/// `::` and `::1`.
pub(crate) struct V6<'a>(pub(crate) &'a [u8; 16]);

impl fmt::Display for V6<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        let w: [u16; 8] = std::array::from_fn(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]));
        // The longest run of zero words (the first of equal runs), if at least two long.
        let (mut best, mut best_len) = (usize::MAX, 0);
        let mut i = 0;
        while i < 8 {
            if w[i] == 0 {
                let start = i;
                while i < 8 && w[i] == 0 {
                    i += 1;
                }
                if i - start > best_len {
                    (best, best_len) = (start, i - start);
                }
            } else {
                i += 1;
            }
        }
        if best_len < 2 {
            best = usize::MAX;
        }
        let mut i = 0;
        while i < 8 {
            if i == best {
                f.write_str(":")?;
                i += best_len;
                if i == 8 {
                    f.write_str(":")?;
                }
                continue;
            }
            if i != 0 {
                f.write_str(":")?;
            }
            if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
                return write!(f, "{}", Ipv4Addr::new(b[12], b[13], b[14], b[15]));
            }
            write!(f, "{:x}", w[i])?;
            i += 1;
        }
        Ok(())
    }
}

/// Six bytes as `02:00:00:00:00:01`.
pub(crate) struct Mac<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Mac<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        lladdr(f, self.0)
    }
}

/// Any number of bytes as colon-separated hex pairs (tcpdump's link-address string).
pub(crate) fn lladdr(f: &mut dyn fmt::Write, b: &[u8]) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, &x) in b.iter().enumerate() {
        if i > 0 {
            f.write_char(':')?;
        }
        f.write_char(char::from(HEX[usize::from(x >> 4)]))?;
        f.write_char(char::from(HEX[usize::from(x & 15)]))?;
    }
    Ok(())
}

/// Four bytes as a dotted quad.
pub(crate) fn v4(b: &[u8]) -> Ipv4Addr {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    Ipv4Addr::from(a)
}

/// Sixteen bytes as an array for [`V6`].
pub(crate) fn v6(b: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(a: &str) -> String {
        let ip: std::net::Ipv6Addr = a.parse().unwrap();
        V6(&ip.octets()).to_string()
    }

    #[test]
    fn like_inet_ntop() {
        for (a, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("fe80::1", "fe80::1"),
            ("fd00:0:0:1::", "fd00:0:0:1::"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
            ("::a00:1", "::10.0.0.1"),
            ("::ffff:a00:1", "::ffff:10.0.0.1"),
            ("::1:a00:1", "::1:a00:1"),
            ("2001:db8::", "2001:db8::"),
            ("ff02::1:ff00:1", "ff02::1:ff00:1"),
        ] {
            assert_eq!(s(a), want, "{a}");
        }
    }
}
