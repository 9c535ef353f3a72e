//! The pcap and pcapng writers.
//!
//! Records are serialised into one buffer allocated once (1 MiB by default) and handed to the
//! output in writes of the buffer's size, so a packet costs a few stores and a `memcpy`: no system
//! call and no allocation. Everything in the buffer is whole records, so when the output fails
//! (a full disk, an I/O error) after taking part of a flush, the writer walks the records of
//! that part, truncates the file at the last whole one and stops: the file stays valid, and the
//! counts of packets written and not written are exact.

use std::fmt;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use crate::MAX_RECORD;

/// The file format written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Classic libpcap format (one link type, one snap length).
    #[default]
    Pcap,
    /// pcapng: a section header, interface descriptions, enhanced packet blocks, statistics.
    Pcapng,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pcap" => Ok(Format::Pcap),
            "pcapng" => Ok(Format::Pcapng),
            _ => Err(format!("unknown format {s:?} (pcap or pcapng)")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        })
    }
}

/// Timestamp resolution of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    Micro,
    /// Nanoseconds: the pcap magic 0xa1b23c4d, or pcapng's if_tsresol = 9.
    #[default]
    Nano,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "micro" => Ok(Precision::Micro),
            "nano" => Ok(Precision::Nano),
            _ => Err(format!("unknown time precision {s:?} (micro or nano)")),
        }
    }
}

/// One capture interface: a pcapng interface description block (pcap files have exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// if_name (pcapng only).
    pub name: Option<String>,
    /// LINKTYPE_ value.
    pub linktype: u32,
    /// Bytes kept of each packet; longer packets are truncated and keep their original length.
    pub snaplen: u32,
}

impl Interface {
    pub fn new(name: Option<&str>, linktype: u32, snaplen: u32) -> Interface {
        Interface {
            name: name.map(str::to_owned),
            linktype,
            snaplen,
        }
    }
}

/// How to write a file.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub format: Format,
    pub precision: Precision,
    /// Interfaces declared at the start (pcap: exactly one).
    pub interfaces: Vec<Interface>,
    /// shb_userappl of pcapng files.
    pub userappl: String,
    /// Size of the serialisation buffer, i.e. of each write to the output.
    pub buffer_size: usize,
}

impl WriterOptions {
    /// One interface; nanosecond pcap unless changed; a 1 MiB buffer.
    pub fn new(format: Format, linktype: u32, snaplen: u32) -> WriterOptions {
        WriterOptions {
            format,
            precision: Precision::Nano,
            interfaces: vec![Interface::new(None, linktype, snaplen)],
            userappl: concat!("ringcap ", env!("CARGO_PKG_VERSION")).to_string(),
            buffer_size: 1 << 20,
        }
    }
}

/// Statistics of one interface, written as a pcapng interface statistics block at close.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfStats {
    pub interface: u32,
    /// isb_ifrecv: packets the kernel counted.
    pub received: Option<u64>,
    /// isb_ifdrop: packets the kernel dropped.
    pub dropped: Option<u64>,
    /// isb_starttime, in ns since the epoch (0: left out).
    pub start_ns: u64,
    /// isb_endtime and the block's timestamp, in ns since the epoch.
    pub end_ns: u64,
}

/// Where a writer's bytes go. `truncate_to` cuts a partly written record after a failed write;
/// outputs that cannot be cut (pipes) do nothing.
pub trait Output: Write + Send {
    fn truncate_to(&mut self, _len: u64) -> io::Result<()> {
        Ok(())
    }
}

impl Output for File {
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len)).map(drop)
    }
}

impl Output for Vec<u8> {
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.truncate(len as usize);
        Ok(())
    }
}

impl Output for io::Stdout {}
impl Output for io::Sink {}

impl<T: Output + ?Sized> Output for &mut T {
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        (**self).truncate_to(len)
    }
}

