//! tcpdump's filter language (pcap-filter(7)) compiled to classic BPF in pure Rust, and a cBPF
//! interpreter to run the programs in user space.
//!
//! **Owns:** the language (lexer, parser, the typed syntax tree in [`ast`]), the code
//! generator that gives libpcap 1.10's verdicts (per link type, for files or a live Linux
//! socket), the optimizer and emitter, the `tcpdump -d/-dd/-ddd` printers, and the interpreter.
//!
//! **Must not depend on:** sockets, files, the resolver or anything else of the host: it is pure
//! code over bytes and strings. Name tables the language needs (services for `port http`, IP
//! protocols for `proto gre`) are passed in by the caller ([`Services`], [`Protocols`]); the
//! program depends only on its inputs.
//!
//! Pipeline: [`lexer`] → [`parse()`] (tokens to the [`ast`], with spans) → `codegen` (the
//! tree to a condition tree of self-contained tests, per link type and target) → `opt` (flow
//! graph, optimizer, emission) → [`Program`], run by the interpreter in `vm` or attached to a
//! socket by the engine.

#![forbid(unsafe_code)]

pub mod ast;
pub mod bpf;
mod codegen;
mod cond;
mod dump;
pub mod ebpf;
pub mod lexer;
mod names;
mod opt;
mod parse;
mod vm;

pub use ast::Span;
pub use names::{Protocols, Services};
pub use opt::CHAIN_STEPS;
pub use parse::{parse, MAX_NESTING};

/// Link-layer header types (DLT/LINKTYPE values as in pcap files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Null,
    Ethernet,
    Raw,
    LinuxSll,
    LinuxSll2,
    Ipv4,
    Ipv6,
}

impl LinkType {
    /// From a LINKTYPE_ value as stored in pcap/pcapng files.
    pub fn from_linktype(v: u32) -> Option<LinkType> {
        Some(match v {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            101 => LinkType::Raw,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            _ => return None,
        })
    }
}

/// Where the program runs: on bytes as stored in files, or attached to a live Linux socket
/// (VLAN tags and direction come from the kernel's ancillary loads there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    File,
    LinuxLive,
}

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// A compiled program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub insns: Vec<Insn>,
}

/// Metadata the Linux kernel offers to ancillary loads (used when running LinuxLive programs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Aux {
    pub vlan_tci: Option<u16>,
    pub vlan_tpid: u16,
    pub pkttype: u8,
}

impl Program {
    /// Runs the program over a packet; the return value is the number of bytes to keep
    /// (0 = reject). `wirelen` is the original length (BPF_LEN).
    pub fn run(&self, pkt: &[u8], wirelen: u32, aux: &Aux) -> u32 {
        vm::run(&self.insns, pkt, wirelen, aux)
    }

    pub fn matches(&self, pkt: &[u8], wirelen: u32) -> bool {
        self.run(pkt, wirelen, &Aux::default()) != 0
    }

    /// `tcpdump -d`: one instruction per line, as libpcap's bpf_image prints it.
    pub fn dump_d(&self) -> String {
        dump::dump_d(&self.insns)
    }

    /// `tcpdump -dd`: a C array of `struct bpf_insn`.
    pub fn dump_dd(&self) -> String {
        dump::dump_dd(&self.insns)
    }

    /// `tcpdump -ddd`: the count, then `code jt jf k` in decimal per line.
    pub fn dump_ddd(&self) -> String {
        dump::dump_ddd(&self.insns)
    }

    /// Parses `tcpdump -ddd` output (used to run libpcap's own programs in tests).
    pub fn from_ddd(text: &str) -> Option<Program> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let n: usize = lines.next()?.trim().parse().ok()?;
        let mut insns = Vec::with_capacity(n);
        for l in lines.take(n) {
            let v: Vec<u64> = l
                .split_whitespace()
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?;
            if v.len() != 4 {
                return None;
            }
            insns.push(Insn {
                code: v[0] as u16,
                jt: v[1] as u8,
                jf: v[2] as u8,
                k: v[3] as u32,
            });
        }
        (insns.len() == n).then_some(Program { insns })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
    /// Byte offset in the expression where the problem is, when known.
    pub offset: Option<usize>,
}

