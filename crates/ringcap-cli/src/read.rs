//! `ringcap read`: print, count, filter or copy the packets of a pcap or pcapng file.
//!
//! One line per packet: the time (UTC, or seconds since the epoch with `--epoch`), the length
//! on the wire, and a short decode of the headers. A damaged file gives every whole packet
//! before the damage, then one error line with the byte offset, and exit status 1.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{bail, Context};
use ringcap_filter::{LinkType, Program, Target};
use ringcap_pcap::{
    linktype, FileKind, Format, Interface, Precision, Reader, Writer, WriterOptions,
    DEFAULT_SNAPLEN,
};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  ringcap read -r cap.pcap                       one line per packet
  ringcap read -r cap.pcapng --count             only the number of packets
  ringcap read -r - < cap.pcap                   from standard input
  ringcap read -r in.pcap -w out.pcap udp port 53   copy the packets a filter takes")]
pub struct Args {
    /// File to read (pcap or pcapng; `-` for standard input).
    #[arg(short = 'r', value_name = "FILE")]
    pub file: String,
    /// Stop after COUNT packets (after the filter).
    #[arg(short = 'c', value_name = "COUNT")]
    pub max: Option<u64>,
    /// Copy the packets to this file instead of printing them (`-` for standard output).
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<String>,
    /// Format of the `-w` file (default: that of the input).
    #[arg(long)]
    pub format: Option<Format>,
    /// Print only the number of packets (like tcpdump --count).
    #[arg(long)]
    pub count: bool,
    /// Print times as seconds since the epoch (like tcpdump -tt) instead of UTC date and time.
    #[arg(long)]
    pub epoch: bool,
    /// Filter expression (pcap-filter syntax), e.g. `tcp port 80`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "EXPRESSION"
    )]
    pub expr: Vec<String>,
}

/// Filter programs compiled per link type, on first use.
struct Filters {
    expr: String,
    progs: Vec<(u32, Program)>,
}

impl Filters {
    fn matches(&mut self, lt: u32, snaplen: u32, data: &[u8], len: u32) -> anyhow::Result<bool> {
        if self.expr.is_empty() {
            return Ok(true);
        }
        if let Some((_, p)) = self.progs.iter().find(|(l, _)| *l == lt) {
            return Ok(p.matches(data, len));
        }
        let link = LinkType::from_linktype(lt).with_context(|| {
            format!(
                "link type {lt} ({}) is not supported by filters",
                linktype::name(lt)
            )
        })?;
        let snap = if snaplen == 0 {
            DEFAULT_SNAPLEN
        } else {
            snaplen
        };
        let p = crate::compile::filter(&self.expr, link, snap, Target::File, true)
            .map_err(|e| crate::compile::filter_error(&self.expr, e))?;
        let m = p.matches(data, len);
        self.progs.push((lt, p));
        Ok(m)
    }
}