impl<T: Output + ?Sized> Output for Box<T> {
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        (**self).truncate_to(len)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// The writer stopped after an earlier error (the message of that error).
    #[error("writing stopped after an earlier error: {0}")]
    Stopped(String),
    #[error("no interface {0} in this file")]
    NoInterface(u32),
    #[error("a pcap file holds exactly one interface (one link type); use pcapng")]
    PcapOneInterface,
    #[error("snap length {0} is out of range (1..={max})", max = MAX_RECORD)]
    Snaplen(u32),
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const EPB: u32 = 6;
const ISB: u32 = 5;
const BOM: u32 = 0x1A2B_3C4D;

/// A pcap or pcapng writer over an [`Output`]. Call [`Writer::finish`] at the end (dropping it
/// flushes too, but cannot report errors).
pub struct Writer<O: Output> {
    out: O,
    buf: Vec<u8>,
    format: Format,
    nano: bool,
    /// The buffer is allocated once at its full size; `buf[..pos]` holds whole records.
    pos: usize,
    snaplens: Vec<u32>,
    /// Bytes the output holds for sure (whole records).
    file_len: u64,
    written: u64,
    buffered: u64,
    lost: u64,
    /// The error that stopped the writer.
    failed: Option<String>,
    finished: bool,
}

impl<O: Output> Writer<O> {
    /// Starts a file: its header (and interface descriptions) go into the buffer at once.
    pub fn new(out: O, opts: &WriterOptions) -> Result<Writer<O>, WriteError> {
        if opts.format == Format::Pcap && opts.interfaces.len() != 1 {
            return Err(WriteError::PcapOneInterface);
        }
        let cap = opts.buffer_size.clamp(64 << 10, 256 << 20);
        let mut w = Writer {
            out,
            buf: vec![0u8; cap],
            format: opts.format,
            nano: opts.precision == Precision::Nano,
            pos: 0,
            snaplens: Vec::new(),
            file_len: 0,
            written: 0,
            buffered: 0,
            lost: 0,
            failed: None,
            finished: false,
        };
        match opts.format {
            Format::Pcap => {
                let i = &opts.interfaces[0];
                check_snaplen(i.snaplen)?;
                let magic: u32 = match opts.precision {
                    Precision::Micro => 0xa1b2_c3d4,
                    Precision::Nano => 0xa1b2_3c4d,
                };
                let mut b = Vec::with_capacity(24);
                b.extend_from_slice(&magic.to_le_bytes());
                b.extend_from_slice(&2u16.to_le_bytes());
                b.extend_from_slice(&4u16.to_le_bytes());
                b.extend_from_slice(&0u32.to_le_bytes()); // thiszone
                b.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
                b.extend_from_slice(&i.snaplen.to_le_bytes());
                b.extend_from_slice(&i.linktype.to_le_bytes());
                w.put_block(&b)?;
                w.snaplens.push(i.snaplen);
            }
            Format::Pcapng => {
                let mut opt = Vec::new();
                push_opt(&mut opt, 4, opts.userappl.as_bytes());
                end_opts(&mut opt);
                let body_len = 16 + opt.len();
                let blen = (12 + body_len) as u32;
                let mut b = Vec::with_capacity(blen as usize);
                b.extend_from_slice(&SHB.to_le_bytes());
                b.extend_from_slice(&blen.to_le_bytes());
                b.extend_from_slice(&BOM.to_le_bytes());
                b.extend_from_slice(&1u16.to_le_bytes());
                b.extend_from_slice(&0u16.to_le_bytes());
                b.extend_from_slice(&(-1i64).to_le_bytes());
                b.extend_from_slice(&opt);
                b.extend_from_slice(&blen.to_le_bytes());
                w.put_block(&b)?;
                for i in &opts.interfaces {
                    w.add_interface(i)?;
                }
            }
        }
        Ok(w)
    }

    /// Declares one more interface (pcapng: an interface description block at this point of the
    /// file) and returns its id for [`Writer::write_packet_on`].
    pub fn add_interface(&mut self, i: &Interface) -> Result<u32, WriteError> {
        if self.format == Format::Pcap {
            return Err(WriteError::PcapOneInterface);
        }
        check_snaplen(i.snaplen)?;
        let mut opt = Vec::new();
        if let Some(name) = &i.name {
            push_opt(&mut opt, 2, name.as_bytes());
        }
        let tsresol: u8 = if self.nano { 9 } else { 6 };
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
        self.put_block(&block)?;
        self.snaplens.push(i.snaplen);
        Ok(self.snaplens.len() as u32 - 1)
    }

