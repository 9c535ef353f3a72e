//! Where the capture files of `--write` runs (and the compared tools' files) go: a private
//! tmpfs mounted for the bench with 2 MiB pages (`huge=always`), so runs measure the capture path
//! rather than a disk or 4 KiB page-cache allocation (every 4 KiB page of a growing tmpfs file
//! is allocated, charged and inserted one by one otherwise, several times the cost of the copy).
//! All tools write to the same place. `--write-dir` picks a directory instead (e.g. a real
//! disk). Unmounted and removed at the end, also after Ctrl-C or an error.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(crate) struct Scratch {
    pub dir: PathBuf,
    /// The mount point this bench made, if any.
    mount: Option<PathBuf>,
    /// What it is, for the bench's first lines.
    pub what: String,
    /// What row names say after `-w`: `tmpfs`, or the directory given.
    pub label: String,
    /// `--keep-files`: the last run's files stay.
    keep: bool,
}

impl Scratch {
    pub fn new(write_dir: Option<&Path>, keep: bool) -> Result<Scratch> {
        let name = format!("ringcap-bench-{}", std::process::id());
        if let Some(d) = write_dir {
            let dir = d.join(&name);
            std::fs::create_dir_all(&dir).map_err(Error::io(format!(
                "--write-dir: creating {}",
                dir.display()
            )))?;
            return Ok(Scratch {
                what: format!("files in {}", dir.display()),
                label: d.display().to_string(),
                dir,
                mount: None,
                keep,
            });
        }
        let point = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&point)
            .map_err(Error::io(format!("creating {}", point.display())))?;
        let mounted = ringcap::process::mount_tmpfs(&point, "huge=always,mode=0700")
            .map(|()| "private tmpfs, 2 MiB pages")
            .or_else(|_| {
                ringcap::process::mount_tmpfs(&point, "mode=0700").map(|()| "private tmpfs")
            });
        match mounted {
            Ok(what) => Ok(Scratch {
                what: format!("files on a {what} at {}", point.display()),
                label: "tmpfs".into(),
                dir: point.clone(),
                mount: Some(point),
                keep: false,
            }),
            Err(e) => {
                // No mount allowed (e.g. a container): the shared tmpfs.
                let _ = std::fs::remove_dir(&point);
                let shm = Path::new("/dev/shm").is_dir();
                let base = Path::new(if shm { "/dev/shm" } else { "/tmp" });
                let dir = base.join(&name);
                std::fs::create_dir_all(&dir)
                    .map_err(Error::io(format!("creating {}", dir.display())))?;
                Ok(Scratch {
                    what: format!("files in {} (no private tmpfs: {e})", dir.display()),
                    label: if shm { "tmpfs".into() } else { "/tmp".into() },
                    dir,
                    mount: None,
                    keep: false,
                })
            }
        }
    }

    /// Removes the files of the last run.
    pub fn clear(&self) {
        if let Ok(d) = std::fs::read_dir(&self.dir) {
            for e in d.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        self.clear();
        if let Some(m) = &self.mount {
            let _ = ringcap::process::unmount(m);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
