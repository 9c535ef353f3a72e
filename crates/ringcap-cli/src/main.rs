//! `ringcap`: the command-line tool. Thin: parses flags, calls the libraries, prints, exits.
//!
//! Every subcommand lives in its own module with its `Args` (all of its flags, documented there)
//! and a `run` function. Errors reach `main` as one `anyhow` chain and are printed on one line.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

mod bench;
mod capture;
mod compile;
mod demo;
mod gen;
mod ifstat;
mod info;
mod irq;
mod merge;
mod output;
mod read;
mod util;

/// Packet capture at millions of packets per second with the kernel's own interfaces
/// (AF_PACKET TPACKET_V3 rings with fanout, AF_XDP), pcap/pcapng output, tcpdump filters.
#[derive(Parser)]
#[command(name = "ringcap", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Capture packets from an interface on every core.
    Capture(capture::Args),
    /// Read a pcap or pcapng file: one line per packet, counts, filtering, copying.
    Read(read::Args),
    /// Merge capture files into one, ordered by timestamp (like mergecap).
    Merge(merge::Args),
    /// Compile a tcpdump filter expression to classic BPF and print it.
    Compile(compile::Args),
    /// Send traffic: templates (SYN flood, UDP, ICMP) or a capture file replayed.
    Gen(gen::Args),
    /// Measure every receive path on this machine in a private test network.
    Bench(bench::Args),
    /// Self-contained demo: builds a private test network, sends traffic, captures it.
    Demo(demo::Args),
    /// Per-second packet and bit rates of interfaces (and per-CPU softirq load).
    Ifstat(ifstat::Args),
    /// Show an interface's queue IRQs and their CPUs; spread them (or RPS) over CPUs.
    Irq(irq::Args),
    /// Facts about an interface that change what a capture sees, with advice.
    Info(info::Args),
}

/// A capture worker's panic is caught by the engine and reported in the summary and as one
/// error line naming the worker and the cause; the default hook would print its own lines
/// first (kept with RUST_BACKTRACE, for debugging).
fn quiet_worker_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let worker = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("ringcap-w"));
        if !worker || std::env::var_os("RUST_BACKTRACE").is_some() {
            default(info);
        }
    }));
}

fn main() {
    quiet_worker_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                std::process::exit(if e.use_stderr() { 2 } else { 0 });
            }
            // One line, like every other error: clap's first line without its "error: " prefix.
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.trim_start_matches("error: ");
            eprintln!("ringcap: {first} (see ringcap --help)");
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        Command::Capture(a) => capture::run(a),
        Command::Read(a) => read::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Gen(a) => gen::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Ifstat(a) => ifstat::run(a),
        Command::Irq(a) => irq::run(a),
        Command::Info(a) => info::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("ringcap: {}", util::one_line(&e));
            std::process::exit(1);
        }
    }
}
