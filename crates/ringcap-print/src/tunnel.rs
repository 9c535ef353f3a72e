//! Encapsulations: MPLS label stacks and GRE, each followed by the packet it carries.

use ringcap_wire::ethertype as et;

use crate::names::ethertype_or;
use crate::{be16, be32, dump, ether, ip, ip6, pr, u8_at, Cx, Trunc, R};

/// `MPLS (label 16, tc 0, [S], ttl 64) IP …`: the labels, then IPv4 or IPv6 by the last
/// label's reserved value or the payload's version nibble.
pub(crate) fn mpls(cx: &mut Cx<'_, '_>, b: &[u8], length: u32) -> R {
    cx.proto = "mpls";
    cx.out.s("MPLS");
    let (mut at, mut left, mut depth) = (0usize, length, 0u32);
    let last = loop {
        if left < 4 {
            cx.out.s(" (invalid)");
            if b.len() < at + left as usize {
                return Err(Trunc);
            }
            return Ok(());
        }
        let e = be32(b, at)?;
        let label = e >> 12;
        let sep = if depth > 0 && cx.v() > 0 { "\n\t" } else { " " };
        pr!(cx, "{sep}(label {label}");
        depth += 1;
        if cx.v() > 0 && label < 16 {
            let name = match label {
                0 => "IPv4 explicit NULL",
                1 => "router alert",
                2 => "IPv6 explicit NULL",
                3 => "implicit NULL",
                _ => "rsvd",
            };
            pr!(cx, " ({name})");
        }
        pr!(cx, ", tc {}", (e >> 9) & 7);
        if e & 0x100 != 0 {
            cx.out.s(", [S]");
        }
        pr!(cx, ", ttl {})", e & 0xff);
        at += 4;
        left -= 4;
        if e & 0x100 != 0 {
            break label;
        }
    };
    let rest = &b[at.min(b.len())..];
    let v6 = match last {
        0 | 3 => false,
        2 => true,
        _ => {
            if left < 1 {
                return Ok(());
            }
            match u8_at(rest, 0)? {
                0x45..=0x4f => false,
                0x60..=0x6f => true,
                _ => {
                    // OSI (0x81-0x83) and anything else: not decoded.
                    if !cx.suppress_default_print() {
                        let n = rest.len().min(left as usize);
                        dump::hex_ascii(cx.out, "\n\t", &rest[..n]);
                        if n < left as usize {
                            return Err(Trunc);
                        }
                    }
                    return Ok(());
                }
            }
        }
    };
    cx.out.s(if cx.v() > 0 { "\n\t" } else { " " });
    if v6 {
        ip6::ip6(cx, rest, left)
    } else {
        ip::ip(cx, rest, left)
    }
}

const CP: u16 = 0x8000;
const RP: u16 = 0x4000;
const KP: u16 = 0x2000;
const SP: u16 = 0x1000;
const AP: u16 = 0x0080;

fn flags(cx: &mut Cx<'_, '_>, f: u16) {
    cx.out.s(", Flags [");
    crate::names::bits(
        cx.out,
        &[
            (u32::from(CP), "checksum present"),
            (u32::from(RP), "routing present"),
            (u32::from(KP), "key present"),
            (u32::from(SP), "sequence# present"),
            (0x0800, "source routing present"),
            (u32::from(AP), "ack present"),
        ],
        "none",
        ", ",
        u32::from(f),
    );
    cx.out.s("]");
}

/// `GREv0, length 88: IP …` (key, sequence number, with `-e` the protocol); version 1 is
/// PPTP's enhanced GRE.
pub(crate) fn gre(cx: &mut Cx<'_, '_>, b: &[u8], length: u32) -> R {
    cx.proto = "gre";
    let f = be16(b, 0)?;
    if length < 2 {
        return Err(Trunc);
    }
    let ver = f & 7;
    pr!(cx, "GREv{ver}");
    match ver {
        0 => gre0(cx, b, length, f),
        1 => gre1(cx, b, length, f),
        _ => {
            cx.out.s(" ERROR: unknown-version");
            Ok(())
        }
    }
}

