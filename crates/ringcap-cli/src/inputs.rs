//! The inputs of `ringcap read -r`: one file, standard input, or a glob of files (quoted, so
//! ringcap expands it: `-r 'DIR/*.pcap*'`), compressed or not, read in time order; with
//! `--since`/`--until` only the files whose span overlaps the range are opened for reading.
//!
//! A file's span (first and last timestamps) comes from its ends without reading it through
//! (see `ringcap_pcap::span`): the header and first record, the last record found from the end
//! of the file, or the trailer of a zstd file ringcap wrote; other compressed files are read
//! through once for it. Files are assumed to be in time order within themselves (as captures
//! are): a record outside the range is skipped, and a file's reading stops a second past the
//! end of the range.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};
use ringcap_pcap::span::file_span;
use ringcap_pcap::{Input, Reader};

/// Records this far past `--until` end a file's reading (within-file disorder is smaller).
pub const UNTIL_SLACK_NS: u64 = 1_000_000_000;

/// Parses a `--since`/`--until` time: seconds since the epoch (`1795736400.25`), RFC 3339
/// (`2026-11-27T10:00:00Z`, `…+01:00`), or a local date and time as tcpdump prints them
/// (`2026-11-27 10:00:00.5`, `2026-11-27T10:00`, `2026-11-27`).
pub fn parse_time(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let bad = || {
        anyhow::anyhow!(
            "{s:?} is not a time (seconds since the epoch, 2026-11-27T10:00:00Z, or local \
             2026-11-27 10:00:00)"
        )
    };
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if t.bytes().filter(|&b| b == b'.').count() > 1 {
            return Err(bad());
        }
        let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
        let secs: u64 = secs.parse().map_err(|_| bad())?;
        let mut ns = 0u64;
        for (i, d) in frac.bytes().take(9).enumerate() {
            ns += (d - b'0') as u64 * 10u64.pow(8 - i as u32);
        }
        return secs
            .checked_mul(1_000_000_000)
            .and_then(|v| v.checked_add(ns))
            .ok_or_else(bad);
    }
    let to_ns = |d: DateTime<chrono::Utc>| -> anyhow::Result<u64> {
        d.timestamp_nanos_opt()
            .filter(|&n| n >= 0)
            .map(|n| n as u64)
            .ok_or_else(bad)
    };
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return to_ns(d.to_utc());
    }
    let local = |n: NaiveDateTime| -> anyhow::Result<u64> {
        let d = Local.from_local_datetime(&n).earliest().ok_or_else(bad)?;
        to_ns(d.to_utc())
    };
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return local(n);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return local(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?);
    }
    Err(bad())
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The files `-r` names: `-`, a file, or a glob pattern (when no file has that very name).
pub fn expand(spec: &str) -> anyhow::Result<Vec<String>> {
    if spec == "-" || !has_glob(spec) || Path::new(spec).exists() {
        return Ok(vec![spec.to_string()]);
    }
    let paths = glob::glob(spec).map_err(|e| anyhow::anyhow!("-r {spec}: {e}"))?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("-r {spec}: no file matches");
    }
    Ok(files
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}

/// The inputs, opened and ready to be merged.
pub struct Inputs {
    pub readers: Vec<Reader<Input>>,
    pub names: Vec<String>,
    /// Files matched before the range was applied.
    pub matched: usize,
}

/// Expands `spec` and opens the files, keeping with a range only those that overlap it.
pub fn open(spec: &str, since: Option<u64>, until: Option<u64>) -> anyhow::Result<Inputs> {
    let files = expand(spec)?;
    let matched = files.len();
    let mut readers = Vec::with_capacity(files.len());
    let mut names = Vec::with_capacity(files.len());
    for f in files {
        // In a set of files, one just created by a capture that is still writing holds no
        // header yet.
        if matched > 1 && std::fs::metadata(&f).is_ok_and(|m| m.len() == 0) {
            eprintln!("ringcap: note: {f} is empty; skipped");
            continue;
        }
        if (since.is_some() || until.is_some()) && f != "-" {
            let span = file_span(Path::new(&f)).with_context(|| format!("reading {f}"))?;
            let overlaps = span.is_some_and(|s| {
                since.is_none_or(|t| s.last_ns >= t) && until.is_none_or(|t| s.first_ns < t)
            });
            if !overlaps {
                continue;
            }
        }
        readers.push(ringcap_pcap::open(&f)?);
        names.push(f);
    }
    Ok(Inputs {
        readers,
        names,
        matched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1795736400").unwrap(), 1_795_736_400_000_000_000);
        assert_eq!(parse_time("12.000000005").unwrap(), 12_000_000_005);
        assert_eq!(parse_time("12.5").unwrap(), 12_500_000_000);
        assert_eq!(
            parse_time("2026-11-27T10:00:00Z").unwrap(),
            1_795_773_600_000_000_000
        );
        assert_eq!(
            parse_time("2026-11-27T11:00:00.25+01:00").unwrap(),
            1_795_773_600_250_000_000
        );
        let local = parse_time("2026-11-27 10:00:00").unwrap();
        assert_eq!(parse_time("2026-11-27T10:00").unwrap(), local);
        assert!(parse_time("2026-11-27").unwrap() <= local);
        for bad in ["", "yesterday", "1.2.3", "2026-13-01"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
