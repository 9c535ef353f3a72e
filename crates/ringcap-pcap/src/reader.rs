//! The pcap and pcapng reader.
//!
//! Streams from any `Read` (a file, a pipe) through one buffer that only grows to the largest
//! record seen (at most [`MAX_RECORD`]), so memory stays bounded whatever the input claims. Every
//! length is checked before it is used; damage ends the stream with a [`ReadError`] that names
//! the byte offset of the record at fault, after every whole record before it was delivered.

use std::fmt;
use std::io::{self, Read};

use crate::MAX_RECORD;

mod pcapng;

/// Which format the input is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pcap { nano: bool, big_endian: bool },
    Pcapng,
}

/// An interface of the file (pcap: the one from the header; pcapng: one per interface
/// description block, numbered across sections in file order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub linktype: u32,
    pub snaplen: u32,
    pub name: Option<String>,
    /// Section this interface belongs to (0 for pcap).
    pub section: u32,
    resol: Resol,
    offset_s: i64,
}

impl InterfaceInfo {
    /// Timestamp resolution as "10^-N" or "2^-N".
    pub fn tsresol(&self) -> String {
        match self.resol {
            Resol::Pow10(n) => format!("10^-{n}"),
            Resol::Pow2(n) => format!("2^-{n}"),
        }
    }

