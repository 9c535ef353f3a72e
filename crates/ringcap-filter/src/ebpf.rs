//! Classic BPF translated to eBPF for the XDP hook, so a capture filter runs in the kernel before
//! a frame is redirected and what does not match stays with the host's stack.
//!
//! The input is a [`Program`] compiled for [`crate::Target::File`]: at XDP the VLAN tags are still
//! in the frame bytes, there is no direction, and the kernel's ancillary loads do not exist, so a
//! program using one is refused. The semantics are classic BPF's, exactly as `vm` runs them:
//!
//! - A and X are 32-bit: every ALU operation is a 32-bit (`BPF_ALU`) one, which zero-extends
//!   into the 64-bit register, and every comparison is a `BPF_JMP32`, which compares the low 32
//!   bits without sign-extending the immediate.
//! - A load past the end of the frame, a division or modulo by zero, and running off the end of
//!   the program reject the frame. A shift by 32 or more gives 0 (libpcap's `bpf_filter`).
//! - Loads are big-endian: `BPF_END` to big-endian after the little loads.
//! - Loads are written for the verifier: the pointer to the load's last byte is compared with
//!   `data_end` before the access, and an indirect offset `X + k` is first bounded to the
//!   packet's maximum offset (0xffff) so the pointer arithmetic has a known range.
//! - M\[0..15\] lives on the eBPF stack at `r10 - 64`; cells the program reads start at 0.
//! - Only reachable instructions are emitted (the verifier refuses unreachable ones), and a jump
//!   to a `ret #k` goes straight to the verdict.
//!
//! The result is a fragment, not a whole program: the caller wraps it (see [`Filter`]).

use crate::bpf as c;
use crate::Program;

mod disasm;
mod layout;

use layout::{Item, Label};

/// eBPF opcode parts (`linux/bpf.h`, `linux/bpf_common.h`).
pub mod op {
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;

    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
    pub const IMM: u8 = 0x00;
    pub const MEM: u8 = 0x60;
    pub const ATOMIC: u8 = 0xc0;

    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;

    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const END: u8 = 0xd0;
    pub const TO_BE: u8 = 0x08;

    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
}

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The 8 bytes of `struct bpf_insn` in this machine's byte order, as `BPF_PROG_LOAD` reads
    /// them (the register nibbles follow the bitfield order of the machine's ABI).
    pub fn encode(&self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.dst & 0x0f) | (self.src << 4)
        } else {
            (self.dst << 4) | (self.src & 0x0f)
        };
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }

    /// The kernel verifier's text for the instruction (`r0 = *(u16 *)(r1 +12)`), with jump
    /// targets as absolute indices when `pc` is given.
    pub fn text(&self, pc: usize) -> String {
        disasm::text(self, pc)
    }
}

/// Where an eBPF instruction of a [`Filter`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Reading `data`/`data_end`, clearing A, X and the scratch cells the program reads.
    Entry,
    /// The classic instruction at this index.
    Cbpf(usize),
    /// Setting r0 to the verdict.
    Verdict,
}

/// A translated filter: a fragment meant to be placed inside an XDP program.
///
/// Contract: on entry r1 holds the `struct xdp_md *` context. The fragment clobbers r0–r5 and
/// the stack bytes `[r10 - 64, r10)`, leaves r6–r9 untouched, and ends with r0 = 1 (match) or
/// r0 = 0 (reject) by falling through, or jumping, to the instruction just past its end — so
/// the caller must put at least one instruction there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub insns: Vec<Insn>,
    /// One per instruction.
    pub origins: Vec<Origin>,
}

/// Why a classic program cannot run at XDP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("instruction {pc}: the ancillary load at SKF_AD_OFF+{offset} (kernel metadata of a live socket) does not exist at XDP; compile the filter for the file target")]
    Ancillary { pc: usize, offset: u32 },
    #[error("instruction {pc}: {what}")]
    Invalid { pc: usize, what: &'static str },
}

