//! IPv4, and the demultiplexer from an IP header (of either version) to what it carries.

use ringcap_wire::{checksum, ip_proto, Ipv4Packet};

use crate::addr::v4;
use crate::names::{self, ipproto};
use crate::{icmp, icmp6, ip6, pr, tcp, tunnel, u8_at, udp, Cx, Trunc, R};

/// The IP header a transport header belongs to: what its printer needs from it.
#[derive(Clone, Copy)]
pub(crate) enum Ip<'a> {
    V4(Ipv4Packet<&'a [u8]>),
    /// The IPv6 header (40 bytes) and the destination for the pseudo-header (the last
    /// address of a routing header, when there is one).
    V6 {
        hdr: &'a [u8],
        dst: [u8; 16],
    },
}

impl Ip<'_> {
    /// Whether the header's own protocol field names `proto` (if not, extension headers or
    /// AH came between, and the transport line omits the addresses already printed).
    pub(crate) fn carries(&self, proto: u8) -> bool {
        match self {
            Ip::V4(p) => p.protocol() == proto,
            Ip::V6 { hdr, .. } => hdr[6] == proto,
        }
    }

    /// Sum of the pseudo-header for an upper-layer packet of `len` bytes.
    pub(crate) fn pseudo(&self, proto: u8, len: u32) -> u64 {
        match self {
            Ip::V4(p) => checksum::pseudo_v4(p.src_addr(), final_dst(p), proto, len as u16),
            Ip::V6 { hdr, dst } => checksum::pseudo_v6(
                crate::addr::v6(&hdr[8..24]).into(),
                (*dst).into(),
                proto,
                len,
            ),
        }
    }

    /// `src > dst` (the addresses only).
    pub(crate) fn addrs(&self, cx: &mut Cx<'_, '_>) {
        match self {
            Ip::V4(p) => pr!(cx, "{} > {}", p.src_addr(), p.dst_addr()),
            Ip::V6 { hdr, .. } => pr!(
                cx,
                "{} > {}",
                crate::addr::V6(&crate::addr::v6(&hdr[8..24])),
                crate::addr::V6(&crate::addr::v6(&hdr[24..40]))
            ),
        }
    }

    /// `src.sport > dst.dport: `, or `sport > dport: ` after extension headers.
    pub(crate) fn ports(&self, cx: &mut Cx<'_, '_>, proto: u8, sport: u16, dport: u16) {
        if self.carries(proto) {
            match self {
                Ip::V4(p) => pr!(cx, "{}.{sport} > {}.{dport}: ", p.src_addr(), p.dst_addr()),
                Ip::V6 { hdr, .. } => pr!(
                    cx,
                    "{}.{sport} > {}.{dport}: ",
                    crate::addr::V6(&crate::addr::v6(&hdr[8..24])),
                    crate::addr::V6(&crate::addr::v6(&hdr[24..40]))
                ),
            }
        } else {
            pr!(cx, "{sport} > {dport}: ");
        }
    }
}

/// An IP packet of either version (raw IP links), by its version nibble.
pub(crate) fn ip_n(cx: &mut Cx<'_, '_>, b: &[u8], len: u32) -> R {
    cx.proto = "ipn";
    if len < 1 {
        pr!(cx, "truncated-ip {len}");
        return Ok(());
    }
    match u8_at(b, 0)? & 0xf0 {
        0x40 => ip(cx, b, len),
        0x60 => ip6::ip6(cx, b, len),
        v => {
            pr!(cx, "unknown ip {}", v >> 4);
            Ok(())
        }
    }
}

