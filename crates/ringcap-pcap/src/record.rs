//! The bytes of pcap and pcapng files, apart from any buffer or output: file headers, packet
//! records, statistics blocks, and a walk over records already serialised.
//!
//! The [`Writer`](crate::Writer) serialises through these, and so do capture workers that fill
//! buffers of their own and hand them to writer threads (ringcap-sink): one definition of every
//! byte, whoever writes it.

use crate::{Format, IfStats, Interface, Precision, WriteError, WriterOptions, MAX_RECORD};

pub(crate) const SHB: u32 = 0x0A0D_0D0A;
pub(crate) const IDB: u32 = 1;
pub(crate) const EPB: u32 = 6;
pub(crate) const ISB: u32 = 5;
const BOM: u32 = 0x1A2B_3C4D;

/// How packet records are laid out: the file format and its timestamp unit. Records are
/// little-endian, as every file ringcap writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFormat {
    pub format: Format,
    /// Nanosecond timestamps (pcap magic 0xa1b23c4d, pcapng if_tsresol 9); else microseconds.
    pub nano: bool,
}

/// The head of a serialised record: its timestamp and its length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHead {
    pub ts_ns: u64,
    /// Bytes of the whole record (header, data, padding).
    pub len: usize,
    /// Captured bytes of the packet.
    pub caplen: u32,
    pub orig_len: u32,
    /// Offset of the packet's bytes from the record's start.
    pub data_at: usize,
    /// A packet record (pcapng: an enhanced packet block), not another block.
    pub packet: bool,
}

