//! The bpf(2) system call, for the few commands AF_XDP capture needs: create a map (an XSKMAP
//! and a counter array), update/look up/delete map elements, load an XDP program (with a
//! verifier log, so a refused program says why), and read a program's id.
//!
//! `union bpf_attr` (from `<linux/bpf.h>`) is built as a zeroed, 8-aligned byte buffer with the
//! fields each command uses written at their UAPI offsets: the kernel requires every byte past
//! the fields a command knows to be zero, which a zeroed buffer gives for free.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::{Errno, Error, Result};

pub const BPF_MAP_CREATE: u32 = 0;
pub const BPF_MAP_LOOKUP_ELEM: u32 = 1;
pub const BPF_MAP_UPDATE_ELEM: u32 = 2;
pub const BPF_MAP_DELETE_ELEM: u32 = 3;
pub const BPF_PROG_LOAD: u32 = 5;
pub const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;

pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;

pub const BPF_PROG_TYPE_XDP: u32 = 6;

/// Map update flags.
pub const BPF_ANY: u64 = 0;

/// `src_reg` of a `BPF_LD | BPF_IMM | BPF_DW` whose immediate is a map descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;

// Helper function ids (enum bpf_func_id).
pub const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;
pub const BPF_FUNC_REDIRECT_MAP: i32 = 51;

// Instruction classes and fields (linux/bpf_common.h, linux/bpf.h).
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_STX: u8 = 0x03;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_ALU64: u8 = 0x07;
pub const BPF_W: u8 = 0x00;
pub const BPF_DW: u8 = 0x18;
pub const BPF_IMM: u8 = 0x00;
pub const BPF_MEM: u8 = 0x60;
pub const BPF_ATOMIC: u8 = 0xc0;
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;
pub const BPF_ADD: u8 = 0x00;
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;

/// `struct bpf_insn`: one eBPF instruction (`dst_reg` in the low nibble of `regs`, `src_reg` in
/// the high one, as the little-endian bitfield lays them out).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (dst & 0x0f) | (src << 4),
            off,
            imm,
        }
    }
}

/// `union bpf_attr` as bytes; 128 bytes cover every field the commands here use.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn name(&mut self, off: usize, name: &str) -> &mut Self {
        // BPF_OBJ_NAME_LEN is 16 with the NUL; the kernel accepts [A-Za-z0-9_.].
        let n = name.len().min(15);
        self.0[off..off + n].copy_from_slice(&name.as_bytes()[..n]);
        self
    }
}

fn bpf(cmd: u32, attr: &mut Attr, call: &'static str) -> Result<i64> {
    // SAFETY: attr is a live, writable 128-byte buffer laid out as union bpf_attr; every pointer
    // stored in it (by the callers below) refers to memory borrowed for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr.0.as_mut_ptr(),
            attr.0.len() as libc::c_long,
        )
    };
    if ret < 0 {
        Err(Error::last(call))
    } else {
        Ok(ret)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor (close-on-exec by default for bpf fds)
    // and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// BPF_MAP_CREATE: a map of `map_type` with fixed key/value sizes; closed (and freed once no
/// program uses it) when the descriptor drops.
pub fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    name: &str,
) -> Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, map_type)
        .u32(4, key_size)
        .u32(8, value_size)
        .u32(12, max_entries)
        .name(28, name);
    bpf(BPF_MAP_CREATE, &mut a, "bpf(BPF_MAP_CREATE)").map(owned)
}

fn elem_attr(map: BorrowedFd<'_>, key: &[u8], value: *const u8, flags: u64) -> Attr {
    let mut a = Attr::new();
    a.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value as u64)
        .u64(24, flags);
    a
}

