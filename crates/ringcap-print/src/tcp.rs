//! TCP: `Flags [S.], seq 0, ack 1, win 65160, options [mss 1460,…], length 0`, with sequence
//! numbers relative to each connection's first (unless `-S`), as tcpdump keeps them.

use ringcap_wire::{checksum, ip_proto, TcpPacket};

use crate::ip::{shouldbe, Ip};
use crate::{be16, be32, pr, Cx, Trunc, R};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;

pub(crate) fn tcp(cx: &mut Cx<'_, '_>, b: &[u8], length: u32, ip: Ip<'_>, fragmented: bool) -> R {
    cx.proto = "tcp";
    if b.len() < 4 {
        ip.addrs(cx);
        cx.out.s(":");
        return Err(Trunc);
    }
    let (sport, dport) = (be16(b, 0)?, be16(b, 2)?);
    ip.ports(cx, ip_proto::TCP, sport, dport);
    if b.len() < 20 {
        return Err(Trunc);
    }
    let t = TcpPacket::new_unchecked(b);
    let hlen = u32::from(b[12] >> 4) * 4;
    if hlen < 20 {
        pr!(
            cx,
            " tcp {} [bad hdr length {hlen} - too short, < 20]",
            length.wrapping_sub(hlen)
        );
        return Ok(());
    }
    let (mut seq, mut ack) = (t.seq_number(), t.ack_number());
    let (win, urp) = (t.window_len(), t.urgent_at());
    let flags = b[13];
    cx.out.s("Flags [");
    let mut any = false;
    for (bit, c) in [
        (FIN, 'F'),
        (SYN, 'S'),
        (RST, 'R'),
        (0x08, 'P'),
        (ACK, '.'),
        (URG, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if flags & bit != 0 {
            cx.out.c(c);
            any = true;
        }
    }
    if !any {
        cx.out.s("none");
    }
    cx.out.s("]");
    let (mut thseq, mut thack, mut rev) = (0u32, 0u32, false);
    if !cx.o.absolute_seq && flags & ACK != 0 {
        let (key, r) = Key::new(&ip, sport, dport);
        rev = r;
        let e = cx.tcp.lookup(&key, flags & SYN != 0, || {
            if rev {
                (ack.wrapping_sub(1), seq)
            } else {
                (seq, ack.wrapping_sub(1))
            }
        });
        match e {
            Found::New(s, a) => (thseq, thack) = (s, a),
            Found::Old(s, a) => {
                (thseq, thack) = (s, a);
                if rev {
                    seq = seq.wrapping_sub(a);
                    ack = ack.wrapping_sub(s);
                } else {
                    seq = seq.wrapping_sub(s);
                    ack = ack.wrapping_sub(a);
                }
            }
        }
    }
    if hlen > length {
        pr!(cx, " [bad hdr length {hlen} - too long, > {length}]");
        return Ok(());
    }
    if cx.v() > 0 && !fragmented && b.len() >= length as usize {
        let seg = &b[..length as usize];
        let sum = checksum::finish(ip.pseudo(ip_proto::TCP, length) + checksum::sum(seg));
        let field = t.checksum();
        pr!(cx, ", cksum 0x{field:04x}");
        if sum != 0 {
            pr!(cx, " (incorrect -> 0x{:04x})", shouldbe(field, sum));
        } else {
            cx.out.s(" (correct)");
        }
    }
    let length = length - hlen;
    if cx.v() > 1 || length > 0 || flags & (SYN | FIN | RST) != 0 {
        pr!(cx, ", seq {seq}");
        if length > 0 {
            pr!(cx, ":{}", seq.wrapping_add(length));
        }
    }
    if flags & ACK != 0 {
        pr!(cx, ", ack {ack}");
    }
    pr!(cx, ", win {win}");
    if flags & URG != 0 {
        pr!(cx, ", urg {urp}");
    }
    if hlen > 20 {
        cx.out.s(", options [");
        match options(cx, b, hlen as usize, rev, thseq, thack)? {
            Opts::Done => cx.out.s("]"),
            Opts::Stopped => return Ok(()),
        }
    }
    pr!(cx, ", length {length}");
    if length == 0 {
        return Ok(());
    }
    if b.len() < hlen as usize {
        pr!(
            cx,
            " [remaining caplen({}) < header length({hlen})]",
            b.len()
        );
        return Err(Trunc);
    }
    if flags & RST != 0 && cx.v() > 0 {
        let data = &b[hlen as usize..];
        cx.out.s(if data.len() >= length as usize {
            " [RST"
        } else {
            " [!RST"
        });
        let mut n = length as usize;
        if n > 30 {
            n = 30;
            cx.out.s("+");
        }
        cx.out.s(" ");
        crate::llc::printjnp_all(cx, &data[..n.min(data.len())]);
        cx.out.s("]");
    }
    Ok(())
}

enum Opts {
    /// All options printed; the caller closes the bracket.
    Done,
    /// A bad or cut option ended the line.
    Stopped,
}

/// Why the options end before the header does.
enum Stop {
    /// An option longer than what is left of the header: `[bad opt]`.
    Bad,
    /// An option cut off by the snap length: ` [|tcp]`.
    Cut,
}

/// How reading an option's data ends early: a [`Stop`], or the capture ending inside a
/// field it reads.
enum Halt {
    Stop(Stop),
    Trunc,
}

impl From<Stop> for Halt {
    fn from(s: Stop) -> Halt {
        Halt::Stop(s)
    }
}

impl From<Trunc> for Halt {
    fn from(_: Trunc) -> Halt {
        Halt::Trunc
    }
}

/// Bytes `l` of option data at `at` must be inside the header (`left` bytes of it) and
/// captured.
fn check(b: &[u8], left: usize, at: usize, l: usize) -> Result<(), Stop> {
    if l > left {
        Err(Stop::Bad)
    } else if at + l > b.len() {
        Err(Stop::Cut)
    } else {
        Ok(())
    }
}

/// Ends the options' line early, closing what tcpdump closes.
fn stop(cx: &mut Cx<'_, '_>, s: Stop, sep: bool) -> Result<Opts, Trunc> {
    match s {
        Stop::Bad => {
            cx.out.s("[bad opt]");
            if sep {
                cx.out.s("]");
            }
        }
        Stop::Cut => {
            cx.out.s(" [|tcp]");
            if sep {
                cx.out.s(">");
            }
        }
    }
    Ok(Opts::Stopped)
}

/// The options between byte 20 and the header length.
fn options(
    cx: &mut Cx<'_, '_>,
    b: &[u8],
    hlen: usize,
    rev: bool,
    thseq: u32,
    thack: u32,
) -> Result<Opts, Trunc> {
    let mut left = hlen - 20;
    let mut at = 20usize;
    let mut sep = false;
    // SACK blocks are shown relative to the sequence numbers of the other direction.
    let sack_base = if rev { thseq } else { thack };
    while left > 0 {
        if sep {
            cx.out.s(",");
        }
        let opt = crate::u8_at(b, at)?;
        at += 1;
        let len = if opt <= 1 {
            1
        } else {
            let l = usize::from(crate::u8_at(b, at)?);
            at += 1;
            if l < 2 || l > left {
                return stop(cx, Stop::Bad, sep);
            }
            left -= 1;
            l
        };
        left -= 1;
        option_name(cx, opt);
        let data_len = match option_data(cx, b, opt, len, at, left, sack_base) {
            Ok(n) => n,
            Err(Halt::Stop(s)) => return stop(cx, s, sep),
            Err(Halt::Trunc) => return Err(Trunc),
        };
        at += data_len;
        left = left.saturating_sub(data_len);
        let mut full = data_len + 1;
        if opt > 1 {
            full += 1;
        }
        if full != len {
            pr!(cx, "[len {len}]");
        }
        sep = true;
        if opt == 0 {
            break;
        }
    }
    Ok(Opts::Done)
}

fn option_name(cx: &mut Cx<'_, '_>, opt: u8) {
    match opt {
        0 => cx.out.s("eol"),
        1 => cx.out.s("nop"),
        2 => cx.out.s("mss"),
        3 => cx.out.s("wscale"),
        4 => cx.out.s("sackOK"),
        5 => cx.out.s("sack"),
        6 => cx.out.s("echo"),
        7 => cx.out.s("echoreply"),
        8 => cx.out.s("TS"),
        11 => cx.out.s("cc"),
        12 => cx.out.s("ccnew"),
        13 => {}
        19 => cx.out.s("md5"),
        20 => cx.out.s("scps"),
        28 => cx.out.s("uto"),
        29 => cx.out.s("tcp-ao"),
        30 => cx.out.s("mptcp"),
        34 => cx.out.s("tfo"),
        254 => cx.out.s("exp"),
        o => pr!(cx, "unknown-{o}"),
    }
}

/// The data of option `opt` (`len` bytes with its kind and length) at `at`, with `left`
/// bytes of the header after `at`. Returns how many bytes of data it read.
fn option_data(
    cx: &mut Cx<'_, '_>,
    b: &[u8],
    opt: u8,
    len: usize,
    at: usize,
    left: usize,
    sack_base: u32,
) -> Result<usize, Halt> {
    Ok(match opt {
        2 => {
            check(b, left, at, 2)?;
            pr!(cx, " {}", be16(b, at)?);
            2
        }
        3 => {
            check(b, left, at, 1)?;
            pr!(cx, " {}", b[at]);
            1
        }
        5 => {
            let d = len - 2;
            sack(cx, b, at, left, d, sack_base)?;
            d
        }
        6 | 7 | 11 | 12 | 13 => {
            check(b, left, at, 4)?;
            pr!(cx, " {}", be32(b, at)?);
            4
        }
        8 => {
            check(b, left, at, 8)?;
            pr!(cx, " val {} ecr {}", be32(b, at)?, be32(b, at + 4)?);
            8
        }
        19 => {
            check(b, left, at, 16)?;
            // No secret to check the signature with (tcpdump's -M): its bytes.
            cx.out
                .s(" shared secret not supplied with -M, can't check - ");
            for &x in &b[at..at + 16] {
                pr!(cx, "{x:02x}");
            }
            16
        }
        20 => {
            check(b, left, at, 2)?;
            pr!(cx, " cap {:02x} id {}", b[at], b[at + 1]);
            2
        }
        28 => {
            check(b, left, at, 2)?;
            let v = be16(b, at)?;
            let secs = if v & 1 != 0 { (v >> 1) * 60 } else { v >> 1 };
            pr!(cx, " 0x{v:x} {secs}");
            2
        }
        34 => {
            let d = len - 2;
            check(b, left, at, d)?;
            cx.out.s(" ");
            fast_open(cx, &b[at..at + d]);
            d
        }
        0 | 1 | 4 => 0,
        _ => {
            let d = len - 2;
            if d > 0 {
                cx.out.s(" 0x");
            }
            for i in 0..d {
                check(b, left, at, i + 1)?;
                pr!(cx, "{:02x}", b[at + i]);
            }
            d
        }
    })
}

/// SACK blocks (`d` bytes at `at`): `sack 1 {1001:2001}`, relative to `base`.
fn sack(
    cx: &mut Cx<'_, '_>,
    b: &[u8],
    at: usize,
    left: usize,
    d: usize,
    base: u32,
) -> Result<(), Halt> {
    if !d.is_multiple_of(8) {
        cx.out.s(" invalid sack");
        return Ok(());
    }
    pr!(cx, " {} ", d / 8);
    let mut i = 0;
    while i < d {
        check(b, left, at, i + 8)?;
        let (mut s, mut e) = (be32(b, at + i)?, be32(b, at + i + 4)?);
        s = s.wrapping_sub(base);
        e = e.wrapping_sub(base);
        pr!(cx, "{{{s}:{e}}}");
        i += 8;
    }
    Ok(())
}

/// TCP Fast Open: a cookie request, or the cookie.
fn fast_open(cx: &mut Cx<'_, '_>, d: &[u8]) {
    if d.is_empty() {
        cx.out.s(" cookiereq");
    } else if !d.len().is_multiple_of(2) || d.len() < 4 || d.len() > 16 {
        cx.out.s(" (invalid)");
    } else {
        cx.out.s(" cookie ");
        for &x in d {
            pr!(cx, "{x:02x}");
        }
    }
}

/// A connection, in tcpdump's collating order (one entry for both directions).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Key {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    ports: u32,
}

