//! `ringcap merge`: join capture files into one, in timestamp order (like mergecap).
//!
//! Streaming: one packet per input is held at a time, so files of any size merge in a few
//! megabytes of memory. pcap output needs one link type across the inputs; pcapng output keeps
//! each input interface as an interface of its own.

use std::fs::File;

use anyhow::{bail, Context};
use ringcap_pcap::{merge, FileKind, Format, MergeError, Precision};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  ringcap merge -w all.pcap out.0.pcap out.1.pcap
  ringcap merge -w all.pcapng --format pcapng eth0.pcap sll.pcap")]
pub struct Args {
    /// Output file (`-` for standard output).
    #[arg(short = 'w', value_name = "FILE")]
    pub write: String,
    /// Output format: pcap or pcapng (default: pcap, or pcapng when an input is pcapng).
    #[arg(long)]
    pub format: Option<Format>,
    /// Timestamp precision of pcap output: nano or micro.
    #[arg(long, default_value = "nano")]
    pub time_precision: Precision,
    /// Input files (pcap or pcapng, compressed with zstd or gzip or not).
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let mut readers = Vec::with_capacity(args.inputs.len());
    for path in &args.inputs {
        if path == &args.write {
            bail!("the output {path} is also an input");
        }
        readers.push(ringcap_pcap::open(path)?);
    }
    let format = args.format.unwrap_or_else(|| {
        if readers.iter().any(|r| r.kind() == FileKind::Pcapng) {
            Format::Pcapng
        } else {
            Format::Pcap
        }
    });
    let result = if args.write == "-" {
        merge(
            &mut readers,
            &mut std::io::stdout(),
            format,
            args.time_precision,
        )
    } else {
        let mut out =
            File::create(&args.write).with_context(|| format!("creating {}", args.write))?;
        merge(&mut readers, &mut out, format, args.time_precision)
    };
    match result {
        Ok(s) => {
            eprintln!(
                "ringcap: merged {} packets from {} files into {} ({format}, {} interface{})",
                s.packets,
                args.inputs.len(),
                args.write,
                s.interfaces,
                if s.interfaces == 1 { "" } else { "s" }
            );
            Ok(0)
        }
        Err(MergeError::Read { input, source }) => {
            Err(source).with_context(|| format!("reading {}", args.inputs[input]))
        }
        Err(e) => {
            if matches!(e, MergeError::LinkTypeMix(_)) && args.write != "-" {
                // Nothing was written: leave no empty file behind.
                let _ = std::fs::remove_file(&args.write);
            }
            Err(e).with_context(|| format!("writing {}", args.write))
        }
    }
}
