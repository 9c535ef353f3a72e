//! Attaching the program to the interface, and taking it off again on every way out.
//!
//! ringcap never replaces an XDP program it did not attach: it looks first (RTM_GETLINK) and
//! refuses with the foreign program's id, and attaches with XDP_FLAGS_UPDATE_IF_NOEXIST so a
//! program attached in between is refused by the kernel too. Detaching names the program it
//! expects (XDP_FLAGS_REPLACE + IFLA_XDP_EXPECTED_FD), so it can only ever remove its own.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use ringcap_sys as sys;
use ringcap_sys::netlink::{self as nl, Netlink, NetlinkError, XdpState};
use ringcap_sys::packet as pk;

use crate::{Error, Result};

/// Where the program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver, before an sk_buff exists (XDP_FLAGS_DRV_MODE).
    Native,
    /// In the core network stack after the sk_buff is built (XDP_FLAGS_SKB_MODE); works on any
    /// interface, slower.
    Generic,
}

impl AttachMode {
    fn flag(self) -> u32 {
        match self {
            AttachMode::Native => nl::XDP_FLAGS_DRV_MODE,
            AttachMode::Generic => nl::XDP_FLAGS_SKB_MODE,
        }
    }
}

impl std::fmt::Display for AttachMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AttachMode::Native => "native",
            AttachMode::Generic => "generic",
        })
    }
}

fn mode_name(attached: u8) -> &'static str {
    match attached {
        nl::XDP_ATTACHED_DRV => "native",
        nl::XDP_ATTACHED_SKB => "generic",
        nl::XDP_ATTACHED_HW => "offloaded",
        nl::XDP_ATTACHED_MULTI => "several modes",
        _ => "unknown mode",
    }
}

/// The refusal when another program is attached.
pub(crate) fn foreign_error(iface: &str, state: &XdpState) -> Error {
    let ids: Vec<String> = state.prog_ids().iter().map(|i| i.to_string()).collect();
    // A program named like ours was most likely left by a ringcap killed with SIGKILL (the one
    // way out that cannot clean up); still not ours to remove, but say so.
    let left_over = state.prog_ids().iter().any(|&id| {
        ringcap_sys::bpf::prog_fd_by_id(id)
            .and_then(|fd| ringcap_sys::bpf::prog_name(fd.as_fd()))
            .is_ok_and(|name| name == super::program::PROG_NAME)
    });
    let hint = if left_over {
        " (it is named ringcap_xsk: probably left by a ringcap that was killed with SIGKILL)"
    } else {
        ""
    };
    Error::Xdp(format!(
        "interface {iface} already has an XDP program attached (id {}, {}) that ringcap did not attach; \
         ringcap will not replace it. Remove it first if nothing needs it (ip link set dev {iface} xdp off), \
         or capture with --mode ring{hint}",
        if ids.is_empty() { "?".to_string() } else { ids.join(", ") },
        mode_name(state.attached)
    ))
}

fn netlink_error(what: String, e: NetlinkError) -> Error {
    match e.error.errno() {
        Some(sys::Errno::EPERM) | Some(sys::Errno::EACCES) => Error::Xdp(format!(
            "{what}: {e}; attaching XDP programs needs CAP_NET_ADMIN (run as root)"
        )),
        _ => Error::Xdp(format!("{what}: {e}")),
    }
}

/// Reads the interface's XDP state through a fresh netlink socket.
pub fn query(ifindex: u32) -> Result<XdpState> {
    let mut nl = Netlink::open()?;
    nl.link_info(ifindex)
        .map(|i| i.xdp)
        .map_err(|e| netlink_error("reading the interface's XDP state".into(), e))
}

/// An attached program; dropping it detaches the program (only if it is still ours) and ends
/// the promiscuous membership.
pub struct Attachment {
    nl: Netlink,
    iface: String,
    ifindex: u32,
    mode: AttachMode,
    prog_id: u32,
    prog: OwnedFd,
    detached: bool,
    /// An AF_PACKET socket holding PACKET_MR_PROMISC while the capture runs.
    _promisc: Option<OwnedFd>,
}

