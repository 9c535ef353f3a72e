//! `ringcap compile`: compiles a tcpdump filter expression to classic BPF and prints it in one
//! of tcpdump's three formats, so programs can be compared with libpcap's and used elsewhere.

use anyhow::bail;
use ringcap_filter::{compile, LinkType, Options, Program, Protocols, Services, Target};
use std::sync::OnceLock;

/// The service names for `port NAME`: the host's /etc/services, as tcpdump reads them, or the
/// filter crate's table of well-known ones when the host has none.
pub(crate) fn services() -> &'static Services {
    static S: OnceLock<Services> = OnceLock::new();
    S.get_or_init(|| match std::fs::read_to_string("/etc/services") {
        Ok(text) => Services::parse(&text),
        Err(_) => Services::well_known(),
    })
}

/// The IP protocol names for `proto NAME`: the host's /etc/protocols, as tcpdump reads them
/// (getprotobyname), or the filter crate's table of well-known ones when the host has none.
pub(crate) fn protocols() -> &'static Protocols {
    static P: OnceLock<Protocols> = OnceLock::new();
    P.get_or_init(|| match std::fs::read_to_string("/etc/protocols") {
        Ok(text) => Protocols::parse(&text),
        Err(_) => Protocols::well_known(),
    })
}

/// Compiles a filter with the host's service and protocol names (the one place the CLI calls
/// the compiler).
pub(crate) fn filter(
    expr: &str,
    link: LinkType,
    snaplen: u32,
    target: Target,
    optimize: bool,
) -> Result<Program, ringcap_filter::CompileError> {
    let opts = Options {
        snaplen,
        target,
        optimize,
        protocols: protocols(),
        ..Options::new(link, services())
    };
    compile(expr, &opts)
}

/// A refused filter as an error for `main`: one line, with the expression when it is short
/// enough to show, and the compiler's error kept inside (main exits 2 for it: a bad argument).
pub(crate) fn filter_error(expr: &str, e: ringcap_filter::CompileError) -> anyhow::Error {
    let what = match e.offset {
        _ if expr.chars().count() <= 80 => format!("filter {expr:?}"),
        Some(off) => format!("filter (at byte {off})"),
        None => "filter".to_string(),
    };
    anyhow::Error::new(e).context(what)
}

#[derive(clap::Args)]
pub struct Args {
    /// Print the program as C array entries (like tcpdump -dd); give -ddd for decimal numbers.
    #[arg(short = 'd', action = clap::ArgAction::Count)]
    dump: u8,
    /// Link-layer type the program is for: EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL.
    #[arg(long = "linktype", short = 'y', default_value = "EN10MB")]
    linktype: String,
    /// Snapshot length: the value accepted packets return.
    #[arg(short = 's', default_value_t = 262144)]
    snaplen: u32,
    /// Do not run the optimizer (like tcpdump -O).
    #[arg(short = 'O')]
    no_optimize: bool,
    /// Compile for a live Linux socket (VLAN and direction from kernel metadata).
    #[arg(long)]
    live: bool,
    /// Print the eBPF of `capture --mode xdp` (the filter inside ringcap's XDP program), one
    /// instruction per line with the classic instruction it comes from.
    #[arg(long, conflicts_with_all = ["live", "dump"])]
    ebpf: bool,
    /// The filter expression (pcap-filter(7)); several words are joined with spaces.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    expr: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let Some(link) = LinkType::from_name(&args.linktype) else {
        bail!(
            "unknown link type '{}' (EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL)",
            args.linktype
        );
    };
    let expr = args.expr.join(" ");
    let target = if args.live {
        Target::LinuxLive
    } else {
        Target::File
    };
    let snaplen = if args.snaplen == 0 {
        262144
    } else {
        args.snaplen
    };
    let prog = match filter(&expr, link, snaplen, target, !args.no_optimize) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ringcap: filter: {}", e.render(&expr));
            return Ok(2);
        }
    };
    if args.ebpf {
        match ringcap::xdp::listing(&prog) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("ringcap: filter: cannot run in the XDP program: {e}");
                return Ok(1);
            }
        }
        return Ok(0);
    }
    let text = match args.dump {
        0 | 1 => prog.dump_d(),
        2 => prog.dump_dd(),
        _ => prog.dump_ddd(),
    };
    print!("{text}");
    Ok(0)
}