/// BPF_MAP_UPDATE_ELEM. `key` and `value` must have the map's sizes (the kernel reads exactly
/// those many bytes, so a shorter slice is refused here).
pub fn map_update(map: BorrowedFd<'_>, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
    let mut a = elem_attr(map, key, value.as_ptr(), flags);
    map_check(map, key.len(), value.len())?;
    bpf(BPF_MAP_UPDATE_ELEM, &mut a, "bpf(BPF_MAP_UPDATE_ELEM)").map(drop)
}

/// BPF_MAP_LOOKUP_ELEM into `value` (which must have the map's value size).
pub fn map_lookup(map: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> Result<()> {
    map_check(map, key.len(), value.len())?;
    let mut a = elem_attr(map, key, value.as_mut_ptr(), 0);
    bpf(BPF_MAP_LOOKUP_ELEM, &mut a, "bpf(BPF_MAP_LOOKUP_ELEM)").map(drop)
}

/// BPF_MAP_DELETE_ELEM.
pub fn map_delete(map: BorrowedFd<'_>, key: &[u8]) -> Result<()> {
    map_check(map, key.len(), 0)?;
    let mut a = elem_attr(map, key, std::ptr::null(), 0);
    bpf(BPF_MAP_DELETE_ELEM, &mut a, "bpf(BPF_MAP_DELETE_ELEM)").map(drop)
}

/// Refuses slices shorter than the map's key/value sizes, which the kernel would read past.
fn map_check(map: BorrowedFd<'_>, key_len: usize, value_len: usize) -> Result<()> {
    // struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags, ...
    let mut info = [0u32; 6];
    obj_info(map, &mut info)?;
    let (key_size, value_size) = (info[2] as usize, info[3] as usize);
    if key_len < key_size || (value_len != 0 && value_len < value_size) {
        return Err(Error::from_errno("bpf(map element size)", Errno::EINVAL));
    }
    Ok(())
}

fn obj_info(fd: BorrowedFd<'_>, info: &mut [u32]) -> Result<()> {
    let mut a = Attr::new();
    a.u32(0, fd.as_raw_fd() as u32)
        .u32(4, size_of_val(info) as u32)
        .u64(8, info.as_mut_ptr() as u64);
    bpf(
        BPF_OBJ_GET_INFO_BY_FD,
        &mut a,
        "bpf(BPF_OBJ_GET_INFO_BY_FD)",
    )
    .map(drop)
}

/// BPF_PROG_LOAD. On failure the verifier's explanation is in `log` (NUL-terminated text; see
/// [`log_text`]); pass an empty slice to skip the log.
pub fn prog_load(
    prog_type: u32,
    insns: &[Insn],
    license: &std::ffi::CStr,
    name: &str,
    log: &mut [u8],
) -> Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, prog_type)
        .u32(4, insns.len() as u32)
        .u64(8, insns.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .name(48, name);
    if !log.is_empty() {
        a.u32(24, 1)
            .u32(28, log.len().min(u32::MAX as usize) as u32)
            .u64(32, log.as_mut_ptr() as u64);
    }
    bpf(BPF_PROG_LOAD, &mut a, "bpf(BPF_PROG_LOAD)").map(owned)
}

/// The text the verifier wrote into a log buffer.
pub fn log_text(log: &[u8]) -> String {
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    String::from_utf8_lossy(&log[..end]).trim_end().to_string()
}

/// The kernel's id of a loaded program (what `ip link` and IFLA_XDP_PROG_ID show).
pub fn prog_id(prog: BorrowedFd<'_>) -> Result<u32> {
    // struct bpf_prog_info starts with type, id.
    let mut info = [0u32; 2];
    obj_info(prog, &mut info)?;
    Ok(info[1])
}

pub const BPF_PROG_GET_FD_BY_ID: u32 = 13;

/// BPF_PROG_GET_FD_BY_ID: a descriptor for a loaded program by its id (needs CAP_SYS_ADMIN).
pub fn prog_fd_by_id(id: u32) -> Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, id);
    bpf(BPF_PROG_GET_FD_BY_ID, &mut a, "bpf(BPF_PROG_GET_FD_BY_ID)").map(owned)
}

