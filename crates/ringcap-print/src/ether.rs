//! Link layers: Ethernet (VLAN tags, 802.3 lengths), the Linux cooked headers, BSD loopback;
//! and the EtherType dispatch they share.

use ringcap_wire::{ethertype as et, EthernetFrame, Sll2Header, SllHeader, VlanTag};

use crate::addr::Mac;
use crate::names::{self, ethertype_or};
use crate::{arp, dump, ip, ip6, llc, pr, tunnel, Cx, Trunc, R};

/// An Ethernet frame of `len` bytes on the wire, from the top of a capture (its header is
/// the link-level header `-x` skips).
pub(crate) fn ethernet(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    cx.ll_len = frame(cx, b, len)?;
    Ok(())
}

/// An Ethernet frame anywhere (GRE carries them too); returns its header length.
pub(crate) fn frame(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> Result<usize, Trunc> {
    cx.proto = "ether";
    let Ok(f) = EthernetFrame::new_checked(b) else {
        // tcpdump's early return: the whole capture counts as link-level header.
        cx.out.s(" [|ether]");
        return Ok(b.len());
    };
    let (src, dst) = (f.src_addr(), f.dst_addr());
    let orig_len = len;
    if cx.e() {
        pr!(cx, "{src} > {dst}, ");
    }
    let mut hdr = 14usize;
    let mut len = len.saturating_sub(14);
    let mut t = f.ethertype();
    let mut printed_len = false;
    while matches!(t, et::VLAN | et::VLAN_9100 | et::QINQ | 0x9200) {
        let Ok(tag) = VlanTag::new_checked(&b[hdr..]) else {
            cx.out.s(" [|vlan]");
            return Ok(b.len());
        };
        if len < 4 {
            cx.out.s(" [|vlan]");
            return Ok(hdr + len as usize);
        }
        if cx.e() {
            type_name(cx, t);
            if printed_len {
                cx.out.s(", ");
            } else {
                pr!(cx, ", length {orig_len}: ");
                printed_len = true;
            }
            tci(cx, tag.tci());
        }
        t = tag.ethertype();
        hdr += 4;
        len -= 4;
    }
    if !cx.ll_known {
        cx.ll_len = hdr;
        cx.ll_known = true;
    }
    let rest = &b[hdr..];
    if t <= et::MAX_LENGTH {
        // An 802.3 length: the LLC PDU is that long (when the frame holds that much).
        let mut rest = rest;
        if u32::from(t) < len {
            len = u32::from(t);
            rest = &rest[..rest.len().min(len as usize)];
        }
        if cx.e() {
            cx.out.s("802.3");
            if !printed_len {
                pr!(cx, ", length {len}: ");
            }
        }
        let n = llc::llc(cx, rest, len, Some((src.0, dst.0)))?;
        if n < 0 {
            dump::default_print(cx, rest);
        }
        return Ok(hdr + n.unsigned_abs() as usize);
    }
    if cx.e() {
        type_name(cx, t);
        if printed_len {
            cx.out.s(", ");
        } else {
            pr!(cx, ", length {orig_len}: ");
        }
    }
    if !ethertype(cx, t, rest, len)? {
        if !cx.e() {
            pr!(cx, "{src} > {dst}, ");
            type_name(cx, t);
            pr!(cx, ", length {orig_len}: ");
        }
        dump::default_print(cx, rest);
    }
    Ok(hdr)
}

/// `ethertype IPv4 (0x0800)`.
pub(crate) fn type_name(cx: &mut Cx<'_, '_>, t: u16) {
    pr!(cx, "ethertype {} (0x{t:04x})", ethertype_or(t, "Unknown"));
}

/// `vlan 100, p 0, ` (and `DEI` when set).
fn tci(cx: &mut Cx<'_, '_>, tci: u16) {
    let dei = if tci & 0x1000 != 0 { ", DEI" } else { "" };
    pr!(cx, "vlan {}, p {}{dei}, ", tci & 0xfff, tci >> 13);
}

/// The payload of an EtherType; false when there is no printer for it.
pub(crate) fn ethertype(cx: &mut Cx<'_, '_>, t: u16, b: &[u8], len: u32) -> Result<bool, Trunc> {
    match t {
        et::IPV4 => ip::ip(cx, b, len)?,
        et::IPV6 => ip6::ip6(cx, b, len)?,
        et::ARP | et::RARP => arp::arp(cx, b, len)?,
        et::MPLS_UNICAST | et::MPLS_MULTICAST => tunnel::mpls(cx, b, len)?,
        et::LLDP => llc::lldp(cx, b, len)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// LINKTYPE_NULL (family in the capturing host's order, taken as little-endian unless the
/// high half is set) and LINKTYPE_LOOP (network order).
pub(crate) fn null(cx: &mut Cx<'_, '_>, b: &[u8], len: u32, network_order: bool) -> R {
    cx.proto = if network_order { "loop" } else { "null" };
    let Some(h) = b.first_chunk::<4>() else {
        return Err(Trunc);
    };
    cx.ll_len = 4;
    let family = if network_order {
        u32::from_be_bytes(*h)
    } else {
        let f = u32::from_le_bytes(*h);
        if f & 0xffff_0000 != 0 {
            f.swap_bytes()
        } else {
            f
        }
    };
    let header = |cx: &mut Cx<'_, '_>, len: u32| {
        pr!(
            cx,
            "AF {} ({family}), length {len}: ",
            names::bsd_af(family)
        );
    };
    if cx.e() {
        header(cx, len);
    }
    let (rest, rlen) = (&b[4..], len.saturating_sub(4));
    match family {
        2 => ip::ip(cx, rest, rlen),
        24 | 28 | 30 => ip6::ip6(cx, rest, rlen),
        _ => {
            if !cx.e() {
                header(cx, len);
            }
            dump::default_print(cx, rest);
            Ok(())
        }
    }
}

/// LINKTYPE_LINUX_SLL: `-e` shows the packet type, the address and the protocol.
pub(crate) fn sll(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    cx.proto = "sll";
    let Ok(h) = SllHeader::new_checked(b) else {
        return Err(Trunc);
    };
    let header = |cx: &mut Cx<'_, '_>, len: u32| {
        pr!(cx, "{:>3} ", names::pkttype(u16::from(h.packet_type())));
        if h.addr().len() == 6 && raw_halen(b, 4) == 6 {
            pr!(cx, "{} ", Mac(h.addr()));
        }
        cooked_type(cx, h.protocol());
        pr!(cx, ", length {len}: ");
    };
    if cx.e() {
        header(cx, len);
    }
    let n = cooked_payload(
        cx,
        h.protocol(),
        h.payload(),
        len.saturating_sub(16),
        &|cx| header(cx, len),
    )?;
    cx.ll_len = 16 + n;
    Ok(())
}

/// LINKTYPE_LINUX_SLL2 (`-i any`): the interface name and packet type lead the line.
pub(crate) fn sll2(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    cx.proto = "sll2";
    let Ok(h) = Sll2Header::new_checked(b) else {
        return Err(Trunc);
    };
    let name = cx
        .ifnames
        .iter()
        .find(|(i, _)| *i == h.ifindex())
        .map_or("?", |(_, n)| n.as_str());
    pr!(
        cx,
        "{name:<5} {:<3} ",
        names::pkttype(u16::from(h.packet_type()))
    );
    let header = |cx: &mut Cx<'_, '_>, len: u32| {
        pr!(cx, "ifindex {} ", h.ifindex());
        if h.addr().len() == 6 && b[11] == 6 {
            pr!(cx, "{} ", Mac(h.addr()));
        }
        cooked_type(cx, h.protocol());
        pr!(cx, ", length {len}: ");
    };
    if cx.e() {
        header(cx, len);
    }
    let n = cooked_payload(
        cx,
        h.protocol(),
        h.payload(),
        len.saturating_sub(20),
        &|cx| header(cx, len),
    )?;
    cx.ll_len = 20 + n;
    Ok(())
}

fn raw_halen(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The protocol field of a cooked header as `-e` names it.
fn cooked_type(cx: &mut Cx<'_, '_>, t: u16) {
    if t <= et::MAX_LENGTH {
        match t {
            1 => cx.out.s("802.3"),
            4 => cx.out.s("802.2"),
            _ => pr!(cx, "ethertype Unknown (0x{t:04x})"),
        }
    } else {
        type_name(cx, t);
    }
}

/// After a cooked header: 802.2 LLC, a VLAN tag (802.1Q only), or an EtherType. Returns
/// the bytes of link-level header past the cooked header. `header` prints the cooked
/// header, for an unknown type without `-e`.
fn cooked_payload(
    cx: &mut Cx<'_, '_>,
    mut t: u16,
    mut b: &[u8],
    mut len: u32,
    header: &dyn Fn(&mut Cx<'_, '_>),
) -> Result<usize, Trunc> {
    let mut extra = 0usize;
    loop {
        if t <= et::MAX_LENGTH {
            if t == 4 {
                // An LLC header tcpdump decodes counts as link-level header; one it does
                // not, does not.
                let n = llc::llc(cx, b, len, None)?;
                if n < 0 {
                    dump::default_print(cx, b);
                    return Ok(extra);
                }
                return Ok(extra + n as usize);
            }
            // 802.3 (IPX) and anything else: not decoded.
            dump::default_print(cx, b);
            return Ok(extra);
        }
        if t == et::VLAN {
            let Ok(tag) = VlanTag::new_checked(b) else {
                cx.proto = "vlan";
                return Err(Trunc);
            };
            if cx.e() {
                tci(cx, tag.tci());
            }
            t = tag.ethertype();
            if t <= et::MAX_LENGTH {
                t = 4;
            }
            pr!(cx, "ethertype {}, ", ethertype_or(t, "Unknown"));
            b = &b[4..];
            len = len.saturating_sub(4);
            extra += 4;
            continue;
        }
        if !ethertype(cx, t, b, len)? {
            if !cx.e() {
                header(cx);
            }
            dump::default_print(cx, b);
        }
        return Ok(extra);
    }
}
