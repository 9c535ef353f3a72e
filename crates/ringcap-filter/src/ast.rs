//! The typed syntax tree of a filter expression, as [`crate::parse`] returns it: what the
//! expression says, with the source span of every node, before anything is decided about link
//! types, offsets or instructions. Code generators (the cBPF one in this crate, the kernel-side
//! one for AF_XDP) start from here.
//!
//! The tree keeps libpcap's grammar where it differs from what one might guess:
//! - `and` and `or` have the same precedence and associate to the left, so a sequence of them is
//!   one [`ExprKind::Chain`], evaluated from left to right (`a or b and c` is `(a or b) and c`);
//! - a bare value after `and`/`or` takes the qualifiers of the term before it (`port 80 or 443`):
//!   the parser writes those qualifiers into the value's [`Qualified`] node and marks it `implied`;
//! - arithmetic operators are grouped as libpcap's grammar groups them (see [`ArithKind::Chain`]).

/// Byte offsets `start..end` of a node in the expression text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start, other.end.max(self.start))
    }
}

/// A boolean expression: a filter, or a part of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// Operands joined by `and`/`or`, combined from left to right:
    /// `((first op1 e1) op2 e2) ...`.
    Chain {
        first: Box<Expr>,
        rest: Vec<(BoolOp, Expr)>,
    },
    Not(Box<Expr>),
    /// A protocol on its own: `tcp`, `ip6`, `arp`, ...
    Protocol(Proto),
    /// `[proto] [dir] [kind] value`: `host`, `net`, `port`, `portrange`, `proto`, `protochain`
    /// and `gateway` primitives, and the values that inherit their qualifiers.
    Qualified(Qualified),
    /// `[proto] broadcast`
    Broadcast(Option<Proto>),
    /// `[proto] multicast`
    Multicast(Option<Proto>),
    /// `less N`: the packet's length is at most N.
    Less(u32),
    /// `greater N`: the packet's length is at least N.
    Greater(u32),
    Inbound,
    Outbound,
    /// `ifindex N`
    Ifindex(u32),
    /// `vlan [id]`: a VLAN tag (with that id). Moves the offsets of everything after it.
    Vlan(Option<u32>),
    /// `mpls [label]`: an MPLS label (with that value). Moves the offsets of everything after it.
    Mpls(Option<u32>),
    /// `byte N op V`: the byte at offset N of the link-layer header compared with V.
    Byte {
        offset: u32,
        op: ByteOp,
        value: u32,
    },
    /// `arith relop arith`
    Relation(Relation),
}

/// Protocol names (libpcap's `pname`): qualifiers, protocol tests and the headers of loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// `link`, `ether` (and libpcap's aliases `ppp`, `slip`, `fddi`, `tr`, `wlan`)
    Link,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
    Igmp,
    Igrp,
    Pim,
    Vrrp,
    Carp,
    Ah,
    Esp,
    /// Names libpcap knows whose tests ringcap does not generate (AppleTalk, DECnet, OSI,
    /// IPX, ...): parsed, refused by the code generator.
    Other(&'static str),
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Link => "link",
            Proto::Ip => "ip",
            Proto::Ip6 => "ip6",
            Proto::Arp => "arp",
            Proto::Rarp => "rarp",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
            Proto::Icmp => "icmp",
            Proto::Icmp6 => "icmp6",
            Proto::Igmp => "igmp",
            Proto::Igrp => "igrp",
            Proto::Pim => "pim",
            Proto::Vrrp => "vrrp",
            Proto::Carp => "carp",
            Proto::Ah => "ah",
            Proto::Esp => "esp",
            Proto::Other(s) => s,
        }
    }
}

/// Direction qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// None given: source or destination.
    Default,
    Src,
    Dst,
    /// `src or dst`
    SrcOrDst,
    /// `src and dst`
    SrcAndDst,
    /// An 802.11 address qualifier (`addr1`..`addr4`, `ra`, `ta`): parsed, refused by the code
    /// generator on the link types ringcap supports.
    Wlan(&'static str),
}

/// Address-kind qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrKind {
    /// None given (`src 10.0.0.1`): a host, or a network when the value is one.
    Default,
    Host,
    Net,
    Port,
    Portrange,
    Proto,
    Protochain,
    Gateway,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualified {
    /// The protocol qualifier, if one was given.
    pub proto: Option<Proto>,
    pub dir: Dir,
    pub kind: AddrKind,
    pub value: Value,
    /// Where the value is (the node's span covers the qualifiers too).
    pub value_span: Span,
    /// The value came after `and`/`or` alone and took the qualifiers of the term before it.
    pub implied: bool,
}

/// A value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Number(u32),
    /// Dotted IPv4 of 1 to 4 parts (`10`, `10.0`, `10.0.0.1`): the parts as a number, and 8
    /// bits per part.
    Ipv4 {
        addr: u32,
        bits: u32,
    },
    /// `a.b.c.d/len`
    Ipv4Prefix {
        addr: u32,
        bits: u32,
        len: u32,
    },
    /// `a.b.c.d mask m.m.m.m`
    Ipv4Mask {
        addr: u32,
        bits: u32,
        mask: u32,
        mask_bits: u32,
    },
    /// An IPv6 address with its prefix length (128 when none was given).
    Ipv6 {
        addr: [u8; 16],
        len: u32,
    },
    Mac([u8; 6]),
    /// A name: a service, a protocol, a port range (`20-22`, `ftp-data-ftp`), a host name.
    Name(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOp {
    Eq,
    Lt,
    Gt,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub op: RelOp,
    pub left: Arith,
    pub right: Arith,
}

/// An arithmetic expression (32-bit unsigned, wrapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arith {
    pub kind: ArithKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArithKind {
    Number(u32),
    /// `len`: the packet's length on the wire.
    Len,
    /// `proto[index]` or `proto[index:size]`; `size` as written (1 when absent).
    Load {
        proto: Proto,
        index: Box<Arith>,
        size: u32,
    },
    /// Operands combined from left to right: `((first op1 e1) op2 e2) ...`. Grouped as
    /// libpcap's grammar groups them: `|` lowest, then `&`, the shifts, `+ -`, `* /`, unary
    /// minus; `%` and `^` have no precedence there, so the parser always shifts them: their left
    /// operand is the single operand before them and their right operand everything up to the
    /// end of the arithmetic (`a * b % c + d` is `a * (b % (c + d))`).
    Chain {
        first: Box<Arith>,
        rest: Vec<(ArithOp, Arith)>,
    },
    Neg(Box<Arith>),
}
