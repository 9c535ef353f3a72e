//! ICMPv6: `ICMP6, echo request, id 1, seq 1, length 64`, neighbor discovery (`who has`,
//! `tgt is`, router solicitations and advertisements with `-v`'s options), MLD, errors.

use ringcap_wire::{checksum, ip_proto};

use crate::addr::{v6, Mac, V6};
use crate::ip::{shouldbe, Ip};
use crate::{be16, be32, bytes, dump, pr, u8_at, Cx, Trunc, R};

fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded in-transit",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        132 => "multicast listener done",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbor solicitation",
        136 => "neighbor advertisement",
        137 => "redirect",
        138 => "router renumbering",
        141 => "inverse neighbor solicitation",
        142 => "inverse neighbor advertisement",
        143 => "multicast listener report v2",
        144 => "ha discovery request",
        145 => "ha discovery reply",
        146 => "mobile router solicitation",
        147 => "mobile router advertisement",
        139 => "node information query",
        140 => "node information reply",
        200 => "mtrace response",
        201 => "mtrace message",
        155 => "RPL",
        _ => return None,
    })
}

pub(crate) fn icmp6(cx: &mut Cx<'_, '_>, b: &[u8], len: u32, ip: Ip<'_>, fragmented: bool) -> R {
    cx.proto = "icmp6";
    if len == 0 {
        cx.out.s("ICMP6, length 0 (invalid)");
        return Ok(());
    }
    if cx.v() > 0 && !fragmented && b.len() >= len as usize {
        checksum_status(cx, b, len, ip)?;
    }
    let t = u8_at(b, 0)?;
    match type_name(t) {
        Some(n) => pr!(cx, "ICMP6, {n}"),
        None => pr!(cx, "ICMP6, unknown icmp6 type ({t})"),
    }
    if cx.v() > 0 && matches!(t, 133 | 134 | 135 | 136 | 137 | 145 | 147) {
        pr!(cx, ", length {len}");
    }
    if message(cx, b, len, t)? == End::Length && cx.v() == 0 {
        pr!(cx, ", length {len}");
    }
    Ok(())
}

/// How a message's line ends: with tcpdump's `, length N` (without `-v`), or already
/// (after a hex dump of what is not decoded).
#[derive(PartialEq, Eq)]
enum End {
    Length,
    Done,
}

/// `-v`'s `[icmp6 sum ok]` or `[bad icmp6 cksum …]`, over the whole message.
fn checksum_status(cx: &mut Cx<'_, '_>, b: &[u8], len: u32, ip: Ip<'_>) -> R {
    let field = be16(b, 2)?;
    let sum =
        checksum::finish(ip.pseudo(ip_proto::ICMPV6, len) + checksum::sum(&b[..len as usize]));
    if sum != 0 {
        pr!(
            cx,
            "[bad icmp6 cksum 0x{field:04x} -> 0x{:04x}!] ",
            shouldbe(field, sum)
        );
    } else {
        cx.out.s("[icmp6 sum ok] ");
    }
    Ok(())
}

/// The message of type `t` after its name: what its fields mean.
fn message(cx: &mut Cx<'_, '_>, b: &[u8], len: u32, t: u8) -> Result<End, Trunc> {
    let code = u8_at(b, 1)?;
    // The quoted packet's IPv6 header starts after the 8-byte ICMPv6 header.
    let q = b.get(8..).unwrap_or(&[]);
    match t {
        1 => return unreachable(cx, b, len, code, q),
        2 => pr!(cx, ", mtu {}", be32(b, 4)?),
        3 => match code {
            0 => pr!(cx, " for {}", V6(&quoted_addr(q, 24)?)),
            1 => cx.out.s(" (reassembly)"),
            c => pr!(cx, ", unknown code ({c})"),
        },
        4 => parameter_problem(cx, b, code, q)?,
        128 | 129 => pr!(cx, ", id {}, seq {}", be16(b, 4)?, be16(b, 6)?),
        130 => {
            if len == 24 {
                mld(cx, b);
            } else if len >= 28 {
                cx.out.s(" v2");
                mldv2_query(cx, b, len)?;
            } else {
                pr!(cx, " unknown-version (len {len}) ");
            }
        }
        131 | 132 => mld(cx, b),
        133 => {
            if cx.v() > 0 {
                nd_options(cx, b, 8, len)?;
            }
        }
        134 => {
            if cx.v() > 0 {
                router_advertisement(cx, b, len)?;
            }
        }
        135 => {
            pr!(cx, ", who has {}", V6(&v6(bytes(b, 8, 16)?)));
            if cx.v() > 0 {
                nd_options(cx, b, 24, len)?;
            }
        }
        136 => neighbor_advertisement(cx, b, len)?,
        137 => {
            pr!(cx, ", {}", V6(&v6(bytes(b, 24, 16)?)));
            pr!(cx, " to {}", V6(&v6(bytes(b, 8, 16)?)));
            if cx.v() > 0 {
                nd_options(cx, b, 40, len)?;
            }
        }
        141 | 142 => {}
        143 => mldv2_report(cx, b, len)?,
        144 | 146 => pr!(cx, ", id 0x{:04x}", be16(b, 4)?),
        // Router renumbering, node information, home agent replies, mobile prefixes, RPL:
        // named, not decoded (see the crate docs).
        _ => {
            pr!(cx, ", length {len}");
            if cx.v() <= 1 {
                unknown_data(cx, b, len, "\n\t");
            }
            return Ok(End::Done);
        }
    }
    Ok(End::Length)
}