#[inline(always)]
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl RecordFormat {
    pub fn new(format: Format, precision: Precision) -> RecordFormat {
        RecordFormat {
            format,
            nano: precision == Precision::Nano,
        }
    }

    /// Bytes of a packet record holding `cap` captured bytes.
    #[inline(always)]
    pub fn record_len(&self, cap: usize) -> usize {
        match self.format {
            Format::Pcap => 16 + cap,
            Format::Pcapng => 32 + cap.next_multiple_of(4),
        }
    }

    /// Serialises one packet into `dst`, which is exactly [`record_len`](Self::record_len)`(cap)`
    /// bytes: `cap` bytes of the concatenation of `parts` (which hold at least that many), on
    /// interface `iface` (pcapng only), with `orig` its length on the wire.
    #[inline(always)]
    pub fn encode(
        &self,
        dst: &mut [u8],
        iface: u32,
        ts_ns: u64,
        cap: usize,
        orig: u32,
        parts: &[&[u8]],
    ) {
        match self.format {
            Format::Pcap => {
                // Constant divisors only: the compiler turns them into multiplications.
                let secs = ts_ns / 1_000_000_000;
                let sub = ts_ns - secs * 1_000_000_000;
                let frac = if self.nano { sub } else { sub / 1_000 };
                let hdr = (secs as u128 & 0xffff_ffff)
                    | (frac as u128 & 0xffff_ffff) << 32
                    | (cap as u128) << 64
                    | (orig as u128) << 96;
                let (h, d) = dst.split_at_mut(16);
                h.copy_from_slice(&hdr.to_le_bytes());
                copy_parts(d, parts);
            }
            Format::Pcapng => {
                let blen = dst.len();
                let ts = if self.nano { ts_ns } else { ts_ns / 1_000 };
                dst[0..4].copy_from_slice(&EPB.to_le_bytes());
                dst[4..8].copy_from_slice(&(blen as u32).to_le_bytes());
                dst[8..12].copy_from_slice(&iface.to_le_bytes());
                dst[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
                dst[16..20].copy_from_slice(&(ts as u32).to_le_bytes());
                dst[20..24].copy_from_slice(&(cap as u32).to_le_bytes());
                dst[24..28].copy_from_slice(&orig.to_le_bytes());
                copy_parts(&mut dst[28..28 + cap], parts);
                let t = blen - 4;
                dst[28 + cap..t].fill(0);
                dst[t..].copy_from_slice(&(blen as u32).to_le_bytes());
            }
        }
    }

    /// The record at the start of `buf` (records this crate serialised: lengths are trusted
    /// only as far as `buf` reaches). `None` when `buf` does not hold the whole record.
    #[inline(always)]
    pub fn head(&self, buf: &[u8]) -> Option<RecordHead> {
        match self.format {
            Format::Pcap => {
                if buf.len() < 16 {
                    return None;
                }
                let secs = le32(buf, 0) as u64;
                let frac = le32(buf, 4) as u64;
                let caplen = le32(buf, 8);
                let len = 16 + caplen as usize;
                if len > buf.len() {
                    return None;
                }
                let ts_ns = secs * 1_000_000_000 + if self.nano { frac } else { frac * 1_000 };
                Some(RecordHead {
                    ts_ns,
                    len,
                    caplen,
                    orig_len: le32(buf, 12),
                    data_at: 16,
                    packet: true,
                })
            }
            Format::Pcapng => {
                if buf.len() < 12 {
                    return None;
                }
                let len = le32(buf, 4) as usize;
                if len < 12 || len > buf.len() {
                    return None;
                }
                if le32(buf, 0) != EPB || len < 32 {
                    return Some(RecordHead {
                        ts_ns: 0,
                        len,
                        caplen: 0,
                        orig_len: 0,
                        data_at: len,
                        packet: false,
                    });
                }
                let ts = (le32(buf, 12) as u64) << 32 | le32(buf, 16) as u64;
                let caplen = le32(buf, 20).min(len as u32 - 32);
                Some(RecordHead {
                    ts_ns: if self.nano { ts } else { ts * 1_000 },
                    len,
                    caplen,
                    orig_len: le32(buf, 24),
                    data_at: 28,
                    packet: true,
                })
            }
        }
    }

    /// Within `buf` (records, starting at a record), the end of the last whole record and the
    /// number of packet records before it.
    pub fn whole_records(&self, buf: &[u8]) -> (usize, u64) {
        let mut pos = 0;
        let mut pkts = 0;
        while let Some(h) = self.head(&buf[pos..]) {
            pos += h.len;
            pkts += h.packet as u64;
        }
        (pos, pkts)
    }

    /// Packet records in `buf` (whole records only).
    pub fn count(&self, buf: &[u8]) -> u64 {
        self.whole_records(buf).1
    }
}

/// The bytes a file starts with: the pcap file header, or a pcapng section header block and
/// an interface description block per interface.
pub fn file_header(opts: &WriterOptions) -> Result<Vec<u8>, WriteError> {
    let mut b = Vec::with_capacity(128);
    match opts.format {
        Format::Pcap => {
            if opts.interfaces.len() != 1 {
                return Err(WriteError::PcapOneInterface);
            }
            let i = &opts.interfaces[0];
            check_snaplen(i.snaplen)?;
            let magic: u32 = match opts.precision {
                Precision::Micro => 0xa1b2_c3d4,
                Precision::Nano => 0xa1b2_3c4d,
            };
            b.extend_from_slice(&magic.to_le_bytes());
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&4u16.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes()); // thiszone
            b.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
            b.extend_from_slice(&i.snaplen.to_le_bytes());
            b.extend_from_slice(&i.linktype.to_le_bytes());
        }
        Format::Pcapng => {
            let mut opt = Vec::new();
            push_opt(&mut opt, 4, opts.userappl.as_bytes());
            end_opts(&mut opt);
            let blen = (28 + opt.len()) as u32;
            b.extend_from_slice(&SHB.to_le_bytes());
            b.extend_from_slice(&blen.to_le_bytes());
            b.extend_from_slice(&BOM.to_le_bytes());
            b.extend_from_slice(&1u16.to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
            b.extend_from_slice(&(-1i64).to_le_bytes());
            b.extend_from_slice(&opt);
            b.extend_from_slice(&blen.to_le_bytes());
            for i in &opts.interfaces {
                b.extend_from_slice(&interface_block(i, opts.precision)?);
            }
        }
    }
    Ok(b)
}

/// A pcapng interface description block.
pub fn interface_block(i: &Interface, precision: Precision) -> Result<Vec<u8>, WriteError> {
    check_snaplen(i.snaplen)?;
    let mut opt = Vec::new();
    if let Some(name) = &i.name {
        push_opt(&mut opt, 2, name.as_bytes());
    }
    let tsresol: u8 = if precision == Precision::Nano { 9 } else { 6 };
    push_opt(&mut opt, 9, &[tsresol]);
    end_opts(&mut opt);
    let blen = (20 + opt.len()) as u32;
    let mut block = Vec::with_capacity(blen as usize);
    block.extend_from_slice(&IDB.to_le_bytes());
    block.extend_from_slice(&blen.to_le_bytes());
    block.extend_from_slice(&(i.linktype as u16).to_le_bytes());
    block.extend_from_slice(&0u16.to_le_bytes());
    block.extend_from_slice(&i.snaplen.to_le_bytes());
    block.extend_from_slice(&opt);
    block.extend_from_slice(&blen.to_le_bytes());
    Ok(block)
}

/// A pcapng interface statistics block (what capinfos and Wireshark show as the capture's
/// received and dropped counts).
pub fn statistics_block(s: &IfStats, precision: Precision) -> Vec<u8> {
    let nano = precision == Precision::Nano;
    let unit = |ns: u64| if nano { ns } else { ns / 1_000 };
    let split = |v: u64| {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&((v >> 32) as u32).to_le_bytes());
        b[4..].copy_from_slice(&(v as u32).to_le_bytes());
        b
    };
    let mut opt = Vec::new();
    if s.start_ns != 0 {
        push_opt(&mut opt, 2, &split(unit(s.start_ns)));
    }
    push_opt(&mut opt, 3, &split(unit(s.end_ns)));
    if let Some(r) = s.received {
        push_opt(&mut opt, 4, &r.to_le_bytes());
    }
    if let Some(d) = s.dropped {
        push_opt(&mut opt, 5, &d.to_le_bytes());
    }
    end_opts(&mut opt);
    let blen = (24 + opt.len()) as u32;
    let mut b = Vec::with_capacity(blen as usize);
    b.extend_from_slice(&ISB.to_le_bytes());
    b.extend_from_slice(&blen.to_le_bytes());
    b.extend_from_slice(&s.interface.to_le_bytes());
    b.extend_from_slice(&split(unit(s.end_ns)));
    b.extend_from_slice(&opt);
    b.extend_from_slice(&blen.to_le_bytes());
    b
}

