//! One output file: buffered or O_DIRECT writes, zstd frames, and what happens on a full disk.
//!
//! **O_DIRECT.** Where the file system takes it, bytes go into aligned 4 MiB buffers that
//! start at aligned file offsets; each full buffer is written by the writer's I/O thread while
//! the writer fills the next (see [`crate::direct`]). A partly filled tail is written padded to
//! the alignment and the file is then cut to its exact length (`ftruncate`), on `-U`, after
//! `--flush-ms`, on rotation and at the end, so every file is valid whenever it is looked at
//! between those writes, and grows with what was written. The tail's block is written again,
//! whole, by the next write. A tmpfs keeps files in memory (O_DIRECT would only add the
//! padding), so files there are written buffered; so are files on file systems that refuse
//! O_DIRECT. Either is said once.
//!
//! **zstd.** The units handed to the file (chunks of records, the header, the statistics) are
//! compressed in the writer thread, several to a zstd frame (see [`crate::compress`]), so the
//! file is a valid `.zst` stream after every frame, and `zstd -d` gives back the exact pcap
//! bytes. At the end a skippable
//! frame with the file's time span ([`ringcap_pcap::span::zstd_trailer`]) lets time-range
//! queries skip the file without decompressing it; decoders skip it.
//!
//! **Errors.** A write that fails (no space, an I/O error) stops the file: it is cut back to
//! its last whole record (buffered, uncompressed) or to the end of the last whole unit that
//! reached the disk (O_DIRECT, or zstd: the last whole frame); the records after that point
//! count as not written. Every file is left valid.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringcap_pcap::RecordFormat;
use ringcap_sys::file as sysfile;

use crate::compress::Compress;
use crate::direct::{Direct, DirectIo, MAX_ALIGN};
use crate::Shared;

/// How files are written.
#[derive(Debug, Clone)]
pub(crate) struct FileOpts {
    /// Use O_DIRECT where the file system takes it.
    pub direct: bool,
    /// zstd level, when compressing.
    pub zstd: Option<i32>,
    /// Write a partly filled O_DIRECT tail once it is this old.
    pub flush: Duration,
    /// Write the tail after every unit (`-U`).
    pub each_unit: bool,
    /// Largest unit (for the zstd output buffer).
    pub max_unit: usize,
    /// Name and CPU of the writer's O_DIRECT I/O thread (those of the writer thread).
    pub io_thread: (String, Option<usize>),
}

enum Raw {
    Buffered(File),
    Direct(Box<Direct>),
    /// After [`OutFile::take_io`].
    Closed,
}

/// Why a file was not written with O_DIRECT, when it was asked for (said once per run).
pub(crate) fn direct_notice(dir_hint: &str, why: &str) -> String {
    format!("note: {dir_hint}: {why}; writing through the page cache")
}

/// Switches O_DIRECT on for `f` where it helps and the file system takes it; returns the
/// alignment, or why not.
pub(crate) fn try_direct(f: &File) -> Result<usize, String> {
    let fd = f.as_fd();
    match sysfile::fs_type(fd) {
        Ok(sysfile::TMPFS_MAGIC) | Ok(sysfile::RAMFS_MAGIC) => {
            return Err("a tmpfs keeps files in memory, O_DIRECT has nothing to skip".into())
        }
        Ok(_) => {}
        Err(e) => return Err(format!("cannot tell the file system ({e})")),
    }
    let align = match sysfile::direct_io_align(fd) {
        Ok(sysfile::DirectIoAlign::Unsupported) => {
            return Err("the file system does not support O_DIRECT".into())
        }
        Ok(sysfile::DirectIoAlign::Aligned { memory, offset }) => {
            (memory.max(offset) as usize).max(4096)
        }
        Ok(sysfile::DirectIoAlign::Unknown) | Err(_) => 4096,
    };
    if !align.is_power_of_two() || align > MAX_ALIGN {
        return Err(format!("O_DIRECT alignment {align} is not usable"));
    }
    match sysfile::set_direct(fd, true) {
        Ok(()) => Ok(align),
        Err(e) => Err(format!("the file system refuses O_DIRECT ({e})")),
    }
}

