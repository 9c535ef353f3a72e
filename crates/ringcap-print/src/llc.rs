//! 802.2 LLC and SNAP after an 802.3 length, the spanning tree BPDUs they carry, and LLDP.

use ringcap_wire::{llc as w, LlcPdu};

use crate::addr::Mac;
use crate::names::ethertype_or;
use crate::{be16, be32, bytes, dump, ether, ip, pr, u8_at, Cx, Trunc, R};

fn sap_name(sap: u8) -> Option<&'static str> {
    Some(match sap {
        0x00 => "Null",
        0xff => "Global",
        0x02 => "802.1B I",
        0x03 => "802.1B G",
        0x06 => "IP",
        0x04 => "SNA",
        0x0e => "ProWay NM",
        0x42 => "STP",
        0x4e => "RS511",
        0x7e => "ISO8208",
        0x8e => "ProWay",
        0xaa => "SNAP",
        0xe0 => "IPX",
        0xf0 => "NetBeui",
        0xfe => "OSI",
        _ => return None,
    })
}

fn cmd_name(c: u16) -> Option<&'static str> {
    Some(match c {
        0x03 => "ui",
        0xe3 => "test",
        0xaf => "xid",
        0x63 => "ua",
        0x43 => "disc",
        0x0f => "dm",
        0x6f => "sabme",
        0x87 => "frmr",
        _ => return None,
    })
}

fn flag_name(v: u16) -> &'static str {
    match v {
        0 => "Command",
        1 => "Response",
        0x10 | 0x100 => "Poll",
        0x11 | 0x101 => "Final",
        _ => "?",
    }
}

