//! Opening a capture file for reading, compressed or not: the one place that recognises
//! compression, so `read`, `merge`, `flows -r` and `gen --replay` all take `.pcap.zst` and
//! `.pcap.gz` (and standard input) alike.
//!
//! Compression is recognised by the first bytes of the input (zstd's frame magic
//! `28 b5 2f fd`, a zstd skippable frame, gzip's `1f 8b`), never by the file name, so a
//! renamed file or a pipe works too. zstd input may hold several frames and skippable frames
//! (ringcap writes one frame per buffer and a skippable trailer, see [`crate::span`]); gzip input
//! may hold several members (as `cat a.gz b.gz` makes).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};

use crate::{ReadError, Reader};

/// Any input, after decompression.
pub type Input = Box<dyn Read + Send>;

/// How an input was compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd,
    Gzip,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        })
    }
}

impl Compression {
    /// What the first bytes of an input say.
    pub fn detect(head: &[u8]) -> Compression {
        match head {
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            // A skippable frame (magic 0x184D2A50..5F, little-endian) can only start zstd data.
            [b0, 0x2a, 0x4d, 0x18, ..] if b0 & 0xf0 == 0x50 => Compression::Zstd,
            [0x1f, 0x8b, ..] => Compression::Gzip,
            _ => Compression::None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("opening {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("reading {path}{}: {source}", compressed_note(*.compression))]
    Read {
        path: String,
        compression: Compression,
        #[source]
        source: ReadError,
    },
}

fn compressed_note(c: Compression) -> String {
    match c {
        Compression::None => String::new(),
        c => format!(" ({c}-compressed)"),
    }
}

/// Wraps `src` in the decompressor its first bytes call for.
pub fn decompress(mut src: impl Read + Send + 'static) -> io::Result<(Input, Compression)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match src.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let kind = Compression::detect(&head[..n]);
    let whole = io::Cursor::new(head[..n].to_vec()).chain(src);
    let input: Input = match kind {
        Compression::None => Box::new(whole),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
    };
    Ok((input, kind))
}

/// A reader over any input, compressed or not.
pub fn open_reader(
    src: impl Read + Send + 'static,
) -> Result<(Reader<Input>, Compression), (ReadError, Compression)> {
    let (input, kind) = decompress(src).map_err(|e| {
        (
            ReadError {
                offset: 0,
                kind: crate::ReadErrorKind::Io(e),
            },
            Compression::None,
        )
    })?;
    Reader::new(input).map(|r| (r, kind)).map_err(|e| (e, kind))
}

/// Opens a capture file (`-`: standard input), compressed or not, and reads its header.
pub fn open(path: &str) -> Result<Reader<Input>, OpenError> {
    let src: Input = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|source| OpenError::Open {
            path: path.to_string(),
            source,
        })?)
    };
    open_reader(src)
        .map(|(r, _)| r)
        .map_err(|(source, compression)| OpenError::Read {
            path: path.to_string(),
            compression,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Writer, WriterOptions};
    use std::io::Write;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), &WriterOptions::new(Format::Pcap, 1, 100)).unwrap();
        for i in 0..50u64 {
            w.write_packet(i * 1000, 60, &[&[i as u8; 60]]).unwrap();
        }
        w.finish(&[]).unwrap();
        w.get_ref().clone()
    }

    fn count(input: Vec<u8>) -> (u64, Compression) {
        let (mut r, kind) = open_reader(io::Cursor::new(input))
            .map_err(|e| e.0)
            .unwrap();
        let mut n = 0;
        while let Some(m) = r.next_record().unwrap() {
            assert_eq!(m.ts_ns, n * 1000);
            n += 1;
        }
        (n, kind)
    }

    #[test]
    fn plain_zstd_multi_frame_and_gzip() {
        let raw = sample();
        assert_eq!(count(raw.clone()), (50, Compression::None));
        // Two zstd frames with a skippable frame between them, as ringcap writes.
        let (a, b) = raw.split_at(500);
        let mut z = zstd::bulk::compress(a, 3).unwrap();
        z.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
        z.extend_from_slice(&4u32.to_le_bytes());
        z.extend_from_slice(b"skip");
        z.extend_from_slice(&zstd::bulk::compress(b, 3).unwrap());
        assert_eq!(count(z), (50, Compression::Zstd));
        let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        g.write_all(&raw).unwrap();
        assert_eq!(count(g.finish().unwrap()), (50, Compression::Gzip));
    }

    #[test]
    fn garbage_and_empty_are_errors() {
        assert!(open_reader(io::Cursor::new(vec![])).is_err());
        assert!(open_reader(io::Cursor::new(b"hello world".to_vec())).is_err());
        let e = open("/nonexistent/x.pcap").map(drop).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.pcap"), "{e}");
    }
}
