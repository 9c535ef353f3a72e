//! zstd frames made from several units at once.
//!
//! A unit (a worker's chunk) can be small: a quiet link hands its chunk over at every pause.
//! Compressed one frame per unit, each frame starts with an empty history, and on replayed
//! real traffic the file came out about a fifth larger than `zstd` makes of the same pcap.
//! So units are staged, uncompressed, and a frame is made once the stage holds [`FRAME`]
//! bytes, or has waited `--flush-ms`, or on `-U`, rotation and at the end: frames stay
//! independent (a file cut back to its last whole frame is still a valid `.zst`), and the
//! wait before bytes reach the file is bounded by the same `--flush-ms` as O_DIRECT's tail.
//! The stage and the output buffer are allocated once per file.

use std::io;
use std::time::{Duration, Instant};

/// Uncompressed bytes per frame: twice zstd's window at the default levels, so most of a
/// frame is compressed with a full history.
pub(crate) const FRAME: usize = 4 << 20;

pub(crate) struct Compress {
    ctx: zstd::bulk::Compressor<'static>,
    stage: Vec<u8>,
    out: Vec<u8>,
    records: u64,
    since: Option<Instant>,
}

impl Compress {
    /// `max_unit` is the largest unit [`Compress::stage`] is given.
    pub fn new(level: i32, max_unit: usize) -> io::Result<Compress> {
        let cap = FRAME + max_unit;
        Ok(Compress {
            ctx: zstd::bulk::Compressor::new(level)?,
            stage: Vec::with_capacity(cap),
            out: Vec::with_capacity(zstd::zstd_safe::compress_bound(cap)),
            records: 0,
            since: None,
        })
    }

    /// Whether `n` more bytes fit the stage without growing it.
    pub fn fits(&self, n: usize) -> bool {
        self.stage.len() + n <= self.stage.capacity()
    }

    pub fn stage(&mut self, bytes: &[u8], records: u64, now: Instant) {
        self.stage.extend_from_slice(bytes);
        self.records += records;
        self.since.get_or_insert(now);
    }

    pub fn is_empty(&self) -> bool {
        self.stage.is_empty()
    }

    pub fn full(&self) -> bool {
        self.stage.len() >= FRAME
    }

    /// Whether the stage has waited `flush`.
    pub fn due(&self, now: Instant, flush: Duration) -> bool {
        self.since.is_some_and(|t| now.duration_since(t) >= flush)
    }

    /// Compresses the stage into one frame and empties it: the frame and the records in it.
    pub fn frame(&mut self) -> (Result<&[u8], String>, u64) {
        let records = std::mem::take(&mut self.records);
        self.since = None;
        if self.out.capacity() < zstd::zstd_safe::compress_bound(self.stage.len()) {
            // Only a unit larger than `max_unit` gets here; grow rather than fail.
            let need = zstd::zstd_safe::compress_bound(self.stage.len());
            self.out.reserve(need);
        }
        let r = self.ctx.compress_to_buffer(&self.stage, &mut self.out);
        self.stage.clear();
        match r {
            Ok(_) => (Ok(&self.out), records),
            Err(e) => (Err(format!("compressing: {e}")), records),
        }
    }
}
