//! Zero-copy packet header views, one Internet checksum, the one-pass layer summary and a
//! structured dissection.
//!
//! Owns: how bytes on the wire are read and written — header layouts (a private `mod field`
//! of byte ranges per view), protocol numbers, the checksum, the summary used for flow keys,
//! and the dissection that `ringcap read` prints. Every crate that looks inside a packet (the
//! CLI's reader, the generator, the flow table, the test lab) goes through here, so a header
//! layout is written down once.
//!
//! Views follow smoltcp's `wire` module: `XxxPacket<T: AsRef<[u8]>>` wraps a buffer;
//! `new_checked` refuses a buffer too short for the header (or a header whose own lengths
//! contradict each other) with a small [`Error`]; accessors read in network order; setters
//! exist where `T: AsMut<[u8]>`; views over `&'a [u8]` hand out payloads that borrow for `'a`,
//! so a decoder can walk a packet layer by layer without copying.
//!
//! Must not depend on: sockets, `libc`, `ringcap-sys`, the engine, or any other ringcap crate.
//! It is pure code over byte slices, tested without root, with no allocation on the paths a
//! capture worker calls per packet ([`summarize`], the views, [`dissect`]).
#![forbid(unsafe_code)]

pub mod arp;
mod be;
pub mod checksum;
mod consts;
pub mod dissect;
mod error;
pub mod ethernet;
pub mod gre;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod link;
pub mod llc;
pub mod lldp;
pub mod mpls;
mod summary;
pub mod tcp;
pub mod udp;
pub mod vlan;

pub use arp::ArpPacket;
pub use consts::{ethertype, ip_proto};
pub use dissect::{dissect, Layer, Layers};
pub use error::{Error, Result};
pub use ethernet::{EthernetFrame, MacAddr};
pub use gre::GrePacket;
pub use icmp::IcmpPacket;
pub use icmpv6::Icmpv6Packet;
pub use ipv4::Ipv4Packet;
pub use ipv6::{ExtHeader, ExtHeaders, Ipv6Packet};
pub use link::{Link, Sll2Header, SllHeader};
pub use llc::LlcPdu;
pub use lldp::{LldpTlv, LldpTlvs};
pub use mpls::MplsLabel;
pub use summary::{summarize, summarize_ip, Addrs, Summary};
pub use tcp::{TcpOption, TcpOptions, TcpPacket};
pub use udp::UdpPacket;
pub use vlan::VlanTag;
