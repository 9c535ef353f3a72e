//! A classic BPF interpreter for running the capture filter on AF_XDP frames in user space
//! (AF_XDP sockets take no SO_ATTACH_FILTER). Semantics follow the kernel's: loads outside the
//! packet reject it, division by zero rejects it, the return value is the number of bytes to
//! keep. Ancillary loads (negative offsets) are not available on raw frames and reject.

use ringcap_sys::packet::SockFilter;

/// Runs `prog` over `pkt` (`wirelen` is the frame's length, BPF_LEN). 0 means reject.
pub(crate) fn run(prog: &[SockFilter], pkt: &[u8], wirelen: u32) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let load = |off: u32, size: u32| -> Option<u32> {
        let off = off as usize;
        let b = pkt.get(off..off.checked_add(size as usize)?)?;
        Some(match size {
            4 => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            2 => u16::from_be_bytes([b[0], b[1]]) as u32,
            _ => b[0] as u32,
        })
    };
    let size_of = |code: u16| match code & 0x18 {
        0x00 => 4,
        0x08 => 2,
        _ => 1,
    };
    // A program longer than 4096 instructions is refused by the kernel; bound the steps too.
    for _ in 0..=prog.len() {
        let Some(i) = prog.get(pc) else { return 0 };
        pc += 1;
        let k = i.k;
        match i.code & 0x07 {
            // LD
            0x00 => {
                a = match i.code & 0xe0 {
                    0x00 => k,
                    0x20 => match load(k, size_of(i.code)) {
                        Some(v) => v,
                        None => return 0,
                    },
                    0x40 => match load(x.wrapping_add(k), size_of(i.code)) {
                        Some(v) => v,
                        None => return 0,
                    },
                    0x60 => mem[(k & 15) as usize],
                    0x80 => wirelen,
                    _ => return 0,
                }
            }
            // LDX
            0x01 => {
                x = match i.code & 0xe0 {
                    0x00 => k,
                    0x60 => mem[(k & 15) as usize],
                    0x80 => wirelen,
                    0xa0 => match load(k, 1) {
                        Some(v) => 4 * (v & 0x0f),
                        None => return 0,
                    },
                    _ => return 0,
                }
            }
            0x02 => mem[(k & 15) as usize] = a,
            0x03 => mem[(k & 15) as usize] = x,
            // ALU
            0x04 => {
                let src = if i.code & 0x08 != 0 { x } else { k };
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => match a.checked_div(src) {
                        Some(v) => v,
                        None => return 0,
                    },
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => match a.checked_rem(src) {
                        Some(v) => v,
                        None => return 0,
                    },
                    0xa0 => a ^ src,
                    _ => return 0,
                }
            }
            // JMP
            0x05 => {
                let src = if i.code & 0x08 != 0 { x } else { k };
                let taken = match i.code & 0xf0 {
                    0x00 => {
                        pc = pc.wrapping_add(k as usize);
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    _ => return 0,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            // RET
            0x06 => {
                return match i.code & 0x18 {
                    0x00 => k,
                    0x10 => a,
                    _ => x,
                }
            }
            // MISC
            _ => {
                if i.code & 0xf8 == 0x80 {
                    a = x;
                } else {
                    x = a;
                }
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    /// `udp` for Ethernet/IPv4 as tcpdump -d prints it (IPv4 branch only), snaplen 96.
    fn udp_prog() -> Vec<SockFilter> {
        vec![
            ins(0x28, 0, 0, 12),     // ldh [12]
            ins(0x15, 0, 3, 0x0800), // jeq #0x800 jt 2 jf 5
            ins(0x30, 0, 0, 23),     // ldb [23]
            ins(0x15, 0, 1, 17),     // jeq #17
            ins(0x06, 0, 0, 96),     // ret #96
            ins(0x06, 0, 0, 0),      // ret #0
        ]
    }

    #[test]
    fn udp_filter() {
        let f = ringcap_netlab::udp_frame(1, 2, 100);
        assert_eq!(run(&udp_prog(), &f, 100), 96);
        let mut tcp = f.clone();
        tcp[23] = 6;
        assert_eq!(run(&udp_prog(), &tcp, 100), 0);
        // Too short to read the protocol byte: rejected, not a panic.
        assert_eq!(run(&udp_prog(), &f[..20], 20), 0);
    }

    #[test]
    fn alu_msh_len_and_bad_programs() {
        // x = 4*(P[14]&0xf) = 20; a = len; a -= x; ret a
        let p = [
            ins(0xb1, 0, 0, 14),
            ins(0x80, 0, 0, 0),
            ins(0x1c, 0, 0, 0),
            ins(0x16, 0, 0, 0),
        ];
        let f = ringcap_netlab::udp_frame(1, 2, 100);
        assert_eq!(run(&p, &f, 100), 80);
        // Division by zero rejects; falling off the end rejects; a jump past the end rejects.
        assert_eq!(run(&[ins(0x34, 0, 0, 0), ins(0x16, 0, 0, 0)], &f, 100), 0);
        assert_eq!(run(&[ins(0x00, 0, 0, 5)], &f, 100), 0);
        assert_eq!(run(&[ins(0x05, 0, 0, 10), ins(0x06, 0, 0, 1)], &f, 100), 0);
        // Ancillary (negative offset) loads reject.
        assert_eq!(
            run(&[ins(0x20, 0, 0, 0xfffff000), ins(0x06, 0, 0, 1)], &f, 100),
            0
        );
    }
}
