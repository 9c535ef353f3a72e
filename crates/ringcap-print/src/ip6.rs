//! IPv6 and its extension headers: `IP6 src > dst: HBH frag (0|1448) …`.

use ringcap_wire::ip_proto;

use crate::addr::{v6, V6};
use crate::ip::{demux, Ip};
use crate::names::ipproto;
use crate::{be16, be32, bytes, pr, u8_at, Cx, Trunc, R};

pub(crate) fn ip6(cx: &mut Cx<'_, '_>, b: &[u8], length: u32) -> R {
    cx.proto = "ip6";
    if b.len() < 40 {
        return Err(Trunc);
    }
    if length < 40 {
        pr!(cx, "truncated-ip6 {length}");
        return Ok(());
    }
    if !cx.e() {
        cx.out.s("IP6 ");
    }
    if b[0] >> 4 != 6 {
        pr!(cx, "version error: {} != 6", b[0] >> 4);
        return Ok(());
    }
    let payload_len = u32::from(u16::from_be_bytes([b[4], b[5]]));
    let len = if payload_len != 0 {
        let l = payload_len + 40;
        if length < l {
            pr!(cx, "truncated-ip6 - {} bytes missing!", l - length);
        }
        l
    } else {
        length + 40
    };
    if cx.v() > 0 {
        fixed_header(cx, b, payload_len);
    }
    // The packet ends where the payload length says.
    let b = &b[..b.len().min(len as usize)];
    let ip = Ip::V6 {
        hdr: &b[..40],
        dst: final_dst(b),
    };
    Chain {
        b,
        length,
        payload_len,
        len,
        nh: b[6],
        at: 0,
        advance: 40,
        total: 0,
        found_ext: false,
        found_jumbo: false,
        found_hbh: false,
        jumbo_len: payload_len,
        prev: 255,
        fragmented: false,
    }
    .walk(cx, ip)
}

/// `-v`'s fields of the fixed header: `(class 0x10, flowlabel 0x12345, hlim 64, …) `.
fn fixed_header(cx: &mut Cx<'_, '_>, b: &[u8], payload_len: u32) {
    let nh = b[6];
    let flow = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    cx.out.s("(");
    if flow & 0x0ff0_0000 != 0 {
        pr!(cx, "class 0x{:02x}, ", (flow & 0x0ff0_0000) >> 20);
    }
    if flow & 0x000f_ffff != 0 {
        pr!(cx, "flowlabel 0x{:05x}, ", flow & 0x000f_ffff);
    }
    pr!(
        cx,
        "hlim {}, next-header {} ({nh}) payload length: {payload_len}) ",
        b[7],
        ipproto(nh)
    );
}

/// Whether the walk goes on to the next header after an extension header.
#[derive(PartialEq, Eq)]
enum Step {
    Next,
    Stop,
}

/// The walk along the chain of extension headers, as tcpdump's `ip6_print` loop does it:
/// where it is, and what it has found on the way.
struct Chain<'b> {
    /// The packet, up to where its payload length says it ends.
    b: &'b [u8],
    /// The length on the wire, as the caller was given it.
    length: u32,
    payload_len: u32,
    /// What is left of the packet from `at`.
    len: u32,
    /// The header at `at`.
    nh: u8,
    at: usize,
    /// The length of the header at `at` (0 ends the walk).
    advance: usize,
    /// The headers' bytes so far.
    total: u32,
    found_ext: bool,
    found_jumbo: bool,
    found_hbh: bool,
    jumbo_len: u32,
    prev: u8,
    fragmented: bool,
}

