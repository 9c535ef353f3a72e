//! pcapng's blocks: section headers, interface descriptions, enhanced, simple and legacy
//! packet blocks (the others are skipped), each length checked before it is used.

use std::io::Read;

use super::{InterfaceInfo, ReadError, ReadErrorKind, Reader, RecordMeta, Resol};
use crate::MAX_RECORD;

impl<R: Read> Reader<R> {
    /// The next packet block, past section headers, interface descriptions and the blocks
    /// it does not read.
    pub(super) fn next_pcapng(&mut self) -> Result<Option<RecordMeta>, ReadError> {
        loop {
            if !self.fill(8)? {
                if self.end == self.start {
                    return Ok(None);
                }
                return Err(self.truncated("block header", 8));
            }
            if self.buf[self.start..self.start + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                self.read_shb()?;
                continue;
            }
            let btype = self.u32_at(0);
            let blen = self.block_len()?;
            let body = 8..blen - 4;
            match btype {
                1 => self.read_idb(body)?,
                6 | 2 => {
                    let legacy = btype == 2;
                    if body.len() < 20 {
                        return Err(
                            self.invalid(format!("packet block of {blen} bytes is too short"))
                        );
                    }
                    let local = if legacy {
                        self.u16_at(8) as u32
                    } else {
                        self.u32_at(8)
                    };
                    let ts = ((self.u32_at(12) as u64) << 32) | self.u32_at(16) as u64;
                    let caplen = self.u32_at(20);
                    let orig_len = self.u32_at(24);
                    if caplen as usize > body.len() - 20 {
                        return Err(self.invalid(format!(
                            "packet block of {blen} bytes claims {caplen} captured bytes"
                        )));
                    }
                    let global = self.global_iface(local)?;
                    let info = &self.interfaces[global as usize];
                    let meta = RecordMeta {
                        ts_ns: info.to_ns(ts),
                        caplen,
                        orig_len,
                        interface: global,
                        linktype: info.linktype,
                        offset: self.offset,
                    };
                    self.data = (self.start + 28, self.start + 28 + caplen as usize);
                    self.consume(blen);
                    return Ok(Some(meta));
                }
                3 => {
                    if body.len() < 4 {
                        return Err(self
                            .invalid(format!("simple packet block of {blen} bytes is too short")));
                    }
                    let global = self.global_iface(0)?;
                    let info = &self.interfaces[global as usize];
                    let orig_len = self.u32_at(8);
                    let mut caplen = (body.len() - 4) as u32;
                    caplen = caplen.min(orig_len);
                    if info.snaplen != 0 {
                        caplen = caplen.min(info.snaplen);
                    }
                    let meta = RecordMeta {
                        ts_ns: 0,
                        caplen,
                        orig_len,
                        interface: global,
                        linktype: info.linktype,
                        offset: self.offset,
                    };
                    self.data = (self.start + 12, self.start + 12 + caplen as usize);
                    self.consume(blen);
                    return Ok(Some(meta));
                }
                _ => self.consume(blen),
            }
        }
    }

    /// Checks the current block's length field and makes the whole block available.
    fn block_len(&mut self) -> Result<usize, ReadError> {
        let blen = self.u32_at(4);
        if blen > MAX_RECORD {
            return Err(self.err(ReadErrorKind::TooLarge {
                what: "block",
                len: blen as u64,
            }));
        }
        if blen < 12 || blen & 3 != 0 {
            return Err(self.invalid(format!(
                "block length {blen} is not a multiple of 4 of at least 12"
            )));
        }
        let blen = blen as usize;
        if !self.fill(blen)? {
            return Err(self.truncated("block", blen as u64));
        }
        let trailer = self.u32_at(blen - 4) as usize;
        if trailer != blen {
            return Err(self.invalid(format!(
                "block length {blen} and trailing length {trailer} differ"
            )));
        }
        Ok(blen)
    }

    /// A section header block: its byte order and version; the next section's interfaces
    /// are numbered after the last one's.
    pub(super) fn read_shb(&mut self) -> Result<(), ReadError> {
        if !self.fill(12)? {
            return Err(self.truncated("section header block", 12));
        }
        let bom = &self.buf[self.start + 8..self.start + 12];
        self.big_endian = match bom {
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            _ => {
                return Err(self.invalid(format!(
                    "section header with a bad byte-order magic {bom:02x?}"
                )))
            }
        };
        let blen = self.block_len()?;
        if blen < 28 {
            return Err(self.invalid(format!("section header block of {blen} bytes")));
        }
        let major = self.u16_at(12);
        if major != 1 {
            return Err(self.invalid(format!("pcapng version {major} is not supported (only 1)")));
        }
        self.section_ifaces.clear();
        if !self.interfaces.is_empty() || self.offset > 0 {
            self.section += 1;
        }
        self.consume(blen);
        Ok(())
    }

    /// An interface description block: link type, snap length, name, timestamp units.
    fn read_idb(&mut self, body: std::ops::Range<usize>) -> Result<(), ReadError> {
        if body.len() < 8 {
            return Err(self.invalid("interface description block too short".into()));
        }
        let linktype = self.u16_at(8) as u32;
        let snaplen = self.u32_at(12);
        let mut info = InterfaceInfo {
            linktype,
            snaplen,
            name: None,
            section: self.section,
            resol: Resol::Pow10(6),
            offset_s: 0,
        };
        let mut p = body.start + 8;
        while p + 4 <= body.end {
            let code = self.u16_at(p);
            let len = self.u16_at(p + 2) as usize;
            let v = p + 4;
            if code == 0 {
                break;
            }
            if v + len > body.end {
                return Err(self.invalid(format!(
                    "interface description option {code} runs past its block"
                )));
            }
            match (code, len) {
                (2, _) => {
                    let s = &self.buf[self.start + v..self.start + v + len];
                    let s = s.split(|&b| b == 0).next().unwrap_or(&[]);
                    info.name = Some(String::from_utf8_lossy(s).into_owned());
                }
                (9, 1) => {
                    let b = self.buf[self.start + v];
                    info.resol = if b & 0x80 != 0 {
                        Resol::Pow2(b & 0x7f)
                    } else {
                        Resol::Pow10(b)
                    };
                }
                (14, 8) => info.offset_s = self.u64_at(v) as i64,
                _ => {}
            }
            p = v + len.div_ceil(4) * 4;
        }
        let blen = body.end + 4;
        self.consume(blen);
        self.section_ifaces.push(self.interfaces.len() as u32);
        self.interfaces.push(info);
        Ok(())
    }

    /// The file-wide number of the current section's interface `local`.
    fn global_iface(&self, local: u32) -> Result<u32, ReadError> {
        self.section_ifaces
            .get(local as usize)
            .copied()
            .ok_or_else(|| {
                self.invalid(format!(
                    "packet on interface {local}, which no interface description block declared"
                ))
            })
    }
}
