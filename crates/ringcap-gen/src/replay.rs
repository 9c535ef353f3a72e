//! Capture files loaded for replay: every Ethernet frame of a pcap or pcapng file (zstd or gzip
//! compressed or not), kept in one buffer with its time offset from the first frame, read
//! through `ringcap-pcap`.

use std::fs::File;
use std::path::Path;

/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;

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
        let (mut reader, _) =
            ringcap_pcap::open_reader(file).map_err(|(source, _)| ReplayError::Read {
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
            out.frames.push(ReplayFrame {
                offset: out.data.len(),
                len: bytes.len() as u32,
                // Out-of-order timestamps are sent at once rather than waited for backwards.
                time_ns: meta.ts_ns.saturating_sub(first),
            });
            out.data.extend_from_slice(bytes);
        }
        if out.frames.is_empty() {
            return Err(ReplayError::Empty { path: name });
        }
        // Keep offsets monotonic so the timing loop never waits for an earlier time.
        let mut max = 0;
        for f in &mut out.frames {
            max = max.max(f.time_ns);
            f.time_ns = max;
        }
        Ok(out)
    }

    /// Builds a replay from frames in memory (tests, the bench).
    pub fn from_frames<'a>(frames: impl IntoIterator<Item = (u64, &'a [u8])>) -> Replay {
        let mut out = Replay::default();
        let mut first = None;
        for (ts, bytes) in frames {
            let f = *first.get_or_insert(ts);
            out.frames.push(ReplayFrame {
                offset: out.data.len(),
                len: bytes.len() as u32,
                time_ns: ts.saturating_sub(f),
            });
            out.data.extend_from_slice(bytes);
        }
        out
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

    /// The longest frame.
    pub fn max_len(&self) -> usize {
        self.frames
            .iter()
            .map(|f| f.len as usize)
            .max()
            .unwrap_or(0)
    }
}
