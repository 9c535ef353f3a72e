//! The route to a remote address, as far as a UDP exporter needs it.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;

/// The path MTU the kernel has for the route to `addr` (a connected UDP socket's `IP_MTU`),
/// so export messages can be sized never to fragment. Fails when there is no route.
pub fn path_mtu(addr: SocketAddr) -> std::io::Result<u32> {
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local)?;
    sock.connect(addr)?;
    ringcap_sys::udp_path_mtu(sock.as_fd(), addr.is_ipv6())
        .map_err(|e| std::io::Error::other(e.to_string()))
}
