//! One AF_PACKET socket of a capture: opened, filtered, bound and joined to the fanout group in
//! an order that never lets an unfiltered or un-fanned-out packet in; plus the one-packet-per-
//! `recvmsg` receive path.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use ringcap_sys as sys;
use ringcap_sys::packet as pk;
use ringcap_sys::Errno;

use crate::packet::{Link, Packet, Vlan};
use crate::{Error, Result};

/// Opens a packet socket that receives nothing yet (protocol 0, not bound): raw (frames with
/// their link-layer header) or cooked (from the network header on, the link layer described
/// beside each packet; what `-i any` needs).
pub fn open(cooked: bool) -> Result<Arc<OwnedFd>> {
    let fd = if cooked {
        sys::link::packet_socket_cooked()
    } else {
        sys::packet_socket()
    }
    .map_err(|e| Error::from_socket(e, "opening an AF_PACKET socket"))?;
    Ok(Arc::new(fd))
}

/// `-Q in`: outgoing packets never reach this socket (PACKET_IGNORE_OUTGOING, Linux 4.20).
pub fn ignore_outgoing(fd: &OwnedFd) -> Result<()> {
    pk::set_int(fd.as_fd(), pk::SOL_PACKET, pk::PACKET_IGNORE_OUTGOING, 1).map_err(|e| {
        Error::Config(format!(
            "-Q in: the kernel refused PACKET_IGNORE_OUTGOING ({e}); it needs Linux 4.20 or later"
        ))
    })
}

/// Binds to the interface for all protocols with a reject-all program in place, so the socket
/// starts receiving only when [`start_intake`] installs the real program: packets that would
/// otherwise arrive before the fanout join or the user's filter never enter.
pub fn bind_closed(fd: &OwnedFd, ifindex: u32) -> Result<()> {
    pk::attach_filter(fd.as_fd(), &pk::REJECT_ALL)?;
    sys::bind_packet(fd.as_fd(), ifindex, pk::ETH_P_ALL)?;
    Ok(())
}

/// Installs the capture's program (built once by [`crate::intake::program`]: the filter, the
/// snap length, the direction and loopback checks) in place of reject-all; `None` takes every
/// packet whole.
pub fn start_intake(fd: &OwnedFd, program: Option<&[pk::SockFilter]>) -> Result<()> {
    match program {
        Some(insns) => pk::attach_filter(fd.as_fd(), insns)?,
        None => pk::detach_filter(fd.as_fd())?,
    }
    Ok(())
}

/// Stops new packets from entering (reject-all) so the final statistics and a drain agree.
pub fn stop_intake(fd: &OwnedFd) -> Result<()> {
    pk::attach_filter(fd.as_fd(), &pk::REJECT_ALL)?;
    Ok(())
}

/// Receive buffer of the recv path (the kernel doubles it for bookkeeping).
pub const RECV_BUFFER: i32 = 4 << 20;

/// The one-`recvmsg`-per-packet path: one copy into a private buffer, one system call each.
pub struct RecvSocket {
    fd: Arc<OwnedFd>,
    buf: Vec<u8>,
    cmsg: [u64; 16],
}

impl RecvSocket {
    /// Asks for timestamps and auxiliary data (VLAN, original length) with every packet.
    /// `buffer`: the receive buffer in bytes (tcpdump's `-B`), default [`RECV_BUFFER`].
    pub fn setup(fd: Arc<OwnedFd>, snaplen: u32, buffer: Option<u32>) -> Result<RecvSocket> {
        pk::set_int(fd.as_fd(), pk::SOL_PACKET, pk::PACKET_AUXDATA, 1)?;
        sys::enable_timestamps_ns(fd.as_fd())?;
        // Wake up now and then to notice a stop request.
        sys::set_recv_timeout(fd.as_fd(), Duration::from_millis(100))?;
        // A 4 MiB receive buffer, as libpcap's default capture buffer is 2 MiB: root may go past
        // net.core.rmem_max; otherwise take what rmem_max allows.
        let bytes = buffer.map_or(RECV_BUFFER, |b| b.min(i32::MAX as u32) as i32);
        let _ = sys::set_recv_buffer(fd.as_fd(), bytes);
        Ok(RecvSocket {
            fd,
            buf: vec![0u8; snaplen.clamp(64, 262_144) as usize],
            cmsg: [0; 16],
        })
    }

    /// Receives one packet; `None` when the wait timed out. `dontwait` for draining.
    pub fn recv(&mut self, dontwait: bool) -> std::result::Result<Option<Packet<'_>>, sys::Error> {
        match sys::recv_packet(self.fd.as_fd(), &mut self.buf, &mut self.cmsg, dontwait) {
            Ok(info) => {
                let (len, vlan) = match info.aux {
                    Some(aux) => {
                        let vlan =
                            (aux.tp_status & pk::TP_STATUS_VLAN_VALID != 0).then_some(Vlan {
                                tci: aux.tp_vlan_tci,
                                tpid: if aux.tp_status & pk::TP_STATUS_VLAN_TPID_VALID != 0 {
                                    aux.tp_vlan_tpid
                                } else {
                                    0x8100
                                },
                            });
                        (aux.tp_len, vlan)
                    }
                    None => (info.len as u32, None),
                };
                let link = Link {
                    protocol: info.protocol,
                    ifindex: info.ifindex,
                    hatype: info.hatype,
                    halen: info.halen,
                    addr: info.addr,
                };
                Ok(Some(
                    Packet::new(
                        info.ts_ns,
                        len,
                        vlan,
                        0,
                        info.pkttype,
                        &self.buf[..info.caplen],
                    )
                    .with_link(link),
                ))
            }
            Err(e) if matches!(e.errno(), Some(Errno::EAGAIN) | Some(Errno::EINTR)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
