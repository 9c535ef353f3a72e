//! One AF_PACKET socket of a capture: opened, filtered, bound and joined to the fanout group in
//! an order that never lets an unfiltered or un-fanned-out packet in; plus the one-packet-per-
//! `recvmsg` receive path.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use ringcap_sys as sys;
use ringcap_sys::packet as pk;
use ringcap_sys::Errno;

use crate::packet::{Packet, Vlan};
use crate::{Error, Result};

/// Opens a packet socket that receives nothing yet (protocol 0, not bound).
pub fn open() -> Result<Arc<OwnedFd>> {
    let fd =
        sys::packet_socket().map_err(|e| Error::from_socket(e, "opening an AF_PACKET socket"))?;
    Ok(Arc::new(fd))
}

/// Binds to the interface for all protocols with a reject-all program in place, so the socket
/// starts receiving only when [`start_intake`] installs the real program: packets that would
/// otherwise arrive before the fanout join or the user's filter never enter.
pub fn bind_closed(fd: &OwnedFd, ifindex: u32) -> Result<()> {
    pk::attach_filter(fd.as_fd(), &pk::REJECT_ALL)?;
    sys::bind_packet(fd.as_fd(), ifindex, pk::ETH_P_ALL)?;
    Ok(())
}

/// Installs the capture's program (or a snap-length-only one, or none) in place of reject-all.
/// The program is turned into the kernel's `sock_filter` layout here, where it is attached.
pub fn start_intake(
    fd: &OwnedFd,
    filter: Option<&ringcap_filter::Program>,
    snaplen: u32,
) -> Result<()> {
    match filter {
        Some(prog) => {
            let insns: Vec<pk::SockFilter> = prog
                .insns
                .iter()
                .map(|i| pk::SockFilter {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect();
            pk::attach_filter(fd.as_fd(), &insns)?
        }
        None if snaplen < crate::config::DEFAULT_SNAPLEN => {
            let prog = [pk::SockFilter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: snaplen,
            }];
            pk::attach_filter(fd.as_fd(), &prog)?
        }
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
    pub fn setup(fd: Arc<OwnedFd>, snaplen: u32) -> Result<RecvSocket> {
        pk::set_int(fd.as_fd(), pk::SOL_PACKET, pk::PACKET_AUXDATA, 1)?;
        sys::enable_timestamps_ns(fd.as_fd())?;
        // Wake up now and then to notice a stop request.
        sys::set_recv_timeout(fd.as_fd(), Duration::from_millis(100))?;
        // A 4 MiB receive buffer, as libpcap's default capture buffer is 2 MiB: root may go past
        // net.core.rmem_max; otherwise take what rmem_max allows.
        let _ = sys::set_recv_buffer(fd.as_fd(), RECV_BUFFER);
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
                Ok(Some(Packet::new(
                    info.ts_ns,
                    len,
                    vlan,
                    0,
                    info.pkttype,
                    &self.buf[..info.caplen],
                )))
            }
            Err(e) if matches!(e.errno(), Some(Errno::EAGAIN) | Some(Errno::EINTR)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