/// The `-w` copy: a writer and the output interface of each input interface.
struct Copy {
    w: Writer<Box<dyn ringcap_pcap::Output>>,
    map: Vec<Option<u32>>,
    pcap_linktype: Option<u32>,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let input: Box<dyn Read + Send> = if args.file == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(&args.file).with_context(|| format!("opening {}", args.file))?)
    };
    let mut reader = Reader::new(input).with_context(|| format!("reading {}", args.file))?;
    let mut filters = Filters {
        expr: args.expr.join(" "),
        progs: Vec::new(),
    };
    if let (FileKind::Pcap { .. }, false) = (reader.kind(), filters.expr.is_empty()) {
        // pcap: the link type is known now, so a bad expression fails before any output.
        let i = &reader.interfaces()[0];
        filters.matches(i.linktype, i.snaplen, &[], 0)?;
    }
    // The -w file opens at the first packet, when a pcapng input has declared its interfaces.
    let mut copy: Option<Copy> = None;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut n: u64 = 0;
    let mut line = String::with_capacity(256);
    let result: anyhow::Result<()> = (|| {
        while !matches!(args.max, Some(m) if n >= m) {
            let Some(m) = reader
                .next_record()
                .with_context(|| format!("reading {}", args.file))?
            else {
                break;
            };
            let info = &reader.interfaces()[m.interface as usize];
            if !filters.matches(m.linktype, info.snaplen, reader.data(), m.orig_len)? {
                continue;
            }
            n += 1;
            if let Some(path) = &args.write {
                if copy.is_none() {
                    copy = Some(open_copy(path, &reader, args.format)?);
                }
                if let Some(c) = &mut copy {
                    write_copy(c, &reader, m)?;
                }
            } else if !args.count {
                line.clear();
                format_time(&mut line, m.ts_ns, args.epoch);
                summarize(&mut line, m.linktype, reader.data(), m.orig_len);
                line.push('\n');
                if let Err(e) = out.write_all(line.as_bytes()) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(e).context("writing to standard output");
                }
            }
        }
        Ok(())
    })();
    let flushed = out.flush();
    drop(out);
    if let (Some(path), None, true) = (&args.write, &copy, result.is_ok()) {
        // No packet: still write a valid (empty) file.
        copy = Some(open_copy(path, &reader, args.format)?);
    }
    if let Some(mut c) = copy {
        if result.is_ok() {
            if let Err(e) = c.w.finish(&[]) {
                bail!(
                    "writing the -w file: {e} ({} packets written, {} not written)",
                    c.w.packets_written(),
                    c.w.packets_not_written()
                );
            }
        } else {
            let _ = c.w.finish(&[]);
        }
    }
    if args.count {
        println!("{n} packet{}", if n == 1 { "" } else { "s" });
    }
    result?;
    if let Err(e) = flushed {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e).context("writing to standard output");
        }
    }
    Ok(0)
}

fn open_copy<R: Read>(
    path: &str,
    reader: &Reader<R>,
    format: Option<Format>,
) -> anyhow::Result<Copy> {
    let (in_format, precision) = match reader.kind() {
        FileKind::Pcap { nano, .. } => (
            Format::Pcap,
            if nano {
                Precision::Nano
            } else {
                Precision::Micro
            },
        ),
        FileKind::Pcapng => (Format::Pcapng, Precision::Nano),
    };
    let format = format.unwrap_or(in_format);
    let mut opts = WriterOptions::new(format, 1, DEFAULT_SNAPLEN);
    opts.precision = precision;
    let mut pcap_linktype = None;
    match format {
        Format::Pcap => {
            let Some(i) = reader.interfaces().first() else {
                bail!("writing pcap needs the input's link type, but the input declares no interface before its first packet; use --format pcapng");
            };
            let snap = if i.snaplen == 0 {
                DEFAULT_SNAPLEN
            } else {
                i.snaplen
            };
            opts.interfaces = vec![Interface::new(
                None,
                i.linktype,
                snap.min(ringcap_pcap::MAX_RECORD),
            )];
            pcap_linktype = Some(i.linktype);
        }
        Format::Pcapng => opts.interfaces.clear(),
    }
    let out: Box<dyn ringcap_pcap::Output> = if path == "-" {
        Box::new(io::stdout())
    } else {
        Box::new(File::create(path).with_context(|| format!("creating {path}"))?)
    };
    let w = Writer::new(out, &opts).with_context(|| format!("writing {path}"))?;
    Ok(Copy {
        w,
        map: Vec::new(),
        pcap_linktype,
    })
}

