//! Packet bytes as tcpdump dumps them: `-x` (hex), `-X` (hex and ASCII), `-A` (ASCII), and
//! the hex-and-ASCII "default print" of payloads no printer decodes.

use crate::{Cx, Dump, Out};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The dump after the line: from the network layer (`ll_len` bytes in), or the whole frame
/// with the doubled flags. Nothing when only the link-level header was captured.
pub(crate) fn after_line(out: &mut Out<'_>, dump: Dump, data: &[u8], ll_len: usize) {
    let from = |link: bool| -> Option<&[u8]> {
        if link {
            Some(data)
        } else if data.len() > ll_len {
            Some(&data[ll_len..])
        } else {
            None
        }
    };
    match dump {
        Dump::None => {}
        Dump::Hex { link } => {
            if let Some(b) = from(link) {
                hex(out, "\n\t", b);
            }
        }
        Dump::HexAscii { link } => {
            if let Some(b) = from(link) {
                hex_ascii(out, "\n\t", b);
            }
        }
        Dump::Ascii { link } => {
            if let Some(b) = from(link) {
                ascii(out, b);
            }
        }
    }
}

/// tcpdump's default print of an undecoded payload: hex and ASCII, unless `-x`/`-X`/`-A`
/// dump the packet anyway.
pub(crate) fn default_print(cx: &mut Cx<'_, '_>, data: &[u8]) {
    if !cx.suppress_default_print() {
        hex_ascii(cx.out, "\n\t", data);
    }
}

/// Lines of `0x0010:  4500 0054 …` after `ident`, eight 16-bit groups each.
pub(crate) fn hex(out: &mut Out<'_>, ident: &str, b: &[u8]) {
    for (i, line) in b.chunks(16).enumerate() {
        offset(out, ident, i * 16);
        let mut buf = [b' '; 40];
        let mut n = 0;
        for pair in line.chunks(2) {
            buf[n] = b' ';
            n += 1;
            for &x in pair {
                buf[n] = HEX[usize::from(x >> 4)];
                buf[n + 1] = HEX[usize::from(x & 15)];
                n += 2;
            }
        }
        out.s(std::str::from_utf8(&buf[..n]).unwrap_or(""));
    }
}

/// Lines of `0x0010:  4500 0054 …  E..T` after `ident`: hex padded to its column, then
/// the bytes that are printable ASCII (others as `.`).
pub(crate) fn hex_ascii(out: &mut Out<'_>, ident: &str, b: &[u8]) {
    for (i, line) in b.chunks(16).enumerate() {
        offset(out, ident, i * 16);
        // 40 columns of hex, two spaces, up to 16 characters.
        let mut buf = [b' '; 58];
        let mut n = 0;
        for pair in line.chunks(2) {
            n += 1;
            for &x in pair {
                buf[n] = HEX[usize::from(x >> 4)];
                buf[n + 1] = HEX[usize::from(x & 15)];
                n += 2;
            }
        }
        for (j, &x) in line.iter().enumerate() {
            buf[42 + j] = if x.is_ascii_graphic() { x } else { b'.' };
        }
        out.s(std::str::from_utf8(&buf[..42 + line.len()]).unwrap_or(""));
    }
}

/// `-A`: a newline, then the bytes with printable ASCII, tabs, spaces and newlines as they
/// are, a carriage return before a newline (or at the very end) left out, and anything
/// else as `.`.
pub(crate) fn ascii(out: &mut Out<'_>, b: &[u8]) {
    out.s("\n");
    let mut buf = [0u8; 256];
    let mut n = 0;
    for (i, &x) in b.iter().enumerate() {
        let c = if x == b'\r' {
            // Printed as '.' only when at least two bytes follow and the next is not '\n'.
            let rest = b.len() - i - 1;
            if rest > 1 && b[i + 1] != b'\n' {
                Some(b'.')
            } else {
                None
            }
        } else if x.is_ascii_graphic() || x == b'\t' || x == b' ' || x == b'\n' {
            Some(x)
        } else {
            Some(b'.')
        };
        if let Some(c) = c {
            buf[n] = c;
            n += 1;
            if n == buf.len() {
                out.s(std::str::from_utf8(&buf[..n]).unwrap_or(""));
                n = 0;
            }
        }
    }
    out.s(std::str::from_utf8(&buf[..n]).unwrap_or(""));
}

/// `ident` and `0x%04x: `.
fn offset(out: &mut Out<'_>, ident: &str, at: usize) {
    out.s(ident);
    out.f(format_args!("0x{at:04x}: "));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&mut Out<'_>, &[u8]), b: &[u8]) -> String {
        let mut s = String::new();
        f(&mut Out::new(&mut s), b);
        s
    }

    #[test]
    fn layouts() {
        let b: Vec<u8> = (0x40..0x40 + 19).collect();
        assert_eq!(
            run(|o, b| hex(o, "\n\t", b), &b),
            "\n\t0x0000:  4041 4243 4445 4647 4849 4a4b 4c4d 4e4f\n\t0x0010:  5051 52"
        );
        assert_eq!(
            run(|o, b| hex_ascii(o, "\n\t", b), &b[..3]),
            "\n\t0x0000:  4041 42                                  @AB"
        );
        assert_eq!(run(ascii, b"GET /\r\nx\ry\x01\r"), "\nGET /\nx.y.");
    }
}