impl CompileError {
    /// The message, then the expression with a caret under the offending place (when known).
    /// An expression too long to show on a line gets the message and the offset, on one line.
    pub fn render(&self, expr: &str) -> String {
        match self.offset {
            Some(off) if expr.len() > 200 => format!("{} (at byte {off})", self.message),
            Some(off) => {
                let col = expr
                    .get(..off.min(expr.len()))
                    .map_or(0, |p| p.chars().count());
                format!("{}\n  {}\n  {}^", self.message, expr, " ".repeat(col))
            }
            None => self.message.clone(),
        }
    }
}

impl LinkType {
    /// From a name as tcpdump's `-y` takes it (EN10MB, LINUX_SLL, ...), case-insensitive.
    pub fn from_name(name: &str) -> Option<LinkType> {
        Some(match name.to_ascii_uppercase().as_str() {
            "EN10MB" | "ETHERNET" | "ETHER" => LinkType::Ethernet,
            "NULL" | "LOOP" => LinkType::Null,
            "RAW" => LinkType::Raw,
            "LINUX_SLL" | "SLL" => LinkType::LinuxSll,
            "LINUX_SLL2" | "SLL2" => LinkType::LinuxSll2,
            "IPV4" => LinkType::Ipv4,
            "IPV6" => LinkType::Ipv6,
            _ => return None,
        })
    }
}

/// What a program is compiled for.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub link: LinkType,
    /// What accepted packets return: the number of bytes to keep.
    pub snaplen: u32,
    pub target: Target,
    /// Run the optimizer (`tcpdump -O` turns it off).
    pub optimize: bool,
    /// Service names for `port NAME` and `portrange A-B`.
    pub services: &'a Services,
    /// IP protocol names for `proto NAME` and `protochain NAME`.
    pub protocols: &'a Protocols,
}

impl<'a> Options<'a> {
    /// For capture files of `link`: snaplen 262144, optimized, the [`Protocols::well_known`]
    /// protocol names (set `protocols` to the host's table to compile as the host's tcpdump).
    pub fn new(link: LinkType, services: &'a Services) -> Options<'a> {
        static WELL_KNOWN: std::sync::OnceLock<Protocols> = std::sync::OnceLock::new();
        Options {
            link,
            snaplen: 262144,
            target: Target::File,
            optimize: true,
            services,
            protocols: WELL_KNOWN.get_or_init(Protocols::well_known),
        }
    }
}

/// Compiles `expr`; accepted packets return `opts.snaplen`.
pub fn compile(expr: &str, opts: &Options) -> Result<Program, CompileError> {
    let Some(tree) = parse(expr)? else {
        // an empty expression accepts every packet
        return Ok(Program {
            insns: vec![Insn {
                code: bpf::RET | bpf::K,
                jt: 0,
                jf: 0,
                k: opts.snaplen,
            }],
        });
    };
    let cond = codegen::generate(&tree, opts)?;
    let optimizer = if !opts.optimize {
        opt::Optimizer::None
    } else if codegen::uses_protochain(&tree) {
        // libpcap leaves an expression with protochain unoptimized (its walk is a loop)
        opt::Optimizer::KeepLoads
    } else {
        opt::Optimizer::Libpcap
    };
    let insns = match opt::compile_cond(&cond, opts.snaplen, optimizer) {
        // ringcap's own optimizer may lay the unrolled walks out with a conditional jump past
        // 255 instructions where the blocks as generated fit (found by the random test:
        // `protochain \ah and 0x100` on raw IPv6); it keeps the unoptimized verdicts, so the
        // unoptimized program is as good an answer as libpcap's (which is unoptimized here)
        Err(e) if optimizer == opt::Optimizer::KeepLoads => {
            opt::compile_cond(&cond, opts.snaplen, opt::Optimizer::None).map_err(|_| e)?
        }
        r => r?,
    };
    Ok(Program { insns })
}