fn write_copy<R: Read>(
    c: &mut Copy,
    reader: &Reader<R>,
    m: ringcap_pcap::RecordMeta,
) -> anyhow::Result<()> {
    let iface = match c.pcap_linktype {
        Some(lt) if lt != m.linktype => bail!(
            "packet at byte offset {} has link type {} but the pcap output has {}; use --format pcapng",
            m.offset,
            m.linktype,
            lt
        ),
        Some(_) => 0,
        None => {
            let i = m.interface as usize;
            if c.map.len() <= i {
                c.map.resize(i + 1, None);
            }
            match c.map[i] {
                Some(id) => id,
                None => {
                    let info = &reader.interfaces()[i];
                    let snap = match info.snaplen {
                        0 => DEFAULT_SNAPLEN,
                        s => s.min(ringcap_pcap::MAX_RECORD),
                    };
                    let id = c.w.add_interface(&Interface {
                        name: info.name.clone(),
                        linktype: info.linktype,
                        snaplen: snap.max(m.caplen),
                    })?;
                    c.map[i] = Some(id);
                    id
                }
            }
        }
    };
    if let Err(e) =
        c.w.write_packet_on(iface, m.ts_ns, m.orig_len, &[reader.data()])
    {
        bail!(
            "writing the -w file: {e} ({} packets written, {} not written)",
            c.w.packets_written(),
            c.w.packets_not_written()
        );
    }
    Ok(())
}

/// `2026-11-26 23:40:00.123456789` (UTC) or `1795736400.123456789`.
fn format_time(out: &mut String, ts_ns: u64, epoch: bool) {
    use std::fmt::Write;
    let secs = ts_ns / 1_000_000_000;
    let ns = ts_ns % 1_000_000_000;
    if epoch {
        let _ = write!(out, "{secs}.{ns:09} ");
        return;
    }
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{ns:09} ",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
}

/// Year, month, day of a day count since 1970-01-01 (the proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// Appends `len N` and a short decode of the packet's headers.
pub fn summarize(out: &mut String, lt: u32, data: &[u8], orig_len: u32) {
    use std::fmt::Write;
    let _ = write!(out, "len {orig_len}");
    if (data.len() as u32) < orig_len {
        let _ = write!(out, " (cap {})", data.len());
    }
    out.push(' ');
    match lt {
        linktype::ETHERNET => ethernet(out, data),
        linktype::LINUX_SLL => {
            if data.len() < 16 {
                return truncated(out, "SLL");
            }
            let dir = pkttype(u16::from_be_bytes([data[0], data[1]]) as u8);
            let _ = write!(out, "SLL {dir} ");
            ethertype(out, u16::from_be_bytes([data[14], data[15]]), &data[16..]);
        }
        linktype::LINUX_SLL2 => {
            if data.len() < 20 {
                return truncated(out, "SLL2");
            }
            let ifindex = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            let _ = write!(out, "SLL2 ifindex {ifindex} {} ", pkttype(data[10]));
            ethertype(out, u16::from_be_bytes([data[0], data[1]]), &data[20..]);
        }
        linktype::RAW => match data.first().map(|b| b >> 4) {
            Some(4) => ipv4(out, data),
            Some(6) => ipv6(out, data),
            _ => out.push_str("raw IP, unknown version"),
        },
        linktype::IPV4 => ipv4(out, data),
        linktype::IPV6 => ipv6(out, data),
        linktype::NULL => {
            if data.len() < 4 {
                return truncated(out, "NULL");
            }
            let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            let fam = if le < 256 { le } else { be };
            match fam {
                2 => ipv4(out, &data[4..]),
                24 | 28 | 30 | 10 => ipv6(out, &data[4..]),
                f => {
                    let _ = write!(out, "loopback, address family {f}");
                }
            }
        }
        other => {
            let _ = write!(out, "link type {other}");
        }
    }
}

fn truncated(out: &mut String, what: &str) {
    out.push_str(what);
    out.push_str(" [truncated]");
}

fn pkttype(t: u8) -> &'static str {
    match t {
        0 => "In",
        1 => "B",
        2 => "M",
        3 => "P",
        4 => "Out",
        _ => "?",
    }
}

fn mac(out: &mut String, m: &[u8]) {
    use std::fmt::Write;
    for (i, b) in m.iter().enumerate() {
        let _ = write!(out, "{}{b:02x}", if i > 0 { ":" } else { "" });
    }
}

