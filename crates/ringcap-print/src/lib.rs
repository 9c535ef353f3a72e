//! tcpdump's packet lines, written over the `ringcap-wire` header views.
//!
//! Owns: what a packet looks like as text — the line `ringcap read` prints and `ringcap
//! capture` prints live, field by field as tcpdump 4.99 prints it with `-n` (addresses and
//! ports as numbers; ringcap does no name lookups): timestamps in tcpdump's five formats, the
//! link level with `-e`, IPv4/IPv6 (extension headers, fragments), TCP (flags, relative
//! sequence numbers per connection, options), UDP, ICMP and ICMPv6 with their meanings, ARP,
//! VLAN/QinQ, MPLS, GRE and what it carries, 802.3/LLC/SNAP and STP, LLDP, the Linux cooked
//! and BSD loopback headers; `-v` (TTL, id, checksums), and `-x`/`-X`/`-A` dumps.
//!
//! Where the line differs from tcpdump's on purpose: application protocols above TCP and UDP
//! (DNS, HTTP, DHCP, NTP, …) are not decoded, so their packets end at `length N` where
//! tcpdump goes on; EtherTypes and IP protocols without a printer here (PPPoE, LACP, OSPF,
//! ESP, …) show as tcpdump shows a type it does not know (the header, then the payload in
//! hex); ICMP multi-part extensions, MSTP instances, LLDP's organisation-specific TLVs and
//! ICMPv6 node information / router renumbering bodies are not spelled out.
//!
//! A [`Printer`] keeps what a line needs from earlier packets (the first sequence numbers
//! of each TCP connection, in a bounded table; the previous timestamp for `-ttt`), and writes
//! each packet into a caller's `fmt::Write` buffer without allocating.
//!
//! Must not depend on: sockets, `libc`, the engine, or any ringcap crate but `ringcap-wire`.
#![forbid(unsafe_code)]

mod addr;
mod arp;
mod dump;
mod ether;
mod icmp;
mod icmp6;
mod ip;
mod ip6;
mod llc;
mod names;
mod tcp;
mod time;
mod tunnel;
mod udp;

use std::fmt;

pub use time::{Precision, TimeFormat};

/// What to print besides the one-line decode (tcpdump's flags in brackets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The link-level header: MAC addresses, EtherType, VLAN tags, frame length (`-e`).
    pub link_header: bool,
    /// More fields: TTL, id, checksum status, options (`-v`, `-vv`, …: the count).
    pub verbose: u8,
    /// The packet's bytes after the line (`-x`, `-xx`, `-X`, `-XX`, `-A`, `-AA`).
    pub dump: Dump,
    /// How the timestamp is shown (`-t` … `-ttttt`).
    pub time: TimeFormat,
    /// Wall-clock times in UTC instead of local time (`--utc`).
    pub utc: bool,
    /// TCP sequence numbers as on the wire, not relative to the connection's first (`-S`).
    pub absolute_seq: bool,
}

/// The bytes printed after a packet's line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dump {
    #[default]
    None,
    /// `-x`: hex, from the network layer; `-xx`: with the link-level header.
    Hex { link: bool },
    /// `-X`: hex and ASCII; `-XX`: with the link-level header.
    HexAscii { link: bool },
    /// `-A`: ASCII; `-AA`: with the link-level header.
    Ascii { link: bool },
}

/// One captured packet, as the printer needs it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// The pcap LINKTYPE_ value of its interface (1 Ethernet, 276 Linux SLL2, …).
    pub linktype: u32,
    /// The captured bytes (up to the snap length).
    pub data: &'a [u8],
    /// The length on the wire.
    pub wire_len: u32,
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// How many digits of the second the timestamp carries (the capture's own precision).
    pub precision: Precision,
}

/// Prints packets as tcpdump does, keeping the state lines depend on across packets.
pub struct Printer {
    opts: Options,
    tcp: tcp::SeqTable,
    clock: time::Clock,
    ifnames: Vec<(u32, String)>,
    /// The text of the packet being written by [`Printer::write_line`], reused.
    scratch: String,
}