/// An LLC PDU of `len` bytes; `macs` (source, destination) name the stations of a frame
/// tcpdump cannot decode further. Returns the LLC (and SNAP) header length, negative when
/// the payload was not decoded (the caller prints it raw), as tcpdump's `llc_print`.
pub(crate) fn llc(
    cx: &mut Cx<'_, '_>,
    b: &[u8],
    len: u32,
    macs: Option<([u8; 6], [u8; 6])>,
) -> Result<i32, Trunc> {
    cx.proto = "llc";
    let short = |cx: &mut Cx<'_, '_>, n: u32| {
        cx.out.s(" [|llc]");
        dump::default_print(cx, b);
        Ok(n as i32)
    };
    if b.len() < 3 {
        return short(cx, b.len() as u32);
    }
    if len < 3 {
        return short(cx, len);
    }
    let (dsap_f, ssap_f) = (b[0], b[1]);
    let u = b[2] & 3 == 3;
    let (control, hdr) = if u {
        (u16::from(b[2]), 3u32)
    } else {
        if b.len() < 4 {
            return short(cx, b.len() as u32);
        }
        if len < 4 {
            return short(cx, len);
        }
        (u16::from_le_bytes([b[2], b[3]]), 4)
    };
    let (dsap, ssap) = (dsap_f & !1, ssap_f & !1);
    if cx.e() {
        let name = |s| sap_name(s).unwrap_or("Unknown");
        let ig = if dsap_f & 1 != 0 {
            "Group"
        } else {
            "Individual"
        };
        let cr = if ssap_f & 1 != 0 {
            "Response"
        } else {
            "Command"
        };
        pr!(
            cx,
            "LLC, dsap {} (0x{dsap:02x}) {ig}, ssap {} (0x{ssap:02x}) {cr}",
            name(dsap),
            name(ssap)
        );
        if u {
            pr!(cx, ", ctrl 0x{control:02x}: ");
        } else {
            pr!(cx, ", ctrl 0x{control:04x}: ");
        }
    }
    let (p, plen) = (&b[hdr as usize..], len - hdr);
    let ui = control == u16::from(w::CONTROL_UI);
    if ssap == w::SAP_SNAP && dsap == w::SAP_SNAP && ui {
        let known = snap(cx, p, plen, macs)?;
        return Ok(if known {
            hdr as i32 + 5
        } else {
            -(hdr as i32 + 5)
        });
    }
    if ssap == w::SAP_STP && dsap == w::SAP_STP && ui {
        stp(cx, p, plen)?;
        return Ok(hdr as i32);
    }
    if ssap == 0x06 && dsap == 0x06 && ui {
        ip::ip(cx, p, plen)?;
        return Ok(hdr as i32);
    }
    if !cx.e() {
        let name = |s: u8, what: &str| match sap_name(s) {
            Some(n) => n.to_string(),
            None => format!("Unknown {what} 0x{s:02x}"),
        };
        match (macs, ssap == dsap) {
            (None, true) => pr!(cx, "{} ", name(dsap, "DSAP")),
            (Some((s, d)), true) => pr!(cx, "{} > {} {} ", Mac(&s), Mac(&d), name(dsap, "DSAP")),
            (None, false) => pr!(cx, "{} > {} ", name(ssap, "SSAP"), name(dsap, "DSAP")),
            (Some((s, d)), false) => pr!(
                cx,
                "{} {} > {} {} ",
                Mac(&s),
                name(ssap, "SSAP"),
                Mac(&d),
                name(dsap, "DSAP")
            ),
        }
    }
    let total = plen + hdr;
    if u {
        let cmd = control & 0xef;
        match cmd_name(cmd) {
            Some(n) => pr!(cx, "Unnumbered, {n}"),
            None => pr!(cx, "Unnumbered, {cmd:02x}"),
        }
        let flags = flag_name(u16::from(ssap_f & 1) | (control & 0x10));
        pr!(cx, ", Flags [{flags}], length {total}");
        if control & !0x10 == 0xaf {
            if plen == 0 {
                // An XID without payload (an SNA short-form XID): nothing more to show.
                return Ok(hdr as i32);
            }
            if p.is_empty() {
                cx.out.s(" [|llc]");
                return Ok(hdr as i32);
            }
            if p[0] == 0x81 {
                if p.len() < 3 || plen < 3 {
                    cx.out.s(" [|llc]");
                    dump::default_print(cx, p);
                } else {
                    pr!(cx, ": {:02x} {:02x}", p[1], p[2]);
                }
                return Ok(hdr as i32);
            }
        }
    } else {
        let flags = flag_name(u16::from(ssap_f & 1) | (control & 0x100));
        let nr = (control >> 9) & 0x7f;
        if control & 1 == 1 {
            let s = match (control >> 2) & 3 {
                0 => "Receiver Ready",
                1 => "Receiver not Ready",
                2 => "Reject",
                _ => "?",
            };
            pr!(
                cx,
                "Supervisory, {s}, rcv seq {nr}, Flags [{flags}], length {total}"
            );
            return Ok(hdr as i32);
        }
        let ns = (control >> 1) & 0x7f;
        pr!(
            cx,
            "Information, send seq {ns}, rcv seq {nr}, Flags [{flags}], length {total}"
        );
    }
    Ok(-(hdr as i32))
}

/// SNAP: an OUI and a protocol id; OUI 0 (and Cisco's bridged 0xf8) carry an EtherType.
fn snap(
    cx: &mut Cx<'_, '_>,
    b: &[u8],
    len: u32,
    macs: Option<([u8; 6], [u8; 6])>,
) -> Result<bool, Trunc> {
    cx.proto = "snap";
    if b.len() < 5 || len < 5 {
        return Err(Trunc);
    }
    let pdu = LlcPdu::new_unchecked(b);
    let _ = pdu;
    let oui = u32::from_be_bytes([0, b[0], b[1], b[2]]);
    let t = u16::from_be_bytes([b[3], b[4]]);
    let ether_pid = matches!(oui, 0 | 0xf8);
    // tcpdump names the SNAP header up front with -e, and without -e only when it cannot
    // decode what the header carries.
    if cx.e() || !ether_pid {
        if !cx.e() {
            if let Some((s, d)) = macs {
                pr!(cx, "{} > {} ", Mac(&s), Mac(&d));
            }
            cx.out.s("SNAP, ");
        }
        let oui_name = match oui {
            0x00_0000 => "Ethernet",
            0x00_000c => "Cisco",
            0x00_005e => "IANA",
            0x00_0081 => "Nortel Networks SONMP",
            0x00_00f8 => "Cisco bridged",
            0x00_80c2 => "IEEE 802.1 Private",
            0x00_120f => "IEEE 802.3 Private",
            0x08_0007 => "Appletalk",
            _ => "Unknown",
        };
        let pid_name = if ether_pid {
            ethertype_or(t, "Unknown")
        } else {
            "Unknown"
        };
        let kind = if oui == 0 { "ethertype" } else { "pid" };
        pr!(
            cx,
            "oui {oui_name} (0x{oui:06x}), {kind} {pid_name} (0x{t:04x}), length {}: ",
            len - 5
        );
    }
    if ether_pid {
        return ether::ethertype(cx, t, &b[5..], len - 5);
    }
    Ok(false)
}

