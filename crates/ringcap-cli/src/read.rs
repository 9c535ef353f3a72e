//! `ringcap read`: print, count, filter or copy the packets of a pcap or pcapng file.
//!
//! One line per packet: the time (UTC, or seconds since the epoch with `--epoch`), the length
//! on the wire, and a short decode of the headers. A damaged file gives every whole packet
//! before the damage, then one error line with the byte offset, and exit status 1.

mod line;

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use anyhow::{bail, Context};
use line::summarize;
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
        let p = ringcap_filter::compile(&self.expr, link, snap, Target::File, true)
            .map_err(|e| anyhow::anyhow!("filter {:?}: {e}", self.expr))?;
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
}
