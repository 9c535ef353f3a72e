//! eBPF instructions as text, in the notation of the kernel's verifier log (`kernel/bpf/disasm.c`):
//! `w` registers for 32-bit operations, `*(u16 *)(r1 -2)` for memory. Jump targets are printed
//! as absolute instruction numbers, like `tcpdump -d` does for classic BPF.

use super::{op, Insn};

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        op::W => "u32",
        op::H => "u16",
        op::B => "u8",
        _ => "u64",
    }
}

fn alu_name(o: u8) -> &'static str {
    match o {
        op::ADD => "+=",
        op::SUB => "-=",
        op::MUL => "*=",
        op::DIV => "/=",
        op::OR => "|=",
        op::AND => "&=",
        op::LSH => "<<=",
        op::RSH => ">>=",
        op::MOD => "%=",
        op::XOR => "^=",
        op::MOV => "=",
        0xc0 => "s>>=",
        _ => "?=",
    }
}

fn jmp_name(o: u8) -> &'static str {
    match o {
        op::JEQ => "==",
        op::JGT => ">",
        op::JGE => ">=",
        op::JSET => "&",
        op::JNE => "!=",
        0x60 => "s>",
        0x70 => "s>=",
        op::JLT => "<",
        op::JLE => "<=",
        0xc0 => "s<",
        0xd0 => "s<=",
        _ => "?",
    }
}

/// The text of `i`, which sits at index `pc`.
pub fn text(i: &Insn, pc: usize) -> String {
    let class = i.code & 0x07;
    let o = i.code & 0xf0;
    let by_x = i.code & op::X != 0;
    let target = pc as i64 + 1 + i.off as i64;
    match class {
        op::ALU | op::ALU64 => {
            let r = if class == op::ALU { 'w' } else { 'r' };
            match o {
                op::END => format!(
                    "r{} = {}{} r{}",
                    i.dst,
                    if by_x { "be" } else { "le" },
                    i.imm,
                    i.dst
                ),
                op::NEG => format!("{r}{} = -{r}{}", i.dst, i.dst),
                _ if by_x => format!("{r}{} {} {r}{}", i.dst, alu_name(o), i.src),
                _ => format!("{r}{} {} {}", i.dst, alu_name(o), i.imm),
            }
        }
        op::JMP | op::JMP32 => {
            let r = if class == op::JMP32 { 'w' } else { 'r' };
            match o {
                op::JA if class == op::JMP32 => format!("gotol {}", pc as i64 + 1 + i.imm as i64),
                op::JA => format!("goto {target}"),
                op::EXIT => "exit".into(),
                op::CALL => match i.imm {
                    1 => "call bpf_map_lookup_elem#1".into(),
                    51 => "call bpf_redirect_map#51".into(),
                    n => format!("call #{n}"),
                },
                _ if by_x => format!("if {r}{} {} {r}{} goto {target}", i.dst, jmp_name(o), i.src),
                _ => format!(
                    "if {r}{} {} {:#x} goto {target}",
                    i.dst,
                    jmp_name(o),
                    i.imm as u32
                ),
            }
        }
        op::LDX => format!(
            "r{} = *({} *)(r{} {:+})",
            i.dst,
            size_name(i.code),
            i.src,
            i.off
        ),
        op::ST => format!(
            "*({} *)(r{} {:+}) = {}",
            size_name(i.code),
            i.dst,
            i.off,
            i.imm
        ),
        op::STX if i.code & 0xe0 == op::ATOMIC => format!(
            "lock *({} *)(r{} {:+}) {} r{}",
            size_name(i.code),
            i.dst,
            i.off,
            alu_name(i.imm as u8 & 0xf0),
            i.src
        ),
        op::STX => format!(
            "*({} *)(r{} {:+}) = r{}",
            size_name(i.code),
            i.dst,
            i.off,
            i.src
        ),
        op::LD if i.code == op::LD | op::IMM | op::DW && i.src == 1 => {
            format!("r{} = map[fd:{}]", i.dst, i.imm)
        }
        op::LD if i.code == op::LD | op::IMM | op::DW => {
            format!("r{} = {:#x} ll", i.dst, i.imm as u32)
        }
        // the second half of a 64-bit immediate load
        0 if *i == Insn::default() => "(upper half of the load above)".into(),
        _ => format!("(unknown opcode {:#04x})", i.code),
    }
}