impl Attachment {
    /// Attaches `prog` to the interface: `native` `Some(true)` native only, `Some(false)`
    /// generic only, `None` native with a fallback to generic. Refuses if any XDP program is
    /// already attached.
    pub fn attach(
        iface: &str,
        ifindex: u32,
        prog: OwnedFd,
        prog_id: u32,
        native: Option<bool>,
        promisc: bool,
    ) -> Result<Attachment> {
        let mut nl = Netlink::open()?;
        let info = nl
            .link_info(ifindex)
            .map_err(|e| netlink_error(format!("reading the XDP state of {iface}"), e))?;
        if info.xdp.attached != nl::XDP_ATTACHED_NONE {
            return Err(foreign_error(iface, &info.xdp));
        }
        let promisc = if promisc {
            // Protocol 0: the socket receives nothing; it only holds the membership, which the
            // kernel drops (restoring the interface's flags) when the socket closes.
            let fd = sys::packet_socket().map_err(|e| Error::from_socket(e, "promiscuous mode"))?;
            pk::add_promisc(fd.as_fd(), ifindex)?;
            Some(fd)
        } else {
            None
        };
        let modes: &[AttachMode] = match native {
            Some(true) => &[AttachMode::Native],
            Some(false) => &[AttachMode::Generic],
            None => &[AttachMode::Native, AttachMode::Generic],
        };
        let mut last = None;
        for &mode in modes {
            let flags = mode.flag() | nl::XDP_FLAGS_UPDATE_IF_NOEXIST;
            match nl.set_xdp(ifindex, prog.as_raw_fd(), flags, None) {
                Ok(()) => {
                    return Ok(Attachment {
                        nl,
                        iface: iface.to_string(),
                        ifindex,
                        mode,
                        prog_id,
                        prog,
                        detached: false,
                        _promisc: promisc,
                    })
                }
                Err(e) if e.error.errno() == Some(sys::Errno::EBUSY) => {
                    // Someone attached a program since we looked.
                    let state = nl.link_info(ifindex).map(|i| i.xdp).unwrap_or_default();
                    return Err(foreign_error(iface, &state));
                }
                Err(e) => last = Some((mode, e)),
            }
        }
        let (mode, e) = last.expect("at least one mode was tried");
        let hint = match (mode, native) {
            (AttachMode::Native, Some(true)) => {
                "; the driver may not support native XDP: try --xdp-mode generic"
            }
            _ => "",
        };
        Err(netlink_error(
            format!("attaching the XDP program to {iface} in {mode} mode"),
            e,
        ))
        .map_err(|err| match err {
            Error::Xdp(m) => Error::Xdp(format!("{m}{hint}")),
            other => other,
        })
    }

    pub fn mode(&self) -> AttachMode {
        self.mode
    }

    pub fn prog_id(&self) -> u32 {
        self.prog_id
    }

    /// Detaches now, reporting failure (drop does the same silently but for a warning).
    pub fn detach(mut self) -> Result<()> {
        self.detach_inner()
    }

    fn detach_inner(&mut self) -> Result<()> {
        if self.detached {
            return Ok(());
        }
        self.detached = true;
        let flags = self.mode.flag() | nl::XDP_FLAGS_REPLACE;
        match self
            .nl
            .set_xdp(self.ifindex, -1, flags, Some(self.prog.as_raw_fd()))
        {
            Ok(()) => Ok(()),
            // The interface is gone (and the program with it).
            Err(e) if e.error.errno() == Some(sys::Errno::ENODEV) => Ok(()),
            Err(e) => Err(netlink_error(
                format!(
                    "removing ringcap's XDP program (id {}) from {}",
                    self.prog_id, self.iface
                ),
                e,
            )),
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Err(e) = self.detach_inner() {
            eprintln!(
                "ringcap: warning: {e}; remove it by hand: ip link set dev {} xdp off",
                self.iface
            );
        }
    }
}