/// Spanning tree BPDUs: 802.1D configuration and topology change, 802.1w RSTP; 802.1s
/// (MSTP) and 802.1aq are named, their instance records not decoded.
fn stp(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    cx.proto = "stp";
    if len < 4 {
        cx.out.s(" (invalid)");
        return Ok(());
    }
    if be16(b, 0)? != 0 {
        pr!(cx, "unknown STP version, length {len}");
        return Ok(());
    }
    let version = u8_at(b, 2)?;
    match version {
        0 => cx.out.s("STP 802.1d"),
        2 => cx.out.s("STP 802.1w"),
        3 => cx.out.s("STP 802.1s"),
        4 => cx.out.s("STP 802.1aq"),
        v => {
            pr!(cx, "STP Unknown STP protocol (0x{v:02x})");
            return Ok(());
        }
    }
    let kind = u8_at(b, 3)?;
    match kind {
        0x00 => cx.out.s(", Config"),
        0x02 => cx.out.s(", Rapid STP"),
        0x80 => cx.out.s(", Topology Change"),
        k => pr!(cx, ", Unknown BPDU Type (0x{k:02x})"),
    }
    let config = match (kind, version) {
        (0x00, _) => len >= 35,
        (0x02, 2) => len >= 36,
        _ => return Ok(()),
    };
    if !config {
        cx.out.s(" (invalid)");
        return Ok(());
    }
    let flags = u8_at(b, 4)?;
    cx.out.s(", Flags [");
    crate::names::bits(
        cx.out,
        &[
            (0x01, "Topology change"),
            (0x02, "Proposal"),
            (0x10, "Learn"),
            (0x20, "Forward"),
            (0x40, "Agreement"),
            (0x80, "Topology change ACK"),
        ],
        "none",
        ", ",
        u32::from(flags),
    );
    cx.out.s("]");
    let (id, port) = (bytes(b, 17, 8)?, be16(b, 25)?);
    cx.out.s(", bridge-id ");
    bridge_id(cx, id);
    pr!(cx, ".{port:04x}, length {len}");
    if cx.v() == 0 {
        return Ok(());
    }
    let t = |at| -> Result<f64, Trunc> { Ok(f64::from(be16(b, at)?) / 256.0) };
    pr!(
        cx,
        "\n\tmessage-age {:.2}s, max-age {:.2}s, hello-time {:.2}s, forwarding-delay {:.2}s",
        t(27)?,
        t(29)?,
        t(31)?,
        t(33)?
    );
    cx.out.s("\n\troot-id ");
    bridge_id(cx, bytes(b, 5, 8)?);
    pr!(cx, ", root-pathcost {}", be32(b, 13)?);
    if version == 2 {
        let role = match (flags & 0x0c) >> 2 {
            1 => "Alternate",
            2 => "Root",
            3 => "Designated",
            _ => "Unknown",
        };
        pr!(cx, ", port-role {role}");
    }
    Ok(())
}

/// `8000.02:00:00:00:00:01`: priority, then the MAC address.
fn bridge_id(cx: &mut Cx<'_, '_>, id: &[u8]) {
    pr!(cx, "{:02x}{:02x}.{}", id[0], id[1], Mac(&id[2..8]));
}

