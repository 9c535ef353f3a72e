//! ARP and RARP: `ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28`.

use ringcap_wire::{arp::op, ArpPacket};

use crate::addr::{lladdr, v4, Mac};
use crate::{dump, pr, Cx, Trunc, R};

fn hrd_name(h: u16) -> Option<&'static str> {
    Some(match h {
        1 => "Ethernet",
        6 => "TokenRing",
        7 => "ArcNet",
        15 => "FrameRelay",
        23 => "Strip",
        24 => "IEEE 1394",
        19 => "ATM",
        32 => "InfiniBand",
        _ => return None,
    })
}

pub(crate) fn arp(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    cx.proto = "arp";
    if b.len() < 8 {
        return Err(Trunc);
    }
    let a = ArpPacket::new_unchecked(b);
    let (hrd, pro, opc) = (a.hw_type(), a.proto_type(), a.operation());
    let (hln, pln) = (usize::from(a.hw_len()), usize::from(a.proto_len()));
    if b.len() < 8 + 2 * hln + 2 * pln {
        return Err(Trunc);
    }
    let sha = &b[8..8 + hln];
    let spa = &b[8 + hln..8 + hln + pln];
    let tha = &b[8 + hln + pln..8 + 2 * hln + pln];
    let tpa = &b[8 + 2 * hln + pln..8 + 2 * hln + 2 * pln];
    if !cx.e() {
        cx.out.s("ARP, ");
    }
    let ip = matches!(pro, 0x0800 | 0x1000);
    if !ip || pln != 4 || hln == 0 || cx.v() > 0 {
        match hrd_name(hrd) {
            Some(n) => pr!(cx, "{n} (len {hln}), "),
            None => pr!(cx, "Unknown Hardware ({hrd}) (len {hln}), "),
        }
        match crate::names::ethertype(pro) {
            Some(n) => pr!(cx, "{n} (len {pln})"),
            None => pr!(cx, "Unknown Protocol (0x{pro:04x}) (len {pln})"),
        }
        if cx.v() == 0 {
            pr!(cx, ", length {len}");
            return Ok(());
        }
        cx.out.s(", ");
    }
    let op_name = match opc {
        op::REQUEST => Some("Request"),
        op::REPLY => Some("Reply"),
        op::RARP_REQUEST => Some("Reverse Request"),
        op::RARP_REPLY => Some("Reverse Reply"),
        op::INARP_REQUEST => Some("Inverse Request"),
        op::INARP_REPLY => Some("Inverse Reply"),
        10 => Some("NACK Reply"),
        _ => None,
    };
    match op_name {
        Some(n) => pr!(cx, "{n} "),
        None => pr!(cx, "Unknown ({opc}) "),
    }
    let paddr = |cx: &mut Cx<'_, '_>, a: &[u8]| {
        if !ip {
            cx.out.s("<wrong proto type>");
        } else if pln != 4 {
            cx.out.s("<wrong len>");
        } else {
            pr!(cx, "{}", v4(a));
        }
    };
    let haddr = |cx: &mut Cx<'_, '_>, a: &[u8]| link_addr(cx, a);
    match opc {
        op::REQUEST => {
            cx.out.s("who-has ");
            paddr(cx, tpa);
            if tha.iter().any(|&x| x != 0) {
                cx.out.s(" (");
                haddr(cx, tha);
                cx.out.s(")");
            }
            cx.out.s(" tell ");
            paddr(cx, spa);
        }
        op::REPLY => {
            paddr(cx, spa);
            cx.out.s(" is-at ");
            haddr(cx, sha);
        }
        op::RARP_REQUEST | op::INARP_REQUEST => {
            cx.out.s("who-is ");
            haddr(cx, tha);
            cx.out.s(" tell ");
            haddr(cx, sha);
        }
        op::RARP_REPLY => {
            haddr(cx, tha);
            cx.out.s(" at ");
            paddr(cx, tpa);
        }
        op::INARP_REPLY => {
            haddr(cx, sha);
            cx.out.s(" at ");
            paddr(cx, spa);
        }
        _ => {
            // tcpdump's ARP printer dumps an unknown operation whatever -x/-X say.
            dump::hex_ascii(cx.out, "\n\t", b);
            return Ok(());
        }
    }
    pr!(cx, ", length {len}");
    Ok(())
}

/// A hardware address: MAC form for six bytes, colon-separated hex otherwise.
fn link_addr(cx: &mut Cx<'_, '_>, a: &[u8]) {
    if a.len() == 6 {
        pr!(cx, "{}", Mac(a));
    } else if a.is_empty() {
        cx.out.s("<empty>");
    } else {
        let _ = lladdr(cx.out, a);
    }
}