/// IPv4: `IP src > dst: …`; with `-v` the header's fields in parentheses and the rest on a
/// continuation line.
pub(crate) fn ip(cx: &mut Cx<'_, '_>, b: &[u8], length: u32) -> R {
    cx.proto = "ip";
    let ver = u8_at(b, 0)? >> 4;
    if ver != 4 {
        if ver == 6 {
            cx.out.s("IP6, wrong link-layer encapsulation");
        } else {
            pr!(cx, "IP{ver}");
        }
        cx.out.s(" (invalid)");
        return Ok(());
    }
    if !cx.e() {
        cx.out.s("IP ");
    }
    if b.len() < 20 {
        return Err(Trunc);
    }
    if length < 20 {
        pr!(cx, "truncated-ip {length}");
        return Ok(());
    }
    let p = Ipv4Packet::new_unchecked(b);
    let hlen = p.header_len();
    if hlen < 20 {
        pr!(cx, "bad-hlen {hlen}");
        return Ok(());
    }
    let total = u32::from(p.total_len());
    if length < total {
        pr!(cx, "truncated-ip - {} bytes missing! ", total - length);
    }
    if total < hlen as u32 {
        pr!(cx, "bad-len {total}");
        return Ok(());
    }
    // The IP payload ends where the total length says (Ethernet padding is not part of it).
    let b = &b[..b.len().min(total as usize)];
    let p = Ipv4Packet::new_unchecked(b);
    let len = total - hlen as u32;
    let off = u16::from_be_bytes([b[6], b[7]]);
    let proto = p.protocol();
    if cx.v() > 0 {
        let tos = p.tos();
        pr!(cx, "(tos 0x{tos:x}");
        match tos & 3 {
            1 => cx.out.s(",ECT(1)"),
            2 => cx.out.s(",ECT(0)"),
            3 => cx.out.s(",CE"),
            _ => {}
        }
        if p.ttl() >= 1 {
            pr!(cx, ", ttl {}", p.ttl());
        }
        pr!(
            cx,
            ", id {}, offset {}, flags [",
            p.ident(),
            (off & 0x1fff) * 8
        );
        names::bits(
            cx.out,
            &[(0x2000, "+"), (0x4000, "DF"), (0x8000, "rsvd")],
            "none",
            ", ",
            u32::from(off & 0xe000),
        );
        pr!(cx, "], proto {} ({proto}), length {total}", ipproto(proto));
        let mut cut = false;
        if hlen > 20 {
            cx.out.s(", options (");
            if options(cx, &b[20..], hlen - 20).is_err() {
                cx.out.s(" [truncated-option]");
                cut = true;
            }
            cx.out.s(")");
        }
        if b.len() >= hlen {
            let sum = checksum::checksum(&b[..hlen]);
            if sum != 0 {
                let field = p.checksum();
                pr!(cx, ", bad cksum {field:x} (->{:x})!", shouldbe(field, sum));
            }
        }
        cx.out.s(")\n    ");
        if cut {
            pr!(cx, "{} > {}: ", p.src_addr(), p.dst_addr());
            return Err(Trunc);
        }
    }
    if off & 0x1fff == 0 {
        if !matches!(proto, ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP | 33) {
            pr!(cx, "{} > {}: ", p.src_addr(), p.dst_addr());
        }
        if b.len() < hlen {
            pr!(
                cx,
                " [remaining caplen({}) < header length({hlen})]",
                b.len()
            );
            return Err(Trunc);
        }
        let fragmented = off & 0x2000 != 0;
        demux(cx, &b[hlen..], len, Ip::V4(p), proto, fragmented)
    } else {
        pr!(cx, "{} > {}: ip-proto-{proto}", p.src_addr(), p.dst_addr());
        Ok(())
    }
}

