//! The time span of a capture file (its first and last packets' timestamps), found without
//! reading the file through, so a time-range query over a directory of rotated files opens only
//! the files that overlap the range.
//!
//! * pcap: the first record follows the 24-byte header. The last one is found in the file's
//!   tail: pcap records have no back links, so every offset of the tail is tried as a record
//!   start and the longest chain of plausible records (length within the snap length, sane
//!   fractions, timestamps near the first one) that ends exactly at the end of the file (or in
//!   a last record cut short) gives the last whole record. The tail read is twice the largest
//!   record, at least 256 KiB (the whole of a smaller file, whose chain is then exact).
//! * pcapng: blocks end with their own length, so the file is walked backwards from its end to
//!   the last enhanced packet block, its timestamp read with its interface's resolution.
//! * zstd files that ringcap wrote end in a skippable frame holding the span ([`zstd_trailer`]),
//!   which `zstd -d` skips: read in one small read at the end.
//! * Anything else (a tail that does not parse, several pcapng sections, gzip, zstd from other
//!   programs) is read through once, as a stream in bounded memory: [`SpanHow::Scanned`] says
//!   so. For a compressed file without ringcap's trailer this costs its decompression.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::open::{decompress, Compression};
use crate::reader::{FileKind, InterfaceInfo};
use crate::{ReadError, Reader, MAX_RECORD};

/// First and last packet timestamps of a file, in ns since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first_ns: u64,
    pub last_ns: u64,
    pub how: SpanHow,
}

/// How a span was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanHow {
    /// From the header, the first record and the last record found at the end of the file.
    Ends,
    /// From ringcap's trailer at the end of a zstd file.
    Trailer,
    /// By reading every record (`first_ns`/`last_ns` are then the least and greatest).
    Scanned,
}

#[derive(Debug, thiserror::Error)]
pub enum SpanError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Read(#[from] ReadError),
}

/// Magic of the skippable frame ringcap appends to the zstd files it writes (zstd's skippable
/// frames are 0x184D2A50..=0x184D2A5F; decoders skip them).
const TRAILER_MAGIC: u32 = 0x184D_2A5E;
const TRAILER_TAG: &[u8; 8] = b"RCAPSPAN";
/// Bytes of the trailer frame: magic, size, tag, first, last, packets.
pub const TRAILER_LEN: usize = 40;

/// The skippable zstd frame that ends a compressed file ringcap wrote: the file's first and
/// last packet timestamps and its number of packets.
pub fn zstd_trailer(first_ns: u64, last_ns: u64, packets: u64) -> [u8; TRAILER_LEN] {
    let mut b = [0u8; TRAILER_LEN];
    b[0..4].copy_from_slice(&TRAILER_MAGIC.to_le_bytes());
    b[4..8].copy_from_slice(&32u32.to_le_bytes());
    b[8..16].copy_from_slice(TRAILER_TAG);
    b[16..24].copy_from_slice(&first_ns.to_le_bytes());
    b[24..32].copy_from_slice(&last_ns.to_le_bytes());
    b[32..40].copy_from_slice(&packets.to_le_bytes());
    b
}

fn parse_trailer(b: &[u8]) -> Option<(u64, u64, u64)> {
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
    if b.len() != TRAILER_LEN
        || b[0..4] != TRAILER_MAGIC.to_le_bytes()
        || b[4..8] != 32u32.to_le_bytes()
        || &b[8..16] != TRAILER_TAG
    {
        return None;
    }
    Some((u64_at(16), u64_at(24), u64_at(32)))
}

/// The span of the capture file at `path`; `None` for a file without packets.
pub fn file_span(path: &Path) -> Result<Option<Span>, SpanError> {
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    let mut head = [0u8; 4];
    let n = f.read_at(&mut head, 0)?;
    match Compression::detect(&head[..n]) {
        Compression::None => {}
        Compression::Zstd => {
            if size >= TRAILER_LEN as u64 {
                let mut t = [0u8; TRAILER_LEN];
                f.read_exact_at(&mut t, size - TRAILER_LEN as u64)?;
                if let Some((first_ns, last_ns, packets)) = parse_trailer(&t) {
                    return Ok((packets > 0).then_some(Span {
                        first_ns,
                        last_ns,
                        how: SpanHow::Trailer,
                    }));
                }
            }
            return scan(f);
        }
        Compression::Gzip => return scan(f),
    }
    let mut r = Reader::new(io::BufReader::with_capacity(64 << 10, &f))?;
    let Some(first) = r.next_record()? else {
        return Ok(None);
    };
    let last = match r.kind() {
        FileKind::Pcap { nano, big_endian } => {
            let snaplen = r.interfaces()[0].snaplen;
            pcap_last(&f, size, snaplen, nano, big_endian, first.ts_ns)?
        }
        FileKind::Pcapng => pcapng_last(&f, size, r.interfaces())?,
    };
    match last {
        Some(last_ns) => Ok(Some(Span {
            first_ns: first.ts_ns,
            last_ns,
            how: SpanHow::Ends,
        })),
        None => {
            f.seek(SeekFrom::Start(0))?;
            scan(f)
        }
    }
}