impl Key {
    /// The key, and whether this packet goes the reverse way of the key's order.
    fn new(ip: &Ip<'_>, sport: u16, dport: u16) -> (Key, bool) {
        let (v6, src, dst) = match ip {
            Ip::V4(p) => {
                let mut s = [0u8; 16];
                let mut d = [0u8; 16];
                s[..4].copy_from_slice(&p.src_addr().octets());
                d[..4].copy_from_slice(&p.dst_addr().octets());
                (false, s, d)
            }
            Ip::V6 { hdr, .. } => (
                true,
                crate::addr::v6(&hdr[8..24]),
                crate::addr::v6(&hdr[24..40]),
            ),
        };
        let rev = sport > dport || (sport == dport && src > dst);
        if rev {
            let ports = u32::from(dport) << 16 | u32::from(sport);
            (
                Key {
                    v6,
                    src: dst,
                    dst: src,
                    ports,
                },
                true,
            )
        } else {
            let ports = u32::from(sport) << 16 | u32::from(dport);
            (
                Key {
                    v6,
                    src,
                    dst,
                    ports,
                },
                false,
            )
        }
    }

    fn hash(&self) -> usize {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in self
            .src
            .iter()
            .chain(&self.dst)
            .chain(&self.ports.to_le_bytes())
        {
            h = (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3);
        }
        h as usize
    }
}