fn ethernet(out: &mut String, d: &[u8]) {
    use std::fmt::Write;
    if d.len() < 14 {
        return truncated(out, "Ethernet");
    }
    mac(out, &d[6..12]);
    out.push_str(" > ");
    mac(out, &d[0..6]);
    let mut et = u16::from_be_bytes([d[12], d[13]]);
    let mut p = 14;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        if d.len() < p + 4 {
            return truncated(out, ", vlan");
        }
        let tci = u16::from_be_bytes([d[p], d[p + 1]]);
        let q = if et == 0x8100 { "vlan" } else { "qinq" };
        let _ = write!(out, ", {q} {} p {}", tci & 0xfff, tci >> 13);
        et = u16::from_be_bytes([d[p + 2], d[p + 3]]);
        p += 4;
    }
    out.push_str(", ");
    ethertype(out, et, &d[p..]);
}

fn ethertype(out: &mut String, et: u16, d: &[u8]) {
    use std::fmt::Write;
    match et {
        0x0800 => ipv4(out, d),
        0x86dd => ipv6(out, d),
        0x0806 => arp(out, d),
        _ => {
            let _ = write!(out, "ethertype 0x{et:04x}");
        }
    }
}

fn arp(out: &mut String, d: &[u8]) {
    use std::fmt::Write;
    if d.len() < 28 || d[4] != 6 || d[5] != 4 {
        return truncated(out, "ARP");
    }
    let op = u16::from_be_bytes([d[6], d[7]]);
    let spa = Ipv4Addr::new(d[14], d[15], d[16], d[17]);
    let tpa = Ipv4Addr::new(d[24], d[25], d[26], d[27]);
    match op {
        1 => {
            let _ = write!(out, "ARP who-has {tpa} tell {spa}");
        }
        2 => {
            let _ = write!(out, "ARP reply {spa} is-at ");
            mac(out, &d[8..14]);
        }
        _ => {
            let _ = write!(out, "ARP op {op}");
        }
    }
}

fn ipv4(out: &mut String, d: &[u8]) {
    use std::fmt::Write;
    if d.len() < 20 || d[0] >> 4 != 4 {
        return truncated(out, "IPv4");
    }
    let ihl = ((d[0] & 0xf) as usize) * 4;
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    let frag = u16::from_be_bytes([d[6], d[7]]) & 0x1fff;
    let proto = d[9];
    let total = u16::from_be_bytes([d[2], d[3]]) as usize;
    if ihl < 20 || d.len() < ihl {
        let _ = write!(out, "IPv4 {src} > {dst} [bad header length]");
        return;
    }
    let end = total.clamp(ihl, d.len());
    let l4 = &d[ihl..end];
    if frag != 0 {
        let _ = write!(
            out,
            "IPv4 {src} > {dst}: proto {proto} fragment offset {}",
            frag * 8
        );
        return;
    }
    out.push_str("IPv4 ");
    transport(out, proto, &src.to_string(), &dst.to_string(), l4, false);
}

fn ipv6(out: &mut String, d: &[u8]) {
    use std::fmt::Write;
    if d.len() < 40 || d[0] >> 4 != 6 {
        return truncated(out, "IPv6");
    }
    let a = |o: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[o..o + 16]);
        Ipv6Addr::from(b)
    };
    let (src, dst) = (a(8), a(24));
    let mut next = d[6];
    let mut p = 40;
    // Hop-by-hop, routing, destination options: skip; fragment: stop.
    while matches!(next, 0 | 43 | 60 | 44) {
        if d.len() < p + 8 {
            let _ = write!(out, "IPv6 {src} > {dst} [truncated]");
            return;
        }
        if next == 44 {
            let _ = write!(out, "IPv6 {src} > {dst}: fragment");
            return;
        }
        let len = (d[p + 1] as usize + 1) * 8;
        next = d[p];
        p += len;
    }
    out.push_str("IPv6 ");
    let l4 = d.get(p..).unwrap_or(&[]);
    transport(out, next, &src.to_string(), &dst.to_string(), l4, true);
}