fn gre0(cx: &mut Cx<'_, '_>, b: &[u8], length: u32, f: u16) -> R {
    if cx.v() > 0 {
        flags(cx, f);
    }
    let mut len = length - 2;
    let mut at = 2usize;
    let need = |at: usize, len: u32, n: u32| -> Result<(), Trunc> {
        if b.len() < at + n as usize || len < n {
            Err(Trunc)
        } else {
            Ok(())
        }
    };
    need(at, len, 2)?;
    let prot = be16(b, at)?;
    at += 2;
    len -= 2;
    if f & (CP | RP) != 0 {
        need(at, len, 2)?;
        if cx.v() > 0 {
            pr!(cx, ", sum 0x{:x}", be16(b, at)?);
        }
        at += 2;
        len -= 2;
        need(at, len, 2)?;
        pr!(cx, ", off 0x{:x}", be16(b, at)?);
        at += 2;
        len -= 2;
    }
    if f & KP != 0 {
        need(at, len, 4)?;
        pr!(cx, ", key=0x{:x}", be32(b, at)?);
        at += 4;
        len -= 4;
    }
    if f & SP != 0 {
        need(at, len, 4)?;
        pr!(cx, ", seq {}", be32(b, at)?);
        at += 4;
        len -= 4;
    }
    if f & RP != 0 {
        // Source route entries (RFC 1701): named by address family, not decoded.
        loop {
            need(at, len, 4)?;
            let af = be16(b, at)?;
            let srelen = u8_at(b, at + 3)?;
            at += 4;
            len -= 4;
            if af == 0 && srelen == 0 {
                break;
            }
            pr!(cx, ", (rtaf=0x{af:x})");
            need(at, len, u32::from(srelen))?;
            at += usize::from(srelen);
            len -= u32::from(srelen);
        }
    }
    if cx.e() {
        pr!(
            cx,
            ", proto {} (0x{prot:04x})",
            ethertype_or(prot, "unknown")
        );
    }
    pr!(cx, ", length {length}");
    cx.out.s(if cx.v() < 1 { ": " } else { "\n\t" });
    let rest = &b[at..];
    match prot {
        et::IPV4 => ip::ip(cx, rest, len),
        et::IPV6 => ip6::ip6(cx, rest, len),
        et::MPLS_UNICAST => mpls(cx, rest, len),
        et::TEB => ether::frame(cx, rest, len).map(|_| ()),
        p => {
            pr!(cx, "gre-proto-0x{p:x}");
            Ok(())
        }
    }
}

fn gre1(cx: &mut Cx<'_, '_>, b: &[u8], length: u32, f: u16) -> R {
    if cx.v() > 0 {
        flags(cx, f);
    }
    let mut len = length - 2;
    let mut at = 2usize;
    let need = |at: usize, len: u32, n: u32| -> Result<(), Trunc> {
        if b.len() < at + n as usize || len < n {
            Err(Trunc)
        } else {
            Ok(())
        }
    };
    need(at, len, 2)?;
    let prot = be16(b, at)?;
    at += 2;
    len -= 2;
    if f & KP != 0 {
        need(at, len, 4)?;
        pr!(cx, ", call {}", be32(b, at)? & 0xffff);
        at += 4;
        len -= 4;
    }
    if f & SP != 0 {
        need(at, len, 4)?;
        pr!(cx, ", seq {}", be32(b, at)?);
        at += 4;
        len -= 4;
    }
    if f & AP != 0 {
        need(at, len, 4)?;
        pr!(cx, ", ack {}", be32(b, at)?);
        len -= 4;
    }
    if f & SP == 0 {
        cx.out.s(", no-payload");
    }
    if cx.e() {
        pr!(
            cx,
            ", proto {} (0x{prot:04x})",
            ethertype_or(prot, "unknown")
        );
    }
    pr!(cx, ", length {length}");
    if f & SP == 0 {
        return Ok(());
    }
    cx.out.s(if cx.v() < 1 { ": " } else { "\n\t" });
    // PPP inside PPTP is not decoded.
    let _ = len;
    pr!(cx, "gre-proto-0x{prot:x}");
    Ok(())
}
