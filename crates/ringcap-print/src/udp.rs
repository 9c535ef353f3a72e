//! UDP: `10.0.0.1.40000 > 10.0.0.2.9999: UDP, length 5`. Payloads are not decoded (tcpdump
//! decodes DNS, DHCP, NTP, … by port; see the crate docs).

use ringcap_wire::{checksum, ip_proto};

use crate::ip::{shouldbe, Ip};
use crate::{be16, pr, Cx, Trunc, R};

pub(crate) fn udp(cx: &mut Cx<'_, '_>, b: &[u8], length: u32, ip: Ip<'_>, fragmented: bool) -> R {
    cx.proto = "udp";
    let addrs_only = |cx: &mut Cx<'_, '_>| {
        if ip.carries(ip_proto::UDP) {
            ip.addrs(cx);
            cx.out.s(": ");
        }
    };
    if b.len() < 4 {
        addrs_only(cx);
        return Err(Trunc);
    }
    let (sport, dport) = (be16(b, 0)?, be16(b, 2)?);
    if length < 8 {
        ip.ports(cx, ip_proto::UDP, sport, dport);
        pr!(cx, "truncated-udp {length}");
        return Ok(());
    }
    let Ok(mut ulen) = be16(b, 4).map(u32::from) else {
        ip.ports(cx, ip_proto::UDP, sport, dport);
        return Err(Trunc);
    };
    if ulen == 0 && length > 65535 {
        ulen = length;
    }
    if ulen < 8 {
        ip.ports(cx, ip_proto::UDP, sport, dport);
        pr!(cx, "truncated-udplength {ulen}");
        return Ok(());
    }
    ulen -= 8;
    let mut length = length - 8;
    if ulen < length {
        length = ulen;
    }
    if b.len() < 8 {
        ip.ports(cx, ip_proto::UDP, sport, dport);
        return Err(Trunc);
    }
    ip.ports(cx, ip_proto::UDP, sport, dport);
    if cx.v() > 0 && !fragmented {
        let field = u16::from_be_bytes([b[6], b[7]]);
        let whole = b.len() >= 8 + length as usize;
        let verify = |cx: &mut Cx<'_, '_>| {
            let seg = &b[..8 + length as usize];
            let sum = checksum::finish(ip.pseudo(ip_proto::UDP, length + 8) + checksum::sum(seg));
            if sum != 0 {
                pr!(
                    cx,
                    "[bad udp cksum 0x{field:04x} -> 0x{:04x}!] ",
                    shouldbe(field, sum)
                );
            } else {
                cx.out.s("[udp sum ok] ");
            }
        };
        match ip {
            Ip::V4(_) if cx.v() > 1 => {
                if field == 0 {
                    cx.out.s("[no cksum] ");
                } else if whole {
                    verify(cx);
                }
            }
            Ip::V6 { .. } if whole => verify(cx),
            _ => {}
        }
    }
    if ulen > length && !fragmented {
        pr!(cx, "UDP, bad length {ulen} > {length}");
    } else {
        pr!(cx, "UDP, length {ulen}");
    }
    Ok(())
}
