//! The rings the kernel shares with user space, and the only borrows of that memory.
//!
//! | module | ring | kernel interface |
//! |---|---|---|
//! | [`rx`] | TPACKET_V3 receive ring: blocks of packets | `PACKET_RX_RING` |
//! | [`tx`] | TPACKET_V2 transmit ring: fixed frame slots | `PACKET_TX_RING` |
//! | [`xdp`] | AF_XDP fill, completion and RX rings of one socket | `XDP_*_RING` |
//! | [`umem`] | the packet memory behind an AF_XDP socket | `XDP_UMEM_REG` |
//!
//! Each has the same short lifecycle, as netsniff-ng's `ring_rx.c`/`ring_tx.c` lay it out, with
//! the steps named as verbs so the order the kernel requires stays visible:
//!
//! 1. **setup**: tell the kernel the layout (version, block and frame sizes, ring entries);
//!    the kernel allocates the ring (a refusal here is a memory or geometry problem);
//! 2. **map**: map it into this process (a refusal here is an address-space limit);
//! 3. **ready**: the next block, frame or batch of descriptors the kernel has handed over, as a
//!    borrow that the type system ends before the next step;
//! 4. **release**: hand it back to the kernel (a release store of the status word or index);
//! 5. **teardown**: unmap, then close. `Drop` does it, so every way out (an error, a panic, the
//!    end of a capture) tears down; `teardown` only makes the step visible at a call site.
//!
//! Synchronisation with the kernel is a status word or a producer/consumer index, read with
//! acquire and written with release; between the two, the memory is ours alone, which is what
//! makes the safe borrows below sound.

mod mmap;
pub mod rx;
pub mod tx;
pub mod umem;
pub mod xdp;

pub(crate) use mmap::Mmap;

/// Whether a test that needs real sockets can run: root, or a skip that says so (and fails
/// under CI=true, where everything must run).
#[cfg(test)]
pub(crate) fn can_run(test: &str) -> bool {
    if crate::geteuid() == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} needs root and CI=true is set"
    );
    eprintln!("skipping {test}: needs root for packet and AF_XDP sockets (CI runs as root)");
    false
}