// Register roles. r1 is the context on entry, then a temporary.
const CTX: u8 = 1;
const TMP: u8 = 1;
const DATA: u8 = 2;
const DATA_END: u8 = 3;
const A: u8 = 4;
const X: u8 = 5;
const RET: u8 = 0;
const FP: u8 = 10;

/// The largest packet offset the verifier tracks (MAX_PACKET_OFF); XDP frames are shorter.
const MAX_PACKET_OFF: u32 = 0xffff;
/// Offset of M[0] from the frame pointer.
const SCRATCH: i16 = -64;

/// offsetof(struct xdp_md, data) and offsetof(struct xdp_md, data_end).
const XDP_MD_DATA: i16 = 0;
const XDP_MD_DATA_END: i16 = 4;

fn alu32(o: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(op::ALU | o | op::K, dst, 0, 0, imm)
}
fn alu32_reg(o: u8, dst: u8, src: u8) -> Insn {
    Insn::new(op::ALU | o | op::X, dst, src, 0, 0)
}
fn alu64(o: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(op::ALU64 | o | op::K, dst, 0, 0, imm)
}
fn alu64_reg(o: u8, dst: u8, src: u8) -> Insn {
    Insn::new(op::ALU64 | o | op::X, dst, src, 0, 0)
}
fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(op::LDX | op::MEM | size, dst, src, off, 0)
}
fn scratch(k: u32) -> i16 {
    SCRATCH + 4 * k as i16
}

struct Emitter<'p> {
    prog: &'p [crate::Insn],
    items: Vec<Item>,
    origin: Origin,
    locals: u32,
}

/// Translates `prog` (compiled for the file target) into an XDP filter fragment.
pub fn translate(prog: &Program) -> Result<Filter, Error> {
    let p = &prog.insns;
    let reach = reachable(p)?;
    let mut e = Emitter {
        prog: p,
        items: Vec::new(),
        origin: Origin::Entry,
        locals: 0,
    };
    e.entry();
    for (pc, i) in p.iter().enumerate() {
        if reach[pc] {
            e.origin = Origin::Cbpf(pc);
            e.items.push(Item::Mark(Label::Cbpf(pc)));
            e.insn(pc, i)?;
        }
    }
    if reach[p.len()] {
        // running off the end rejects
        e.items.push(Item::Mark(Label::Cbpf(p.len())));
        e.jump(Insn::new(op::JMP | op::JA, 0, 0, 0, 0), Label::Reject);
    }
    e.verdicts();
    Ok(layout::resolve(e.items))
}

/// Which instructions a run can reach, with jumps to `ret #k` going to the verdict directly
/// (index `len` stands for running off the end).
fn reachable(p: &[crate::Insn]) -> Result<Vec<bool>, Error> {
    let n = p.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for pc in 0..n {
        if !reach[pc] {
            continue;
        }
        let i = &p[pc];
        if c::class(i.code) == c::JMP {
            let targets = if c::op(i.code) == c::JA {
                vec![pc as u64 + 1 + i.k as u64]
            } else {
                vec![pc as u64 + 1 + i.jt as u64, pc as u64 + 1 + i.jf as u64]
            };
            for t in targets {
                if t > n as u64 {
                    return Err(Error::Invalid {
                        pc,
                        what: "jump past the end of the program",
                    });
                }
                if let Label::Cbpf(t) = jump_label(p, t as usize) {
                    reach[t] = true;
                }
            }
        } else if c::class(i.code) != c::RET && !always_rejects(i) {
            reach[pc + 1] = true;
        }
    }
    Ok(reach)
}

/// Where a jump to classic instruction `t` goes: a `ret #k` is its verdict.
fn jump_label(p: &[crate::Insn], t: usize) -> Label {
    match p.get(t) {
        Some(i) if i.code == c::RET | c::K => {
            if i.k != 0 {
                Label::Match
            } else {
                Label::Reject
            }
        }
        _ => Label::Cbpf(t),
    }
}

