//! What a capture's packets start with (its link layer) and which way they go: tcpdump's
//! `-i any`/`-y` and `-Q`.

/// The pseudo-interface that captures on every interface, as in tcpdump (`-i any`).
pub const ANY: &str = "any";

/// What the packets handed to handlers start with, and the pcap link type they are written as.
///
/// `Ethernet` opens raw sockets (`SOCK_RAW`): frames as the device has them. The cooked types
/// open `SOCK_DGRAM` sockets, as libpcap does for `any`: the kernel removes each device's
/// link-layer header and describes it in the packet's [`crate::packet::Link`]; a writer puts a
/// LINUX_SLL or LINUX_SLL2 header built from it in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkLayer {
    /// DLT_EN10MB: Ethernet frames (Ethernet devices, veth, and `lo`).
    Ethernet,
    /// DLT_LINUX_SLL: "Linux cooked v1", a 16-byte header.
    LinuxSll,
    /// DLT_LINUX_SLL2: "Linux cooked v2", a 20-byte header with the interface index (the
    /// default of `-i any`, as in tcpdump).
    LinuxSll2,
}

impl LinkLayer {
    /// tcpdump's name (`-L`, `-y`).
    pub fn name(self) -> &'static str {
        match self {
            LinkLayer::Ethernet => "EN10MB",
            LinkLayer::LinuxSll => "LINUX_SLL",
            LinkLayer::LinuxSll2 => "LINUX_SLL2",
        }
    }

    /// tcpdump's description (`-L`).
    pub fn description(self) -> &'static str {
        match self {
            LinkLayer::Ethernet => "Ethernet",
            LinkLayer::LinuxSll => "Linux cooked v1",
            LinkLayer::LinuxSll2 => "Linux cooked v2",
        }
    }

    /// The LINKTYPE_ value stored in pcap files.
    pub fn linktype(self) -> u32 {
        match self {
            LinkLayer::Ethernet => 1,
            LinkLayer::LinuxSll => 113,
            LinkLayer::LinuxSll2 => 276,
        }
    }

    /// Bytes of the cooked header a writer puts before the packet (0 for Ethernet).
    pub fn header_len(self) -> u32 {
        match self {
            LinkLayer::Ethernet => 0,
            LinkLayer::LinuxSll => 16,
            LinkLayer::LinuxSll2 => 20,
        }
    }

    pub fn is_cooked(self) -> bool {
        self != LinkLayer::Ethernet
    }

    /// From a `-y` name, case-insensitive.
    pub fn from_name(name: &str) -> Option<LinkLayer> {
        match name.to_ascii_uppercase().as_str() {
            "EN10MB" => Some(LinkLayer::Ethernet),
            "LINUX_SLL" => Some(LinkLayer::LinuxSll),
            "LINUX_SLL2" => Some(LinkLayer::LinuxSll2),
            _ => None,
        }
    }

    /// The data link types an interface offers, in tcpdump's `-L` order: `any` is cooked
    /// (LINUX_SLL, LINUX_SLL2); Ethernet and loopback devices are EN10MB. Other hardware types
    /// (tun, tunnels, InfiniBand...) are not captured by ringcap: an empty list.
    pub fn offered(iface: &str, hatype: Option<u16>) -> Vec<LinkLayer> {
        use ringcap_sys::link::{ARPHRD_ETHER, ARPHRD_LOOPBACK};
        if iface == ANY {
            return vec![LinkLayer::LinuxSll, LinkLayer::LinuxSll2];
        }
        match hatype {
            Some(ARPHRD_ETHER) | Some(ARPHRD_LOOPBACK) => vec![LinkLayer::Ethernet],
            _ => Vec::new(),
        }
    }
}

/// Which way the captured packets go, as tcpdump's `-Q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways (the default).
    #[default]
    InOut,
    /// Only packets the host received: outgoing ones never reach the socket
    /// (PACKET_IGNORE_OUTGOING), so the kernel does not even copy them.
    In,
    /// Only packets the host sent: the kernel filter refuses the others by their packet type
    /// (libpcap drops them in user space after the kernel counted them; here they are never
    /// counted, so kernel = received + dropped still holds).
    Out,
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            "inout" => Ok(Direction::InOut),
            _ => Err(format!("unknown capture direction {s:?} (in, out, inout)")),
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::InOut => "inout",
            Direction::In => "in",
            Direction::Out => "out",
        })
    }
}
