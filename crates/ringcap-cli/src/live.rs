//! Live packet lines for `ringcap capture` without `-w`: one decoded line per packet, in time
//! order across the workers (through `ringcap-sink`'s ordered merge), with the formatter that
//! `ringcap read` uses.
//!
//! Output is written to standard output's descriptor through an own buffer: flushed after every
//! line on a terminal or with `-l`, otherwise whenever no further packet is ready (so a pipe
//! sees lines at once at low rates and in big writes under load).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::fd::AsFd;

use ringcap_sink::RecordConsumer;

pub struct LinePrinter {
    out: BufWriter<File>,
    line: String,
    line_buffered: bool,
    linktype: u32,
    lines: crate::read::Lines,
}

impl LinePrinter {
    /// A printer for packets of `linktype`, decoded as `decode` asks (tcpdump's -e -v -X…);
    /// `force_line_buffered` is `-l`.
    pub fn stdout(
        linktype: u32,
        force_line_buffered: bool,
        decode: &crate::read::DecodeArgs,
        precision: Option<ringcap_pcap::Precision>,
    ) -> anyhow::Result<LinePrinter> {
        let precision = precision.map(|p| match p {
            ringcap_pcap::Precision::Micro => crate::read::PrecisionArg::Micro,
            ringcap_pcap::Precision::Nano => crate::read::PrecisionArg::Nano,
        });
        let lines = crate::read::Lines::new(decode, precision)?;
        let stdout = io::stdout();
        let line_buffered = force_line_buffered || stdout.is_terminal();
        let f = File::from(stdout.as_fd().try_clone_to_owned()?);
        Ok(LinePrinter {
            out: BufWriter::with_capacity(64 << 10, f),
            line: String::with_capacity(256),
            line_buffered,
            linktype,
            lines,
        })
    }
}

impl RecordConsumer for LinePrinter {
    fn packet(&mut self, ts_ns: u64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        self.line.clear();
        self.lines
            .format_live(&mut self.line, self.linktype, ts_ns, orig_len, data);
        self.out.write_all(self.line.as_bytes())?;
        if self.line_buffered {
            self.out.flush()?;
        }
        Ok(())
    }

    fn idle(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
