//! tcpdump's filter language (pcap-filter(7)) compiled to classic BPF in pure Rust, and a cBPF
//! interpreter to run the programs in user space. No sockets: pure code over bytes.
//!
//! Pipeline: [`lexer`] → parser and code generator (`gen`, producing a condition tree of
//! self-contained tests) → flow graph, optimizer and emission (`opt`) → [`Program`], run by the
//! interpreter in `vm` or attached to a socket by the engine.

#![forbid(unsafe_code)]

pub mod bpf;
mod dump;
pub mod ebpf;
mod gen;
pub mod lexer;
mod names;
mod opt;
mod vm;

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
    pub fn render(&self, expr: &str) -> String {
        match self.offset {
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

/// Compiles `expr` for `link`; accepted packets return `snaplen`.
pub fn compile(
    expr: &str,
    link: LinkType,
    snaplen: u32,
    target: Target,
    optimize: bool,
) -> Result<Program, CompileError> {
    let cond = gen::parse(expr, link, target)?;
    let insns = opt::compile_cond(&cond, snaplen, optimize)?;
    if optimize && insns.len() == 1 && insns[0].k == 0 && !cond.has_chain() {
        // as libpcap: an optimized program that can only reject is a mistake worth reporting
        // (libpcap leaves expressions with protochain unoptimized, so it never says it there)
        return Err(CompileError {
            message: "expression rejects all packets".into(),
            offset: None,
        });
    }
    Ok(Program { insns })
}
