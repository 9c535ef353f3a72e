//! ringcap's traffic generator: frames built from templates or replayed from capture files,
//! sent through AF_PACKET TX rings (sendmmsg where the ring is refused), one sender per CPU.

pub mod frame;
pub mod wire;

pub use frame::{FrameBuilder, FrameError, FrameSpec, Proto};
pub use wire::{IpRange, MacAddr, PortRange};