pub(crate) fn check_snaplen(s: u32) -> Result<(), WriteError> {
    if s == 0 || s > MAX_RECORD {
        Err(WriteError::Snaplen(s))
    } else {
        Ok(())
    }
}

/// Fills `dst` from the concatenation of `parts` (which hold at least `dst.len()` bytes).
#[inline(always)]
fn copy_parts(dst: &mut [u8], parts: &[&[u8]]) {
    if let [p] = parts {
        dst.copy_from_slice(&p[..dst.len()]);
        return;
    }
    let mut o = 0;
    for p in parts {
        let n = p.len().min(dst.len() - o);
        dst[o..o + n].copy_from_slice(&p[..n]);
        o += n;
        if o == dst.len() {
            break;
        }
    }
}

fn push_opt(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    let len = value.len().min(0xfff0);
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&value[..len]);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

fn end_opts(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0, 0, 0]);
}

/// A frame with the VLAN tag the kernel stripped put back after the MAC addresses, as libpcap
/// does: returns the parts to write (`data[..12]`, the 4-byte tag, `data[12..]`) and the original
/// length plus 4. `tag` is scratch space for the tag's bytes. Frames shorter than 12 bytes are
/// returned unchanged.
#[inline]
pub fn vlan_parts<'a>(
    data: &'a [u8],
    orig_len: u32,
    tci: u16,
    tpid: u16,
    tag: &'a mut [u8; 4],
) -> ([&'a [u8]; 3], u32) {
    if data.len() < 12 {
        return ([data, &[], &[]], orig_len);
    }
    tag[..2].copy_from_slice(&tpid.to_be_bytes());
    tag[2..].copy_from_slice(&tci.to_be_bytes());
    let tag: &'a [u8; 4] = tag;
    ([&data[..12], tag, &data[12..]], orig_len.saturating_add(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_head_round_trip() {
        for format in [Format::Pcap, Format::Pcapng] {
            for nano in [true, false] {
                let rf = RecordFormat { format, nano };
                let mut buf = vec![0u8; 1000];
                let mut pos = 0;
                for (i, n) in [0usize, 1, 3, 4, 61].into_iter().enumerate() {
                    let data: Vec<u8> = (0..n as u8).collect();
                    let len = rf.record_len(n);
                    let ts = 1_700_000_000_123_456_789 + i as u64 * 1_000;
                    rf.encode(&mut buf[pos..pos + len], 0, ts, n, 99, &[&data]);
                    let h = rf.head(&buf[pos..]).unwrap();
                    assert_eq!(h.len, len);
                    assert_eq!(h.caplen as usize, n);
                    assert_eq!(h.orig_len, 99);
                    let want = if nano { ts } else { ts / 1_000 * 1_000 };
                    assert_eq!(h.ts_ns, want);
                    assert_eq!(&buf[pos + h.data_at..pos + h.data_at + n], &data[..]);
                    pos += len;
                }
                assert_eq!(rf.whole_records(&buf[..pos]), (pos, 5));
                assert_eq!(rf.whole_records(&buf[..pos - 1]).1, 4);
            }
        }
    }
}