/// The name a program was loaded with (`struct bpf_prog_info` field `name`, at byte 64).
pub fn prog_name(prog: BorrowedFd<'_>) -> Result<String> {
    let mut info = [0u32; 20];
    obj_info(prog, &mut info)?;
    let bytes: Vec<u8> = info[16..20].iter().flat_map(|w| w.to_ne_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

pub const BPF_PROG_TEST_RUN: u32 = 10;

/// BPF_PROG_TEST_RUN: runs a loaded program once over `data` (for XDP: a frame of at least
/// 14 bytes) and returns the program's return value. The kernel copies `data` into a frame of
/// its own, so the program sees it as it would see a received frame, without any device.
pub fn prog_test_run(prog: BorrowedFd<'_>, data: &[u8]) -> Result<u32> {
    let mut a = Attr::new();
    // struct { prog_fd, retval, data_size_in, data_size_out, data_in, data_out, repeat, ... }
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(8, data.len().min(u32::MAX as usize) as u32)
        .u64(16, data.as_ptr() as u64)
        .u32(32, 1);
    bpf(BPF_PROG_TEST_RUN, &mut a, "bpf(BPF_PROG_TEST_RUN)")?;
    Ok(u32::from_ne_bytes(a.0[4..8].try_into().expect("4 bytes")))
}

/// A program the kernel refused, with the verifier's last message when it gave one.
#[derive(Debug)]
pub struct Refused {
    pub error: Error,
    /// The last line of the verifier's log that says what went wrong (not its statistics).
    pub reason: Option<String>,
}

/// BPF_PROG_LOAD without a log first (a log slows the verifier, and a long program's log
/// overflows any buffer, which fails the load with ENOSPC); on refusal, loads again with a
/// 16 MiB log to tell why. The kernel keeps the log's tail when it overflows (since 6.4), and the
/// reason is near the end.
pub fn prog_load_explained(
    prog_type: u32,
    insns: &[Insn],
    license: &std::ffi::CStr,
    name: &str,
) -> std::result::Result<OwnedFd, Refused> {
    let error = match prog_load(prog_type, insns, license, name, &mut []) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut log = vec![0u8; 16 << 20];
    let reason = match prog_load(prog_type, insns, license, name, &mut log) {
        // refused once, accepted with a log: report the first error without a reason
        Ok(_) => None,
        Err(_) => verifier_reason(&log_text(&log)),
    };
    Err(Refused { error, reason })
}

/// The verifier's last message: the last line of its log, skipping the closing statistics
/// (`processed N insns ...`, `verification time ...`, `stack depth ...`).
pub fn verifier_reason(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
        })
        .map(str::to_string)
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. `0-7`): a per-CPU map's
/// value, read from user space, holds one slot per possible CPU.
pub fn possible_cpus() -> Result<usize> {
    let path = "/sys/devices/system/cpu/possible";
    let text = std::fs::read_to_string(path).map_err(|e| Error {
        call: "read /sys/devices/system/cpu/possible",
        source: e,
    })?;
    let mut n = 0usize;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let last = part.rsplit('-').next().unwrap_or(part);
        let last: usize = last.trim().parse().map_err(|_| Error {
            call: "parse /sys/devices/system/cpu/possible",
            source: std::io::Error::from(std::io::ErrorKind::InvalidData),
        })?;
        n = n.max(last + 1);
    }
    Ok(n.max(1))
}

/// BPF_MAP_LOOKUP_ELEM on a per-CPU map of u64 values: the sum over every CPU's slot. The kernel
/// copies one 8-byte-aligned slot per possible CPU.
pub fn percpu_u64_sum(map: BorrowedFd<'_>, key: &[u8], cpus: usize) -> Result<u64> {
    let mut v = vec![0u8; 8 * cpus];
    map_lookup(map, key, &mut v)?;
    Ok(v.chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
        .fold(0u64, u64::wrapping_add))
}
