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
//! ```
//! use ringcap_wire::{dissect, summarize, Addrs, Layer, Link, TcpPacket};
//!
//! // A 54-byte Ethernet/IPv4/TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80.
//! let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
//! f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
//! f.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff]);
//! f.extend_from_slice(&[0, 0, 0, 0]);
//!
//! // Flow key fields, one pass, no allocation.
//! let s = summarize(&f);
//! assert_eq!(s.addrs, Addrs::V4 { src: [10, 0, 0, 1], dst: [10, 0, 0, 2] });
//! assert_eq!((s.proto, s.src_port, s.dst_port, s.tcp_flags), (6, 40000, 80, 0x02));
//!
//! // Every layer as a typed view.
//! let tcp = dissect(Link::Ethernet, &f).find_map(|l| match l {
//!     Layer::Tcp(t) => Some(t),
//!     _ => None,
//! });
//! assert!(tcp.is_some_and(|t| t.syn() && t.window_len() == 0xffff));
//!
//! // Checked constructors refuse short buffers instead of panicking later.
//! assert!(TcpPacket::new_checked(&f[34..50]).is_err());
//! ```
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