/// Loads that can never succeed at XDP (the frame is shorter than the offset) and divisions by
/// a constant zero: they reject, so what follows them is not reached through them.
fn always_rejects(i: &crate::Insn) -> bool {
    let width = |code| match c::size(code) {
        c::W => 4,
        c::H => 2,
        _ => 1,
    };
    match (c::class(i.code), c::mode(i.code)) {
        (c::LD, c::ABS) if i.k < c::SKF_AD_OFF => {
            i.k as u64 + width(i.code) > MAX_PACKET_OFF as u64
        }
        (c::LD, c::IND) => i.k as u64 + width(i.code) > MAX_PACKET_OFF as u64,
        (c::LDX, c::MSH) => i.k >= MAX_PACKET_OFF,
        (c::ALU, _) => {
            matches!(c::op(i.code), c::DIV | c::MOD) && c::src(i.code) == c::K && i.k == 0
        }
        _ => false,
    }
}

impl Emitter<'_> {
    fn push(&mut self, i: Insn) {
        self.items.push(Item::Insn(i, self.origin));
    }
    fn jump(&mut self, i: Insn, to: Label) {
        self.items.push(Item::Jump(i, to, self.origin));
    }
    fn local(&mut self) -> Label {
        self.locals += 1;
        Label::Local(self.locals)
    }
    fn goto(&mut self, to: Label) {
        self.jump(Insn::new(op::JMP | op::JA, 0, 0, 0, 0), to);
    }

    fn entry(&mut self) {
        self.push(ldx(op::W, DATA, CTX, XDP_MD_DATA));
        self.push(ldx(op::W, DATA_END, CTX, XDP_MD_DATA_END));
        self.push(alu32(op::MOV, A, 0));
        self.push(alu32(op::MOV, X, 0));
        let mut read = [false; 16];
        for i in self.prog {
            let m = c::mode(i.code);
            if matches!(c::class(i.code), c::LD | c::LDX) && m == c::MEM && i.k < 16 {
                read[i.k as usize] = true;
            }
        }
        for k in (0..16).filter(|&k| read[k]) {
            self.push(Insn::new(
                op::ST | op::MEM | op::W,
                FP,
                0,
                scratch(k as u32),
                0,
            ));
        }
    }

    /// `REJECT: r0 = 0; goto END; MATCH: r0 = 1; END:`, each part only when something reaches it.
    fn verdicts(&mut self) {
        let used = |l: Label, items: &[Item]| {
            items
                .iter()
                .any(|it| matches!(it, Item::Jump(_, to, _) if *to == l))
        };
        let (reject, matched) = (
            used(Label::Reject, &self.items),
            used(Label::Match, &self.items),
        );
        self.origin = Origin::Verdict;
        if reject {
            self.items.push(Item::Mark(Label::Reject));
            self.push(alu32(op::MOV, RET, 0));
            if matched {
                self.goto(Label::End);
            }
        }
        if matched {
            self.items.push(Item::Mark(Label::Match));
            self.push(alu32(op::MOV, RET, 1));
        }
        self.items.push(Item::Mark(Label::End));
    }

    /// `TMP = pointer to the byte after the load; if TMP > data_end reject; A/X = *(TMP - n)`,
    /// the load's `size` bytes at `k` (plus X when `indirect`).
    fn load(&mut self, size: u8, dst: u8, k: u32, indirect: bool) {
        let n: u32 = match size {
            op::W => 4,
            op::H => 2,
            _ => 1,
        };
        if indirect {
            // TMP = X + k as a 64-bit value (no wrap), bounded so the verifier knows its range
            self.push(alu32_reg(op::MOV, TMP, X));
            if k != 0 {
                self.push(alu64(op::ADD, TMP, k as i32));
            }
            self.jump(
                Insn::new(
                    op::JMP | op::JGT | op::K,
                    TMP,
                    0,
                    0,
                    (MAX_PACKET_OFF - n) as i32,
                ),
                Label::Reject,
            );
            self.push(alu64_reg(op::ADD, TMP, DATA));
            self.push(alu64(op::ADD, TMP, n as i32));
        } else {
            self.push(alu64_reg(op::MOV, TMP, DATA));
            self.push(alu64(op::ADD, TMP, (k + n) as i32));
        }
        self.jump(
            Insn::new(op::JMP | op::JGT | op::X, TMP, DATA_END, 0, 0),
            Label::Reject,
        );
        self.push(ldx(size, dst, TMP, -(n as i16)));
        if n > 1 {
            self.push(Insn::new(
                op::ALU | op::END | op::TO_BE,
                dst,
                0,
                0,
                8 * n as i32,
            ));
        }
    }

    fn insn(&mut self, pc: usize, i: &crate::Insn) -> Result<(), Error> {
        let invalid = |what| Err(Error::Invalid { pc, what });
        let k = i.k;
        let size = match c::size(i.code) {
            c::W => op::W,
            c::H => op::H,
            _ => op::B,
        };
        match c::class(i.code) {
            c::LD | c::LDX => {
                let dst = if c::class(i.code) == c::LD { A } else { X };
                match (c::class(i.code), c::mode(i.code)) {
                    (_, c::IMM) => self.push(alu32(op::MOV, dst, k as i32)),
                    (_, c::MEM) if k < 16 => self.push(ldx(op::W, dst, FP, scratch(k))),
                    (_, c::MEM) => return invalid("scratch memory index past M[15]"),
                    (_, c::LEN) => {
                        // data_end - data: the frame's length, below 64 KiB
                        self.push(alu64_reg(op::MOV, dst, DATA_END));
                        self.push(alu64_reg(op::SUB, dst, DATA));
                        self.push(alu32_reg(op::MOV, dst, dst));
                    }
                    (c::LD, c::ABS) if k >= c::SKF_AD_OFF => {
                        return Err(Error::Ancillary {
                            pc,
                            offset: k - c::SKF_AD_OFF,
                        })
                    }
                    (c::LD, c::ABS | c::IND) if always_rejects(i) => self.goto(Label::Reject),
                    (c::LD, c::ABS) => self.load(size, A, k, false),
                    (c::LD, c::IND) => self.load(size, A, k, true),
                    (c::LDX, c::MSH) if always_rejects(i) => self.goto(Label::Reject),
                    (c::LDX, c::MSH) if size == op::B => {
                        self.load(op::B, X, k, false);
                        self.push(alu32(op::AND, X, 0xf));
                        self.push(alu32(op::LSH, X, 2));
                    }
                    _ => return invalid("unknown load"),
                }
            }
            c::ST | c::STX if k < 16 => {
                let src = if c::class(i.code) == c::ST { A } else { X };
                self.push(Insn::new(op::STX | op::MEM | op::W, FP, src, scratch(k), 0));
            }
            c::ST | c::STX => return invalid("scratch memory index past M[15]"),
            c::ALU => self.alu(pc, i)?,
            c::JMP => self.jmp(pc, i)?,
            c::RET => match i.code & 0x18 {
                c::K if k != 0 => self.goto(Label::Match),
                c::K => self.goto(Label::Reject),
                c::A => {
                    self.jump(
                        Insn::new(op::JMP32 | op::JNE | op::K, A, 0, 0, 0),
                        Label::Match,
                    );
                    self.goto(Label::Reject);
                }
                _ => return invalid("unknown return"),
            },
            _ => match i.code {
                x if x == c::MISC | c::TAX => self.push(alu32_reg(op::MOV, X, A)),
                x if x == c::MISC | c::TXA => self.push(alu32_reg(op::MOV, A, X)),
                _ => return invalid("unknown instruction"),
            },
        }
        Ok(())
    }

    fn alu(&mut self, pc: usize, i: &crate::Insn) -> Result<(), Error> {
        let o = c::op(i.code) as u8;
        let by_x = c::src(i.code) == c::X;
        match c::op(i.code) {
            c::ADD | c::SUB | c::MUL | c::OR | c::AND | c::XOR if by_x => {
                self.push(alu32_reg(o, A, X))
            }
            c::ADD | c::SUB | c::MUL | c::OR | c::AND | c::XOR => {
                self.push(alu32(o, A, i.k as i32))
            }
            c::NEG => self.push(alu32(op::NEG, A, 0)),
            c::DIV | c::MOD if by_x => {
                self.jump(
                    Insn::new(op::JMP32 | op::JEQ | op::K, X, 0, 0, 0),
                    Label::Reject,
                );
                self.push(alu32_reg(o, A, X));
            }
            c::DIV | c::MOD if i.k == 0 => self.goto(Label::Reject),
            c::DIV | c::MOD => self.push(alu32(o, A, i.k as i32)),
            c::LSH | c::RSH if by_x => {
                let (zero, end) = (self.local(), self.local());
                self.jump(Insn::new(op::JMP32 | op::JGT | op::K, X, 0, 0, 31), zero);
                self.push(alu32_reg(o, A, X));
                self.goto(end);
                self.items.push(Item::Mark(zero));
                self.push(alu32(op::MOV, A, 0));
                self.items.push(Item::Mark(end));
            }
            c::LSH | c::RSH if i.k >= 32 => self.push(alu32(op::MOV, A, 0)),
            c::LSH | c::RSH => self.push(alu32(o, A, i.k as i32)),
            _ => {
                return Err(Error::Invalid {
                    pc,
                    what: "unknown ALU operation",
                })
            }
        }
        Ok(())
    }

    fn jmp(&mut self, pc: usize, i: &crate::Insn) -> Result<(), Error> {
        let o = c::op(i.code);
        if o == c::JA {
            self.goto(jump_label(self.prog, pc + 1 + i.k as usize));
            return Ok(());
        }
        let (t, f) = (
            jump_label(self.prog, pc + 1 + i.jt as usize),
            jump_label(self.prog, pc + 1 + i.jf as usize),
        );
        let (code, inverse) = match o {
            c::JEQ => (op::JEQ, Some(op::JNE)),
            c::JGT => (op::JGT, Some(op::JLE)),
            c::JGE => (op::JGE, Some(op::JLT)),
            c::JSET => (op::JSET, None),
            _ => {
                return Err(Error::Invalid {
                    pc,
                    what: "unknown jump",
                })
            }
        };
        let cond = |code: u8| {
            if c::src(i.code) == c::X {
                Insn::new(op::JMP32 | code | op::X, A, X, 0, 0)
            } else {
                Insn::new(op::JMP32 | code | op::K, A, 0, 0, i.k as i32)
            }
        };
        if t == f {
            self.goto(t);
        } else if let (Some(inv), true) = (inverse, t == Label::Cbpf(pc + 1)) {
            self.jump(cond(inv), f);
        } else {
            self.jump(cond(code), t);
            self.goto(f);
        }
        Ok(())
    }
}