/// One output file. See the module documentation.
pub(crate) struct OutFile {
    pub path: String,
    raw: Raw,
    /// A regular file (can be cut back); false for a pipe or terminal.
    truncatable: bool,
    rf: RecordFormat,
    zstd: Option<Box<Compress>>,
    each_unit: bool,
    flush: Duration,
    /// Bytes handed to the file so far (its length once everything is written).
    len: u64,
    /// Uncompressed bytes put so far (what `-C` compares).
    pub bytes_in: u64,
    /// O_DIRECT: units not yet known to be on disk: (start, end offset, records).
    pending: VecDeque<(u64, u64, u64)>,
    pub written: u64,
    pub lost: u64,
    pub failed: Option<String>,
    /// Packet records put (for the zstd trailer) and their time span.
    packets: u64,
    first_ts: u64,
    last_ts: u64,
}

impl OutFile {
    /// Creates (truncates) `path` and writes `header`. `notice` gets the reason when O_DIRECT
    /// was asked for but is not used. An O_DIRECT file takes the writer's I/O thread from `io`
    /// (starting it the first time); [`OutFile::take_io`] gives it back.
    pub fn create(
        path: &str,
        header: &[u8],
        rf: RecordFormat,
        opts: &FileOpts,
        notice: &mut dyn FnMut(String),
        io: &mut Option<DirectIo>,
        shared: &Arc<Shared>,
    ) -> io::Result<OutFile> {
        let f = File::create(path)?;
        let raw = if opts.direct {
            match try_direct(&f) {
                Ok(align) => {
                    let dio = match io.take() {
                        Some(d) => d,
                        None => DirectIo::start(shared.clone(), &opts.io_thread)?,
                    };
                    Raw::Direct(Box::new(Direct::new(f, align, dio)))
                }
                Err(why) => {
                    let dir = std::path::Path::new(path)
                        .parent()
                        .map(|p| p.display().to_string())
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| ".".into());
                    notice(direct_notice(&dir, &why));
                    Raw::Buffered(f)
                }
            }
        } else {
            Raw::Buffered(f)
        };
        Self::with_raw(path, raw, true, header, rf, opts)
    }

    /// Standard output (a copy of its descriptor, written directly, not through Rust's
    /// line-buffered `Stdout`).
    pub fn stdout(header: &[u8], rf: RecordFormat, opts: &FileOpts) -> io::Result<OutFile> {
        let fd = io::stdout().as_fd().try_clone_to_owned()?;
        let f = File::from(fd);
        let truncatable = f.metadata().map(|m| m.is_file()).unwrap_or(false);
        Self::with_raw(
            "standard output",
            Raw::Buffered(f),
            truncatable,
            header,
            rf,
            opts,
        )
    }

    fn with_raw(
        path: &str,
        raw: Raw,
        truncatable: bool,
        header: &[u8],
        rf: RecordFormat,
        opts: &FileOpts,
    ) -> io::Result<OutFile> {
        let zstd = match opts.zstd {
            Some(level) => Some(Box::new(Compress::new(
                level,
                opts.max_unit.max(header.len()),
            )?)),
            None => None,
        };
        let mut f = OutFile {
            path: path.to_string(),
            raw,
            truncatable,
            rf,
            zstd,
            each_unit: opts.each_unit,
            flush: opts.flush,
            len: 0,
            bytes_in: 0,
            pending: VecDeque::new(),
            written: 0,
            lost: 0,
            failed: None,
            packets: 0,
            first_ts: u64::MAX,
            last_ts: 0,
        };
        f.put(header, 0, 0, 0);
        match &f.failed {
            Some(e) => Err(io::Error::other(e.clone())),
            None => Ok(f),
        }
    }

    /// Bytes of the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether O_DIRECT is in use.
    pub fn is_direct(&self) -> bool {
        matches!(self.raw, Raw::Direct(..))
    }

    /// Puts a unit: whole records (`records` of them, timestamps within `first..=max`), or a
    /// block without packets (`records` 0).
    pub fn put(&mut self, bytes: &[u8], records: u64, first_ts: u64, max_ts: u64) {
        if self.failed.is_some() {
            self.lost += records;
            return;
        }
        if bytes.is_empty() {
            return;
        }
        self.bytes_in += bytes.len() as u64;
        if records > 0 {
            self.packets += records;
            self.first_ts = self.first_ts.min(first_ts);
            self.last_ts = self.last_ts.max(max_ts);
        }
        let Some(mut c) = self.zstd.take() else {
            return self.put_raw(bytes, records, true);
        };
        if !c.fits(bytes.len()) {
            self.put_frame(&mut c);
        }
        c.stage(bytes, records, Instant::now());
        if c.full() || self.each_unit {
            self.put_frame(&mut c);
        }
        self.zstd = Some(c);
    }

    /// Compresses what `c` has staged into one frame and puts it.
    fn put_frame(&mut self, c: &mut Compress) {
        if c.is_empty() {
            return;
        }
        let (frame, records) = c.frame();
        match (frame, &self.failed) {
            (_, Some(_)) => self.lost += records,
            (Ok(frame), None) => self.put_raw(frame, records, false),
            (Err(e), None) => self.fail(0, records, &e),
        }
    }

    /// Puts a frame of what is staged now (before a sync, a rotation or the end).
    fn put_staged(&mut self) {
        if let Some(mut c) = self.zstd.take() {
            self.put_frame(&mut c);
            self.zstd = Some(c);
        }
    }

    /// Bytes not to be compressed (the zstd trailer).
    fn put_plain(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.put_raw(bytes, 0, false);
        }
    }

    fn put_raw(&mut self, data: &[u8], records: u64, exact: bool) {
        let start = self.len;
        match &mut self.raw {
            Raw::Buffered(f) => {
                let mut done = 0;
                while done < data.len() {
                    match f.write(&data[done..]) {
                        Ok(0) => {
                            let e = io::Error::new(io::ErrorKind::WriteZero, "no bytes taken");
                            return self.fail_buffered(start, data, done, records, exact, e);
                        }
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return self.fail_buffered(start, data, done, records, exact, e),
                    }
                }
                self.len += data.len() as u64;
                self.written += records;
            }
            Raw::Direct(d) => {
                let r = d.put(data);
                self.len += data.len() as u64;
                self.pending.push_back((start, self.len, records));
                self.written += records;
                if let Err((durable, e)) = r {
                    return self.fail_direct(durable, e);
                }
                let durable = self.durable_floor();
                while self
                    .pending
                    .front()
                    .is_some_and(|&(_, end, _)| end <= durable)
                {
                    self.pending.pop_front();
                }
                if self.each_unit {
                    self.sync();
                }
            }
            Raw::Closed => self.fail(0, records, "the file is closed"),
        }
    }

    /// A buffered write failed after `done` bytes of `data` (which started at file offset
    /// `start`): keep the whole records among them, cut the rest.
    fn fail_buffered(
        &mut self,
        start: u64,
        data: &[u8],
        done: usize,
        records: u64,
        exact: bool,
        e: io::Error,
    ) {
        let (keep, pkts) = if exact && records > 0 {
            self.rf.whole_records(&data[..done])
        } else {
            (0, 0)
        };
        if keep < done && self.truncatable {
            if let Raw::Buffered(f) = &self.raw {
                // Best effort: if even cutting fails there is nothing better to do.
                let _ = f.set_len(start + keep as u64);
            }
        }
        self.len = start + keep as u64;
        self.written += pkts;
        self.fail(0, records - pkts, &e.to_string());
    }

    /// An O_DIRECT write failed with `durable` bytes of the file on disk: cut the file back to
    /// the end of the last unit within them; the records of later units are not written.
    fn fail_direct(&mut self, durable: u64, e: io::Error) {
        let mut cut = self
            .pending
            .front()
            .map_or(self.len, |&(start, _, _)| start);
        let mut lost = 0;
        for &(_, end, recs) in &self.pending {
            if end <= durable {
                cut = end;
            } else {
                lost += recs;
            }
        }
        if let Raw::Direct(d) = &self.raw {
            // Shrinking needs no space; if even that fails there is nothing better to do.
            let _ = d.file.set_len(cut);
        }
        self.len = cut;
        self.written -= lost;
        self.pending.clear();
        self.fail(0, lost, &e.to_string());
    }

    /// The file offset before which everything is on disk.
    fn durable_floor(&self) -> u64 {
        match &self.raw {
            Raw::Direct(d) => d.durable().min(self.len),
            Raw::Buffered(_) | Raw::Closed => self.len,
        }
    }

    fn fail(&mut self, _written: u64, lost: u64, e: &str) {
        self.lost += lost;
        if self.failed.is_none() {
            self.failed = Some(e.to_string());
        }
    }

    /// O_DIRECT: lets the queued writes end, writes the partly filled tail (padded) and cuts
    /// the file to its length.
    pub fn sync(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let r = match &mut self.raw {
            Raw::Direct(d) => d.sync(),
            _ => return,
        };
        match r {
            Ok(()) => self.pending.clear(),
            Err((durable, e)) => self.fail_direct(durable, e),
        }
    }

    /// Writes a zstd stage or an O_DIRECT tail that has waited `--flush-ms`.
    pub fn tick(&mut self, now: Instant) {
        if self.zstd.as_ref().is_some_and(|c| c.due(now, self.flush)) {
            self.put_staged();
            self.sync();
            return;
        }
        if let Raw::Direct(d) = &self.raw {
            if d.tail_since
                .is_some_and(|t| now.duration_since(t) >= self.flush)
            {
                self.sync();
            }
        }
    }

    /// Whether a partly written O_DIRECT tail waits.
    pub fn has_tail(&self) -> bool {
        matches!(&self.raw, Raw::Direct(d) if d.tail_since.is_some())
            || self.zstd.as_ref().is_some_and(|c| !c.is_empty())
    }

    /// Ends the file: `trailer_blocks` (pcapng statistics; compressed like the rest), the zstd
    /// span trailer, the tail, the exact length.
    pub fn close(&mut self, trailer_blocks: &[u8]) {
        self.put(trailer_blocks, 0, 0, 0);
        self.put_staged();
        if self.zstd.is_some() && self.failed.is_none() {
            let (first, last) = if self.packets > 0 {
                (self.first_ts, self.last_ts)
            } else {
                (0, 0)
            };
            let t = ringcap_pcap::span::zstd_trailer(first, last, self.packets);
            self.put_plain(&t);
        }
        self.sync();
        if let Raw::Buffered(f) = &mut self.raw {
            if let Err(e) = f.flush() {
                self.fail(0, 0, &e.to_string());
            }
        }
    }

    /// After [`OutFile::close`]: the writer's I/O thread, for its next file.
    pub fn take_io(&mut self) -> Option<DirectIo> {
        match std::mem::replace(&mut self.raw, Raw::Closed) {
            Raw::Direct(d) => Some(d.into_io()),
            other => {
                self.raw = other;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringcap_pcap::{Format, Precision, WriterOptions};

    fn opts(direct: bool, zstd: Option<i32>) -> FileOpts {
        FileOpts {
            direct,
            zstd,
            flush: Duration::from_millis(1000),
            each_unit: false,
            max_unit: 1 << 20,
            io_thread: ("test".into(), None),
        }
    }

    fn records(rf: RecordFormat, n: usize, size: usize, t0: u64) -> Vec<u8> {
        let len = rf.record_len(size);
        let mut b = vec![0u8; n * len];
        for i in 0..n {
            let d = vec![i as u8; size];
            rf.encode(
                &mut b[i * len..(i + 1) * len],
                0,
                t0 + i as u64,
                size,
                size as u32,
                &[&d],
            );
        }
        b
    }

    /// Written buffered, with O_DIRECT where the temporary directory's file system takes it,
    /// and compressed: the bytes are those of the records, in order, and the file's length
    /// is exact after every sync.
    #[test]
    fn bytes_round_trip_every_way() {
        let dir = std::env::temp_dir().join(format!("ringcap-outfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rf = RecordFormat::new(Format::Pcap, Precision::Nano);
        let header =
            ringcap_pcap::record::file_header(&WriterOptions::new(Format::Pcap, 1, 2000)).unwrap();
        let shared = Arc::new(Shared::default());
        let mut io = None;
        for (direct, zstd) in [
            (false, None),
            (true, None),
            (false, Some(3)),
            (true, Some(1)),
        ] {
            let p = dir.join(format!("f-{direct}-{zstd:?}.pcap"));
            let path = p.to_str().unwrap();
            let mut notices = Vec::new();
            let mut f = OutFile::create(
                path,
                &header,
                rf,
                &opts(direct, zstd),
                &mut |n| notices.push(n),
                &mut io,
                &shared,
            )
            .unwrap();
            let mut want = header.clone();
            for k in 0..30 {
                let r = records(rf, 100 + k * 37, 1 + k * 41, k as u64 * 1000);
                f.put(
                    &r,
                    (100 + k * 37) as u64,
                    k as u64 * 1000,
                    k as u64 * 1000 + 500,
                );
                want.extend_from_slice(&r);
                if k % 7 == 0 {
                    f.sync();
                    if zstd.is_none() {
                        assert_eq!(std::fs::metadata(&p).unwrap().len(), want.len() as u64);
                    }
                }
            }
            f.close(&[]);
            if let Some(back) = f.take_io() {
                io = Some(back);
            }
            assert!(f.failed.is_none(), "{:?}", f.failed);
            let got = std::fs::read(&p).unwrap();
            let got = match zstd {
                Some(_) => zstd::stream::decode_all(&got[..]).unwrap(),
                None => got,
            };
            assert!(
                got == want,
                "{direct} {zstd:?}: {} != {}",
                got.len(),
                want.len()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// zstd frames: consecutive zstd frames of a file (a skippable frame counts too).
    fn frames(mut b: &[u8]) -> usize {
        let mut n = 0;
        while !b.is_empty() {
            let len = zstd::zstd_safe::find_frame_compressed_size(b).unwrap();
            b = &b[len..];
            n += 1;
        }
        n
    }

    /// Small units share a frame: 400 units make a handful of frames, not 400; a stage that
    /// waited `--flush-ms` reaches the file at the next tick without waiting for more; the
    /// bytes come back exact.
    #[test]
    fn small_units_share_a_zstd_frame_and_a_quiet_stage_is_written_after_flush() {
        let dir = std::env::temp_dir().join(format!("ringcap-outstage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rf = RecordFormat::new(Format::Pcap, Precision::Nano);
        let header =
            ringcap_pcap::record::file_header(&WriterOptions::new(Format::Pcap, 1, 2000)).unwrap();
        let shared = Arc::new(Shared::default());
        let p = dir.join("staged.pcap.zst");
        let mut o = opts(false, Some(3));
        o.flush = Duration::from_millis(50);
        let mut f = OutFile::create(
            p.to_str().unwrap(),
            &header,
            rf,
            &o,
            &mut |_| {},
            &mut None,
            &shared,
        )
        .unwrap();
        let mut want = header.clone();
        for k in 0..400u64 {
            let r = records(rf, 20, 60 + (k as usize % 5), k * 100);
            f.put(&r, 20, k * 100, k * 100 + 19);
            want.extend_from_slice(&r);
        }
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            0,
            "staged, not written yet"
        );
        assert!(f.has_tail(), "a stage waits for a tick");
        f.tick(Instant::now());
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            0,
            "not due before --flush-ms"
        );
        std::thread::sleep(Duration::from_millis(60));
        f.tick(Instant::now());
        assert!(!f.has_tail());
        let on_disk = std::fs::read(&p).unwrap();
        assert_eq!(
            frames(&on_disk),
            1,
            "one frame for the header and 400 units"
        );
        assert_eq!(zstd::stream::decode_all(&on_disk[..]).unwrap(), want);
        assert_eq!(f.written, 400 * 20);
        f.close(&[]);
        assert!(f.failed.is_none(), "{:?}", f.failed);
        let got = std::fs::read(&p).unwrap();
        assert_eq!(frames(&got), 2, "the staged frame and the span trailer");
        assert_eq!(zstd::stream::decode_all(&got[..]).unwrap(), want);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
