//! The decoder's flags (tcpdump's) and the line `ringcap read` prints for each packet,
//! through `ringcap_print`.

use std::io::Read;

use anyhow::bail;
use ringcap_pcap::{FileKind, Reader, RecordMeta};
use ringcap_print::{Dump, Options, Packet, Precision, Printer, TimeFormat};

/// How each packet is printed: tcpdump's flags, with tcpdump's meaning.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Decoding (as tcpdump)")]
pub struct DecodeArgs {
    /// Print the link-level header: MAC addresses, EtherType, VLAN tags, frame length.
    #[arg(short = 'e')]
    pub link: bool,
    /// More detail: TTL, IP id, flags and checksums (-vv for more).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Each packet's bytes in hex after its line (-xx: with the link-level header).
    #[arg(short = 'x', action = clap::ArgAction::Count)]
    pub hex: u8,
    /// Each packet's bytes in hex and ASCII (-XX: with the link-level header).
    #[arg(short = 'X', action = clap::ArgAction::Count)]
    pub hex_ascii: u8,
    /// Each packet's bytes in ASCII (-AA: with the link-level header).
    #[arg(short = 'A', action = clap::ArgAction::Count)]
    pub ascii: u8,
    /// Accepted for tcpdump's habit: ringcap never resolves names (addresses and ports are
    /// numbers, as tcpdump -nn prints them).
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    pub numeric: u8,
    /// Timestamps: -t none, -tt seconds since the epoch, -ttt since the previous packet,
    /// -tttt date and time, -ttttt since the first packet (default: local time of day).
    #[arg(short = 't', action = clap::ArgAction::Count)]
    pub time: u8,
    /// Dates and times in UTC instead of local time (the TZ variable or /etc/localtime).
    #[arg(long)]
    pub utc: bool,
    /// TCP sequence numbers as on the wire, not relative to each connection's first.
    #[arg(short = 'S', long = "absolute-tcp-sequence-numbers")]
    pub absolute_seq: bool,
    /// Same as -tt (kept for scripts written before -t existed).
    #[arg(long, hide = true)]
    pub epoch: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrecisionArg {
    Micro,
    Nano,
}

/// The printer and what it needs from the file: each interface's timestamp precision, and
/// the names of this machine's interfaces for SLL2 headers (read at the first one).
pub struct Lines {
    printer: Printer,
    precision: Option<Precision>,
    named: bool,
}

impl Lines {
    /// `precision`: the digits of the timestamps when given (else the file's own).
    pub fn new(a: &DecodeArgs, precision: Option<PrecisionArg>) -> anyhow::Result<Lines> {
        let time = if a.epoch && a.time == 0 { 2 } else { a.time };
        let Some(time) = TimeFormat::from_count(time) else {
            bail!("only -t, -tt, -ttt, -tttt and -ttttt are supported");
        };
        let dump = if a.hex_ascii > 0 {
            Dump::HexAscii {
                link: a.hex_ascii > 1,
            }
        } else if a.hex > 0 {
            Dump::Hex { link: a.hex > 1 }
        } else if a.ascii > 0 {
            Dump::Ascii { link: a.ascii > 1 }
        } else {
            Dump::None
        };
        let opts = Options {
            link_header: a.link,
            verbose: a.verbose,
            dump,
            time,
            utc: a.utc,
            absolute_seq: a.absolute_seq,
        };
        Ok(Lines {
            printer: Printer::new(opts),
            precision: precision.map(|p| match p {
                PrecisionArg::Micro => Precision::Micro,
                PrecisionArg::Nano => Precision::Nano,
            }),
            named: false,
        })
    }

    /// Appends the packet's line(s) to `out`.
    pub fn format<R: Read>(&mut self, out: &mut String, reader: &Reader<R>, m: RecordMeta) {
        if m.linktype == ringcap_pcap::linktype::LINUX_SLL2 && !self.named {
            self.printer.set_interface_names(interface_names());
            self.named = true;
        }
        let precision = self.precision.unwrap_or_else(|| file_precision(reader, m));
        let p = Packet {
            linktype: m.linktype,
            data: reader.data(),
            wire_len: m.orig_len,
            ts_ns: m.ts_ns,
            precision,
        };
        // Writing into a String cannot fail.
        let _ = self.printer.write(out, &p);
    }
}

impl Lines {
    /// Appends one live packet's line(s) to `out` (`capture` without `-w`): the precision is
    /// the one asked for, or tcpdump's microseconds.
    pub fn format_live(
        &mut self,
        out: &mut String,
        linktype: u32,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
    ) {
        if linktype == ringcap_pcap::linktype::LINUX_SLL2 && !self.named {
            self.printer.set_interface_names(interface_names());
            self.named = true;
        }
        let p = Packet {
            linktype,
            data,
            wire_len: orig_len,
            ts_ns,
            precision: self.precision.unwrap_or(Precision::Micro),
        };
        // Writing into a String cannot fail.
        let _ = self.printer.write(out, &p);
    }
}

/// The precision the capture recorded: nanosecond pcap, or a pcapng interface finer than
/// a microsecond, shows nine digits; anything else six.
fn file_precision<R: Read>(reader: &Reader<R>, m: RecordMeta) -> Precision {
    match reader.kind() {
        FileKind::Pcap { nano: true, .. } => Precision::Nano,
        FileKind::Pcap { nano: false, .. } => Precision::Micro,
        FileKind::Pcapng => {
            let r = reader.interfaces()[m.interface as usize].tsresol();
            let fine = match r.split_once("^-") {
                Some(("10", n)) => n.parse::<u32>().is_ok_and(|n| n > 6),
                // 2^-20 is finer than a microsecond.
                Some(("2", n)) => n.parse::<u32>().is_ok_and(|n| n > 19),
                _ => false,
            };
            if fine {
                Precision::Nano
            } else {
                Precision::Micro
            }
        }
    }
}

/// This machine's interfaces by index, as tcpdump names the interface of an SLL2 header.
fn interface_names() -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let idx = std::fs::read_to_string(e.path().join("ifindex")).ok()?;
            Some((idx.trim().parse().ok()?, name))
        })
        .collect()
}