/// LLDP: `LLDP, length N`, the system name; with `-v` the TLVs every agent sends.
pub(crate) fn lldp(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    cx.proto = "lldp";
    pr!(cx, "LLDP, length {len}");
    let mut at = 0usize;
    let mut left = len;
    while left >= 2 {
        let tlv = be16(b, at)?;
        let (kind, tlen) = ((tlv >> 9) as u8, usize::from(tlv & 0x1ff));
        left -= 2;
        at += 2;
        if cx.v() > 0 {
            let name = match kind {
                0 => "End",
                1 => "Chassis ID",
                2 => "Port ID",
                3 => "Time to Live",
                4 => "Port Description",
                5 => "System Name",
                6 => "System Description",
                7 => "System Capabilities",
                8 => "Management Address",
                127 => "Organization specific",
                _ => "Unknown",
            };
            pr!(cx, "\n\t{name} TLV ({kind}), length {tlen}");
        }
        if kind == 0 || tlen == 0 {
            break;
        }
        let v = bytes(b, at, tlen)?;
        if (left as usize) < tlen {
            return Err(Trunc);
        }
        let mut hexdump = false;
        match kind {
            1 | 2 if cx.v() > 0 => {
                if tlen < 2 {
                    return Err(Trunc);
                }
                let sub = v[0];
                let names: &[&str] = if kind == 1 {
                    &[
                        "Chassis component",
                        "Interface alias",
                        "Port component",
                        "MAC address",
                        "Network address",
                        "Interface name",
                        "Local",
                    ]
                } else {
                    &[
                        "Interface alias",
                        "Port component",
                        "MAC address",
                        "Network Address",
                        "Interface Name",
                        "Agent circuit ID",
                        "Local",
                    ]
                };
                let name = names
                    .get(usize::from(sub).wrapping_sub(1))
                    .copied()
                    .unwrap_or("Unknown");
                pr!(cx, "\n\t  Subtype {name} ({sub}): ");
                let mac = if kind == 1 { 4 } else { 3 };
                let net = if kind == 1 { 5 } else { 4 };
                if sub == mac {
                    if tlen < 7 {
                        return Err(Trunc);
                    }
                    pr!(cx, "{}", Mac(&v[1..7]));
                } else if (1..=7).contains(&sub) && sub != net {
                    printjnp(cx, &v[1..]);
                } else {
                    hexdump = true;
                }
            }
            3 if cx.v() > 0 => {
                if tlen < 2 {
                    return Err(Trunc);
                }
                pr!(cx, ": TTL {}s", be16(v, 0)?);
            }
            4 if cx.v() > 0 => {
                cx.out.s(": ");
                printjnp(cx, v);
            }
            5 => {
                cx.out.s(": ");
                printjnp(cx, v);
            }
            6 if cx.v() > 0 => {
                cx.out.s("\n\t  ");
                printjnp(cx, v);
            }
            1..=6 => {}
            _ => hexdump = true,
        }
        if cx.v() > 1 || (cx.v() > 0 && hexdump) {
            dump::hex(cx.out, "\n\t  ", v);
        }
        left -= tlen as u32;
        at += tlen;
    }
    Ok(())
}

/// Text from the packet, up to a NUL: other control characters as `^X`, bytes above 0x7f
/// as `M-` and the low seven bits (tcpdump's `nd_printjnp`).
pub(crate) fn printjnp(cx: &mut Cx<'_, '_>, b: &[u8]) {
    for &c in b {
        if c == 0 {
            break;
        }
        let mut c = c;
        if !c.is_ascii() {
            cx.out.s("M-");
            c &= 0x7f;
        }
        if !(0x20..0x7f).contains(&c) {
            c ^= 0x40;
            cx.out.c('^');
        }
        cx.out.c(char::from(c));
    }
}

/// Every byte as [`printjnp`] shows it, NULs included (tcpdump's `fn_print_char` loop).
pub(crate) fn printjnp_all(cx: &mut Cx<'_, '_>, b: &[u8]) {
    for &c in b {
        let mut c = c;
        if !c.is_ascii() {
            cx.out.s("M-");
            c &= 0x7f;
        }
        if !(0x20..0x7f).contains(&c) {
            c ^= 0x40;
            cx.out.c('^');
        }
        cx.out.c(char::from(c));
    }
}