    /// Number of interfaces declared.
    pub fn interfaces(&self) -> usize {
        self.snaplens.len()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes one packet on interface 0. See [`Writer::write_packet_on`].
    #[inline]
    pub fn write_packet(
        &mut self,
        ts_ns: u64,
        orig_len: u32,
        parts: &[&[u8]],
    ) -> Result<(), WriteError> {
        self.write_packet_on(0, ts_ns, orig_len, parts)
    }

    /// Writes one packet: its captured bytes are the concatenation of `parts`, cut to the
    /// interface's snap length; `orig_len` is its length on the wire (raised to the captured
    /// length if smaller). After a write error every call fails and counts a packet not written.
    #[inline]
    pub fn write_packet_on(
        &mut self,
        iface: u32,
        ts_ns: u64,
        orig_len: u32,
        parts: &[&[u8]],
    ) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            self.lost += 1;
            return Err(WriteError::Stopped(e.clone()));
        }
        let Some(&snaplen) = self.snaplens.get(iface as usize) else {
            return Err(WriteError::NoInterface(iface));
        };
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let cap = total.min(snaplen as usize);
        let orig = orig_len.max(cap as u32);
        // Constant divisors only: the compiler turns them into multiplications.
        match self.format {
            Format::Pcap => {
                let need = 16 + cap;
                if let Err(e) = self.make_room(need) {
                    self.lost += 1;
                    return Err(e);
                }
                let secs = ts_ns / 1_000_000_000;
                let sub = ts_ns - secs * 1_000_000_000;
                let frac = if self.nano { sub } else { sub / 1_000 };
                let hdr = (secs as u128 & 0xffff_ffff)
                    | (frac as u128 & 0xffff_ffff) << 32
                    | (cap as u128) << 64
                    | (orig as u128) << 96;
                let b = &mut self.buf[self.pos..self.pos + need];
                let (h, d) = b.split_at_mut(16);
                h.copy_from_slice(&hdr.to_le_bytes());
                copy_parts(d, parts);
                self.pos += need;
            }
            Format::Pcapng => {
                let pad = (4 - cap % 4) % 4;
                let blen = 32 + cap + pad;
                if let Err(e) = self.make_room(blen) {
                    self.lost += 1;
                    return Err(e);
                }
                let ts = if self.nano { ts_ns } else { ts_ns / 1_000 };
                let b = &mut self.buf[self.pos..self.pos + blen];
                b[0..4].copy_from_slice(&EPB.to_le_bytes());
                b[4..8].copy_from_slice(&(blen as u32).to_le_bytes());
                b[8..12].copy_from_slice(&iface.to_le_bytes());
                b[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
                b[16..20].copy_from_slice(&(ts as u32).to_le_bytes());
                b[20..24].copy_from_slice(&(cap as u32).to_le_bytes());
                b[24..28].copy_from_slice(&orig.to_le_bytes());
                copy_parts(&mut b[28..28 + cap], parts);
                let t = blen - 4;
                b[28 + cap..t].fill(0);
                b[t..].copy_from_slice(&(blen as u32).to_le_bytes());
                self.pos += blen;
            }
        }
        self.buffered += 1;
        Ok(())
    }

    /// Flushes when the next `need` bytes would not fit; grows the buffer only for a record
    /// larger than the whole buffer (never with snap lengths up to the buffer's size).
    #[inline]
    fn make_room(&mut self, need: usize) -> Result<(), WriteError> {
        if self.buf.len() - self.pos < need {
            self.flush_buffer()?;
            if self.buf.len() < need {
                self.buf.resize(need, 0);
            }
        }
        Ok(())
    }

