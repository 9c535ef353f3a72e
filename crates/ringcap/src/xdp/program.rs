//! The XDP program, written as eBPF instructions: the capture filter first (classic BPF from
//! ringcap-filter, translated by `ringcap_filter::ebpf`), then a frame that matches goes to the
//! AF_XDP socket of the RX queue it arrived on, and one that does not goes on to the host's
//! stack, counted.
//!
//! ```text
//!     r6 = r1                              ; ctx (struct xdp_md)
//!     <filter>                             ; r0 = 1 match, 0 no match (only with a filter)
//!     if r0 != 0 goto take
//!     r7 = *(u32 *)(r6 + 16)               ; ctx->rx_queue_index
//!     *(u32 *)(r10 - 4) = r7
//!     r1 = map_fd(passed) ; r2 = r10 ; r2 += -4
//!     call bpf_map_lookup_elem
//!     if r0 == 0 goto +3
//!     r1 = *(u64 *)(r0 + 0) ; r1 += 1 ; *(u64 *)(r0 + 0) = r1   ; passed[queue] += 1 (this CPU's)
//!     r0 = XDP_PASS ; exit
//! take:
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
//! The counters make the summary exact: `counters` counts the frames the program handed to a
//! socket, each of which either lands in that socket's RX ring or is counted by the socket's
//! XDP_STATISTICS (`rx_ring_full`, `rx_dropped`); `passed` (a per-CPU array, so no atomic
//! operation on the path of the frames the host keeps) counts the frames the filter left to the
//! host. A frame that matches while its queue has no socket (before the worker starts, after it
//! stops) also goes to the host, in neither count.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use ringcap_filter::ebpf::{self, op, Insn};
use ringcap_sys::bpf;

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
    Insn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
}

fn mov_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
}

fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
    [
        Insn::new(
            op::LD | op::IMM | op::DW,
            dst,
            bpf::BPF_PSEUDO_MAP_FD,
            0,
            fd,
        ),
        Insn::new(0, 0, 0, 0, 0),
    ]
}

fn call(helper: i32) -> Insn {
    Insn::new(op::JMP | op::CALL, 0, 0, 0, helper)
}

fn exit() -> Insn {
    Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
}

/// `r7 = ctx->rx_queue_index; *(u32 *)(r10 - 4) = r7`: the queue, also as a map key on the stack.
fn queue_key(p: &mut Vec<Insn>) {
    p.push(Insn::new(
        op::LDX | op::MEM | op::W,
        R7,
        R6,
        XDP_MD_RX_QUEUE_INDEX,
        0,
    ));
    p.push(Insn::new(op::STX | op::MEM | op::W, R10, R7, -4, 0));
}

/// `r0 = &map[*(r10 - 4)]` (or 0).
fn lookup(p: &mut Vec<Insn>, map: i32) {
    p.extend(ld_map_fd(R1, map));
    p.push(mov_reg(R2, R10));
    p.push(Insn::new(op::ALU64 | op::ADD | op::K, R2, 0, 0, -4));
    p.push(call(bpf::BPF_FUNC_MAP_LOOKUP_ELEM));
}

/// The maps' descriptors, patched into the instructions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapFds {
    pub xskmap: i32,
    pub counters: i32,
    pub passed: i32,
}

/// The instructions, with the filter (when given) in front of the redirect.
pub(crate) fn instructions(maps: MapFds, filter: Option<&ebpf::Filter>) -> Vec<Insn> {
    let mut p = Vec::with_capacity(32 + filter.map_or(0, |f| f.insns.len()));
    p.push(mov_reg(R6, R1));
    if let Some(f) = filter {
        p.extend_from_slice(&f.insns);
        let to_take = p.len();
        p.push(Insn::new(op::JMP | op::JNE | op::K, R0, 0, 0, 0));
        queue_key(&mut p);
        lookup(&mut p, maps.passed);
        p.push(Insn::new(op::JMP | op::JEQ | op::K, R0, 0, 3, 0));
        p.push(Insn::new(op::LDX | op::MEM | op::DW, R1, R0, 0, 0));
        p.push(Insn::new(op::ALU64 | op::ADD | op::K, R1, 0, 0, 1));
        p.push(Insn::new(op::STX | op::MEM | op::DW, R0, R1, 0, 0));
        p.push(mov_imm(R0, XDP_PASS));
        p.push(exit());
        p[to_take].off = (p.len() - to_take - 1) as i16;
    }
    queue_key(&mut p);
    p.extend(ld_map_fd(R1, maps.xskmap));
    p.push(mov_reg(R2, R7));
    p.push(mov_imm(R3, XDP_PASS));
    p.push(call(bpf::BPF_FUNC_REDIRECT_MAP));
    let jne_out = p.len();
    p.push(Insn::new(op::JMP | op::JNE | op::K, R0, 0, 0, XDP_REDIRECT));
    p.push(mov_reg(R8, R0));
    lookup(&mut p, maps.counters);
    let jeq_ret = p.len();
    p.push(Insn::new(op::JMP | op::JEQ | op::K, R0, 0, 0, 0));
    p.push(mov_imm(R1, 1));
    p.push(Insn::new(
        op::STX | op::ATOMIC | op::DW,
        R0,
        R1,
        0,
        op::ADD as i32,
    ));
    let ret = p.len();
    p.push(mov_reg(R0, R8));
    let out = p.len();
    p.push(exit());
    // Jump offsets count from the instruction after the jump.
    p[jne_out].off = (out - jne_out - 1) as i16;
    p[jeq_ret].off = (ret - jeq_ret - 1) as i16;
    p
}

