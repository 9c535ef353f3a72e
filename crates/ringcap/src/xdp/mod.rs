//! AF_XDP capture: one socket per RX queue, a UMEM each, an XDP program redirecting into an
//! XSKMAP. (Being written; until then `--mode xdp` says so.)

use crate::{Capture, Config, Error, Result};

pub(crate) fn open_capture(_cfg: Config, _ifindex: u32) -> Result<Capture> {
    Err(Error::Config(
        "--mode xdp is not available in this build yet".into(),
    ))
}
