//! Facts about network interfaces that matter to a capture box, read the way the classic shell
//! scripts read them but parsed properly:
//!
//! - [`stats`]: `/sys/class/net/IF/statistics` counters and per-second rates (`ringcap ifstat`);
//! - [`cpu`]: per-CPU `NET_RX` softirq counts (`/proc/softirqs`) and CPU load (`/proc/stat`);
//! - [`irq`]: a device's queue interrupts (`msi_irqs`, `/proc/interrupts`), their affinity
//!   (`/proc/irq/N/smp_affinity_list`), spreading them over CPUs, and RPS (`rps_cpus`);
//! - [`iface`]: driver, link, speed, MTU, queue counts and the offloads that change what a
//!   capture sees (through the ethtool ioctl), with advice.
//!
//! Parsing is split from reading: every `parse_*` function takes the file's text and is unit
//! tested on literal text copied from real machines; the readers add paths and errors.
//!
//! **Owns:** reading and parsing interface, IRQ, RPS and CPU facts from sysfs, procfs and the
//! ethtool ioctl, the advice derived from them, and writing IRQ affinities and RPS masks.
//! **Depends on:** `ringcap-sys` only (for ethtool and interface lookups). **Must not depend
//! on:** the capture engine, the CLI or any test crate; it takes no packets and opens no packet
//! socket. Types of ringcap-sys that its answers carry are re-exported ([`iface::Duplex`] and
//! the like), so its callers never name ringcap-sys.

#![forbid(unsafe_code)]

pub mod cpu;
pub mod cpulist;
pub mod iface;
pub mod irq;
pub mod stats;

use std::path::{Path, PathBuf};

/// Why reading or changing an interface's facts failed. Each variant reads as one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no interface named {name:?} (available: {})", available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    #[error("cannot write {}: permission denied (needs root)", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
    #[error("{what}: {detail}")]
    Parse { what: String, detail: String },
    #[error(transparent)]
    Sys(#[from] ringcap_sys::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    fn parse(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Parse {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Checks that `name` is an interface of this network namespace; the error lists those that are.
pub fn check_interface(name: &str) -> Result<u32> {
    ringcap_sys::if_nametoindex(name).ok_or_else(|| {
        let mut available = ringcap_sys::interface_names();
        available.sort();
        Error::NoSuchInterface {
            name: name.to_string(),
            available,
        }
    })
}

pub(crate) fn read_file(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a sysfs or procfs file in one `write`, as the kernel expects; EACCES/EPERM become
/// [`Error::PermissionDenied`] naming the file.
pub(crate) fn write_file(path: impl AsRef<Path>, text: &str) -> Result<()> {
    let path = path.as_ref();
    let res = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
    res.map_err(|source| match source.kind() {
        std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            path: path.to_path_buf(),
        },
        _ => Error::Write {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// The sysfs directory of an interface.
pub fn sysfs_dir(iface: &str) -> PathBuf {
    Path::new("/sys/class/net").join(iface)
}