impl Printer {
    pub fn new(opts: Options) -> Printer {
        Printer {
            opts,
            tcp: tcp::SeqTable::new(),
            clock: time::Clock::default(),
            ifnames: Vec::new(),
            scratch: String::with_capacity(256),
        }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Names for the interface indexes of Linux SLL2 headers (`-i any` captures), which
    /// tcpdump shows in front of each line; an index without a name shows as `?`.
    pub fn set_interface_names(&mut self, names: impl IntoIterator<Item = (u32, String)>) {
        self.ifnames = names.into_iter().collect();
    }

    /// Writes the packet's line (and its continuation and dump lines), ending in a newline.
    pub fn write<W: fmt::Write>(&mut self, out: &mut W, p: &Packet<'_>) -> fmt::Result {
        let mut out = Out::new(out);
        self.clock.write(&mut out, &self.opts, p.ts_ns, p.precision);
        let ll_len = {
            let mut cx = Cx {
                out: &mut out,
                o: &self.opts,
                tcp: &mut self.tcp,
                ifnames: &self.ifnames,
                ll_len: 0,
                ll_known: !matches!(p.linktype, names::LINKTYPE_ETHERNET),
                proto: "",
            };
            match link(&mut cx, p) {
                Ok(()) => cx.ll_len,
                Err(Trunc) => {
                    let proto = cx.proto;
                    cx.out.s(" [|");
                    cx.out.s(proto);
                    cx.out.s("]");
                    // Most of tcpdump's printers of these headers stop with `[|proto]` and
                    // return, so -x/-X/-A still start after the link-level header; its ARP
                    // printer instead jumps out, and the whole frame is dumped.
                    if proto == "arp" {
                        0
                    } else {
                        cx.ll_len
                    }
                }
            }
        };
        dump::after_line(&mut out, self.opts.dump, p.data, ll_len);
        out.s("\n");
        out.result()
    }

    /// The simple entry point (for `capture`'s live lines as for `read`): one packet's
    /// line(s) appended to `out`, through a text buffer the printer keeps, so a long run
    /// allocates only while the buffers grow.
    pub fn write_line(
        &mut self,
        out: &mut Vec<u8>,
        linktype: u32,
        ts_ns: u64,
        wire_len: u32,
        data: &[u8],
        precision: Precision,
    ) {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        let p = Packet {
            linktype,
            data,
            wire_len,
            ts_ns,
            precision,
        };
        // Writing into a String cannot fail.
        let _ = self.write(&mut s, &p);
        out.extend_from_slice(s.as_bytes());
        self.scratch = s;
    }

    /// [`Printer::write`] into a byte sink, through `scratch` (cleared first, kept for reuse
    /// so that a long run allocates only while it grows).
    pub fn write_bytes(
        &mut self,
        out: &mut Vec<u8>,
        scratch: &mut String,
        p: &Packet<'_>,
    ) -> fmt::Result {
        scratch.clear();
        self.write(scratch, p)?;
        out.extend_from_slice(scratch.as_bytes());
        Ok(())
    }
}

/// The link layer, by link type.
fn link(cx: &mut Cx<'_, '_>, p: &Packet<'_>) -> R {
    let (data, len) = (p.data, p.wire_len);
    if data.is_empty() || len == 0 || len < data.len() as u32 {
        // tcpdump's sanity checks on the record header.
        cx.out.s("[Invalid header:");
        if data.is_empty() {
            cx.out.s(" caplen==0");
        }
        if len == 0 {
            cx.out.s(if data.is_empty() {
                ", len==0"
            } else {
                " len==0"
            });
        } else if len < data.len() as u32 {
            pr!(cx, " len({len}) < caplen({})", data.len());
        }
        cx.out.s("]");
        return Ok(());
    }
    match p.linktype {
        names::LINKTYPE_ETHERNET => ether::ethernet(cx, data, len),
        names::LINKTYPE_NULL => ether::null(cx, data, len, false),
        names::LINKTYPE_LOOP => ether::null(cx, data, len, true),
        names::LINKTYPE_RAW | 12 | 14 => {
            if cx.o.link_header {
                cx.out.s("ip: ");
            }
            ip::ip_n(cx, data, len)
        }
        names::LINKTYPE_IPV4 => ip::ip(cx, data, len),
        names::LINKTYPE_IPV6 => ip6::ip6(cx, data, len),
        names::LINKTYPE_LINUX_SLL => ether::sll(cx, data, len),
        names::LINKTYPE_LINUX_SLL2 => ether::sll2(cx, data, len),
        other => {
            // tcpdump refuses to read such a file; a line per packet still says what it is.
            pr!(cx, "link type {other}, length {len}");
            dump::default_print(cx, data);
            Ok(())
        }
    }
}

/// The caller's writer, remembering whether a write failed (printers keep going and the
/// failure is returned once at the end).
pub(crate) struct Out<'w> {
    w: &'w mut dyn fmt::Write,
    failed: bool,
}

