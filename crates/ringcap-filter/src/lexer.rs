//! Tokenizer for pcap-filter(7) expressions. Mirrors libpcap's scanner where it matters: a "word"
//! is the longest run of `[-_.A-Za-z0-9]` (so `tcp-syn`, `ftp-data` and `1.2.3.4` are one token),
//! colon forms are IPv6 or MAC addresses when they parse as such, `\name` is a name that is never
//! a keyword. Every token carries its byte offset for error carets.

use crate::CompileError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Num(u32),
    /// A name (identifier, keyword or escaped name).
    Id(String),
    /// An escaped `\name`: never a keyword.
    Esc(String),
    /// Dotted IPv4 (1 to 4 parts): the value and the number of significant bits.
    V4(u32, u32),
    V6([u8; 16]),
    Mac([u8; 6]),
    Punct(&'static str),
    End,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub off: usize,
    pub text: String,
}

fn err(msg: impl Into<String>, off: usize) -> CompileError {
    CompileError {
        message: msg.into(),
        offset: Some(off),
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.'
}

/// Parses a number as libpcap does: decimal, `0x` hex, leading-zero octal; 32 bits at most.
pub fn parse_num(s: &str) -> Option<Result<u32, ()>> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(u32::from_str_radix(digits, radix).map_err(|_| ()))
}

fn parse_v4(s: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 || parts.len() < 2 {
        return None;
    }
    let mut v: u32 = 0;
    for p in &parts {
        // any number of decimal digits, as libpcap's __pcap_atoin reads them
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n = p.trim_start_matches('0').parse::<u32>().unwrap_or(0);
        if n > 255 || p.trim_start_matches('0').len() > 3 {
            return None;
        }
        v = (v << 8) | n;
    }
    Some((v, 8 * parts.len() as u32))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let hex = |p: &str, max: usize| -> bool {
        !p.is_empty() && p.len() <= max && p.bytes().all(|c| c.is_ascii_hexdigit())
    };
    for sep in [':', '-', '.'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() == 6 && parts.iter().all(|p| hex(p, 2)) {
            let mut m = [0u8; 6];
            for (i, p) in parts.iter().enumerate() {
                m[i] = u8::from_str_radix(p, 16).ok()?;
            }
            return Some(m);
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| p.len() == 4 && hex(p, 4)) {
        let mut m = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            let w = u16::from_str_radix(p, 16).ok()?;
            m[2 * i] = (w >> 8) as u8;
            m[2 * i + 1] = w as u8;
        }
        return Some(m);
    }
    if s.len() == 12 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
        // 12 hex digits are a MAC, even all decimal: libpcap's scanner lists that rule first
        let mut m = [0u8; 6];
        for (i, b) in m.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        return Some(m);
    }
    None
}

pub fn lex(src: &str) -> Result<Vec<Token>, CompileError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        // IPv6 / colon MAC: longest run of hex digits, ':' and '.'
        if c.is_ascii_hexdigit() || c == b':' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_hexdigit() || b[j] == b':' || b[j] == b'.') {
                j += 1;
            }
            let s = &src[i..j];
            if s.contains(':') && (j >= b.len() || !is_word(b[j]) || b[j] == b'.') {
                let s2 = s.trim_end_matches('.');
                if let Some(m) = parse_mac(s2).filter(|_| s2.contains(':')) {
                    out.push(Token {
                        tok: Tok::Mac(m),
                        off: start,
                        text: s2.into(),
                    });
                    i += s2.len();
                    continue;
                }
                if let Ok(a) = s2.parse::<std::net::Ipv6Addr>() {
                    out.push(Token {
                        tok: Tok::V6(a.octets()),
                        off: start,
                        text: s2.into(),
                    });
                    i += s2.len();
                    continue;
                }
            }
        }
        if c == b'\\' {
            let mut j = i + 1;
            while j < b.len() && !b[j].is_ascii_whitespace() && !b"!()".contains(&b[j]) {
                j += 1;
            }
            if j == i + 1 {
                return Err(err("syntax error: empty escaped name", start));
            }
            out.push(Token {
                tok: Tok::Esc(src[i + 1..j].into()),
                off: start,
                text: src[i..j].into(),
            });
            i = j;
            continue;
        }
        if c.is_ascii_alphanumeric() {
            let mut j = i;
            while j < b.len() && is_word(b[j]) {
                j += 1;
            }
            // a word does not end in '-' or '_'
            while j > i + 1 && (b[j - 1] == b'-' || b[j - 1] == b'_') {
                j -= 1;
            }
            let s = &src[i..j];
            // libpcap's scanner tries its MAC forms before numbers and dotted addresses
            let tok = if let Some(m) = parse_mac(s) {
                Tok::Mac(m)
            } else if let Some(n) = parse_num(s) {
                match n {
                    Ok(v) => Tok::Num(v),
                    Err(()) => return Err(err(format!("number {s} overflows 32 bits"), start)),
                }
            } else if let Some((v, bits)) = parse_v4(s) {
                Tok::V4(v, bits)
            } else if let Some(v) = crate::names::constant(s) {
                Tok::Num(v)
            } else {
                Tok::Id(s.into())
            };
            out.push(Token {
                tok,
                off: start,
                text: s.into(),
            });
            i = j;
            continue;
        }
        const PUNCT: [&str; 25] = [
            "&&", "||", "<<", ">>", "==", "!=", "<=", ">=", "(", ")", "[", "]", ":", "+", "-", "*",
            "/", "%", "&", "|", "^", "=", "<", ">", "!",
        ];
        match PUNCT.iter().find(|p| src[i..].starts_with(**p)) {
            Some(p) => {
                out.push(Token {
                    tok: Tok::Punct(p),
                    off: start,
                    text: (*p).into(),
                });
                i += p.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(
                    format!("syntax error: unexpected character '{ch}'"),
                    start,
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::End,
        off: src.len(),
        text: String::new(),
    });
    Ok(out)
}
