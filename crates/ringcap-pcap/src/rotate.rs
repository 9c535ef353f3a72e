//! File rotation as tcpdump does it (`-C`, `-G`, `-W`).
//!
//! * `-C`: before a packet is written, if the current file has reached the size limit, it is
//!   closed and the next one opened. Names get a counter: `FILE`, `FILE1`, `FILE2`, … or, with
//!   `-W N`, `FILE0` … `FILE{N-1}` zero-padded to the width of N, reused in a ring (the oldest is
//!   overwritten).
//! * `-G`: a new file every SECS seconds; the name is passed through strftime (local time).
//!   Time is the packets' own timestamps, so no clock is read per packet. With `-W N` (and no
//!   `-C`) writing stops after N files.
//!
//! Each file is closed (flushed whole) before the next is opened, so every closed file is valid.

use std::fs::File;
use std::path::PathBuf;

use chrono::format::{Item, StrftimeItems};
use chrono::{Local, TimeZone};

use crate::{IfStats, WriteError, Writer, WriterOptions};

/// Expands the strftime conversions of `pattern` (chrono's, which are C's: `%Y%m%d-%H%M%S`,
/// `%s`, `%F`, `%%`…) for the local time of `secs` since the epoch, as tcpdump names `-G` files.
/// A pattern with an unknown conversion is returned as written; [`check_strftime`] finds it
/// first.
pub fn strftime_local(pattern: &str, secs: i64) -> String {
    use std::fmt::Write;
    let Some(t) = Local.timestamp_opt(secs, 0).earliest() else {
        return pattern.to_string();
    };
    let mut out = String::with_capacity(pattern.len() + 16);
    match write!(out, "{}", t.format_with_items(StrftimeItems::new(pattern))) {
        Ok(()) => out,
        Err(_) => pattern.to_string(),
    }
}

/// Refuses a `-G` file name with a conversion strftime does not know (e.g. `%q`).
pub fn check_strftime(pattern: &str) -> Result<(), String> {
    if StrftimeItems::new(pattern).any(|i| matches!(i, Item::Error)) {
        return Err(format!(
            "{pattern:?} has a % conversion strftime does not know (write %% for a %)"
        ));
    }
    Ok(())
}

/// When to start a new file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// `-C`: bytes at which a file is complete (tcpdump: MB × 1,000,000).
    pub size_limit: Option<u64>,
    /// `-G`: seconds per file.
    pub interval_s: Option<u64>,
    /// `-W`: files in the ring (with `-C`) or files in all (with `-G` alone).
    pub max_files: Option<u32>,
}

impl Rotation {
    pub fn is_none(&self) -> bool {
        self.size_limit.is_none() && self.interval_s.is_none()
    }

