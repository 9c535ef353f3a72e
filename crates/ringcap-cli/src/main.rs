//! `ringcap`: the command-line tool. Thin: parses flags, calls the libraries, prints, exits.
//!
//! Every subcommand lives in its own module with its `Args` (all of its flags, documented there)
//! and a `run` function. Errors reach `main` as one `anyhow` chain and are printed on one line.

#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser, Subcommand};

mod argv;
mod bench;
mod capture;
mod compile;
mod demo;
mod expr;
mod flows;
mod gen;
mod ifstat;
mod info;
mod inputs;
mod irq;
mod live;
mod merge;
mod metrics;
mod output;
mod read;
mod top;
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
    /// Live view: per-core rates, drops and ring fill, the top talkers, the interface.
    Top(top::Args),
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
    Flows(flows::Args),
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

/// The command line, with options that follow the filter expression moved before it (see
/// [`argv`]). Arguments that are not UTF-8 (a file name) are passed on untouched.
fn command_line(root: &clap::Command) -> Vec<std::ffi::OsString> {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let utf8: Option<Vec<String>> = raw.iter().map(|a| a.to_str().map(String::from)).collect();
    match utf8 {
        Some(words) => argv::reorder(root, words)
            .into_iter()
            .map(Into::into)
            .collect(),
        None => raw,
    }
}

fn main() {
    quiet_worker_panics();
    let mut root = Cli::command();
    root.build();
    let args = command_line(&root);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                std::process::exit(if e.use_stderr() { 2 } else { 0 });
            }
            let words: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let sub = words
                .get(1)
                .filter(|s| root.find_subcommand(s.as_str()).is_some())
                .map_or("ringcap".to_string(), |s| format!("ringcap {s}"));
            // One line, like every other error: what to type instead where ringcap knows it,
            // else clap's first line without its "error: " prefix.
            let line = argv::explain(&root, &words, &e).unwrap_or_else(|| {
                let text = e.render().to_string();
                let first = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid arguments");
                first.trim_start_matches("error: ").to_string()
            });
            eprintln!("ringcap: {line} (see {sub} --help)");
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        Command::Capture(a) => capture::run(a),
        Command::Top(a) => top::run(a),
        Command::Read(a) => read::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Gen(a) => gen::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Ifstat(a) => ifstat::run(a),
        Command::Irq(a) => irq::run(a),
        Command::Info(a) => info::run(a),
        Command::Flows(a) => flows::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("ringcap: {}", util::one_line(&e));
            // a filter the compiler refuses, or --metrics that cannot listen, is a bad
            // argument, like any other
            let bad_args = e.chain().any(|c| c.is::<ringcap_filter::CompileError>())
                || e.downcast_ref::<ringcap_metrics::BindError>().is_some();
            std::process::exit(if bad_args { 2 } else { 1 });
        }
    }
}
