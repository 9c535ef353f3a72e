//! The classic BPF interpreter: every classic opcode, loads bounds-checked (an out-of-range load
//! rejects the packet, as the kernel does), division or modulo by zero rejects, and the Linux
//! ancillary loads answered from [`Aux`].

use crate::bpf::*;
use crate::{Aux, Insn};

fn load(pkt: &[u8], off: u32, sz: u16, aux: &Aux, wirelen: u32) -> Option<u32> {
    if off >= SKF_AD_OFF {
        return match off - SKF_AD_OFF {
            SKF_AD_PKTTYPE => Some(aux.pkttype as u32),
            SKF_AD_VLAN_TAG => Some(aux.vlan_tci.unwrap_or(0) as u32),
            SKF_AD_VLAN_TAG_PRESENT => Some(aux.vlan_tci.is_some() as u32),
            SKF_AD_VLAN_TPID => Some(aux.vlan_tpid as u32),
            SKF_AD_PROTOCOL => {
                let _ = wirelen;
                pkt.get(12..14)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]) as u32)
            }
            _ => None,
        };
    }
    let o = off as usize;
    match sz {
        W => pkt
            .get(o..o.checked_add(4)?)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        H => pkt
            .get(o..o.checked_add(2)?)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as u32),
        B => pkt.get(o).map(|b| *b as u32),
        _ => None,
    }
}

/// Runs `prog` over `pkt`; returns the accept length (0 = reject).
pub fn run(prog: &[Insn], pkt: &[u8], wirelen: u32, aux: &Aux) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    // Every jump is forward, so the loop ends within prog.len() steps.
    while let Some(i) = prog.get(pc) {
        pc += 1;
        let k = i.k;
        match class(i.code) {
            LD => {
                a = match mode(i.code) {
                    IMM => k,
                    ABS => match load(pkt, k, size(i.code), aux, wirelen) {
                        Some(v) => v,
                        None => return 0,
                    },
                    IND => match x.checked_add(k).and_then(|o| {
                        if o >= SKF_AD_OFF {
                            None
                        } else {
                            load(pkt, o, size(i.code), aux, wirelen)
                        }
                    }) {
                        Some(v) => v,
                        None => return 0,
                    },
                    MEM => mem[(k & 15) as usize],
                    LEN => wirelen,
                    _ => return 0,
                }
            }
            LDX => {
                x = match mode(i.code) {
                    IMM => k,
                    MEM => mem[(k & 15) as usize],
                    LEN => wirelen,
                    MSH => match pkt.get(k as usize) {
                        Some(b) => 4 * (*b as u32 & 0xf),
                        None => return 0,
                    },
                    _ => return 0,
                }
            }
            ST => mem[(k & 15) as usize] = a,
            STX => mem[(k & 15) as usize] = x,
            ALU => {
                let v = if src(i.code) == X { x } else { k };
                a = match op(i.code) {
                    ADD => a.wrapping_add(v),
                    SUB => a.wrapping_sub(v),
                    MUL => a.wrapping_mul(v),
                    DIV => {
                        if v == 0 {
                            return 0;
                        }
                        a / v
                    }
                    MOD => {
                        if v == 0 {
                            return 0;
                        }
                        a % v
                    }
                    OR => a | v,
                    AND => a & v,
                    XOR => a ^ v,
                    LSH => {
                        if v < 32 {
                            a << v
                        } else {
                            0
                        }
                    }
                    RSH => {
                        if v < 32 {
                            a >> v
                        } else {
                            0
                        }
                    }
                    NEG => a.wrapping_neg(),
                    _ => return 0,
                }
            }
            JMP => {
                let v = if src(i.code) == X { x } else { k };
                let skip = match op(i.code) {
                    JA => k as usize,
                    JEQ => (if a == v { i.jt } else { i.jf }) as usize,
                    JGT => (if a > v { i.jt } else { i.jf }) as usize,
                    JGE => (if a >= v { i.jt } else { i.jf }) as usize,
                    JSET => (if a & v != 0 { i.jt } else { i.jf }) as usize,
                    _ => return 0,
                };
                pc = match pc.checked_add(skip) {
                    Some(p) => p,
                    None => return 0,
                };
            }
            RET => {
                return match i.code & 0x18 {
                    K => k,
                    A => a,
                    _ => 0,
                }
            }
            MISC => {
                if i.code & 0xf8 == TXA {
                    a = x
                } else {
                    x = a
                }
            }
            _ => return 0,
        }
    }
    0
}
