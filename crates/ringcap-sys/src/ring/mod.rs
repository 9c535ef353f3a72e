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

/// Whether a test that needs real sockets can run: root, or a reported skip, in the form
/// `ringcap_netlab::skip` uses (this crate cannot depend on netlab, which depends on it): a
/// panic under `CI=true`/`CI=1` or `RINGCAP_REQUIRE_ALL=1`, else a `SKIPPED` line on standard
/// error (past the harness's capture) and in the skip log `./test.sh` sums up.
#[cfg(test)]
pub(crate) fn can_run(test: &str) -> bool {
    use std::io::Write;
    if crate::geteuid() == 0 {
        return true;
    }
    let line = format!(
        "SKIPPED ringcap_sys::{test}: needs root (packet and AF_XDP sockets): run ./test.sh, it uses sudo"
    );
    let ci = std::env::var("CI").unwrap_or_default();
    if ci.eq_ignore_ascii_case("true")
        || ci == "1"
        || std::env::var("RINGCAP_REQUIRE_ALL").is_ok_and(|v| v == "1")
    {
        panic!("{line} (a skip is a failure under CI=true or RINGCAP_REQUIRE_ALL=1)");
    }
    if let Some(log) = std::env::var_os("RINGCAP_SKIP_LOG").filter(|p| !p.is_empty()) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
        {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    false
}