    fn put_block(&mut self, block: &[u8]) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            return Err(WriteError::Stopped(e.clone()));
        }
        self.make_room(block.len())?;
        self.buf[self.pos..self.pos + block.len()].copy_from_slice(block);
        self.pos += block.len();
        Ok(())
    }

    /// Bytes of the file so far, including what is still buffered (what `-C` compares).
    #[inline]
    pub fn file_size(&self) -> u64 {
        self.file_len + self.pos as u64
    }

    /// Packets in the file (written or buffered for writing).
    pub fn packets(&self) -> u64 {
        self.written + self.buffered
    }

    /// Packets the output took for sure.
    pub fn packets_written(&self) -> u64 {
        self.written
    }

    /// Packets that could not be written because of an output error.
    pub fn packets_not_written(&self) -> u64 {
        self.lost
    }

    /// The error that stopped the writer, if any.
    pub fn error(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    pub fn get_ref(&self) -> &O {
        &self.out
    }

    /// Writes the buffer out (and flushes the output).
    pub fn flush(&mut self) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            return Err(WriteError::Stopped(e.clone()));
        }
        self.flush_buffer()?;
        self.out.flush().map_err(|e| self.fail_after(0, e))
    }

    fn flush_buffer(&mut self) -> Result<(), WriteError> {
        let mut done = 0;
        while done < self.pos {
            match self.out.write(&self.buf[done..self.pos]) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "the output took no bytes");
                    return Err(self.fail_after(done, e));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail_after(done, e)),
            }
        }
        self.file_len += self.pos as u64;
        self.written += self.buffered;
        self.buffered = 0;
        self.pos = 0;
        Ok(())
    }

    /// The output failed after taking `done` bytes of the buffer: keep the whole records among
    /// them, cut the rest, count, stop.
    fn fail_after(&mut self, done: usize, e: io::Error) -> WriteError {
        let (keep, pkts) = whole_records(&self.buf[..done], self.format, self.file_len == 0);
        if keep < done {
            // Best effort: if even truncating fails there is nothing better to do.
            let _ = self.out.truncate_to(self.file_len + keep as u64);
        }
        self.file_len += keep as u64;
        self.written += pkts;
        self.lost += self.buffered - pkts;
        self.buffered = 0;
        self.pos = 0;
        let msg = e.to_string();
        self.failed = Some(msg);
        WriteError::Io {
            op: "writing the capture file",
            source: e,
        }
    }

    /// Ends the file: pcapng interface statistics blocks for `stats`, then everything flushed.
    pub fn finish(&mut self, stats: &[IfStats]) -> Result<(), WriteError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if self.format == Format::Pcapng {
            for s in stats {
                if (s.interface as usize) < self.snaplens.len() {
                    let block = self.isb(s);
                    self.put_block(&block)?;
                }
            }
        }
        self.flush()
    }

    fn isb(&self, s: &IfStats) -> Vec<u8> {
        let unit = |ns: u64| if self.nano { ns } else { ns / 1_000 };
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
}

impl<O: Output> Drop for Writer<O> {
    fn drop(&mut self) {
        if !self.finished && self.failed.is_none() {
            let _ = self.flush();
        }
    }
}

fn check_snaplen(s: u32) -> Result<(), WriteError> {
    if s == 0 || s > MAX_RECORD {
        Err(WriteError::Snaplen(s))
    } else {
        Ok(())
    }
}

/// Fills `dst` from the concatenation of `parts` (which hold at least `dst.len()` bytes).
#[inline]
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