fn transport(out: &mut String, proto: u8, src: &str, dst: &str, d: &[u8], v6: bool) {
    use std::fmt::Write;
    let port = |o: usize| u16::from_be_bytes([d[o], d[o + 1]]);
    match proto {
        6 if d.len() >= 20 => {
            let flags = d[13];
            let mut f = String::new();
            for (bit, c) in [
                (0x02, 'S'),
                (0x01, 'F'),
                (0x04, 'R'),
                (0x08, 'P'),
                (0x20, 'U'),
                (0x10, '.'),
            ] {
                if flags & bit != 0 {
                    f.push(c);
                }
            }
            if f.is_empty() {
                f.push_str("none");
            }
            let seq = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
            let ack = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
            let win = port(14);
            let off = ((d[12] >> 4) as usize * 4).min(d.len());
            let _ = write!(
                out,
                "{src}.{} > {dst}.{}: TCP [{f}] seq {seq}",
                port(0),
                port(2)
            );
            if flags & 0x10 != 0 {
                let _ = write!(out, " ack {ack}");
            }
            let _ = write!(out, " win {win} len {}", d.len() - off);
        }
        17 if d.len() >= 8 => {
            let len = port(4).saturating_sub(8);
            let _ = write!(out, "{src}.{} > {dst}.{}: UDP len {len}", port(0), port(2));
        }
        1 if !v6 && d.len() >= 4 => {
            let what = match (d[0], d[1]) {
                (8, 0) => "echo request".to_string(),
                (0, 0) => "echo reply".to_string(),
                (3, c) => format!("unreachable code {c}"),
                (11, c) => format!("time exceeded code {c}"),
                (t, c) => format!("type {t} code {c}"),
            };
            let _ = write!(out, "{src} > {dst}: ICMP {what}");
            if matches!(d[0], 0 | 8) && d.len() >= 8 {
                let _ = write!(out, " id {} seq {}", port(4), port(6));
            }
        }
        58 if v6 && d.len() >= 4 => {
            let what = match (d[0], d[1]) {
                (128, _) => "echo request".to_string(),
                (129, _) => "echo reply".to_string(),
                (133, _) => "router solicitation".to_string(),
                (134, _) => "router advertisement".to_string(),
                (135, _) => "neighbor solicitation".to_string(),
                (136, _) => "neighbor advertisement".to_string(),
                (1, c) => format!("unreachable code {c}"),
                (t, c) => format!("type {t} code {c}"),
            };
            let _ = write!(out, "{src} > {dst}: ICMPv6 {what}");
            if matches!(d[0], 135 | 136) && d.len() >= 24 {
                let mut b = [0u8; 16];
                b.copy_from_slice(&d[8..24]);
                let _ = write!(out, " {}", Ipv6Addr::from(b));
            }
        }
        6 | 17 | 1 | 58 => {
            let _ = write!(out, "{src} > {dst}: proto {proto} [truncated]");
        }
        p => {
            let _ = write!(out, "{src} > {dst}: proto {p}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let mut s = String::new();
        format_time(&mut s, 0, false);
        assert_eq!(s, "1970-01-01 00:00:00.000000000 ");
        s.clear();
        format_time(&mut s, 951_782_400_000_000_001, false);
        assert_eq!(s, "2000-02-29 00:00:00.000000001 ");
        s.clear();
        format_time(&mut s, 15_000_000_005, true);
        assert_eq!(s, "15.000000005 ");
    }

    #[test]
    fn decode_udp_in_vlan() {
        let f = ringcap_netlab::udp_frame(7, 3, 100);
        let f = ringcap_netlab::with_vlan(&f, 0x8100, 0x2005);
        let mut s = String::new();
        summarize(&mut s, linktype::ETHERNET, &f, f.len() as u32);
        assert!(s.contains("vlan 5 p 1"), "{s}");
        assert!(
            s.contains("IPv4 10.0.0.3.10003 > 10.1.0.1.9: UDP len 58"),
            "{s}"
        );
        // Every prefix decodes without a panic.
        for n in 0..f.len() {
            let mut s = String::new();
            summarize(&mut s, linktype::ETHERNET, &f[..n], f.len() as u32);
        }
    }
}