/// An address in the quoted packet `q` (its IPv6 header: source at 8, destination at 24).
fn quoted_addr(q: &[u8], at: usize) -> Result<[u8; 16], Trunc> {
    bytes(q, at, 16).map(v6)
}

/// Destination unreachable: why, and for what (from the quoted packet `q`).
fn unreachable(cx: &mut Cx<'_, '_>, b: &[u8], len: u32, code: u8, q: &[u8]) -> Result<End, Trunc> {
    match code {
        0 => cx.out.s(", unreachable route"),
        1 => cx.out.s(",  unreachable prohibited"),
        2 => cx.out.s(", beyond scope"),
        3 => cx.out.s(", unreachable address"),
        4 => cx.out.s(", unreachable port"),
        c => pr!(cx, ", unknown unreach code ({c})"),
    }
    match code {
        0 | 1 | 3 => pr!(cx, " {}", V6(&quoted_addr(q, 24)?)),
        2 => {
            let (d, s) = (quoted_addr(q, 24)?, quoted_addr(q, 8)?);
            pr!(cx, " {}, source address {}", V6(&d), V6(&s));
        }
        4 => {
            let (proto, at) = upper_layer(q).ok_or(Trunc)?;
            let dport = be16(q, at + 2)?;
            let d = quoted_addr(q, 24)?;
            match proto {
                6 => pr!(cx, ", {} tcp port {dport}", V6(&d)),
                17 => pr!(cx, ", {} udp port {dport}", V6(&d)),
                p => pr!(cx, ", {} protocol {p} port {dport} unreachable", V6(&d)),
            }
        }
        _ => {
            if cx.v() <= 1 {
                unknown_data(cx, b, len, "\n\t");
                return Ok(End::Done);
            }
        }
    }
    Ok(End::Length)
}

/// Parameter problem: what is wrong, and at which octet.
fn parameter_problem(cx: &mut Cx<'_, '_>, b: &[u8], code: u8, q: &[u8]) -> R {
    bytes(q, 24, 16)?;
    let ptr = be32(b, 4)?;
    match code {
        0 => pr!(cx, ", erroneous - octet {ptr}"),
        1 => pr!(cx, ", next header - octet {ptr}"),
        2 => pr!(cx, ", option - octet {ptr}"),
        3 => pr!(cx, ", incomplete header chain - octet {ptr}"),
        c => pr!(cx, ", code-#{c}"),
    }
    Ok(())
}

/// `-v`'s router advertisement: hop limit, flags, preference, timers, options.
fn router_advertisement(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    let flags = u8_at(b, 5)?;
    pr!(cx, "\n\thop limit {}, Flags [", u8_at(b, 4)?);
    crate::names::bits(
        cx.out,
        &[
            (0x80, "managed"),
            (0x40, "other stateful"),
            (0x20, "home agent"),
            (0x02, "ipv6 only"),
        ],
        "none",
        ", ",
        u32::from(flags),
    );
    pr!(
        cx,
        "], pref {}, router lifetime {}s, reachable time {}ms, retrans timer {}ms",
        rtpref(flags),
        be16(b, 6)?,
        be32(b, 8)?,
        be32(b, 12)?
    );
    nd_options(cx, b, 16, len)
}

/// Neighbor advertisement: the target, and with `-v` its flags and options.
fn neighbor_advertisement(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    pr!(cx, ", tgt is {}", V6(&v6(bytes(b, 8, 16)?)));
    if cx.v() > 0 {
        cx.out.s(", Flags [");
        crate::names::bits(
            cx.out,
            &[
                (0x8000_0000, "router"),
                (0x4000_0000, "solicited"),
                (0x2000_0000, "override"),
            ],
            "none",
            ", ",
            be32(b, 4)?,
        );
        cx.out.s("]");
        nd_options(cx, b, 24, len)?;
    }
    Ok(())
}

