//! One AF_XDP socket bound to one RX queue, with its own UMEM and its fill, completion and RX
//! rings ([`ringcap_sys::ring::xdp::Xsk`]): set up, map, bind, with every failure turned into a
//! message that names the queue and the step.

use ringcap_sys as sys;
use ringcap_sys::ring::umem::Umem;
use ringcap_sys::ring::xdp::Xsk;
use ringcap_sys::xdp as x;
use ringcap_sys::Errno;

use crate::{Error, Result};

/// Size and mode of one socket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XskConfig {
    /// Frames in the UMEM = fill ring = RX ring = completion ring entries (power of two).
    pub frames: u32,
    /// Bytes per UMEM frame (2048 or 4096).
    pub chunk: u32,
    pub zero_copy: bool,
    pub busy_poll: bool,
}

/// Opens the socket of queue `queue`: UMEM → socket → setup → busy polling → map → bind.
pub(crate) fn open(ifname: &str, ifindex: u32, queue: u32, c: &XskConfig) -> Result<Xsk> {
    let umem = Umem::setup(c.frames, c.chunk).map_err(|e| {
        Error::Xdp(format!(
            "cannot allocate the UMEM of queue {queue} ({} frames of {} bytes): {e}",
            c.frames, c.chunk
        ))
    })?;
    let fd = x::socket().map_err(|e| Error::from_socket(e, "an AF_XDP socket"))?;
    let ctx = |what: &'static str| {
        move |e: sys::Error| {
            Error::Xdp(format!(
                "AF_XDP socket for {ifname} queue {queue}: {what}: {e}"
            ))
        }
    };
    let setup = Xsk::setup(fd, umem).map_err(|e| {
        let what = if e.call == "setsockopt(XDP_UMEM_REG)" {
            "registering the UMEM (locked memory limit?)"
        } else {
            "sizing the rings"
        };
        ctx(what)(e)
    })?;
    if c.busy_poll {
        x::set_busy_poll(setup.fd(), 20, 64).map_err(ctx(
            "busy polling (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET)",
        ))?;
    }
    let xsk = setup.map().map_err(ctx("mapping the rings"))?;
    let mut flags = x::XDP_USE_NEED_WAKEUP;
    if c.zero_copy {
        flags |= x::XDP_ZEROCOPY;
    }
    // A socket closed a moment ago releases its queue from a kernel work item, after the
    // close returns: EBUSY for a short while is that, not a rival; wait up to a second.
    let mut tries = 0;
    let bound = loop {
        match xsk.bind(ifindex, queue, flags) {
            Err(e) if e.errno() == Some(Errno::EBUSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => break r,
        }
    };
    bound.map_err(|e| {
        if e.errno() == Some(Errno::EBUSY) {
            Error::Xdp(format!(
                "queue {queue} of {ifname} is already used by another AF_XDP socket (is another capture running on it?)"
            ))
        } else if c.zero_copy && matches!(e.errno(), Some(Errno::EOPNOTSUPP) | Some(Errno::EINVAL)) {
            Error::Xdp(format!(
                "--zero-copy: the driver of {ifname} does not support zero-copy AF_XDP on queue {queue} ({e}); run without --zero-copy"
            ))
        } else {
            Error::Xdp(format!("binding the AF_XDP socket to {ifname} queue {queue}: {e}"))
        }
    })?;
    Ok(xsk)
}
