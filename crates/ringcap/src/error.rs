//! The engine's errors: each says what failed and, where there is one, what to do about it.

use ringcap_sys as sys;

fn human(bytes: u64) -> String {
    crate::stats::human_bytes(bytes)
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} needs the CAP_NET_RAW capability (run as root, or grant it: setcap cap_net_raw,cap_net_admin+eip ringcap)")]
    NotPermitted { what: &'static str },
    #[error("no interface named {name:?} (interfaces: {})", available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    #[error("interface {name} is down (bring it up: ip link set {name} up)")]
    InterfaceDown { name: String },
    #[error("invalid ring geometry: {0}")]
    Geometry(String),
    #[error("ring memory {} ({workers} workers x {blocks} blocks x {}) is above --max-memory {}; lower --threads, --blocks or --block-size, or raise --max-memory", human(*total), human(*block_size as u64), human(*max))]
    TooMuchMemory {
        total: u64,
        max: u64,
        workers: usize,
        blocks: u32,
        block_size: u32,
    },
    #[error("the kernel refused a ring of {} per worker ({blocks} blocks x {}): {source}; lower --blocks or --block-size", human(*bytes), human(*block_size as u64))]
    RingRefused {
        bytes: u64,
        blocks: u32,
        block_size: u32,
        #[source]
        source: sys::Error,
    },
    #[error("fanout mode {mode} was refused by the kernel ({source}); a group with this id may exist with other settings, or the mode is unsupported")]
    Fanout {
        mode: String,
        #[source]
        source: sys::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("interface {name} went away during the capture ({source})")]
    InterfaceGone {
        name: String,
        #[source]
        source: sys::Error,
    },
    #[error("{0}")]
    Handler(String),
    /// AF_XDP setup failures (program load, attach, socket binding), each message complete.
    #[error("{0}")]
    Xdp(String),
    #[error(transparent)]
    Sys(#[from] sys::Error),
}

impl Error {
    /// Maps a failed socket(2) to the capability message when it was a permission problem.
    pub(crate) fn from_socket(e: sys::Error, what: &'static str) -> Error {
        match e.errno() {
            Some(sys::Errno::EPERM) | Some(sys::Errno::EACCES) => Error::NotPermitted { what },
            _ => Error::Sys(e),
        }
    }
}