/// tcpdump's `print_unknown_data`: hex of what was captured of `len` bytes.
fn unknown_data(cx: &mut Cx<'_, '_>, b: &[u8], len: u32, ident: &str) {
    let n = b.len().min(len as usize);
    dump::hex(cx.out, ident, &b[..n]);
}

/// The upper-layer protocol of a quoted IPv6 packet and the offset of its header, past
/// extension headers (None when not found or cut short).
fn upper_layer(q: &[u8]) -> Option<(u8, usize)> {
    let mut nh = *q.get(6)?;
    let mut at = 40usize;
    for _ in 0..32 {
        if at >= q.len() {
            return None;
        }
        match nh {
            6 | 17 => return q.get(at + 3).map(|_| (nh, at)),
            0 | 60 | 43 => {
                let l = *q.get(at + 1)?;
                nh = q[at];
                at += (usize::from(l) + 1) * 8;
            }
            44 => {
                let off = u16::from_be_bytes([*q.get(at + 2)?, *q.get(at + 3)?]);
                if off & 0xfff8 != 0 {
                    return None;
                }
                nh = q[at];
                at += 8;
            }
            51 => {
                let l = *q.get(at + 1)?;
                nh = q[at];
                at += (usize::from(l) + 2) * 4;
            }
            _ => return None,
        }
    }
    None
}

fn rtpref(flags: u8) -> &'static str {
    ["medium", "high", "rsv", "low"][usize::from((flags & 0x18) >> 3)]
}

/// MLDv1: `max resp delay: 0 addr: ff02::1`.
fn mld(cx: &mut Cx<'_, '_>, b: &[u8]) {
    if b.len() < 24 {
        return;
    }
    pr!(
        cx,
        "max resp delay: {} addr: {}",
        u16::from_be_bytes([b[4], b[5]]),
        V6(&v6(&b[8..24]))
    );
}

fn mldv2_query(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    let mrc = u32::from(be16(b, 4)?);
    let mrt = if mrc < 32768 {
        mrc
    } else {
        ((mrc & 0x0fff) | 0x1000) << (((mrc & 0x7000) >> 12) + 3)
    };
    if cx.v() > 0 {
        pr!(cx, " [max resp delay={mrt}]");
    }
    pr!(cx, " [gaddr {}", V6(&v6(bytes(b, 8, 16)?)));
    if cx.v() > 0 {
        let s = u8_at(b, 24)?;
        if s & 0x08 != 0 {
            cx.out.s(" sflag");
        }
        if s & 0x07 != 0 {
            pr!(cx, " robustness={}", s & 7);
        }
        let q = u32::from(u8_at(b, 25)?);
        let qqi = if q < 128 {
            q
        } else {
            ((q & 0x0f) | 0x10) << (((q & 0x70) >> 4) + 3)
        };
        pr!(cx, " qqi={qqi}");
    }
    let n = usize::from(be16(b, 26)?);
    if n > 0 {
        if (len as usize) < 28 + n * 16 {
            cx.out.s(" [invalid number of sources]");
        } else if cx.v() > 1 {
            cx.out.s(" {");
            for i in 0..n {
                pr!(cx, " {}", V6(&v6(bytes(b, 28 + i * 16, 16)?)));
            }
            cx.out.s(" }");
        } else {
            pr!(cx, ", {n} source(s)");
        }
    }
    cx.out.s("]");
    Ok(())
}

fn mldv2_report(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    if len < 8 {
        pr!(cx, " [invalid len {len}]");
        return Ok(());
    }
    let groups = be16(b, 6)?;
    pr!(cx, ", {groups} group record(s)");
    if cx.v() == 0 {
        return Ok(());
    }
    let len = len as usize;
    let mut at = 8usize;
    for _ in 0..groups {
        if len < at + 20 {
            cx.out.s(" [invalid number of groups]");
            return Ok(());
        }
        pr!(cx, " [gaddr {}", V6(&v6(bytes(b, at + 4, 16)?)));
        match u8_at(b, at)? {
            1 => cx.out.s(" is_in"),
            2 => cx.out.s(" is_ex"),
            3 => cx.out.s(" to_in"),
            4 => cx.out.s(" to_ex"),
            5 => cx.out.s(" allow"),
            6 => cx.out.s(" block"),
            k => pr!(cx, "  [v2-report-#{k}]"),
        }
        let n = usize::from(be16(b, at + 2)?);
        if len < at + 20 + n * 16 {
            pr!(cx, " [invalid number of sources {n}]");
            return Ok(());
        }
        if cx.v() == 1 {
            pr!(cx, ", {n} source(s)");
        } else {
            cx.out.s(" {");
            for j in 0..n {
                pr!(cx, " {}", V6(&v6(bytes(b, at + 20 + j * 16, 16)?)));
            }
            cx.out.s(" }");
        }
        at += 20 + n * 16;
        cx.out.s("]");
    }
    Ok(())
}

