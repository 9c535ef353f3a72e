//! `ringcap read`: print, count, filter or copy the packets of pcap or pcapng files.
//!
//! One line per packet, as `tcpdump -nr` prints it (the printer is `ringcap-print`; the
//! decoder's flags are tcpdump's: `-e -v -x -X -A -t… -S -n`, see [`line`]). A damaged file
//! gives every whole packet before the damage, then one error line with the byte offset, and
//! exit status 1.
//!
//! Inputs (see `inputs`): a file, standard input, or a quoted glob of files read in time order;
//! zstd and gzip files are read as they are; `--since`/`--until` open only the files that
//! overlap the range. Lines stream: they are written whenever the input has no further whole
//! record ready (so `capture -w - | ringcap read -r -` shows packets as they come), after every
//! line on a terminal or with `-l`, and otherwise in big writes.

mod line;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use anyhow::{bail, Context};
pub(crate) use line::{DecodeArgs, Lines, PrecisionArg};
use ringcap_filter::{LinkType, Program, Target};
use ringcap_pcap::{
    linktype, FileKind, Format, Input, Interface, Merged, Precision, Reader, RecordMeta, Writer,
    WriterOptions, DEFAULT_SNAPLEN,
};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  ringcap read -r cap.pcap                       one line per packet, as tcpdump -nr
  ringcap read -r cap.pcap -e -v -X              link level, more fields, hex and ASCII
  ringcap read -r cap.pcap -tttt --utc           dates and times in UTC
  ringcap read -r cap.pcapng --count             only the number of packets
  ringcap read -r - < cap.pcap                   from standard input
  ringcap read -r cap.pcap.zst                   zstd or gzip files as they are
  ringcap read -r 'dir/*.pcap*' --since '2026-11-27 10:00' --until '2026-11-27 10:05'
                                                 the files that overlap the range, in time order
  ringcap read -r in.pcap -w out.pcap udp port 53   copy the packets a filter takes")]
pub struct Args {
    /// File to read (pcap or pcapng, compressed with zstd or gzip or not; `-` for standard
    /// input), or a quoted glob of files ('dir/*.pcap*'), read in time order.
    #[arg(short = 'r', value_name = "FILE")]
    pub file: String,
    /// Only packets at or after TIME (seconds since the epoch, 2026-11-27T10:00:00Z, or local
    /// 2026-11-27 10:00:00); files that end before it are not read.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only packets before TIME; files that start at or after it are not read.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Write each line at once (also when standard output is not a terminal).
    #[arg(short = 'l')]
    pub line_buffered: bool,
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
    #[command(flatten)]
    pub decode: line::DecodeArgs,
    /// Digits of the printed timestamps (default: the file's own: 6 for microseconds, 9 for
    /// nanoseconds).
    #[arg(long = "time-stamp-precision", value_name = "micro|nano")]
    pub precision: Option<line::PrecisionArg>,
    #[command(flatten)]
    pub filter: crate::expr::FilterArgs,
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

/// The `-w` copy: a writer and the output interface of each (input, input interface).
struct Copy {
    w: Writer<Box<dyn ringcap_pcap::Output>>,
    map: Vec<Vec<Option<u32>>>,
    pcap_linktype: Option<u32>,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let since = args
        .since
        .as_deref()
        .map(crate::inputs::parse_time)
        .transpose()
        .context("--since")?;
    let until = args
        .until
        .as_deref()
        .map(crate::inputs::parse_time)
        .transpose()
        .context("--until")?;
    let mut inputs = crate::inputs::open(&args.file, since, until)?;
    if since.is_some() || until.is_some() {
        eprintln!(
            "ringcap: {} of {} file{} overlap the time range",
            inputs.readers.len(),
            inputs.matched,
            if inputs.matched == 1 { "" } else { "s" }
        );
    }
    let mut filters = Filters {
        expr: args.filter.expression()?,
        progs: Vec::new(),
    };
    for r in &inputs.readers {
        if let (FileKind::Pcap { .. }, false) = (r.kind(), filters.expr.is_empty()) {
            // pcap: the link type is known now, so a bad expression fails before any output.
            let i = &r.interfaces()[0];
            filters.matches(i.linktype, i.snaplen, &[], 0)?;
        }
    }
    let names = inputs.names.clone();
    let mut merged = Merged::new(&mut inputs.readers);
    // The -w file opens at the first packet, when a pcapng input has declared its interfaces.
    let mut copy: Option<Copy> = None;
    let stdout = io::stdout();
    let line_buffered = args.line_buffered || stdout.is_terminal();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut n: u64 = 0;
    let mut line = String::with_capacity(256);
    let mut printer = line::Lines::new(&args.decode, args.precision)?;
    let result: anyhow::Result<()> = (|| {
        while !matches!(args.max, Some(m) if n >= m) {
            let Some((i, m)) = merged
                .next_record()
                .map_err(|(i, e)| anyhow::Error::new(e).context(format!("reading {}", names[i])))?
            else {
                break;
            };
            if since.is_some_and(|t| m.ts_ns < t) {
                continue;
            }
            if let Some(t) = until {
                if m.ts_ns >= t.saturating_add(crate::inputs::UNTIL_SLACK_NS) {
                    break;
                }
                if m.ts_ns >= t {
                    continue;
                }
            }
            let info = &merged.inputs()[i].interfaces()[m.interface as usize];
            if !filters.matches(m.linktype, info.snaplen, merged.data(), m.orig_len)? {
                continue;
            }
            n += 1;
            if let Some(path) = &args.write {
                if copy.is_none() {
                    copy = Some(open_copy(path, merged.inputs(), args.format)?);
                }
                if let Some(c) = &mut copy {
                    write_copy(c, merged.inputs(), i, m, merged.data())?;
                }
            } else if !args.count {
                line.clear();
                printer.format(&mut line, &merged.inputs()[i], m);
                let flush = line_buffered || !merged.inputs()[i].has_whole_record();
                let w = out.write_all(line.as_bytes()).and_then(|()| {
                    if flush {
                        out.flush()
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = w {
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
        copy = Some(open_copy(path, merged.inputs(), args.format)?);
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

fn open_copy(path: &str, inputs: &[Reader<Input>], format: Option<Format>) -> anyhow::Result<Copy> {
    let reader = &inputs[0];
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

fn write_copy(
    c: &mut Copy,
    inputs: &[Reader<Input>],
    input: usize,
    m: RecordMeta,
    data: &[u8],
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
            if c.map.len() <= input {
                c.map.resize(input + 1, Vec::new());
            }
            let map = &mut c.map[input];
            if map.len() <= i {
                map.resize(i + 1, None);
            }
            match map[i] {
                Some(id) => id,
                None => {
                    let info = &inputs[input].interfaces()[i];
                    let snap = match info.snaplen {
                        0 => DEFAULT_SNAPLEN,
                        s => s.min(ringcap_pcap::MAX_RECORD),
                    };
                    let id = c.w.add_interface(&Interface {
                        name: info.name.clone(),
                        linktype: info.linktype,
                        snaplen: snap.max(m.caplen),
                    })?;
                    c.map[input][i] = Some(id);
                    id
                }
            }
        }
    };
    if let Err(e) = c.w.write_packet_on(iface, m.ts_ns, m.orig_len, &[data]) {
        bail!(
            "writing the -w file: {e} ({} packets written, {} not written)",
            c.w.packets_written(),
            c.w.packets_not_written()
        );
    }
    Ok(())
}
