//! What a capture needs to know about an interface's link layer, and the cooked packet socket.
//!
//! tcpdump's `-D`, `-L` and `-i any` rest on three facts: the interface's flags (up, running,
//! loopback), its ARP hardware type (which decides the data link types it offers) and whether
//! its link is detected. All three are asked through the interface's own ioctls, which answer
//! for the calling thread's network namespace (sysfs answers for the namespace it was mounted
//! in). The cooked (`SOCK_DGRAM`) socket is what libpcap opens for `any`: the kernel strips
//! each device's link-layer header and describes it in the `sockaddr_ll` beside the packet.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::net::ioctl_ifreq_words;
use crate::{cvt, socket, Errno, Error, Result};

/// Interface flag: the link is operational (`IFF_RUNNING`, as SIOCGIFFLAGS reports it).
pub const IFF_RUNNING: u32 = libc::IFF_RUNNING as u32;
/// Interface flag: a loopback device (`IFF_LOOPBACK`).
pub const IFF_LOOPBACK: u32 = libc::IFF_LOOPBACK as u32;

/// `ARPHRD_ETHER`: Ethernet (and veth, bridges, bonds, dummies...).
pub const ARPHRD_ETHER: u16 = 1;
/// `ARPHRD_LOOPBACK`: `lo`, which carries Ethernet headers of zeros.
pub const ARPHRD_LOOPBACK: u16 = 772;
/// `ARPHRD_NONE`: no link-layer header (tun devices).
pub const ARPHRD_NONE: u16 = 0xfffe;
/// ARP hardware types of wireless devices (libpcap counts these as wireless for `-D`).
pub const ARPHRD_WIRELESS: [u16; 7] = [783, 801, 802, 803, 804, 805, 825];

/// Opens an AF_PACKET cooked socket (`SOCK_DGRAM`) with protocol 0: like
/// [`crate::packet_socket`], it receives nothing until it is bound with a protocol. Packets
/// arrive without their link-layer header, which the kernel describes in the `sockaddr_ll`
/// (protocol, interface, hardware type, packet type, address) beside each one.
pub fn packet_socket_cooked() -> Result<OwnedFd> {
    socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)
}

/// The interface's ARP hardware type (`ARPHRD_*`) through SIOCGIFHWADDR.
pub fn hardware_type(name: &str) -> Result<u16> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(Error::from_errno("ioctl(SIOCGIFHWADDR)", Errno::ENODEV));
    }
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the name and writes the union of the ifreq we pass, which
    // lives across the call.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut ifr) };
    cvt(ret, "ioctl(SIOCGIFHWADDR)")?;
    // SAFETY: after SIOCGIFHWADDR the union holds ifru_hwaddr, whose family is the type.
    Ok(unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_family })
}

/// `ETHTOOL_GLINK`: whether the driver sees a link (`Some(true)`), no link (`Some(false)`),
/// or cannot say (`None`: the driver has no ethtool link state, EOPNOTSUPP or EINVAL).
pub fn link_detected(name: &str) -> Result<Option<bool>> {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_GLINK: u32 = 0x0a;
    // struct ethtool_value { __u32 cmd; __u32 data; }
    let mut buf = [ETHTOOL_GLINK, 0u32];
    // SAFETY: ETHTOOL_GLINK reads and writes a struct ethtool_value, two u32 words: buf.
    let r = unsafe {
        ioctl_ifreq_words(
            name,
            SIOCETHTOOL,
            &mut buf,
            "ioctl(SIOCETHTOOL, ETHTOOL_GLINK)",
        )
    };
    match r {
        Ok(()) => Ok(Some(buf[1] != 0)),
        Err(e) if matches!(e.errno(), Some(Errno::EOPNOTSUPP) | Some(Errno::EINVAL)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_facts() {
        // Every network namespace has `lo`; its facts need no privilege.
        assert_eq!(hardware_type("lo").unwrap(), ARPHRD_LOOPBACK);
        let flags = crate::interface_flags("lo").unwrap();
        assert_ne!(flags & IFF_LOOPBACK, 0);
        assert!(hardware_type("no-such-if0").is_err());
        assert!(hardware_type("").is_err());
    }
}