/// The whole XDP program as text, one instruction per line with where it comes from (the
/// classic instruction, or `xdp` for the program around the filter), the maps by name. For
/// `ringcap compile --ebpf`.
pub fn listing(filter: &ringcap_filter::Program) -> std::result::Result<String, ebpf::Error> {
    let f = ebpf::translate(filter)?;
    let maps = MapFds {
        xskmap: 1,
        counters: 2,
        passed: 3,
    };
    let insns = instructions(maps, Some(&f));
    let mut s = String::new();
    for (pc, i) in insns.iter().enumerate() {
        let origin = match pc.checked_sub(1).and_then(|n| f.origins.get(n)) {
            Some(ebpf::Origin::Cbpf(n)) => ebpf::Origin::Cbpf(*n).describe(filter),
            Some(o) => format!("filter {}", o.describe(filter)),
            None => "xdp".to_string(),
        };
        let text = match (i.code, i.src, i.imm) {
            (0x18, bpf::BPF_PSEUDO_MAP_FD, 1) => format!("r{} = map[xskmap]", i.dst),
            (0x18, bpf::BPF_PSEUDO_MAP_FD, 2) => format!("r{} = map[redirected]", i.dst),
            (0x18, bpf::BPF_PSEUDO_MAP_FD, 3) => format!("r{} = map[passed]", i.dst),
            _ => i.text(pc),
        };
        s += &format!("({pc:03}) {text:<34} ; {origin}\n");
    }
    Ok(s)
}

/// The loaded program and the maps it uses.
pub(crate) struct Program {
    pub prog: OwnedFd,
    pub id: u32,
    pub xskmap: Arc<OwnedFd>,
    pub counters: Arc<OwnedFd>,
    /// Per-CPU frames the filter passed to the host, per queue (`None` without a filter).
    pub passed: Option<Passed>,
}

/// The per-CPU `passed` array and the number of slots a read returns.
#[derive(Clone)]
pub(crate) struct Passed {
    pub map: Arc<OwnedFd>,
    pub cpus: usize,
}

fn bpf_error(e: ringcap_sys::Error, what: &str) -> Error {
    match e.errno() {
        Some(ringcap_sys::Errno::EPERM) | Some(ringcap_sys::Errno::EACCES) => Error::Xdp(format!(
            "{what}: {e}; AF_XDP capture needs CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN (run as root)"
        )),
        _ => Error::Xdp(format!("{what}: {e}")),
    }
}

/// Creates the XSKMAP and the per-queue counter arrays (`queues` entries each) and loads the
/// program, with `filter` in the kernel when given. A refusal is one line with the verifier's
/// last message; nothing is attached yet, so nothing is left behind.
pub(crate) fn load(queues: u32, filter: Option<&ringcap_filter::Program>) -> Result<Program> {
    let fragment = match filter.map(ebpf::translate).transpose() {
        Ok(f) => f,
        Err(e) => {
            return Err(Error::Xdp(format!(
                "the filter cannot run in the XDP program: {e}"
            )))
        }
    };
    let xskmap = bpf::map_create(bpf::BPF_MAP_TYPE_XSKMAP, 4, 4, queues, "ringcap_xsks")
        .map_err(|e| bpf_error(e, "creating the XSKMAP"))?;
    let counters = bpf::map_create(bpf::BPF_MAP_TYPE_ARRAY, 4, 8, queues, "ringcap_count")
        .map_err(|e| bpf_error(e, "creating the XDP counter map"))?;
    let passed = match fragment {
        Some(_) => Some(Passed {
            map: Arc::new(
                bpf::map_create(bpf::BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, queues, "ringcap_pass")
                    .map_err(|e| bpf_error(e, "creating the XDP passed-frames map"))?,
            ),
            cpus: bpf::possible_cpus()?,
        }),
        None => None,
    };
    let maps = MapFds {
        xskmap: xskmap.as_raw_fd(),
        counters: counters.as_raw_fd(),
        passed: passed.as_ref().map_or(-1, |p| p.map.as_raw_fd()),
    };
    let insns: Vec<bpf::Insn> = instructions(maps, fragment.as_ref())
        .iter()
        .map(|i| bpf::Insn::new(i.code, i.dst, i.src, i.off, i.imm))
        .collect();
    // The project's own licence; the two helpers used are not GPL-only.
    let license: &CStr = c"MIT OR Apache-2.0";
    let prog = bpf::prog_load_explained(bpf::BPF_PROG_TYPE_XDP, &insns, license, PROG_NAME)
        .map_err(|r| match (r.reason, fragment.is_some()) {
            (Some(why), true) => Error::Xdp(format!(
                "the kernel's verifier refused the filter ({} eBPF instructions): {why} ({}); \
                 a simpler expression may pass, or --xdp-filter user filters in user space",
                insns.len(),
                r.error
            )),
            (Some(why), false) => Error::Xdp(format!(
                "the kernel's verifier refused the XDP program: {why} ({})",
                r.error
            )),
            (None, _) => bpf_error(r.error, "loading the XDP program"),
        })?;
    let id = bpf::prog_id(prog.as_fd())?;
    Ok(Program {
        prog,
        id,
        xskmap: Arc::new(xskmap),
        counters: Arc::new(counters),
        passed,
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

/// Reads passed[queue] summed over the CPUs: frames of that queue the filter left to the host.
pub(crate) fn passed(p: &Passed, queue: u32) -> std::result::Result<u64, ringcap_sys::Error> {
    bpf::percpu_u64_sum(p.map.as_fd(), &queue.to_ne_bytes(), p.cpus)
}

#[cfg(test)]
mod tests;
