//! Capture files loaded for replay: every Ethernet frame of a pcap or pcapng file, kept in one
//! buffer with its time offset from the first frame, read through `ringcap-pcap`.
//!
//! Timestamps come from the file and may be anything: 0, the end of the 32-bit seconds of pcap,
//! 64-bit pcapng units, going backwards. Offsets from the first frame are taken with saturating
//! arithmetic and made monotonic (a frame stamped earlier than the one before it goes out right
//! after it), and the `--timing file` schedule over several loops is checked once
//! ([`Replay::check_timing`]) and computed saturating ([`Replay::time_in_loop`]), so no
//! timestamp can overflow it.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ringcap_pcap::Reader;

/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;

/// The longest `--timing file` schedule: offsets from the start on CLOCK_MONOTONIC, kept within
/// a signed 64-bit count of nanoseconds (292 years) like every kernel time, so adding one to the
/// clock never overflows.
pub const MAX_SCHEDULE_NS: u64 = i64::MAX as u64;

/// Why a replay file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: ringcap_pcap::ReadError,
    },
    #[error("{path}: packet {index} has link type {linktype}, but only Ethernet (1) frames can be replayed")]
    LinkType {
        path: String,
        index: u64,
        linktype: u32,
    },
    #[error("{path} holds no packets")]
    Empty { path: String },
    #[error("{}", timing_text(.span_ns, .loops, .total_ns))]
    Timing {
        span_ns: u64,
        loops: u64,
        /// The schedule's length (for --loop 0, one pass and the gap to the next).
        total_ns: u128,
    },
}

fn timing_text(span_ns: &u64, loops: &u64, total_ns: &u128) -> String {
    let what = match loops {
        0 => "one pass of endless --loop 0 and the pause before the next".to_string(),
        1 => "one pass".to_string(),
        n => format!("{n} passes"),
    };
    format!(
        "--timing file cannot keep this timing: {what} of frames {} apart (first to last) take {}, more than the 292 years a schedule holds; use --timing asap{}",
        human_ns(*span_ns as u128),
        human_ns(*total_ns),
        if *loops == 1 { "" } else { " or fewer --loop" }
    )
}

/// A duration for people: "136.1 years", "2.5 days", "3.000 s".
fn human_ns(ns: u128) -> String {
    let s = ns as f64 / 1e9;
    if s >= 365.25 * 86400.0 {
        format!("{:.1} years", s / (365.25 * 86400.0))
    } else if s >= 86400.0 {
        format!("{:.1} days", s / 86400.0)
    } else {
        format!("{s:.3} s")
    }
}

/// One frame of a replay file.
#[derive(Debug, Clone, Copy)]
pub struct ReplayFrame {
    /// Offset of the bytes in [`Replay::data`].
    pub offset: usize,
    pub len: u32,
    /// Nanoseconds after the first frame.
    pub time_ns: u64,
}

/// The frames of a capture file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    pub data: Vec<u8>,
    pub frames: Vec<ReplayFrame>,
    /// Frames that were cut short when captured (caplen < length): they are sent as captured.
    pub truncated: u64,
}

impl Replay {
    /// Loads every frame of a pcap or pcapng file (Ethernet only).
    pub fn load(path: &Path) -> Result<Replay, ReplayError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| ReplayError::Open {
            path: name.clone(),
            source,
        })?;
        let mut reader = Reader::new(BufReader::new(file)).map_err(|source| ReplayError::Read {
            path: name.clone(),
            source,
        })?;
        let mut out = Replay::default();
        let mut first_ts = None;
        let mut index = 0u64;
        loop {
            let rec = reader.next_packet().map_err(|source| ReplayError::Read {
                path: name.clone(),
                source,
            })?;
            let Some((meta, bytes)) = rec else { break };
            index += 1;
            if meta.linktype != LINKTYPE_ETHERNET {
                return Err(ReplayError::LinkType {
                    path: name,
                    index,
                    linktype: meta.linktype,
                });
            }
            let first = *first_ts.get_or_insert(meta.ts_ns);
            if meta.caplen < meta.orig_len {
                out.truncated += 1;
            }
            out.push(meta.ts_ns.saturating_sub(first), bytes);
        }
        if out.frames.is_empty() {
            return Err(ReplayError::Empty { path: name });
        }
        Ok(out)
    }

    /// Builds a replay from frames in memory (tests, the bench): timestamps in nanoseconds,
    /// handled as [`Replay::load`] handles a file's.
    pub fn from_frames<'a>(frames: impl IntoIterator<Item = (u64, &'a [u8])>) -> Replay {
        let mut out = Replay::default();
        let mut first = None;
        for (ts, bytes) in frames {
            let f = *first.get_or_insert(ts);
            out.push(ts.saturating_sub(f), bytes);
        }
        out
    }

    /// Appends a frame `offset_ns` after the first. Offsets stay monotonic, so the timing loop
    /// never waits for an earlier time: an out-of-order frame goes out at once.
    fn push(&mut self, offset_ns: u64, bytes: &[u8]) {
        let prev = self.frames.last().map_or(0, |f| f.time_ns);
        self.frames.push(ReplayFrame {
            offset: self.data.len(),
            len: bytes.len() as u32,
            time_ns: offset_ns.max(prev),
        });
        self.data.extend_from_slice(bytes);
    }

    pub fn frame(&self, i: usize) -> &[u8] {
        let f = &self.frames[i];
        &self.data[f.offset..f.offset + f.len as usize]
    }

    /// Time from the first frame to the last.
    pub fn span_ns(&self) -> u64 {
        self.frames.last().map_or(0, |f| f.time_ns)
    }

    /// The pause put between the last frame of one loop and the first of the next with
    /// `--timing file`: the file's mean gap between frames.
    pub fn loop_gap_ns(&self) -> u64 {
        match self.frames.len() {
            0 | 1 => 0,
            n => self.span_ns() / (n as u64 - 1),
        }
    }

    /// One loop with `--timing file`: from a first frame to the next loop's first frame.
    pub fn loop_period_ns(&self) -> u64 {
        self.span_ns().saturating_add(self.loop_gap_ns())
    }

    /// When frame `idx` of loop `loop_no` (from 0) is due with `--timing file`, in nanoseconds
    /// after the start. Saturates at `u64::MAX` (never) instead of wrapping.
    pub fn time_in_loop(&self, loop_no: u64, idx: usize) -> u64 {
        self.loop_period_ns()
            .saturating_mul(loop_no)
            .saturating_add(self.frames[idx].time_ns)
    }

    /// Checks that `--timing file` can keep this replay's timing over `loops` passes (0 = for
    /// ever: one pass and the pause to the next must fit) within [`MAX_SCHEDULE_NS`]; returns
    /// the schedule's length.
    pub fn check_timing(&self, loops: u64) -> Result<u64, ReplayError> {
        let span = self.span_ns() as u128;
        let period = span + self.loop_gap_ns() as u128;
        let total = match loops {
            0 => period,
            n => (n as u128 - 1) * period + span,
        };
        if total > MAX_SCHEDULE_NS as u128 {
            return Err(ReplayError::Timing {
                span_ns: self.span_ns(),
                loops,
                total_ns: total,
            });
        }
        Ok(total as u64)
    }

    /// The longest frame.
    pub fn max_len(&self) -> usize {
        self.frames
            .iter()
            .map(|f| f.len as usize)
            .max()
            .unwrap_or(0)
    }
}
