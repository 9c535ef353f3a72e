//! ICMP: `ICMP echo request, id 1, seq 1, length 64`, `ICMP 10.0.0.2 udp port 9999
//! unreachable, length 36`, …; with `-v` the quoted datagram of an error on its own line.

use ringcap_wire::checksum;

use crate::addr::v4;
use crate::ip::{self, shouldbe, Ip};
use crate::{be16, be32, bytes, dump, pr, u8_at, Cx, R};

/// Whether type `t` is an error quoting the datagram that caused it.
fn is_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

pub(crate) fn icmp(cx: &mut Cx<'_, '_>, b: &[u8], plen: u32, _ip: Ip<'_>, fragmented: bool) -> R {
    cx.proto = "icmp";
    let t = u8_at(b, 0)?;
    let code = u8_at(b, 1)?;
    // The quoted datagram's destination (for the error types).
    let qdst = |b: &[u8]| bytes(b, 24, 4).map(v4);
    match t {
        0 | 8 => {
            let (id, seq) = (be16(b, 4)?, be16(b, 6)?);
            let what = if t == 8 { "request" } else { "reply" };
            pr!(cx, "ICMP echo {what}, id {id}, seq {seq}");
        }
        3 => unreachable(cx, b, code)?,
        5 => {
            let (d, gw) = (qdst(b)?, v4(bytes(b, 4, 4)?));
            match code {
                0 => pr!(cx, "ICMP redirect {d} to net {gw}"),
                1 => pr!(cx, "ICMP redirect {d} to host {gw}"),
                2 => pr!(cx, "ICMP redirect-tos {d} to net {gw}"),
                3 => pr!(cx, "ICMP redirect-tos {d} to host {gw}"),
                c => pr!(cx, "ICMP redirect-#{c} {d} to {gw}"),
            }
        }
        9 => router_advert(cx, b)?,
        11 => {
            qdst(b)?;
            match code {
                0 => cx.out.s("ICMP time exceeded in-transit"),
                1 => cx.out.s("ICMP ip reassembly time exceeded"),
                c => pr!(cx, "ICMP time exceeded-#{c}"),
            }
        }
        12 => {
            if code != 0 {
                pr!(cx, "ICMP parameter problem - code {code}");
            } else {
                pr!(cx, "ICMP parameter problem - octet {}", u8_at(b, 4)?);
            }
        }
        18 => pr!(cx, "ICMP address mask is 0x{:08x}", be32(b, 8)?),
        13 => pr!(
            cx,
            "ICMP time stamp query id {} seq {}",
            be16(b, 4)?,
            be16(b, 6)?
        ),
        14 => {
            bytes(b, 16, 4)?;
            let (id, seq) = (be16(b, 4)?, be16(b, 6)?);
            cx.out.s("ICMP time stamp reply id ");
            pr!(cx, "{id} seq {seq}: org ");
            stamp(cx, be32(b, 8)?);
            cx.out.s(", recv ");
            stamp(cx, be32(b, 12)?);
            cx.out.s(", xmit ");
            stamp(cx, be32(b, 16)?);
        }
        4 => cx.out.s("ICMP source quench"),
        10 => cx.out.s("ICMP router solicitation"),
        15 => cx.out.s("ICMP information request"),
        16 => cx.out.s("ICMP information reply"),
        17 => cx.out.s("ICMP address mask request"),
        t => pr!(cx, "ICMP type-#{t}"),
    }
    pr!(cx, ", length {plen}");
    if cx.v() > 0 && !fragmented && b.len() >= plen as usize {
        let sum = checksum::checksum(&b[..plen as usize]);
        if sum != 0 {
            let field = be16(b, 2)?;
            pr!(
                cx,
                " (wrong icmp cksum {field:x} (->{:x})!)",
                shouldbe(field, sum)
            );
        }
    }
    if cx.v() > 0 && is_error(t) {
        cx.out.s("\n\t");
        let q = b.get(8..).unwrap_or(&[]);
        let qlen = u32::from(be16(q, 2)?);
        let q = &q[..q.len().min(qlen as usize)];
        ip::ip(cx, q, qlen)?;
        cx.proto = "icmp";
    }
    if cx.v() > 0 && plen > 136 && matches!(t, 3 | 11 | 12) {
        extensions(cx, b, plen)?;
    }
    Ok(())
}

