//! The XDP program, written as eBPF instructions: send each frame to the AF_XDP socket of the
//! RX queue it arrived on, count it, and let frames of queues without a socket through to the
//! host stack.
//!
//! ```text
//!     r6 = r1                              ; ctx (struct xdp_md)
//!     r7 = *(u32 *)(r6 + 16)               ; ctx->rx_queue_index
//!     *(u32 *)(r10 - 4) = r7               ; key for the counter lookup
//!     r1 = map_fd(xskmap)                  ; BPF_LD_IMM64, BPF_PSEUDO_MAP_FD
//!     r2 = r7
//!     r3 = XDP_PASS                        ; action when the queue has no socket
//!     call bpf_redirect_map
//!     if r0 != XDP_REDIRECT goto out
//!     r8 = r0
//!     r1 = map_fd(counters)
//!     r2 = r10 ; r2 += -4
//!     call bpf_map_lookup_elem
//!     if r0 == 0 goto ret
//!     r1 = 1
//!     lock *(u64 *)(r0 + 0) += r1          ; counters[queue] += 1
//! ret: r0 = r8
//! out: exit
//! ```
//!
//! The counter is what makes the summary exact: it counts the frames the program handed to a
//! socket, each of which either lands in that socket's RX ring or is counted by the socket's
//! XDP_STATISTICS (`rx_ring_full`, `rx_dropped`).

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use ringcap_sys::bpf::{self, Insn};

use crate::{Error, Result};

/// The name the program is loaded with (what `bpftool prog` shows).
pub(crate) const PROG_NAME: &str = "ringcap_xsk";

const XDP_PASS: i32 = 2;
const XDP_REDIRECT: i32 = 4;
/// offsetof(struct xdp_md, rx_queue_index).
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R6: u8 = 6;
const R7: u8 = 7;
const R8: u8 = 8;
const R10: u8 = 10;

fn mov_reg(dst: u8, src: u8) -> Insn {
    Insn::new(bpf::BPF_ALU64 | bpf::BPF_MOV | bpf::BPF_X, dst, src, 0, 0)
}

fn mov_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(bpf::BPF_ALU64 | bpf::BPF_MOV | bpf::BPF_K, dst, 0, 0, imm)
}

fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
    [
        Insn::new(
            bpf::BPF_LD | bpf::BPF_IMM | bpf::BPF_DW,
            dst,
            bpf::BPF_PSEUDO_MAP_FD,
            0,
            fd,
        ),
        Insn::new(0, 0, 0, 0, 0),
    ]
}

fn call(helper: i32) -> Insn {
    Insn::new(bpf::BPF_JMP | bpf::BPF_CALL, 0, 0, 0, helper)
}

/// The instructions, with the two maps' descriptors patched in.
pub(crate) fn instructions(xskmap: i32, counters: i32) -> Vec<Insn> {
    let mut p = Vec::with_capacity(24);
    p.push(mov_reg(R6, R1));
    p.push(Insn::new(
        bpf::BPF_LDX | bpf::BPF_MEM | bpf::BPF_W,
        R7,
        R6,
        XDP_MD_RX_QUEUE_INDEX,
        0,
    ));
    p.push(Insn::new(
        bpf::BPF_STX | bpf::BPF_MEM | bpf::BPF_W,
        R10,
        R7,
        -4,
        0,
    ));
    p.extend(ld_map_fd(R1, xskmap));
    p.push(mov_reg(R2, R7));
    p.push(mov_imm(R3, XDP_PASS));
    p.push(call(bpf::BPF_FUNC_REDIRECT_MAP));
    let jne_out = p.len();
    p.push(Insn::new(
        bpf::BPF_JMP | bpf::BPF_JNE | bpf::BPF_K,
        R0,
        0,
        0,
        XDP_REDIRECT,
    ));
    p.push(mov_reg(R8, R0));
    p.extend(ld_map_fd(R1, counters));
    p.push(mov_reg(R2, R10));
    p.push(Insn::new(
        bpf::BPF_ALU64 | bpf::BPF_ADD | bpf::BPF_K,
        R2,
        0,
        0,
        -4,
    ));
    p.push(call(bpf::BPF_FUNC_MAP_LOOKUP_ELEM));
    let jeq_ret = p.len();
    p.push(Insn::new(
        bpf::BPF_JMP | bpf::BPF_JEQ | bpf::BPF_K,
        R0,
        0,
        0,
        0,
    ));
    p.push(mov_imm(R1, 1));
    p.push(Insn::new(
        bpf::BPF_STX | bpf::BPF_ATOMIC | bpf::BPF_DW,
        R0,
        R1,
        0,
        bpf::BPF_ADD as i32,
    ));
    let ret = p.len();
    p.push(mov_reg(R0, R8));
    let out = p.len();
    p.push(Insn::new(bpf::BPF_JMP | bpf::BPF_EXIT, 0, 0, 0, 0));
    // Jump offsets count from the instruction after the jump.
    p[jne_out].off = (out - jne_out - 1) as i16;
    p[jeq_ret].off = (ret - jeq_ret - 1) as i16;
    p
}

