//! tcpdump's filter language (pcap-filter(7)) compiled to classic BPF in pure Rust, and a cBPF
//! interpreter to run the programs in user space. No sockets: pure code over bytes.
//!
//! (API skeleton: the filter work fills it in; signatures are what the rest of ringcap uses.)

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    pub fn run(&self, _pkt: &[u8], _wirelen: u32, _aux: &Aux) -> u32 {
        0
    }

    pub fn matches(&self, pkt: &[u8], wirelen: u32) -> bool {
        self.run(pkt, wirelen, &Aux::default()) != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
    /// Byte offset in the expression where the problem is, when known.
    pub offset: Option<usize>,
}

/// Compiles `expr` for `link`; accepted packets return `snaplen`.
pub fn compile(
    _expr: &str,
    _link: LinkType,
    _snaplen: u32,
    _target: Target,
    _optimize: bool,
) -> Result<Program, CompileError> {
    Err(CompileError {
        message: "filters are not implemented yet".into(),
        offset: None,
    })
}