    /// Nanoseconds since the epoch for a timestamp in this interface's units.
    pub(crate) fn to_ns(&self, units: u64) -> u64 {
        let ns: u128 = match self.resol {
            Resol::Pow10(n) if n <= 9 => units as u128 * 10u128.pow(9 - n as u32),
            Resol::Pow10(n) => units as u128 / 10u128.pow((n as u32 - 9).min(38)),
            Resol::Pow2(n) => {
                if n >= 64 {
                    (units as u128 * 1_000_000_000) >> 64 >> (n - 64).min(63)
                } else {
                    (units as u128 * 1_000_000_000) >> n
                }
            }
        };
        let ns = ns as i128 + self.offset_s as i128 * 1_000_000_000;
        ns.clamp(0, u64::MAX as i128) as u64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resol {
    Pow10(u8),
    Pow2(u8),
}

/// One packet record's description; its bytes are [`Reader::data`] until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub caplen: u32,
    pub orig_len: u32,
    /// Index into [`Reader::interfaces`].
    pub interface: u32,
    pub linktype: u32,
    /// Byte offset of the record in the input.
    pub offset: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("{0}")]
    Io(#[source] io::Error),
    #[error("the input is empty")]
    Empty,
    #[error("not a pcap or pcapng file (it starts with {0:02x?})")]
    BadMagic([u8; 4]),
    #[error("truncated: the {what} needs {need} bytes but the input ends after {have}")]
    Truncated {
        what: &'static str,
        need: u64,
        have: u64,
    },
    #[error("the {what} claims {len} bytes, more than the {max}-byte limit", max = MAX_RECORD)]
    TooLarge { what: &'static str, len: u64 },
    #[error("{0}")]
    Invalid(String),
}

/// A read failure at a byte offset of the input.
#[derive(Debug, thiserror::Error)]
pub struct ReadError {
    pub offset: u64,
    #[source]
    pub kind: ReadErrorKind,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte offset {}: {}", self.offset, self.kind)
    }
}

const CHUNK: usize = 256 << 10;

/// A streaming pcap/pcapng reader.
pub struct Reader<R: Read> {
    src: R,
    buf: Vec<u8>,
    /// Unconsumed bytes are buf[start..end].
    start: usize,
    end: usize,
    /// Input offset of buf[start].
    offset: u64,
    eof: bool,
    kind: FileKind,
    big_endian: bool,
    interfaces: Vec<InterfaceInfo>,
    /// pcapng: global index of each interface of the current section.
    section_ifaces: Vec<u32>,
    section: u32,
    data: (usize, usize),
    done: bool,
    /// pcap record header length: 16, or 24 in the old "modified" format (magic a1b2cd34, as
    /// written by patched libpcaps of the late 1990s: after the lengths, an interface index, a
    /// protocol and a packet type, which the reader skips, as libpcap does).
    record_header: usize,
}

impl<R: Read> Reader<R> {
    /// Reads the file header (or the first section header) and detects the format.
    pub fn new(src: R) -> Result<Reader<R>, ReadError> {
        let mut r = Reader {
            src,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            kind: FileKind::Pcapng,
            big_endian: false,
            interfaces: Vec::new(),
            section_ifaces: Vec::new(),
            section: 0,
            data: (0, 0),
            done: false,
            record_header: 16,
        };
        if !r.fill(4)? {
            if r.end == r.start {
                return Err(r.err(ReadErrorKind::Empty));
            }
            return Err(r.truncated("file header", 4));
        }
        let m: [u8; 4] = r.buf[r.start..r.start + 4].try_into().unwrap_or_default();
        // (nanoseconds, big-endian, modified)
        let pcap = match m {
            [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false, false)),
            [0xa1, 0xb2, 0xc3, 0xd4] => Some((false, true, false)),
            [0x4d, 0x3c, 0xb2, 0xa1] => Some((true, false, false)),
            [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true, false)),
            [0x34, 0xcd, 0xb2, 0xa1] => Some((false, false, true)),
            [0xa1, 0xb2, 0xcd, 0x34] => Some((false, true, true)),
            _ => None,
        };
        if let Some((nano, be, modified)) = pcap {
            if !r.fill(24)? {
                return Err(r.truncated("pcap file header", 24));
            }
            r.big_endian = be;
            r.kind = FileKind::Pcap {
                nano,
                big_endian: be,
            };
            let major = r.u16_at(4);
            if major != 2 {
                return Err(r.err(ReadErrorKind::Invalid(format!(
                    "pcap version {major} is not supported (only 2)"
                ))));
            }
            let mut snaplen = r.u32_at(16);
            let linktype = r.u32_at(20) & 0xffff;
            if modified {
                r.record_header = 24;
                if linktype == 1 {
                    // as libpcap: such captures may have been made in cooked mode, with a fake
                    // Ethernet header added to snaplen bytes
                    snaplen = snaplen.saturating_add(14).min(i32::MAX as u32);
                }
            }
            r.interfaces.push(InterfaceInfo {
                linktype,
                snaplen,
                name: None,
                section: 0,
                resol: Resol::Pow10(if nano { 9 } else { 6 }),
                offset_s: 0,
            });
            r.consume(24);
            return Ok(r);
        }
        if m == [0x0a, 0x0d, 0x0d, 0x0a] {
            r.kind = FileKind::Pcapng;
            r.read_shb()?;
            return Ok(r);
        }
        Err(r.err(ReadErrorKind::BadMagic(m)))
    }

    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// Interfaces seen so far (pcapng files may declare more later).
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.interfaces
    }

    /// The captured bytes of the record last returned by [`Reader::next_record`].
    pub fn data(&self) -> &[u8] {
        &self.buf[self.data.0..self.data.1]
    }

    /// Whether the next record (or block) is already whole in the buffer, so that reading it
    /// will not wait for the input. A program printing what it reads flushes its output when
    /// this is false, so that a pipe's packets show as they come.
    pub fn has_whole_record(&self) -> bool {
        let avail = self.end - self.start;
        let need = match self.kind {
            FileKind::Pcap { .. } if avail >= 16 => 16 + self.u32_at(8) as usize,
            FileKind::Pcapng if avail >= 8 => self.u32_at(4) as usize,
            _ => return false,
        };
        avail >= need
    }

    /// The next packet record with its bytes; `None` at a clean end of the input.
    pub fn next_packet(&mut self) -> Result<Option<(RecordMeta, &[u8])>, ReadError> {
        match self.next_record()? {
            Some(m) => Ok(Some((m, self.data()))),
            None => Ok(None),
        }
    }

    /// The next packet record (its bytes: [`Reader::data`]); `None` at a clean end. After an
    /// error, every further call returns `None`.
    pub fn next_record(&mut self) -> Result<Option<RecordMeta>, ReadError> {
        if self.done {
            return Ok(None);
        }
        let r = match self.kind {
            FileKind::Pcap { nano, .. } => self.next_pcap(nano),
            FileKind::Pcapng => self.next_pcapng(),
        };
        match r {
            Ok(Some(m)) => Ok(Some(m)),
            other => {
                self.done = true;
                other
            }
        }
    }

    fn next_pcap(&mut self, nano: bool) -> Result<Option<RecordMeta>, ReadError> {
        let hdr = self.record_header;
        if !self.fill(hdr)? {
            if self.end == self.start {
                return Ok(None);
            }
            return Err(self.truncated("record header", hdr as u64));
        }
        let secs = self.u32_at(0) as u64;
        let frac = self.u32_at(4) as u64;
        let caplen = self.u32_at(8);
        let orig_len = self.u32_at(12);
        if caplen > MAX_RECORD {
            return Err(self.err(ReadErrorKind::TooLarge {
                what: "record",
                len: caplen as u64,
            }));
        }
        let total = hdr + caplen as usize;
        if !self.fill(total)? {
            return Err(self.truncated("record", total as u64));
        }
        let ts_ns = secs * 1_000_000_000 + if nano { frac } else { frac * 1000 };
        let meta = RecordMeta {
            ts_ns,
            caplen,
            orig_len,
            interface: 0,
            linktype: self.interfaces[0].linktype,
            offset: self.offset,
        };
        self.data = (self.start + hdr, self.start + total);
        self.consume(total);
        Ok(Some(meta))
    }

    /// Makes `n` bytes available at `start`; `false` when the input ends first.
    fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.data = (0, 0);
        }
        if self.buf.len() < n.max(CHUNK) {
            self.buf.resize(n.max(CHUNK), 0);
        }
        while self.end < n && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let off = self.offset + self.end as u64;
                    self.done = true;
                    return Err(ReadError {
                        offset: off,
                        kind: ReadErrorKind::Io(e),
                    });
                }
            }
        }
        Ok(self.end >= n)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    fn err(&self, kind: ReadErrorKind) -> ReadError {
        ReadError {
            offset: self.offset,
            kind,
        }
    }

    fn invalid(&self, msg: String) -> ReadError {
        self.err(ReadErrorKind::Invalid(msg))
    }

    fn truncated(&self, what: &'static str, need: u64) -> ReadError {
        self.err(ReadErrorKind::Truncated {
            what,
            need,
            have: (self.end - self.start) as u64,
        })
    }

    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&self.buf[self.start + at..self.start + at + N]);
        b
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.bytes::<2>(at);
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = self.bytes::<4>(at);
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn u64_at(&self, at: usize) -> u64 {
        let b = self.bytes::<8>(at);
        if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Interface, Writer, WriterOptions};

    fn sample(format: Format) -> Vec<u8> {
        let mut o = WriterOptions::new(format, 1, 65535);
        if format == Format::Pcapng {
            o.interfaces.push(Interface::new(Some("b"), 113, 100));
        }
        let mut w = Writer::new(Vec::new(), &o).unwrap();
        for i in 0..10u64 {
            let d = vec![i as u8; 60 + i as usize];
            let iface = if format == Format::Pcapng {
                (i % 2) as u32
            } else {
                0
            };
            w.write_packet_on(iface, 1_000_000_000 * i + 7, 200, &[&d])
                .unwrap();
        }
        w.finish(&[]).unwrap();
        w.get_ref().clone()
    }

    /// The old "modified" pcap (magic a1b2cd34, 24-byte record headers) in both byte orders
    /// (ringcap-cli's pcap_modified test reads the files editcap writes, against tcpdump).
    #[test]
    fn modified_pcap_in_both_byte_orders() {
        for be in [false, true] {
            let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let mut f = Vec::new();
            f.extend(w32(0xa1b2_cd34));
            f.extend(w16(2));
            f.extend(w16(4));
            f.extend([0; 8]);
            f.extend(w32(1000));
            f.extend(w32(1));
            for i in 0..3u32 {
                f.extend(w32(5 + i));
                f.extend(w32(7));
                f.extend(w32(10 + i));
                f.extend(w32(20 + i));
                f.extend(w32(3)); // interface index
                f.extend(w16(0x0800)); // protocol
                f.extend([4, 0]); // packet type, padding
                f.extend(vec![i as u8; 10 + i as usize]);
            }
            let mut r = Reader::new(&f[..]).unwrap();
            assert_eq!(
                r.kind(),
                FileKind::Pcap {
                    nano: false,
                    big_endian: be
                }
            );
            assert_eq!(
                r.interfaces()[0].snaplen,
                1014,
                "libpcap adds 14 on Ethernet"
            );
            for i in 0..3u32 {
                let (m, d) = r.next_packet().unwrap().unwrap();
                assert_eq!(m.ts_ns, (5 + i) as u64 * 1_000_000_000 + 7_000);
                assert_eq!((m.caplen, m.orig_len), (10 + i, 20 + i));
                assert_eq!(d, &vec![i as u8; 10 + i as usize][..]);
            }
            assert!(r.next_packet().unwrap().is_none());
        }
    }

    #[test]
    fn round_trip() {
        for f in [Format::Pcap, Format::Pcapng] {
            let b = sample(f);
            let mut r = Reader::new(&b[..]).unwrap();
            let mut n = 0u64;
            while let Some((m, d)) = r.next_packet().unwrap() {
                assert_eq!(m.ts_ns, 1_000_000_000 * n + 7);
                assert_eq!(d.len(), 60 + n as usize);
                assert_eq!(m.orig_len, 200);
                if f == Format::Pcapng {
                    assert_eq!(m.linktype, if n & 1 == 0 { 1 } else { 113 });
                }
                n += 1;
            }
            assert_eq!(n, 10);
        }
    }

    #[test]
    fn truncated_gives_packets_then_offset() {
        for f in [Format::Pcap, Format::Pcapng] {
            let b = sample(f);
            let cut = &b[..b.len() - 30];
            let mut r = Reader::new(cut).unwrap();
            let mut n = 0;
            let e = loop {
                match r.next_record() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => panic!("no error"),
                    Err(e) => break e,
                }
            };
            assert_eq!(n, 9);
            assert!(e.to_string().contains("truncated"), "{e}");
            assert!(e.offset > 0);
        }
    }

    #[test]
    fn huge_claim_refused() {
        let mut b = sample(Format::Pcap);
        b[24 + 8..24 + 12].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        let mut r = Reader::new(&b[..]).unwrap();
        let e = r.next_record().unwrap_err();
        assert_eq!(e.offset, 24);
        assert!(matches!(e.kind, ReadErrorKind::TooLarge { .. }));
    }

    #[test]
    fn tsresol_power_of_two() {
        let info = InterfaceInfo {
            linktype: 1,
            snaplen: 0,
            name: None,
            section: 0,
            resol: Resol::Pow2(10),
            offset_s: 0,
        };
        assert_eq!(info.to_ns(1024 * 5 + 512), 5_500_000_000);
    }
}