/// Destination unreachable, by code; the port form reads the quoted transport header.
fn unreachable(cx: &mut Cx<'_, '_>, b: &[u8], code: u8) -> R {
    let d = || bytes(b, 24, 4).map(v4);
    match code {
        0 => pr!(cx, "ICMP net {} unreachable", d()?),
        1 => pr!(cx, "ICMP host {} unreachable", d()?),
        2 => pr!(cx, "ICMP {} protocol {} unreachable", d()?, u8_at(b, 17)?),
        3 => {
            let vhl = u8_at(b, 8)?;
            let proto = u8_at(b, 17)?;
            let hlen = usize::from(vhl & 15) * 4;
            let dport = be16(b, 8 + hlen + 2)?;
            let dst = d()?;
            match proto {
                6 => pr!(cx, "ICMP {dst} tcp port {dport} unreachable"),
                17 => pr!(cx, "ICMP {dst} udp port {dport} unreachable"),
                p => pr!(cx, "ICMP {dst} protocol {p} port {dport} unreachable"),
            }
        }
        4 => {
            let mtu = be16(b, 6)?;
            let dst = d()?;
            if mtu != 0 {
                pr!(cx, "ICMP {dst} unreachable - need to frag (mtu {mtu})");
            } else {
                pr!(cx, "ICMP {dst} unreachable - need to frag");
            }
        }
        5 => pr!(cx, "ICMP {} unreachable - source route failed", d()?),
        6 => pr!(cx, "ICMP net {} unreachable - unknown", d()?),
        7 => pr!(cx, "ICMP host {} unreachable - unknown", d()?),
        8 => pr!(cx, "ICMP {} unreachable - source host isolated", d()?),
        9 => pr!(cx, "ICMP net {} unreachable - admin prohibited", d()?),
        10 => pr!(cx, "ICMP host {} unreachable - admin prohibited", d()?),
        11 => pr!(cx, "ICMP net {} unreachable - tos prohibited", d()?),
        12 => pr!(cx, "ICMP host {} unreachable - tos prohibited", d()?),
        13 => pr!(
            cx,
            "ICMP host {} unreachable - admin prohibited filter",
            d()?
        ),
        14 => pr!(
            cx,
            "ICMP host {} unreachable - host precedence violation",
            d()?
        ),
        15 => pr!(cx, "ICMP host {} unreachable - precedence cutoff", d()?),
        c => pr!(cx, "ICMP {} unreachable - #{c}", d()?),
    }
    Ok(())
}

/// Router advertisement (RFC 1256): lifetime and the advertised addresses.
fn router_advert(cx: &mut Cx<'_, '_>, b: &[u8]) -> R {
    let num = u8_at(b, 4)?;
    let size = u8_at(b, 5)?;
    let life = be16(b, 6)?;
    if size == 2 {
        bytes(b, 8, usize::from(num) * 8)?;
    }
    cx.out.s("ICMP router advertisement lifetime ");
    if life < 60 {
        pr!(cx, "{life}");
    } else if life < 3600 {
        pr!(cx, "{}:{:02}", life / 60, life % 60);
    } else {
        pr!(
            cx,
            "{}:{:02}:{:02}",
            life / 3600,
            life % 3600 / 60,
            life % 60
        );
    }
    pr!(cx, " {num}:");
    if size != 2 {
        pr!(cx, " [size {size}]");
        return Ok(());
    }
    for i in 0..usize::from(num) {
        let a = v4(bytes(b, 8 + i * 8, 4)?);
        pr!(cx, " {{{a} {}}}", be32(b, 12 + i * 8)?);
    }
    Ok(())
}

/// Milliseconds since midnight UTC as `HH:MM:SS.mmm`.
fn stamp(cx: &mut Cx<'_, '_>, ms: u32) {
    let (s, m) = (ms / 1000, ms % 1000);
    pr!(
        cx,
        "{:02}:{:02}:{:02}.{m:03}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

/// RFC 4884 multi-part extensions after the 128 bytes of quoted datagram, when the length
/// field announces them or their checksum verifies.
fn extensions(cx: &mut Cx<'_, '_>, b: &[u8], plen: u32) -> R {
    bytes(b, 0, 8)?;
    let plen = plen as usize;
    if b[5] == 0 {
        match b.get(136..plen) {
            Some(ext) if checksum::checksum(ext) == 0 => {}
            _ => return Ok(()),
        }
    }
    let version = u8_at(b, 136)? >> 4;
    pr!(cx, "\n\tICMP Multi-Part extension v{version}");
    if version != 2 {
        cx.out.s(" packet not supported");
        return Ok(());
    }
    let mut hlen = plen - 136;
    if let Some(ext) = b.get(136..plen) {
        let ok = if checksum::checksum(ext) != 0 {
            "in"
        } else {
            ""
        };
        pr!(
            cx,
            ", checksum 0x{:04x} ({ok}correct), length {hlen}",
            be16(b, 138)?
        );
    }
    hlen = hlen.wrapping_sub(4);
    let mut at = 140usize;
    while hlen > 4 && hlen < plen {
        let olen = usize::from(be16(b, at)?);
        let (class, ctype) = (u8_at(b, at + 2)?, u8_at(b, at + 3)?);
        at += 4;
        let name = match class {
            1 => "MPLS Stack Entry",
            2 => "Interface Identification",
            _ => "unknown",
        };
        pr!(
            cx,
            "\n\t  {name} Object ({class}), Class-Type: {ctype}, length {olen}"
        );
        hlen -= 4;
        if class == 0 || olen < 4 {
            return Ok(());
        }
        let olen = olen - 4;
        if class == 1 && ctype == 1 {
            let e = be32(b, at)?;
            pr!(cx, "\n\t    label {}, tc {}", e >> 12, (e >> 9) & 7);
            if e & 0x100 != 0 {
                cx.out.s(", [S]");
            }
            pr!(cx, ", ttl {}", e & 0xff);
        } else {
            let avail = b.len().saturating_sub(at).min(olen);
            dump::hex(
                cx.out,
                "\n\t    ",
                &b[at.min(b.len())..at.min(b.len()) + avail],
            );
        }
        if hlen < olen {
            break;
        }
        hlen -= olen;
        at += olen;
    }
    Ok(())
}
