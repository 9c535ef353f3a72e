//! tcpdump's three program dumps: `-d` (bpf_image text), `-dd` (C array), `-ddd` (decimal).

use crate::bpf::*;
use crate::Insn;

fn anc_name(k: u32) -> Option<&'static str> {
    if k < SKF_AD_OFF {
        return None;
    }
    Some(match k - SKF_AD_OFF {
        SKF_AD_PROTOCOL => "proto",
        SKF_AD_PKTTYPE => "type",
        SKF_AD_IFINDEX => "ifidx",
        SKF_AD_NLATTR => "nla",
        SKF_AD_NLATTR_NEST => "nlan",
        SKF_AD_MARK => "mark",
        SKF_AD_QUEUE => "queue",
        SKF_AD_HATYPE => "hatype",
        SKF_AD_RXHASH => "rxhash",
        SKF_AD_CPU => "cpu",
        SKF_AD_VLAN_TAG => "vlan_tci",
        SKF_AD_VLAN_TAG_PRESENT => "vlanp",
        SKF_AD_PAY_OFFSET => "poff",
        SKF_AD_RANDOM => "random",
        SKF_AD_VLAN_TPID => "vlan_tpid",
        _ => return None,
    })
}

/// One line of `tcpdump -d` for instruction `pc`.
pub fn image(i: &Insn, pc: usize) -> String {
    let k = i.k;
    let sk = k as i32;
    let ldn = |s: u16| match s {
        W => "ld",
        H => "ldh",
        _ => "ldb",
    };
    let (op, operand): (String, String) = match class(i.code) {
        LD => match mode(i.code) {
            IMM => ("ld".into(), format!("#0x{k:x}")),
            ABS => (
                ldn(size(i.code)).into(),
                match anc_name(k) {
                    Some(n) => format!("[{n}]"),
                    None => format!("[{sk}]"),
                },
            ),
            IND => (ldn(size(i.code)).into(), format!("[x + {sk}]")),
            MEM => ("ld".into(), format!("M[{sk}]")),
            LEN => ("ld".into(), "#pktlen".into()),
            _ => ("unimp".into(), format!("0x{:x}", i.code)),
        },
        LDX => match mode(i.code) {
            IMM => ("ldx".into(), format!("#0x{k:x}")),
            MEM => ("ldx".into(), format!("M[{sk}]")),
            LEN => ("ldx".into(), "#pktlen".into()),
            MSH => ("ldxb".into(), format!("4*([{sk}]&0xf)")),
            _ => ("unimp".into(), format!("0x{:x}", i.code)),
        },
        ST => ("st".into(), format!("M[{sk}]")),
        STX => ("stx".into(), format!("M[{sk}]")),
        RET => match i.code & 0x18 {
            A => ("ret".into(), String::new()),
            _ => ("ret".into(), format!("#{sk}")),
        },
        ALU => {
            let name = match op(i.code) {
                ADD => "add",
                SUB => "sub",
                MUL => "mul",
                DIV => "div",
                MOD => "mod",
                AND => "and",
                OR => "or",
                XOR => "xor",
                LSH => "lsh",
                RSH => "rsh",
                NEG => "neg",
                _ => "unimp",
            };
            let operand = if op(i.code) == NEG {
                String::new()
            } else if src(i.code) == X {
                "x".into()
            } else if matches!(op(i.code), AND | OR | XOR) {
                format!("#0x{k:x}")
            } else {
                format!("#{sk}")
            };
            (name.into(), operand)
        }
        MISC => {
            if i.code & 0xf8 == TXA {
                ("txa".into(), String::new())
            } else {
                ("tax".into(), String::new())
            }
        }
        _ => {
            // JMP
            if op(i.code) == JA {
                return format!("({pc:03}) {:<8} {}", "ja", pc as u64 + 1 + k as u64);
            }
            let name = match op(i.code) {
                JEQ => "jeq",
                JGT => "jgt",
                JGE => "jge",
                JSET => "jset",
                _ => "unimp",
            };
            let operand = if src(i.code) == X {
                "x".to_string()
            } else {
                format!("#0x{k:x}")
            };
            return format!(
                "({pc:03}) {:<8} {:<16} jt {}\tjf {}",
                name,
                operand,
                pc + 1 + i.jt as usize,
                pc + 1 + i.jf as usize
            );
        }
    };
    format!("({pc:03}) {op:<8} {operand}")
}

/// `tcpdump -d`.
pub fn dump_d(prog: &[Insn]) -> String {
    prog.iter()
        .enumerate()
        .map(|(pc, i)| image(i, pc) + "\n")
        .collect()
}

/// `tcpdump -dd`.
pub fn dump_dd(prog: &[Insn]) -> String {
    prog.iter()
        .map(|i| format!("{{ 0x{:x}, {}, {}, 0x{:08x} }},\n", i.code, i.jt, i.jf, i.k))
        .collect()
}

/// `tcpdump -ddd`.
pub fn dump_ddd(prog: &[Insn]) -> String {
    let mut s = format!("{}\n", prog.len());
    for i in prog {
        s += &format!("{} {} {} {}\n", i.code, i.jt, i.jf, i.k);
    }
    s
}