/// Reads every record; the least and greatest timestamps.
fn scan(f: File) -> Result<Option<Span>, SpanError> {
    let (input, _) = decompress(io::BufReader::with_capacity(256 << 10, f))?;
    let mut r = Reader::new(input)?;
    let mut span: Option<Span> = None;
    loop {
        let m = match r.next_record() {
            Ok(Some(m)) => m,
            Ok(None) => break,
            // Damage at the end (a capture killed mid-write): the records before it count.
            Err(_) if span.is_some() => break,
            Err(e) => return Err(e.into()),
        };
        let s = span.get_or_insert(Span {
            first_ns: m.ts_ns,
            last_ns: m.ts_ns,
            how: SpanHow::Scanned,
        });
        s.first_ns = s.first_ns.min(m.ts_ns);
        s.last_ns = s.last_ns.max(m.ts_ns);
    }
    Ok(span)
}

/// The last whole record's timestamp of a pcap file, from its tail (see the module
/// documentation); `None` when the tail does not give one for sure.
fn pcap_last(
    f: &File,
    size: u64,
    snaplen: u32,
    nano: bool,
    big_endian: bool,
    first_ns: u64,
) -> io::Result<Option<u64>> {
    let snap = match snaplen {
        0 => crate::DEFAULT_SNAPLEN,
        s => s.min(MAX_RECORD),
    } as u64;
    let data = size.saturating_sub(24);
    let window = (2 * (snap + 16)).max(256 << 10).min(data);
    let start = size - window;
    let mut buf = vec![0u8; window as usize];
    f.read_exact_at(&mut buf, start)?;
    let u32_at = |i: usize| {
        let b = [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let ts_of = |o: usize| {
        let frac = u32_at(o + 4) as u64;
        u32_at(o) as u64 * 1_000_000_000 + if nano { frac } else { frac * 1_000 }
    };
    let w = buf.len();
    let first_s = first_ns / 1_000_000_000;
    let frac_max = if nano { 1_000_000_000 } else { 1_000_000 };
    let plausible = |o: usize| {
        let secs = u32_at(o) as u64;
        let caplen = u32_at(o + 8) as u64;
        let orig = u32_at(o + 12) as u64;
        (u32_at(o + 4) as u64) < frac_max
            && caplen <= snap
            && orig >= caplen
            && secs + 86_400 >= first_s
            && secs <= first_s + 20 * 366 * 86_400
    };
    // depth[o]: records in the chain from o to the end of the file (0: no chain); last[o]: the
    // chain's last whole record (usize::MAX: none yet, o's record is cut short by the end).
    let mut depth = vec![0u32; w];
    let mut last = vec![usize::MAX; w];
    let mut best: Option<(u32, usize)> = None;
    for o in (0..w.saturating_sub(15)).rev() {
        if !plausible(o) {
            continue;
        }
        let end = o + 16 + u32_at(o + 8) as usize;
        let (d, l) = if end == w {
            (1, o)
        } else if end > w {
            (1, usize::MAX)
        } else if depth[end] > 0 {
            (
                depth[end] + 1,
                if last[end] == usize::MAX {
                    o
                } else {
                    last[end]
                },
            )
        } else {
            continue;
        };
        depth[o] = d;
        last[o] = l;
        if l != usize::MAX && best.is_none_or(|(bd, _)| d >= bd) {
            best = Some((d, l));
        }
    }
    // When the tail is the whole file, the chain from the first record is the file itself;
    // otherwise a chain of a few records through the tail is no coincidence.
    if window == data && w >= 16 && depth[0] > 0 && last[0] != usize::MAX {
        return Ok(Some(ts_of(last[0])));
    }
    Ok(match best {
        Some((d, l)) if d >= 3 => Some(ts_of(l)),
        _ => None,
    })
}

/// The last enhanced packet block's timestamp of a pcapng file, walking blocks backwards from
/// the end; `None` when that walk does not give one for sure.
fn pcapng_last(f: &File, size: u64, ifaces: &[InterfaceInfo]) -> io::Result<Option<u64>> {
    let mut bom = [0u8; 4];
    f.read_exact_at(&mut bom, 8)?;
    let be = bom == [0x1a, 0x2b, 0x3c, 0x4d];
    let rd = |b: &[u8], i: usize| {
        let v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if be {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    };
    let mut end = size;
    for _ in 0..64 {
        if end < 12 {
            return Ok(None);
        }
        let mut t = [0u8; 4];
        f.read_exact_at(&mut t, end - 4)?;
        let blen = rd(&t, 0) as u64;
        if blen < 12 || !blen.is_multiple_of(4) || blen > end || blen > MAX_RECORD as u64 {
            return Ok(None);
        }
        let at = end - blen;
        let mut h = [0u8; 28];
        let hl = (blen as usize).min(28);
        f.read_exact_at(&mut h[..hl], at)?;
        if rd(&h, 4) as u64 != blen {
            return Ok(None);
        }
        match rd(&h, 0) {
            // A section header: the blocks after it belong to a section whose interfaces were
            // not read.
            0x0A0D_0D0A => return Ok(None),
            6 if blen >= 32 => {
                let Some(info) = ifaces.get(rd(&h, 8) as usize) else {
                    return Ok(None);
                };
                let ts = (rd(&h, 12) as u64) << 32 | rd(&h, 16) as u64;
                return Ok(Some(info.to_ns(ts)));
            }
            _ => end = at,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, IfStats, Writer, WriterOptions};

    fn write(path: &Path, format: Format, n: u64, size: impl Fn(u64) -> usize) {
        let f = File::create(path).unwrap();
        let mut w = Writer::new(f, &WriterOptions::new(format, 1, 65535)).unwrap();
        for i in 0..n {
            // Payload bytes that look like record headers, to tempt the tail search.
            let mut d = vec![0u8; size(i)];
            for (k, c) in d.chunks_mut(4).enumerate() {
                let v = (1_700_000_000 + k as u32).to_le_bytes();
                c.copy_from_slice(&v[..c.len()]);
            }
            w.write_packet(1_700_000_000_000_000_000 + i * 1_000_003, 2000, &[&d])
                .unwrap();
        }
        w.finish(&[IfStats::default()]).unwrap();
    }

    #[test]
    fn ends_of_small_and_large_files() {
        let dir = std::env::temp_dir().join(format!("ringcap-span-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for format in [Format::Pcap, Format::Pcapng] {
            for n in [1u64, 7, 40_000] {
                let p = dir.join(format!("f-{n}.{format}"));
                write(&p, format, n, |i| 60 + (i as usize * 37) % 1400);
                let s = file_span(&p).unwrap().unwrap();
                assert_eq!(s.first_ns, 1_700_000_000_000_000_000);
                assert_eq!(s.last_ns, 1_700_000_000_000_000_000 + (n - 1) * 1_000_003);
                assert_eq!(s.how, SpanHow::Ends, "{format} {n}");
            }
            // Cut in the middle of the last record: the one before it is the last.
            let p = dir.join(format!("f-40000.{format}"));
            let len = std::fs::metadata(&p).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            f.set_len(len - 30).unwrap();
            let s = file_span(&p).unwrap().unwrap();
            if format == Format::Pcap {
                assert_eq!(s.how, SpanHow::Ends);
                assert_eq!(s.last_ns, 1_700_000_000_000_000_000 + 39_998 * 1_000_003);
            } else {
                // pcapng's back links are broken by the cut: read through.
                assert_eq!(s.how, SpanHow::Scanned);
            }
        }
        let empty = dir.join("empty.pcap");
        write(&empty, Format::Pcap, 0, |_| 0);
        assert_eq!(file_span(&empty).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn zstd_trailer_or_scan() {
        let dir = std::env::temp_dir().join(format!("ringcap-span-z-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.pcap");
        write(&p, Format::Pcap, 100, |_| 100);
        let raw = std::fs::read(&p).unwrap();
        let mut z = zstd::bulk::compress(&raw, 1).unwrap();
        let zp = dir.join("a.pcap.zst");
        std::fs::write(&zp, &z).unwrap();
        let s = file_span(&zp).unwrap().unwrap();
        assert_eq!(s.how, SpanHow::Scanned);
        assert_eq!(s.last_ns, 1_700_000_000_000_000_000 + 99 * 1_000_003);
        z.extend_from_slice(&zstd_trailer(5, 9, 100));
        std::fs::write(&zp, &z).unwrap();
        let s = file_span(&zp).unwrap().unwrap();
        assert_eq!((s.first_ns, s.last_ns, s.how), (5, 9, SpanHow::Trailer));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