/// The payload of an IP header (or of the last IPv6 extension header): `len` bytes on the
/// wire of protocol `nh`.
pub(crate) fn demux(
    cx: &mut Cx<'_, '_>,
    b: &[u8],
    len: u32,
    ip: Ip<'_>,
    mut nh: u8,
    fragmented: bool,
) -> R {
    let v6 = matches!(ip, Ip::V6 { .. });
    let (mut b, mut len) = (b, len);
    loop {
        return match nh {
            ip_proto::AH => {
                // AH: `AH(spi=0x…,seq=0x…): ` and on to the protected protocol.
                cx.proto = "ah";
                let next = u8_at(b, 0)?;
                let n = ah(cx, b)?;
                nh = next;
                b = &b[n.min(b.len())..];
                len = len.saturating_sub(n as u32);
                continue;
            }
            ip_proto::TCP => tcp::tcp(cx, b, len, ip, fragmented),
            ip_proto::UDP => udp::udp(cx, b, len, ip, fragmented),
            ip_proto::ICMP if !v6 => icmp::icmp(cx, b, len, ip, fragmented),
            ip_proto::ICMPV6 if v6 => icmp6::icmp6(cx, b, len, ip, fragmented),
            ip_proto::ICMP | ip_proto::ICMPV6 => {
                let need = if v6 { "IPv4" } else { "IPv6" };
                pr!(cx, "[{} requires {need}] (invalid)", ipproto(nh));
                Ok(())
            }
            ip_proto::IPIP => self::ip(cx, b, len),
            ip_proto::IPV6 => ip6::ip6(cx, b, len),
            ip_proto::GRE => tunnel::gre(cx, b, len),
            ip_proto::NONE => {
                cx.out.s("no next header");
                Ok(())
            }
            // 77: "ND" (Sun's network disk), printed by its number and length.
            77 => {
                pr!(cx, " nd {len}");
                Ok(())
            }
            _ => {
                pr!(cx, " ip-proto-{nh} {len}");
                Ok(())
            }
        };
    }
}

/// The authentication header: `AH(spi=0x00000001,seq=0x1,icv=0x…): `; returns its length.
fn ah(cx: &mut Cx<'_, '_>, b: &[u8]) -> Result<usize, Trunc> {
    let hl = usize::from(u8_at(b, 1)?);
    let n = (hl + 2) * 4;
    cx.out.s("AH(");
    if cx.v() > 0 {
        pr!(cx, "length={hl}({n}-bytes),");
    }
    let reserved = crate::be16(b, 2)?;
    if reserved != 0 {
        pr!(cx, "reserved=0x{reserved:x}[MustBeZero],");
    }
    pr!(cx, "spi=0x{:08x},", crate::be32(b, 4)?);
    pr!(cx, "seq=0x{:x},", crate::be32(b, 8)?);
    cx.out.s("icv=0x");
    for i in 12..n {
        pr!(cx, "{:02x}", u8_at(b, i)?);
    }
    cx.out.s("): ");
    Ok(n)
}