/// Within `buf` (a prefix of what the writer produced), the end of the last whole record and the
/// number of packet records before it.
fn whole_records(buf: &[u8], format: Format, at_file_start: bool) -> (usize, u64) {
    let u32_at = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let mut pos = 0;
    let mut pkts = 0;
    match format {
        Format::Pcap => {
            if at_file_start {
                if buf.len() < 24 {
                    return (0, 0);
                }
                pos = 24;
            }
            while pos + 16 <= buf.len() {
                let end = pos + 16 + u32_at(pos + 8) as usize;
                if end > buf.len() {
                    break;
                }
                pos = end;
                pkts += 1;
            }
        }
        Format::Pcapng => {
            while pos + 8 <= buf.len() {
                let end = pos + u32_at(pos + 4) as usize;
                if end > buf.len() || end <= pos {
                    break;
                }
                if u32_at(pos) == EPB {
                    pkts += 1;
                }
                pos = end;
            }
        }
    }
    (pos, pkts)
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
    fn pcap_header_and_record() {
        let mut w = Writer::new(Vec::new(), &WriterOptions::new(Format::Pcap, 1, 100)).unwrap();
        w.write_packet(1_500_000_000_123_456_789, 60, &[&[1, 2, 3], &[4]])
            .unwrap();
        w.finish(&[]).unwrap();
        let b = w.get_ref();
        assert_eq!(&b[0..4], &0xa1b2_3c4du32.to_le_bytes());
        assert_eq!(b.len(), 24 + 16 + 4);
        assert_eq!(&b[24..28], &1_500_000_000u32.to_le_bytes());
        assert_eq!(&b[28..32], &123_456_789u32.to_le_bytes());
        assert_eq!(&b[32..36], &4u32.to_le_bytes());
        assert_eq!(&b[36..40], &60u32.to_le_bytes());
        assert_eq!(&b[40..], &[1, 2, 3, 4]);
    }

    #[test]
    fn snaplen_truncates_and_keeps_length() {
        let mut w = Writer::new(Vec::new(), &WriterOptions::new(Format::Pcap, 1, 3)).unwrap();
        w.write_packet(0, 10, &[&[1, 2], &[3, 4, 5]]).unwrap();
        w.finish(&[]).unwrap();
        let b = w.get_ref();
        assert_eq!(&b[32..36], &3u32.to_le_bytes());
        assert_eq!(&b[36..40], &10u32.to_le_bytes());
        assert_eq!(&b[40..], &[1, 2, 3]);
    }

    #[test]
    fn vlan_parts_insert_tag() {
        let data: Vec<u8> = (0..20).collect();
        let mut tag = [0; 4];
        let (parts, len) = vlan_parts(&data, 20, 0x2064, 0x88a8, &mut tag);
        assert_eq!(len, 24);
        let joined: Vec<u8> = parts.concat();
        assert_eq!(&joined[..12], &data[..12]);
        assert_eq!(&joined[12..16], &[0x88, 0xa8, 0x20, 0x64]);
        assert_eq!(&joined[16..], &data[12..]);
    }

    /// An output that takes `room` bytes, then fails like a full disk.
    struct Full {
        data: Vec<u8>,
        room: usize,
    }
    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let n = b.len().min(self.room - self.data.len());
            if n == 0 {
                return Err(io::Error::from_raw_os_error(enospc()));
            }
            self.data.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Output for Full {
        fn truncate_to(&mut self, len: u64) -> io::Result<()> {
            self.data.truncate(len as usize);
            Ok(())
        }
    }
    fn enospc() -> i32 {
        28
    }

    #[test]
    fn full_output_keeps_whole_records() {
        for format in [Format::Pcap, Format::Pcapng] {
            let mut o = WriterOptions::new(format, 1, 1000);
            o.buffer_size = 64 << 10;
            let out = Full {
                data: Vec::new(),
                room: 100_000,
            };
            let mut w = Writer::new(out, &o).unwrap();
            let pkt = [7u8; 101];
            let mut errs = 0;
            for i in 0..2000u64 {
                if w.write_packet(i, 101, &[&pkt]).is_err() {
                    errs += 1;
                }
            }
            assert!(w.finish(&[]).is_err());
            assert!(errs > 0);
            assert_eq!(w.packets_written() + w.packets_not_written(), 2000);
            let data = &w.get_ref().data;
            let rec = match format {
                Format::Pcap => 16 + 101,
                Format::Pcapng => 32 + 104,
            };
            let hdr = data.len() - w.packets_written() as usize * rec;
            assert!(hdr == 24 || format == Format::Pcapng, "{hdr}");
            assert!(data.len() <= 100_000);
        }
    }
}