impl Chain<'_> {
    fn walk(mut self, cx: &mut Cx<'_, '_>, ip: Ip<'_>) -> R {
        let b = self.b;
        while self.at < b.len() && self.advance > 0 {
            if self.len < self.advance as u32 {
                return Err(Trunc);
            }
            self.at += self.advance;
            self.len -= self.advance as u32;
            self.total += self.advance as u32;
            if self.at == 40
                && !matches!(self.nh, ip_proto::TCP | ip_proto::UDP | 33 | ip_proto::SCTP)
            {
                ip.addrs(cx);
                cx.out.s(": ");
            }
            let h = &b[self.at.min(b.len())..];
            let step = match self.nh {
                ip_proto::HOPOPT => self.hop_by_hop(cx, h)?,
                ip_proto::DSTOPTS => self.destination_options(cx, h)?,
                ip_proto::FRAGMENT => self.fragment(cx, h)?,
                ip_proto::ROUTING => self.routing(cx, h)?,
                _ => return self.upper_layer(cx, h, ip),
            };
            if step == Step::Stop {
                return Ok(());
            }
            self.found_ext = true;
            self.nh = h[0];
            self.prev = self.nh;
            cx.proto = "ip6";
        }
        Ok(())
    }

    /// `HBH `, its options, and the Jumbo Payload a zero payload length promises.
    fn hop_by_hop(&mut self, cx: &mut Cx<'_, '_>, h: &[u8]) -> Result<Step, Trunc> {
        if self.found_hbh {
            cx.out
                .s("[The Hop-by-Hop Options header was already found] (invalid)");
            return Ok(Step::Stop);
        }
        if self.prev != 255 {
            cx.out
                .s("[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)");
            return Ok(Step::Stop);
        }
        cx.proto = "hbhopt";
        let whole = u8_at(h, 1).and_then(|l| {
            let n = (usize::from(l) + 1) * 8;
            bytes(h, 0, n).map(|_| n)
        });
        let Ok(n) = whole else {
            // Past its length byte, tcpdump goes on to miss the Jumbo Payload a
            // zero payload length promises.
            cx.out.s(" [|hbhopt]");
            if self.payload_len == 0 && h.len() >= 2 {
                cx.out
                    .s("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
            }
            return Ok(Step::Stop);
        };
        self.advance = n;
        cx.out.s("HBH ");
        options(
            cx,
            &h[2..n],
            Some((&mut self.found_jumbo, &mut self.jumbo_len)),
        )?;
        if self.jumbo_len == 0 && !self.found_jumbo {
            cx.out
                .s("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
            return Ok(Step::Stop);
        }
        self.found_hbh = true;
        Ok(Step::Next)
    }

    /// `DSTOPT `, and its options with `-v`.
    fn destination_options(&mut self, cx: &mut Cx<'_, '_>, h: &[u8]) -> Result<Step, Trunc> {
        cx.proto = "dstopt";
        self.advance = (usize::from(u8_at(h, 1)?) + 1) * 8;
        bytes(h, 0, self.advance)?;
        cx.out.s("DSTOPT ");
        if cx.v() > 0 {
            options(cx, &h[2..self.advance], None)?;
        }
        Ok(Step::Next)
    }

    /// `frag (0|1448) `: the walk goes on past a first fragment only.
    fn fragment(&mut self, cx: &mut Cx<'_, '_>, h: &[u8]) -> Result<Step, Trunc> {
        cx.proto = "frag6";
        let offlg = be16(h, 2)?;
        let frag_len = (40 + self.payload_len).wrapping_sub(self.at as u32 + 8);
        if cx.v() > 0 {
            let id = be32(h, 4)?;
            pr!(cx, "frag (0x{id:08x}:{}|{frag_len})", offlg & 0xfff8);
        } else {
            pr!(cx, "frag ({}|{frag_len})", offlg & 0xfff8);
        }
        if offlg & 0xfff8 != 0 {
            return Ok(Step::Stop);
        }
        cx.out.s(" ");
        self.advance = 8;
        if self.b.len() <= self.at + self.advance {
            return Ok(Step::Stop);
        }
        self.fragmented = true;
        Ok(Step::Next)
    }

    /// `RT6 (…) `, see [`routing`].
    fn routing(&mut self, cx: &mut Cx<'_, '_>, h: &[u8]) -> Result<Step, Trunc> {
        // Not one byte of it: tcpdump's IPv6 loop is still the one reading.
        cx.proto = "ip6";
        u8_at(h, 0)?;
        cx.proto = "rt6";
        match routing(cx, h)? {
            Some(n) => self.advance = n,
            None => return Ok(Step::Stop),
        }
        Ok(Step::Next)
    }

    /// The header after the extension headers, with the length left for it (from a Jumbo
    /// Payload option when there was one).
    fn upper_layer(&mut self, cx: &mut Cx<'_, '_>, h: &[u8], ip: Ip<'_>) -> R {
        if self.found_jumbo {
            let l = self.jumbo_len + 40;
            if l < self.total {
                return Err(Trunc);
            }
            if self.length < l {
                pr!(cx, "truncated-ip6 - {} bytes missing!", l - self.length);
            }
            self.len = l - self.total;
        } else if self.payload_len == 0 {
            if self.found_ext {
                return Err(Trunc);
            }
            self.len = 40 - self.total;
        }
        demux(cx, h, self.len, ip, self.nh, self.fragmented)
    }
}

/// The destination the transport checksum covers: the last address of a routing header
/// (the final destination), else the header's own.
fn final_dst(b: &[u8]) -> [u8; 16] {
    let mut dst = v6(&b[24..40]);
    let mut nh = b[6];
    let mut at = 40usize;
    for _ in 0..16 {
        let (Some(&next), Some(&l)) = (b.get(at), b.get(at + 1)) else {
            break;
        };
        match nh {
            ip_proto::HOPOPT | ip_proto::DSTOPTS | 135 | 62 => at += (usize::from(l) + 1) * 8,
            ip_proto::FRAGMENT => at += 8,
            ip_proto::ROUTING => {
                let kind = b.get(at + 2).copied().unwrap_or(255);
                let n = usize::from(l) / 2;
                let last = match kind {
                    0 | 2 if n > 0 => Some(at + 8 + (n - 1) * 16),
                    4 => Some(at + 8),
                    _ => None,
                };
                if let Some(a) = last.and_then(|a| b.get(a..a + 16)) {
                    dst = v6(a);
                }
                break;
            }
            _ => break,
        }
        nh = next;
    }
    dst
}

/// The routing header: `RT6 (len=2, type=0 [Deprecated], segleft=1, [0]addr) `. Returns
/// its length, or None for a type tcpdump does not read (after saying so).
fn routing(cx: &mut Cx<'_, '_>, h: &[u8]) -> Result<Option<usize>, Trunc> {
    cx.out.s("RT6");
    let len = usize::from(u8_at(h, 1)?);
    pr!(cx, " (len={len}");
    let kind = u8_at(h, 2)?;
    pr!(cx, ", type={kind}");
    if kind == 0 {
        cx.out.s(" [Deprecated]");
    }
    pr!(cx, ", segleft={}", u8_at(h, 3)?);
    let first = match kind {
        0 | 2 => {
            let rsv = be32(h, 4)?;
            if rsv != 0 || cx.v() > 0 {
                pr!(cx, ", rsv=0x{rsv:x}");
            }
            8
        }
        4 => {
            pr!(cx, ", last-entry={}", u8_at(h, 4)?);
            let flags = u8_at(h, 5)?;
            if flags != 0 || cx.v() > 0 {
                pr!(cx, ", flags=0x{flags:x}");
            }
            pr!(cx, ", tag={:x}", be16(h, 6)?);
            8
        }
        _ => {
            cx.out.s(" (unknown type) (invalid)");
            return Ok(None);
        }
    };
    if len % 2 == 1 {
        pr!(cx, " (invalid length {len}) (invalid)");
        return Ok(None);
    }
    for i in 0..len / 2 {
        let a = bytes(h, first + i * 16, 16)?;
        pr!(cx, ", [{i}]{}", V6(&v6(a)));
    }
    cx.out.s(") ");
    Ok(Some((len + 1) * 8))
}

/// Hop-by-hop and destination options (their names only with `-v`); `jumbo` is the
/// hop-by-hop walk's record of a valid Jumbo Payload option and its length.
fn options(cx: &mut Cx<'_, '_>, b: &[u8], mut jumbo: Option<(&mut bool, &mut u32)>) -> R {
    let v = cx.v() > 0;
    let len = b.len();
    if len == 0 {
        return Ok(());
    }
    let mut seen_jumbo = false;
    let mut i = 0usize;
    while i < len {
        let t = b[i];
        let olen = if t == 0 {
            1
        } else if i + 1 < len {
            usize::from(b[i + 1]) + 2
        } else {
            return Err(Trunc);
        };
        if i + olen > len {
            return Err(Trunc);
        }
        let rest = len - i;
        match t {
            0 => {
                if v {
                    cx.out.s("(pad1)");
                }
            }
            1 => {
                if rest < 2 {
                    cx.out.s("(padn: trunc)");
                    return Err(Trunc);
                }
                if v {
                    cx.out.s("(padn)");
                }
            }
            5 => {
                if rest < 4 {
                    cx.out.s("(rtalert: trunc)");
                    return Err(Trunc);
                }
                if b[i + 1] != 2 {
                    pr!(cx, "(rtalert: invalid len {})", b[i + 1]);
                    return Err(Trunc);
                }
                if v {
                    pr!(
                        cx,
                        "(rtalert: 0x{:04x}) ",
                        u16::from_be_bytes([b[i + 2], b[i + 3]])
                    );
                }
            }
            0xc2 => {
                if rest < 6 {
                    cx.out.s("(jumbo: trunc)");
                    return Err(Trunc);
                }
                if b[i + 1] != 4 {
                    pr!(cx, "(jumbo: invalid len {})", b[i + 1]);
                    return Err(Trunc);
                }
                let jl = u32::from_be_bytes([b[i + 2], b[i + 3], b[i + 4], b[i + 5]]);
                if seen_jumbo {
                    if v {
                        pr!(cx, "(jumbo: {jl} - already seen) ");
                    }
                } else {
                    seen_jumbo = true;
                    match jumbo.as_mut() {
                        None => {
                            if v {
                                pr!(cx, "(jumbo: {jl} - not a hop-by-hop option) ");
                            }
                        }
                        Some((_, plen)) if **plen != 0 => {
                            if v {
                                pr!(cx, "(jumbo: {jl} - payload len != 0) ");
                            }
                        }
                        Some((found, plen)) => {
                            if jl < 65536 {
                                if v {
                                    pr!(cx, "(jumbo: {jl} - < 65536) ");
                                }
                            } else {
                                **found = true;
                                **plen = jl;
                                if v {
                                    pr!(cx, "(jumbo: {jl}) ");
                                }
                            }
                        }
                    }
                }
            }
            0xc9 => {
                if rest < 18 {
                    cx.out.s("(homeaddr: trunc)");
                    return Err(Trunc);
                }
                if b[i + 1] < 16 {
                    pr!(cx, "(homeaddr: invalid len {})", b[i + 1]);
                    return Err(Trunc);
                }
                if v {
                    pr!(cx, "(homeaddr: {}", V6(&v6(&b[i + 2..])));
                    if b[i + 1] > 16 {
                        sub_options(cx, &b[i + 18..i + olen])?;
                    }
                    cx.out.s(")");
                }
            }
            _ => {
                if rest < 2 {
                    pr!(cx, "(type {t}: trunc)");
                    return Err(Trunc);
                }
                if v {
                    pr!(cx, "(opt_type 0x{t:02x}: len={})", b[i + 1]);
                }
            }
        }
        i += olen;
    }
    if v {
        cx.out.s(" ");
    }
    Ok(())
}

/// The sub-options of a home address option.
fn sub_options(cx: &mut Cx<'_, '_>, b: &[u8]) -> R {
    let mut i = 0usize;
    while i < b.len() {
        let t = b[i];
        if t == 0 {
            cx.out.s(", pad1");
            i += 1;
            continue;
        }
        if i + 1 >= b.len() {
            pr!(cx, ", sopt_type {t}: trunc)");
            return Err(Trunc);
        }
        let l = usize::from(b[i + 1]) + 2;
        if i + l > b.len() {
            pr!(cx, ", sopt_type {t}: trunc)");
            return Err(Trunc);
        }
        if t == 1 {
            cx.out.s(", padn");
        } else {
            pr!(cx, ", sopt_type 0x{t:02x}: len={}", l - 2);
        }
        i += l;
    }
    Ok(())
}
