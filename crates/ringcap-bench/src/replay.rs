//! `--replay FILE`: the bench's traffic is a capture file sent by `ringcap gen --replay`
//! through the bench's own namespace (at `--pps`, or as fast as it goes) instead of its SYN or
//! UDP flood, so the write path and `--compress` are measured on real traffic: what share was
//! captured, each side's CPU, and the files' compression ratio next to that of the `zstd` tool
//! at the same level over the same pcap bytes (what ringcap compressed, given back by
//! `zstd -d`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::compare::which;
use crate::run::ZstdCli;

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySpec {
    pub file: PathBuf,
    /// Passes over the file (0 = until `--seconds` ends).
    pub loops: u64,
    /// Frames in the file.
    pub frames: u64,
}

impl ReplaySpec {
    /// Reads `file` through (a clear one-line error if it is not a capture file ringcap
    /// reads) and counts its frames.
    pub fn load(file: PathBuf, loops: u64) -> Result<ReplaySpec, String> {
        let path = file.to_string_lossy().into_owned();
        let mut r = ringcap_pcap::open(&path).map_err(|e| format!("--replay: {e}"))?;
        let mut frames = 0u64;
        while r
            .next_record()
            .map_err(|e| format!("--replay {path}: {e}"))?
            .is_some()
        {
            frames += 1;
        }
        if frames == 0 {
            return Err(format!("--replay {path}: the file holds no frames"));
        }
        Ok(ReplaySpec {
            file,
            loops,
            frames,
        })
    }

    /// The generator's source arguments.
    pub(crate) fn gen_args(&self) -> Vec<String> {
        vec![
            "--replay".into(),
            self.file.to_string_lossy().into_owned(),
            "--loop".into(),
            self.loops.to_string(),
        ]
    }

    /// What the bench's first line says the traffic is.
    pub fn describe(&self) -> String {
        let passes = match self.loops {
            0 => "looped until the run ends".to_string(),
            1 => "once".to_string(),
            n => format!("{n} times"),
        };
        format!(
            "replay of {} ({} frames, {passes})",
            self.file.display(),
            self.frames
        )
    }
}

/// Whether the `zstd` tool can give the reference ratio (the bench says so once if not).
pub fn zstd_tool() -> bool {
    which("zstd").is_some()
}

/// The `zstd` tool at `level` over the same pcap bytes as ringcap's `.zst` files in `dir`:
/// each file decompressed (`zstd -dc`) and compressed again (`zstd -LEVEL -c`), streamed, never
/// held in memory; the compressed bytes summed over the files. (Streamed, the frame header
/// does not carry the content size: 3 bytes less than `zstd -LEVEL FILE` writes.)
pub(crate) fn zstd_reference(dir: &Path, level: i32) -> Result<ZstdCli, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zst"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no .zst file in {}", dir.display()));
    }
    let mut bytes = 0;
    for f in &files {
        bytes += recompress(f, level)?;
    }
    Ok(ZstdCli { level, bytes })
}

/// `zstd -dc FILE | zstd -LEVEL -c | wc -c`.
fn recompress(file: &Path, level: i32) -> Result<u64, String> {
    let mut dec = Command::new("zstd")
        .args(["-q", "-d", "-c"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("zstd -d: {e}"))?;
    let Some(plain) = dec.stdout.take() else {
        return Err("zstd -d: no output".into());
    };
    let mut enc = Command::new("zstd")
        .args(["-q", &format!("-{level}"), "-c"])
        .stdin(Stdio::from(plain))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("zstd -{level}: {e}"))?;
    let mut n = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    if let Some(out) = enc.stdout.as_mut() {
        loop {
            match out.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => n += k as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("zstd -{level}: {e}")),
            }
        }
    }
    let d = dec.wait().map_err(|e| format!("zstd -d: {e}"))?;
    let c = enc.wait().map_err(|e| format!("zstd -{level}: {e}"))?;
    if !d.success() {
        return Err(format!("zstd -d {} failed ({d})", file.display()));
    }
    if !c.success() {
        return Err(format!("zstd -{level} failed ({c})"));
    }
    Ok(n)
}