enum Found {
    /// Recorded now (a new connection, or a SYN): the numbers are shown as they are.
    New(u32, u32),
    /// Known: the connection's first sequence and acknowledgement numbers.
    Old(u32, u32),
}

#[derive(Clone, Copy, Default)]
struct Entry {
    key: Key,
    seq: u32,
    ack: u32,
    used: u64,
    live: bool,
}

/// The first sequence numbers of recent connections: a set-associative table of fixed size
/// (allocated at the first TCP packet with ACK), the least recently used entry of a set
/// making room. tcpdump's table grows without bound; this one forgets the oldest
/// connections beyond [`SeqTable::CAPACITY`], whose next packets start a new reference.
pub(crate) struct SeqTable {
    entries: Vec<Entry>,
    clock: u64,
}

impl SeqTable {
    pub(crate) const CAPACITY: usize = 16_384;
    const WAYS: usize = 8;

    pub(crate) fn new() -> SeqTable {
        SeqTable {
            entries: Vec::new(),
            clock: 0,
        }
    }

    /// Finds the connection; records it (with `first()`) when unknown or when `syn`.
    fn lookup(&mut self, key: &Key, syn: bool, first: impl FnOnce() -> (u32, u32)) -> Found {
        if self.entries.is_empty() {
            self.entries = vec![Entry::default(); Self::CAPACITY];
        }
        self.clock += 1;
        let sets = Self::CAPACITY / Self::WAYS;
        let base = (key.hash() % sets) * Self::WAYS;
        let set = &mut self.entries[base..base + Self::WAYS];
        if let Some(e) = set.iter_mut().find(|e| e.live && e.key == *key) {
            e.used = self.clock;
            if !syn {
                return Found::Old(e.seq, e.ack);
            }
            (e.seq, e.ack) = first();
            return Found::New(e.seq, e.ack);
        }
        let slot = set
            .iter_mut()
            .min_by_key(|e| if e.live { e.used } else { 0 })
            .expect("a set has ways");
        let (seq, ack) = first();
        *slot = Entry {
            key: *key,
            seq,
            ack,
            used: self.clock,
            live: true,
        };
        Found::New(seq, ack)
    }
}
