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
    let mut len = if payload_len != 0 {
        let l = payload_len + 40;
        if length < l {
            pr!(cx, "truncated-ip6 - {} bytes missing!", l - length);
        }
        l
    } else {
        length + 40
    };
    let mut nh = b[6];
    if cx.v() > 0 {
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
    // The packet ends where the payload length says.
    let b = &b[..b.len().min(len as usize)];
    let ip = Ip::V6 {
        hdr: &b[..40],
        dst: final_dst(b),
    };
    let mut at = 0usize;
    let mut advance = 40usize;
    let mut total = 0u32;
    let (mut found_ext, mut found_jumbo, mut found_hbh) = (false, false, false);
    let mut jumbo_len = payload_len;
    let mut prev = 255u8;
    let mut fragmented = false;
    while at < b.len() && advance > 0 {
        if len < advance as u32 {
            return Err(Trunc);
        }
        at += advance;
        len -= advance as u32;
        total += advance as u32;
        if at == 40 && !matches!(nh, ip_proto::TCP | ip_proto::UDP | 33 | ip_proto::SCTP) {
            ip.addrs(cx);
            cx.out.s(": ");
        }
        let h = &b[at.min(b.len())..];
        match nh {
            ip_proto::HOPOPT => {
                if found_hbh {
                    cx.out
                        .s("[The Hop-by-Hop Options header was already found] (invalid)");
                    return Ok(());
                }
                if prev != 255 {
                    cx.out.s(
                        "[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)",
                    );
                    return Ok(());
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
                    if payload_len == 0 && h.len() >= 2 {
                        cx.out
                            .s("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
                    }
                    return Ok(());
                };
                advance = n;
                cx.out.s("HBH ");
                options(cx, &h[2..advance], Some((&mut found_jumbo, &mut jumbo_len)))?;
                if jumbo_len == 0 && !found_jumbo {
                    cx.out
                        .s("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
                    return Ok(());
                }
                found_ext = true;
                found_hbh = true;
                nh = h[0];
            }
            ip_proto::DSTOPTS => {
                cx.proto = "dstopt";
                advance = (usize::from(u8_at(h, 1)?) + 1) * 8;
                bytes(h, 0, advance)?;
                cx.out.s("DSTOPT ");
                if cx.v() > 0 {
                    options(cx, &h[2..advance], None)?;
                }
                found_ext = true;
                nh = h[0];
            }
            ip_proto::FRAGMENT => {
                cx.proto = "frag6";
                let offlg = be16(h, 2)?;
                let frag_len = (40 + payload_len).wrapping_sub(at as u32 + 8);
                if cx.v() > 0 {
                    let id = be32(h, 4)?;
                    pr!(cx, "frag (0x{id:08x}:{}|{frag_len})", offlg & 0xfff8);
                } else {
                    pr!(cx, "frag ({}|{frag_len})", offlg & 0xfff8);
                }
                if offlg & 0xfff8 != 0 {
                    return Ok(());
                }
                cx.out.s(" ");
                advance = 8;
                if b.len() <= at + advance {
                    return Ok(());
                }
                found_ext = true;
                nh = h[0];
                fragmented = true;
            }
            ip_proto::ROUTING => {
                // Not one byte of it: tcpdump's IPv6 loop is still the one reading.
                cx.proto = "ip6";
                u8_at(h, 0)?;
                cx.proto = "rt6";
                match routing(cx, h)? {
                    Some(n) => advance = n,
                    None => return Ok(()),
                }
                found_ext = true;
                nh = h[0];
            }
            _ => {
                if found_jumbo {
                    let l = jumbo_len + 40;
                    if l < total {
                        return Err(Trunc);
                    }
                    if length < l {
                        pr!(cx, "truncated-ip6 - {} bytes missing!", l - length);
                    }
                    len = l - total;
                } else if payload_len == 0 {
                    if found_ext {
                        return Err(Trunc);
                    }
                    len = 40 - total;
                }
                return demux(cx, h, len, ip, nh, fragmented);
            }
        }
        prev = nh;
        cx.proto = "ip6";
    }
    Ok(())
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