    /// The name of a file: `base` through strftime when `-G` is on, then the `-C` counter.
    pub fn file_name(&self, base: &str, counter: u32, time_s: i64) -> String {
        let name = if self.interval_s.is_some() {
            strftime_local(base, time_s)
        } else {
            base.to_string()
        };
        if self.size_limit.is_none() {
            return name;
        }
        match self.max_files {
            Some(w) => {
                let width = w.max(1).to_string().len();
                format!("{name}{counter:0width$}")
            }
            None if counter == 0 => name,
            None => format!("{name}{counter}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("opening {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `-G` with `-W N`: the N files are written.
    #[error("the last of the files allowed by -W is complete")]
    Done,
}

/// A writer that opens files by the [`Rotation`] rules.
pub struct RotatingWriter {
    base: String,
    opts: WriterOptions,
    rot: Rotation,
    writer: Writer<File>,
    path: String,
    counter: u32,
    files: u32,
    window_start_s: i64,
    written_before: u64,
    lost: u64,
    done: bool,
    closed: bool,
}

impl RotatingWriter {
    /// Opens the first file (named for `start_ns` when `-G` is on): a failure here means the
    /// path is not writable.
    pub fn create(
        base: &str,
        opts: WriterOptions,
        rot: Rotation,
        start_ns: u64,
    ) -> Result<RotatingWriter, RotationError> {
        let start_s = (start_ns / 1_000_000_000) as i64;
        let path = rot.file_name(base, 0, start_s);
        let writer = open(&path, &opts)?;
        Ok(RotatingWriter {
            base: base.to_string(),
            opts,
            rot,
            writer,
            path,
            counter: 0,
            files: 1,
            window_start_s: start_s,
            written_before: 0,
            lost: 0,
            done: false,
            closed: false,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Files opened so far.
    pub fn files(&self) -> u32 {
        self.files
    }

    #[inline]
    pub fn write_packet(
        &mut self,
        ts_ns: u64,
        orig_len: u32,
        parts: &[&[u8]],
    ) -> Result<(), RotationError> {
        self.write_packet_on(0, ts_ns, orig_len, parts)
    }

    /// Writes a packet, first switching files when a limit is reached.
    #[inline]
    pub fn write_packet_on(
        &mut self,
        iface: u32,
        ts_ns: u64,
        orig_len: u32,
        parts: &[&[u8]],
    ) -> Result<(), RotationError> {
        if self.done {
            return Err(RotationError::Done);
        }
        if self.closed {
            self.lost += 1;
            return Err(RotationError::Write(WriteError::Stopped(
                "the file is closed (a new file could not be opened)".into(),
            )));
        }
        if let Some(g) = self.rot.interval_s {
            let t = (ts_ns / 1_000_000_000) as i64;
            if t - self.window_start_s >= g as i64 {
                self.rotate_time(t)?;
            }
        }
        if let Some(c) = self.rot.size_limit {
            if self.writer.file_size() >= c {
                self.rotate_size()?;
            }
        }
        self.writer
            .write_packet_on(iface, ts_ns, orig_len, parts)
            .map_err(RotationError::from)
    }

    fn rotate_time(&mut self, t: i64) -> Result<(), RotationError> {
        if self.rot.size_limit.is_none() {
            if let Some(w) = self.rot.max_files {
                if self.files >= w {
                    self.close_current()?;
                    self.done = true;
                    return Err(RotationError::Done);
                }
            }
        }
        // Windows follow each other at multiples of the interval from the first file's start.
        let g = self.rot.interval_s.unwrap_or(1) as i64;
        self.window_start_s += (t - self.window_start_s) / g * g;
        self.counter = 0;
        self.next_file()
    }

    fn rotate_size(&mut self) -> Result<(), RotationError> {
        self.counter += 1;
        if let Some(w) = self.rot.max_files {
            if self.counter >= w {
                self.counter = 0;
            }
        }
        self.next_file()
    }

    fn next_file(&mut self) -> Result<(), RotationError> {
        self.close_current()?;
        let path = self
            .rot
            .file_name(&self.base, self.counter, self.window_start_s);
        self.writer = open(&path, &self.opts)?;
        self.path = path;
        self.files += 1;
        self.closed = false;
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), RotationError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let r = self.writer.finish(&[]);
        self.written_before += self.writer.packets_written();
        self.lost += self.writer.packets_not_written();
        r.map_err(RotationError::from)
    }

    /// Packets written in all files.
    pub fn packets_written(&self) -> u64 {
        self.written_before
            + if self.closed {
                0
            } else {
                self.writer.packets_written()
            }
    }

    /// Packets lost to write errors in all files.
    pub fn packets_not_written(&self) -> u64 {
        self.lost
            + if self.closed {
                0
            } else {
                self.writer.packets_not_written()
            }
    }

    /// Packets written or buffered.
    pub fn packets(&self) -> u64 {
        self.written_before
            + if self.closed {
                0
            } else {
                self.writer.packets()
            }
    }

    pub fn error(&self) -> Option<&str> {
        self.writer.error()
    }

    /// Flushes the buffer to the file.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        if self.closed {
            return Ok(());
        }
        self.writer.flush()
    }

    /// Closes the last file, with statistics blocks (pcapng).
    pub fn finish(&mut self, stats: &[IfStats]) -> Result<(), RotationError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let r = self.writer.finish(stats);
        self.written_before += self.writer.packets_written();
        self.lost += self.writer.packets_not_written();
        r.map_err(RotationError::from)
    }
}

fn open(path: &str, opts: &WriterOptions) -> Result<Writer<File>, RotationError> {
    let f = File::create(PathBuf::from(path)).map_err(|source| RotationError::Open {
        path: path.to_string(),
        source,
    })?;
    Ok(Writer::new(f, opts)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_tcpdump() {
        let c = Rotation {
            size_limit: Some(1),
            interval_s: None,
            max_files: None,
        };
        assert_eq!(c.file_name("f", 0, 0), "f");
        assert_eq!(c.file_name("f", 2, 0), "f2");
        let cw = Rotation {
            max_files: Some(12),
            ..c
        };
        assert_eq!(cw.file_name("f", 0, 0), "f00");
        assert_eq!(cw.file_name("f", 11, 0), "f11");
        let g = Rotation {
            size_limit: None,
            interval_s: Some(5),
            max_files: Some(3),
        };
        assert_eq!(g.file_name("f-%s", 0, 42), "f-42");
    }

    #[test]
    fn strftime_conversions() {
        assert_eq!(strftime_local("x-%s-%%", 1234), "x-1234-%");
        let s = strftime_local("%Y%m%d-%H%M%S", 0);
        assert_eq!(s.len(), 15);
        assert!(s.starts_with("19"), "{s}");
        assert!(check_strftime("cap-%Y%m%d-%H%M%S.pcap").is_ok());
        assert!(check_strftime("cap-%Q.pcap").is_err());
        assert_eq!(strftime_local("cap-%Q", 0), "cap-%Q");
    }
}