impl<'w> Out<'w> {
    pub(crate) fn new(w: &'w mut dyn fmt::Write) -> Out<'w> {
        Out { w, failed: false }
    }

    #[inline]
    pub(crate) fn s(&mut self, s: &str) {
        if self.w.write_str(s).is_err() {
            self.failed = true;
        }
    }

    #[inline]
    pub(crate) fn c(&mut self, c: char) {
        if self.w.write_char(c).is_err() {
            self.failed = true;
        }
    }

    #[inline]
    pub(crate) fn f(&mut self, a: fmt::Arguments<'_>) {
        if self.w.write_fmt(a).is_err() {
            self.failed = true;
        }
    }

    pub(crate) fn result(&self) -> fmt::Result {
        if self.failed {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.s(s);
        Ok(())
    }
}

/// Printing one packet: the output, the options, the TCP table, and what tcpdump's
/// `netdissect_options` tracks while it walks a packet.
pub(crate) struct Cx<'o, 'w> {
    pub(crate) out: &'o mut Out<'w>,
    pub(crate) o: &'o Options,
    pub(crate) tcp: &'o mut tcp::SeqTable,
    pub(crate) ifnames: &'o [(u32, String)],
    /// Length of the link-level header, where `-x`/`-X`/`-A` start without `-xx`.
    pub(crate) ll_len: usize,
    /// Whether `ll_len` is final: an Ethernet header sets it as soon as its tags are read,
    /// so a packet cut short further in still dumps from the network layer, as tcpdump.
    pub(crate) ll_known: bool,
    /// The protocol being printed, named in ` [|proto]` when the capture ends inside it.
    pub(crate) proto: &'static str,
}

impl Cx<'_, '_> {
    pub(crate) fn v(&self) -> u8 {
        self.o.verbose
    }

    pub(crate) fn e(&self) -> bool {
        self.o.link_header
    }

    /// Whether `-x` or `-X` replaces tcpdump's default hex print of unknown payloads (`-A`
    /// does not: tcpdump prints both).
    pub(crate) fn suppress_default_print(&self) -> bool {
        matches!(self.o.dump, Dump::Hex { .. } | Dump::HexAscii { .. })
    }
}

/// The capture ended inside a header: tcpdump's `[|proto]`.
#[derive(Debug)]
pub(crate) struct Trunc;

pub(crate) type R = Result<(), Trunc>;

/// `write!` into the packet's output, ignoring the result (kept in [`Out`]).
macro_rules! pr {
    ($cx:expr, $($arg:tt)*) => {
        $cx.out.f(format_args!($($arg)*))
    };
}
pub(crate) use pr;

/// `b[at]`, or the end of the capture.
#[inline]
pub(crate) fn u8_at(b: &[u8], at: usize) -> Result<u8, Trunc> {
    b.get(at).copied().ok_or(Trunc)
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Result<u16, Trunc> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(Trunc),
    }
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Result<u32, Trunc> {
    match b.get(at..at + 4) {
        Some(s) => Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(Trunc),
    }
}

/// `n` bytes at `at`, or the end of the capture.
#[inline]
pub(crate) fn bytes(b: &[u8], at: usize, n: usize) -> Result<&[u8], Trunc> {
    b.get(at..at.checked_add(n).ok_or(Trunc)?).ok_or(Trunc)
}
