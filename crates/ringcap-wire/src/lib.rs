//! Zero-copy packet header views, one Internet checksum, and the one-pass layer summary.
//!
//! Owns: how bytes on the wire are read and written — header layouts (`mod field` byte ranges
//! per view), protocol numbers, the checksum, the summary used for flow keys, and the
//! structured dissection that `ringcap read` prints. Every crate that looks inside a packet
//! (the CLI's reader, the generator, the flow table, the test lab) goes through here, so a
//! header layout is written down once.
//!
//! Must not depend on: sockets, `libc`, `ringcap-sys`, the engine, or any other ringcap crate.
//! It is pure code over byte slices, tested without root, and allocation-free on the paths a
//! capture worker calls per packet.
#![forbid(unsafe_code)]

mod consts;
mod error;
mod summary;

pub use consts::{ethertype, ip_proto};
pub use error::{Error, Result};
pub use summary::{summarize, summarize_ip, Addrs, Summary};
