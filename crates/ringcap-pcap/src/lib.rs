//! pcap and pcapng files: writing at full capture rate, reading any file that tcpdump, dumpcap or
//! Wireshark writes, rotation (tcpdump's `-C`, `-G`, `-W`) and a streaming merge.
//!
//! Pure code over bytes and `std::io`: no sockets, so it is tested without root and could be
//! published on its own.
//!
//! * [`Writer`] serialises records into one large in-memory buffer and hands the output big
//!   writes: no system call and no allocation per packet. A record is given in parts
//!   (`&[&[u8]]`) so that a VLAN tag can be put back without copying the frame first
//!   ([`vlan_parts`]). A failed write stops the writer and leaves the file valid up to its last
//!   whole record.
//! * [`Reader`] streams records from any `Read` (a file, standard input) in bounded memory,
//!   hands out every whole record before damage, then an error with the byte offset.
//! * [`RotatingWriter`] opens new files as tcpdump does; [`merge`] joins ordered inputs.

#![forbid(unsafe_code)]

mod merge;
mod reader;
mod rotate;
mod strftime;
mod writer;

pub use merge::{merge, MergeError, MergeStats};
pub use reader::{FileKind, InterfaceInfo, ReadError, ReadErrorKind, Reader, RecordMeta};
pub use rotate::{RotatingWriter, Rotation, RotationError};
pub use strftime::strftime_local;
pub use writer::{
    vlan_parts, Format, IfStats, Interface, Output, Precision, WriteError, Writer, WriterOptions,
};

/// LINKTYPE_ values (as stored in files; tcpdump's DLT names).
pub mod linktype {
    /// BSD loopback: a 4-byte address family in host byte order.
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW: u32 = 101;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;

    /// A short name, like tcpdump's `-L` output.
    pub fn name(lt: u32) -> &'static str {
        match lt {
            NULL => "NULL",
            ETHERNET => "EN10MB",
            RAW => "RAW",
            LINUX_SLL => "LINUX_SLL",
            LINUX_SLL2 => "LINUX_SLL2",
            IPV4 => "IPV4",
            IPV6 => "IPV6",
            _ => "other",
        }
    }
}

/// The largest record ringcap reads or writes: larger claims are damage, not packets
/// (Wireshark's own limit for a packet is 256 KiB; pcapng blocks carry options too).
pub const MAX_RECORD: u32 = 16 << 20;

/// Default snap length, as tcpdump's.
pub const DEFAULT_SNAPLEN: u32 = 262_144;