/// Neighbor discovery options from `from` to the end of the message, one per line.
fn nd_options(cx: &mut Cx<'_, '_>, b: &[u8], from: usize, len: u32) -> R {
    let mut resid = len as i64 - from as i64;
    let mut at = from;
    while at < b.len() {
        let Ok(olen) = u8_at(b, at + 1) else {
            return Err(Trunc);
        };
        if resid <= 0 {
            return Ok(());
        }
        let t = b[at];
        let n = usize::from(olen) * 8;
        if olen == 0 || at + n > b.len() {
            return Err(Trunc);
        }
        let name = match t {
            1 => "source link-address",
            2 => "destination link-address",
            3 => "prefix info",
            4 => "redirected header",
            5 => "mtu",
            25 => "rdnss",
            31 => "dnssl",
            7 => "advertisement interval",
            8 => "homeagent information",
            24 => "route info",
            _ => "unknown",
        };
        pr!(cx, "\n\t  {name} option ({t}), length {n} ({olen}): ");
        let o = &b[at..at + n];
        match t {
            1 | 2 => {
                if o.len() - 2 == 6 {
                    pr!(cx, "{}", Mac(&o[2..8]));
                } else {
                    let _ = crate::addr::lladdr(cx.out, &o[2..]);
                }
            }
            3 => {
                let (plen, flags) = (o.get(2).copied(), o.get(3).copied());
                let (Some(plen), Some(flags)) = (plen, flags) else {
                    return Err(Trunc);
                };
                let valid = be32(o, 4)?;
                let pref = be32(o, 8)?;
                pr!(cx, "{}/{plen}", V6(&v6(bytes(o, 16, 16)?)));
                if olen != 4 {
                    cx.out.s("badlen");
                }
                cx.out.s(", Flags [");
                crate::names::bits(
                    cx.out,
                    &[(0x80, "onlink"), (0x40, "auto"), (0x20, "router")],
                    "none",
                    ", ",
                    u32::from(flags),
                );
                cx.out.s("], valid time ");
                lifetime(cx, valid);
                cx.out.s(", pref. time ");
                lifetime(cx, pref);
            }
            4 => {
                let avail = (b.len() - from).min(n);
                dump::hex(cx.out, "\n\t    ", &b[from..from + avail]);
            }
            5 => {
                pr!(cx, " {}", be32(o, 4)?);
                if olen != 1 {
                    cx.out.s("bad option length");
                }
            }
            25 => {
                pr!(cx, " lifetime {}s,", be32(o, 4)?);
                for i in 0..(usize::from(olen) - 1) / 2 {
                    pr!(cx, " addr: {}", V6(&v6(bytes(o, 8 + i * 16, 16)?)));
                }
            }
            7 => pr!(cx, " {}ms", be32(o, 4)?),
            8 => pr!(cx, " preference {}, lifetime {}", be16(o, 4)?, be16(o, 6)?),
            24 => {
                be32(o, 4)?;
                let mut pfx = [0u8; 16];
                match olen {
                    1 => {}
                    2 => pfx[..8].copy_from_slice(bytes(o, 8, 8)?),
                    3 => pfx.copy_from_slice(bytes(o, 8, 16)?),
                    _ => return Err(Trunc),
                }
                pr!(cx, " {}/{}", V6(&pfx), o[2]);
                pr!(cx, ", pref={}", rtpref(o[3]));
                cx.out.s(", lifetime=");
                let l = be32(o, 4)?;
                if l == u32::MAX {
                    cx.out.s("infinity");
                } else {
                    pr!(cx, "{l}s");
                }
            }
            _ => {
                if cx.v() <= 1 {
                    dump::hex(cx.out, "\n\t  ", &o[2..]);
                    return Ok(());
                }
            }
        }
        if cx.v() > 1 {
            dump::hex(cx.out, "\n\t    ", &o[2..]);
        }
        at += n;
        resid -= n as i64;
    }
    Ok(())
}

fn lifetime(cx: &mut Cx<'_, '_>, v: u32) {
    if v == u32::MAX {
        cx.out.s("infinity");
    } else {
        pr!(cx, "{v}s");
    }
}