/// The loaded program and the maps it uses.
pub(crate) struct Program {
    pub prog: OwnedFd,
    pub id: u32,
    pub xskmap: std::sync::Arc<OwnedFd>,
    pub counters: std::sync::Arc<OwnedFd>,
}

fn bpf_error(e: ringcap_sys::Error, what: &str) -> Error {
    match e.errno() {
        Some(ringcap_sys::Errno::EPERM) | Some(ringcap_sys::Errno::EACCES) => Error::Xdp(format!(
            "{what}: {e}; AF_XDP capture needs CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN (run as root)"
        )),
        _ => Error::Xdp(format!("{what}: {e}")),
    }
}

/// Creates the XSKMAP and the per-queue counter array (`queues` entries each) and loads the
/// program; a refusal carries the verifier's log.
pub(crate) fn load(queues: u32) -> Result<Program> {
    let xskmap = bpf::map_create(bpf::BPF_MAP_TYPE_XSKMAP, 4, 4, queues, "ringcap_xsks")
        .map_err(|e| bpf_error(e, "creating the XSKMAP"))?;
    let counters = bpf::map_create(bpf::BPF_MAP_TYPE_ARRAY, 4, 8, queues, "ringcap_count")
        .map_err(|e| bpf_error(e, "creating the XDP counter map"))?;
    let insns = instructions(xskmap.as_raw_fd(), counters.as_raw_fd());
    let mut log = vec![0u8; 64 * 1024];
    // The project's own licence; the two helpers used are not GPL-only.
    let license: &CStr = c"MIT OR Apache-2.0";
    let prog = bpf::prog_load(bpf::BPF_PROG_TYPE_XDP, &insns, license, PROG_NAME, &mut log)
        .map_err(|e| {
            let text = bpf::log_text(&log);
            if text.is_empty() {
                bpf_error(e, "loading the XDP program")
            } else {
                Error::Xdp(format!(
                    "the kernel refused the XDP program ({e}); verifier log:\n{text}"
                ))
            }
        })?;
    let id = bpf::prog_id(prog.as_fd())?;
    Ok(Program {
        prog,
        id,
        xskmap: std::sync::Arc::new(xskmap),
        counters: std::sync::Arc::new(counters),
    })
}

/// Reads counters[queue]: frames the program redirected to that queue's socket so far.
pub(crate) fn redirected(
    counters: &OwnedFd,
    queue: u32,
) -> std::result::Result<u64, ringcap_sys::Error> {
    let mut v = [0u8; 8];
    bpf::map_lookup(counters.as_fd(), &queue.to_ne_bytes(), &mut v)?;
    Ok(u64::from_ne_bytes(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_ret_and_exit() {
        let p = instructions(7, 8);
        let exit = p.len() - 1;
        assert_eq!(p[exit].code, bpf::BPF_JMP | bpf::BPF_EXIT);
        let jne = p
            .iter()
            .position(|i| i.code == bpf::BPF_JMP | bpf::BPF_JNE | bpf::BPF_K)
            .unwrap();
        assert_eq!(jne + 1 + p[jne].off as usize, exit);
        let jeq = p
            .iter()
            .position(|i| i.code == bpf::BPF_JMP | bpf::BPF_JEQ | bpf::BPF_K)
            .unwrap();
        assert_eq!(jeq + 1 + p[jeq].off as usize, exit - 1);
        // Both map loads carry the pseudo-fd marker in src_reg.
        let loads: Vec<_> = p.iter().filter(|i| i.code == 0x18).collect();
        assert_eq!(loads.len(), 2);
        assert!(loads.iter().all(|i| i.regs >> 4 == bpf::BPF_PSEUDO_MAP_FD));
        assert_eq!((loads[0].imm, loads[1].imm), (7, 8));
    }
}
