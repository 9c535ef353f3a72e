//! What a directory's disk takes with the O_DIRECT writer's own pattern: aligned 4 MiB
//! appends, one in flight, as an I/O thread writes a growing capture file (and as
//! `dd bs=4M oflag=direct` does). The bench puts this figure beside the MB/s a capture wrote,
//! idle and while the same traffic runs, so "not written: writer behind" can be told apart
//! from a disk that takes no more.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::direct::{write_all_at, Aligned, MAX_ALIGN, STAGE};

/// The probe's file is cut back to nothing once this long, so a long probe of a fast disk
/// does not fill it (each new start is an append again, as after a rotation).
const MAX_FILE: u64 = 2 << 30;

/// What [`start`] gives back: bytes per second the disk took, or why the directory's file
/// system does not take O_DIRECT.
pub type Probe = io::Result<Result<f64, String>>;

/// Starts a thread (pinned to `cpu`, as an output thread would be) that waits `delay`, then
/// appends to a new file in `dir` with O_DIRECT for `dur` (or until `stop` says so), then
/// removes the file.
pub fn start(
    dir: &Path,
    delay: Duration,
    dur: Duration,
    cpu: Option<usize>,
    stop: impl Fn() -> bool + Send + 'static,
) -> io::Result<JoinHandle<Probe>> {
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("ringcap-disk".into())
        .spawn(move || {
            if let Some(c) = cpu {
                // Best effort, as for the output threads.
                let _ = ringcap_sys::pin_current_thread(c);
            }
            std::thread::sleep(delay);
            direct_append_rate(&dir, dur, &stop)
        })
}

/// [`start`]'s work, on the calling thread.
pub fn direct_append_rate(dir: &Path, dur: Duration, stop: &dyn Fn() -> bool) -> Probe {
    let path = dir.join(format!(".ringcap-disk-probe-{}", std::process::id()));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let r = append(&f, dur, stop);
    drop(f);
    let _ = std::fs::remove_file(&path);
    r
}

fn append(f: &File, dur: Duration, stop: &dyn Fn() -> bool) -> Probe {
    if let Err(why) = crate::out_file::try_direct(f) {
        return Ok(Err(why));
    }
    let mut buf = Aligned::new(STAGE, MAX_ALIGN);
    // Not zeros, which some virtual disks take faster than data.
    for (i, b) in buf.as_mut().iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8;
    }
    let t0 = Instant::now();
    let (mut off, mut total) = (0u64, 0u64);
    while t0.elapsed() < dur && !stop() {
        if off >= MAX_FILE {
            f.set_len(0)?;
            off = 0;
        }
        write_all_at(f, buf.as_slice(), off).map_err(|(_, e)| e)?;
        off += STAGE as u64;
        total += STAGE as u64;
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(Ok(if secs > 0.0 { total as f64 / secs } else { 0.0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_of_the_checkouts_disk_writes_and_leaves_nothing() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
        let before: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        let probe = start(
            &dir,
            Duration::ZERO,
            Duration::from_millis(300),
            Some(0),
            || false,
        );
        match probe.unwrap().join().unwrap().unwrap() {
            Ok(rate) => assert!(rate > 0.0, "{rate}"),
            Err(why) => ringcap_netlab::skip::skip(&format!("{}: {why}", dir.display())),
        }
        let after: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            before.len(),
            after.len(),
            "the probe's file was left behind"
        );
        // A tmpfs refuses: a reason, no file.
        let shm = std::path::Path::new("/dev/shm");
        if shm.is_dir() {
            let r = direct_append_rate(shm, Duration::from_millis(100), &|| false).unwrap();
            assert!(r.is_err(), "{r:?}");
        }
    }
}