/// The one value the program's matches return (`ret #k`, k != 0), which is the number of bytes
/// to keep: the XDP program only says match or not, so the accept length must be the same
/// for every match. `None` when matches return different values or A (`ret a`).
pub fn accept_length(prog: &Program) -> Option<u32> {
    let mut k = None;
    for i in &prog.insns {
        match (c::class(i.code), i.code & 0x18) {
            (c::RET, c::A) => return None,
            (c::RET, _) if i.k != 0 => match k {
                Some(v) if v != i.k => return None,
                _ => k = Some(i.k),
            },
            _ => {}
        }
    }
    Some(k.unwrap_or(0))
}

impl Origin {
    /// The classic instruction as `tcpdump -d` prints it, `entry` or `verdict`.
    pub fn describe(&self, prog: &Program) -> String {
        match self {
            Origin::Entry => "entry".to_string(),
            Origin::Verdict => "verdict".to_string(),
            Origin::Cbpf(n) => match prog.insns.get(*n) {
                Some(i) => crate::dump::image(i, *n),
                None => format!("({n:03})"),
            },
        }
    }
}

impl Filter {
    /// One instruction per line with where it comes from (see [`Origin::describe`]).
    pub fn dump(&self, prog: &Program) -> String {
        let mut s = String::new();
        for (pc, (i, o)) in self.insns.iter().zip(&self.origins).enumerate() {
            s += &format!("({pc:03}) {:<34} ; {}\n", i.text(pc), o.describe(prog));
        }
        s
    }
}