/// The checksum field value that would have verified (tcpdump's `in_cksum_shouldbe`), from
/// the field and the checksum computed over the data including it.
pub(crate) fn shouldbe(field: u16, computed: u16) -> u16 {
    let mut s = u32::from(field) + u32::from(computed);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// IPv4 options, `-v`: `NOP,NOP,timestamp TS{…}`, `RR 10.0.0.1, …`, `RA value 1`.
fn options(cx: &mut Cx<'_, '_>, b: &[u8], mut left: usize) -> Result<(), Trunc> {
    let mut at = 0usize;
    let mut sep = "";
    while left > 0 {
        cx.out.s(sep);
        sep = ",";
        let code = u8_at(b, at)?;
        match code {
            0 => cx.out.s("EOL"),
            1 => cx.out.s("NOP"),
            68 => cx.out.s("timestamp"),
            130 => cx.out.s("security"),
            7 => cx.out.s("RR"),
            137 => cx.out.s("SSRR"),
            131 => cx.out.s("LSRR"),
            148 => cx.out.s("RA"),
            82 => cx.out.s("traceroute"),
            c => pr!(cx, "unknown {c}"),
        }
        let olen = if code <= 1 {
            1
        } else {
            let l = usize::from(u8_at(b, at + 1)?);
            if l < 2 {
                pr!(cx, " [bad length {l}]");
                return Ok(());
            }
            l
        };
        if olen > left {
            pr!(cx, " [bad length {olen}]");
            return Ok(());
        }
        let o = crate::bytes(b, at, olen)?;
        match code {
            0 => return Ok(()),
            68 => timestamp(cx, o)?,
            7 | 137 | 131 => route(cx, o)?,
            148 => {
                if olen < 4 {
                    pr!(cx, " [bad length {olen}]");
                } else {
                    let v = u16::from_be_bytes([o[2], o[3]]);
                    if v != 0 {
                        pr!(cx, " value {v}");
                    }
                }
            }
            _ => {}
        }
        at += olen;
        left -= olen;
    }
    Ok(())
}

fn route(cx: &mut Cx<'_, '_>, o: &[u8]) -> Result<(), Trunc> {
    let len = o.len();
    if len < 3 {
        pr!(cx, " [bad length {len}]");
        return Ok(());
    }
    if (len + 1) & 3 != 0 {
        pr!(cx, " [bad length {len}]");
    }
    let ptr = usize::from(o[2]).wrapping_sub(1);
    if ptr < 3 || (ptr + 1) & 3 != 0 || ptr > len + 1 {
        pr!(cx, " [bad ptr {}]", o[2]);
    }
    let mut i = 3;
    while i < len {
        let a = crate::bytes(o, i, 4)?;
        pr!(cx, " {}", v4(a));
        if ptr > i {
            cx.out.s(",");
        }
        i += 4;
    }
    Ok(())
}

fn timestamp(cx: &mut Cx<'_, '_>, o: &[u8]) -> Result<(), Trunc> {
    let len = o.len();
    if len < 4 {
        pr!(cx, "[bad length {len}]");
        return Ok(());
    }
    cx.out.s(" TS{");
    let flag = o[3] & 0xf;
    let hop = if flag != 0 { 8 } else { 4 };
    if (len - 4) & (hop - 1) != 0 {
        pr!(cx, "[bad length {len}]");
    }
    let ptr = usize::from(o[2]).wrapping_sub(1);
    if ptr < 4 || (ptr.wrapping_sub(4)) & (hop - 1) != 0 || ptr > len + 1 {
        pr!(cx, "[bad ptr {}]", o[2]);
    }
    let mut i = 0usize;
    match flag {
        0 => cx.out.s("TSONLY"),
        1 => cx.out.s("TS+ADDR"),
        3 => cx.out.s("PRESPEC"),
        f => {
            pr!(cx, "[bad ts type {f}]");
            return ts_end(cx, o, ptr, i);
        }
    }
    let mut kind = " ";
    i = 4;
    while i < len {
        if ptr == i {
            kind = " ^ ";
        }
        let h = crate::bytes(o, i, hop)?;
        let t = u32::from_be_bytes([h[hop - 4], h[hop - 3], h[hop - 2], h[hop - 1]]);
        if hop == 8 {
            pr!(cx, "{kind}{t}@{}", v4(h));
        } else {
            pr!(cx, "{kind}{t}@");
        }
        kind = " ";
        i += hop;
    }
    ts_end(cx, o, ptr, i)
}

fn ts_end(cx: &mut Cx<'_, '_>, o: &[u8], ptr: usize, i: usize) -> Result<(), Trunc> {
    if ptr == i {
        cx.out.s(" ^ ");
    }
    if o[3] >> 4 != 0 {
        pr!(cx, " [{} hops not recorded]}} ", o[3] >> 4);
    } else {
        cx.out.s("}");
    }
    Ok(())
}

/// The destination the checksum covers: the last hop of a loose or strict source route
/// (RFC 791; tcpdump's `ip_finddst`), else the header's own.
fn final_dst(p: &Ipv4Packet<&[u8]>) -> std::net::Ipv4Addr {
    let mut opts = p.options();
    while let Some(&code) = opts.first() {
        let len = match code {
            0 => break,
            1 => 1,
            _ => match opts.get(1) {
                Some(&l) if l >= 2 && usize::from(l) <= opts.len() => usize::from(l),
                _ => break,
            },
        };
        if matches!(code, 131 | 137) && len >= 7 {
            let a = &opts[len - 4..len];
            return std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        }
        opts = &opts[len..];
    }
    p.dst_addr()
}
