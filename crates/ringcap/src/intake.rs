//! The classic BPF program every AF_PACKET socket of a capture runs in the kernel: the user's
//! filter, fitted to the socket the way libpcap fits it (`fix_program` in pcap-linux.c), behind
//! the checks of tcpdump's `-Q` and of the loopback device.
//!
//! - **Cooked sockets** (`-i any`, `-y LINUX_SLL*`) deliver packets from the network header on:
//!   the LINUX_SLL/LINUX_SLL2 header the filter was compiled for exists only in the file. Loads
//!   past the header move back by its length; loads of its protocol, interface index and
//!   packet type fields become the kernel's ancillary loads (`SKF_AD_PROTOCOL`,
//!   `SKF_AD_IFINDEX`, `SKF_AD_PKTTYPE`). Any other byte of the header has no kernel
//!   counterpart: libpcap then filters in user space, ringcap refuses the expression with a
//!   message saying so (the filter always runs in the kernel, where its refusals are free).
//! - **The loopback device** hands every packet to packet sockets twice, once outgoing and
//!   once incoming; libpcap drops the outgoing copy, so ringcap's program does the same.
//! - **`-Q out`**: only packets of type PACKET_OUTGOING. libpcap drops the others in user
//!   space after the kernel counted them; in the kernel program they are never counted, so the
//!   counts still add up. (`-Q in` is the socket option PACKET_IGNORE_OUTGOING: outgoing
//!   packets never reach the socket at all.)

use ringcap_sys::packet::SockFilter;

use crate::config::{Config, Direction, LinkLayer, DEFAULT_SNAPLEN};
use crate::{Error, Result};

const SKF_AD_OFF: u32 = 0xffff_f000;
const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_IFINDEX: u32 = 8;
const PACKET_OUTGOING: u32 = 4;

const BPF_LD: u16 = 0x00;
const BPF_LDX: u16 = 0x01;
const BPF_ABS: u16 = 0x20;
const BPF_IND: u16 = 0x40;
const BPF_MSH: u16 = 0xa0;
/// `ld [k]` (word, absolute): the form of an ancillary load.
const LD_W_ABS: u16 = 0x20;
/// `jeq #k, jt, jf`.
const JEQ_K: u16 = 0x15;
/// `ret #k`.
const RET_K: u16 = 0x06;

/// Which loopback packets to drop (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loopback {
    /// Not a loopback capture.
    None,
    /// The socket is bound to the loopback device: every outgoing packet is a duplicate.
    AllOutgoing,
    /// `any`: outgoing packets on this interface index (the loopback's) are duplicates.
    OutgoingOn(u32),
}

/// The program to attach, or `None` to take every packet whole (no program at all).
pub fn program(cfg: &Config, lo: Loopback) -> Result<Option<Vec<SockFilter>>> {
    let user: Option<Vec<SockFilter>> = match &cfg.filter {
        Some(prog) => {
            let mut insns: Vec<SockFilter> = prog
                .insns
                .iter()
                .map(|i| SockFilter {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect();
            fit_to_cooked(&mut insns, cfg.link)?;
            Some(insns)
        }
        None if cfg.snaplen < DEFAULT_SNAPLEN => Some(vec![ret(cfg.snaplen)]),
        None => None,
    };
    let out = cfg.direction == Direction::Out;
    if !out && lo == Loopback::None {
        return Ok(user);
    }
    let body = user.unwrap_or_else(|| vec![ret(cfg.snaplen.max(DEFAULT_SNAPLEN))]);
    Ok(Some(with_checks(body, out, lo)))
}

/// Rewrites a program compiled for a LINUX_SLL/LINUX_SLL2 header so it runs on a cooked socket
/// (libpcap's `fix_offset`); Ethernet programs are left alone.
pub fn fit_to_cooked(insns: &mut [SockFilter], link: LinkLayer) -> Result<()> {
    if !link.is_cooked() {
        return Ok(());
    }
    let hdr = link.header_len();
    for insn in insns.iter_mut() {
        let class = insn.code & 0x07;
        let mode = insn.code & 0xe0;
        if !(class == BPF_LD || class == BPF_LDX) || ![BPF_ABS, BPF_IND, BPF_MSH].contains(&mode) {
            continue;
        }
        let k = insn.k;
        if k >= SKF_AD_OFF {
            continue;
        }
        insn.k = if k >= hdr {
            k - hdr
        } else {
            let field = match (link, k) {
                (LinkLayer::LinuxSll2, 0) | (LinkLayer::LinuxSll, 14) => Some(SKF_AD_PROTOCOL),
                (LinkLayer::LinuxSll2, 4) => Some(SKF_AD_IFINDEX),
                (LinkLayer::LinuxSll2, 10) | (LinkLayer::LinuxSll, 0) => Some(SKF_AD_PKTTYPE),
                _ => None,
            };
            match field {
                Some(f) => SKF_AD_OFF + f,
                None => {
                    return Err(Error::Config(format!(
                        "the filter reads byte {k} of the {} header, which a cooked socket's \
                         kernel filter cannot see (only its protocol, interface and packet type \
                         fields); libpcap would filter such packets in user space, ringcap does \
                         not: change the expression",
                        link.name()
                    )))
                }
            }
        };
    }
    Ok(())
}

fn ret(k: u32) -> SockFilter {
    SockFilter {
        code: RET_K,
        jt: 0,
        jf: 0,
        k,
    }
}

fn ld_anc(field: u32) -> SockFilter {
    SockFilter {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: SKF_AD_OFF + field,
    }
}

/// `body` behind the direction and loopback checks: the checks, then `ret #0` (reject), then
/// `body`. Jumps are relative to the next instruction and only go forward, so `body`'s own
/// jumps are unchanged.
fn with_checks(body: Vec<SockFilter>, out: bool, lo: Loopback) -> Vec<SockFilter> {
    // Each check is (instruction, where true goes, where false goes); targets are Reject or
    // Body, or None for "the next instruction".
    #[derive(Clone, Copy)]
    enum To {
        Next,
        Reject,
        Body,
    }
    let outgoing = |t, f| (JEQ_K, PACKET_OUTGOING, t, f);
    let mut checks: Vec<(u16, u32, To, To)> = Vec::new();
    checks.push((LD_W_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE, To::Next, To::Next));
    match lo {
        Loopback::None => checks.push(outgoing(To::Body, To::Reject)),
        Loopback::AllOutgoing if out => return vec![ret(0)],
        Loopback::AllOutgoing => checks.push(outgoing(To::Reject, To::Body)),
        Loopback::OutgoingOn(ifindex) => {
            let not_outgoing = if out { To::Reject } else { To::Body };
            checks.push(outgoing(To::Next, not_outgoing));
            checks.push((LD_W_ABS, SKF_AD_OFF + SKF_AD_IFINDEX, To::Next, To::Next));
            checks.push((JEQ_K, ifindex, To::Reject, To::Body));
        }
    }
    let reject = checks.len();
    let mut prog = Vec::with_capacity(checks.len() + 1 + body.len());
    for (i, (code, k, t, f)) in checks.into_iter().enumerate() {
        let off = |to: To| match to {
            To::Next => 0,
            To::Reject => (reject - i - 1) as u8,
            To::Body => (reject - i) as u8,
        };
        if code == LD_W_ABS {
            prog.push(ld_anc(k - SKF_AD_OFF));
        } else {
            prog.push(SockFilter {
                code,
                jt: off(t),
                jf: off(f),
                k,
            });
        }
    }
    prog.push(ret(0));
    prog.extend(body);
    prog
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringcap_filter::{Aux, Insn, Program};

    /// Runs a kernel program with the interpreter, the packet type and interface given.
    fn run(prog: &[SockFilter], pkt: &[u8], pkttype: u8) -> u32 {
        let p = Program {
            insns: prog
                .iter()
                .map(|i| Insn {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect(),
        };
        p.run(
            pkt,
            pkt.len() as u32,
            &Aux {
                pkttype,
                ..Default::default()
            },
        )
    }

    fn cfg(direction: Direction) -> Config {
        Config::new("rc0")
            .pin(false)
            .direction(direction)
            .snaplen(1000)
    }

    #[test]
    fn direction_out_takes_only_outgoing_packets() {
        let prog = program(&cfg(Direction::Out), Loopback::None)
            .unwrap()
            .unwrap();
        assert_eq!(run(&prog, &[0u8; 60], 4), 1000);
        assert_eq!(run(&prog, &[0u8; 60], 0), 0);
        assert_eq!(run(&prog, &[0u8; 60], 3), 0);
        // Both ways without loopback: no checks, the snap length program only.
        let prog = program(&cfg(Direction::InOut), Loopback::None)
            .unwrap()
            .unwrap();
        assert_eq!(prog.len(), 1);
    }

    #[test]
    fn loopback_drops_the_outgoing_copy() {
        let prog = program(&cfg(Direction::InOut), Loopback::AllOutgoing)
            .unwrap()
            .unwrap();
        assert_eq!(run(&prog, &[0u8; 60], 4), 0);
        assert_eq!(run(&prog, &[0u8; 60], 0), 1000);
        // -Q out on lo takes nothing, as tcpdump -i lo -Q out.
        let prog = program(&cfg(Direction::Out), Loopback::AllOutgoing)
            .unwrap()
            .unwrap();
        assert_eq!(run(&prog, &[0u8; 60], 4), 0);
    }

    #[test]
    fn checks_jump_over_to_the_users_program() {
        // A user program with a forward jump keeps working behind the checks.
        let user = vec![
            SockFilter {
                code: 0x30, // ldb [0]
                jt: 0,
                jf: 0,
                k: 0,
            },
            SockFilter {
                code: JEQ_K,
                jt: 0,
                jf: 1,
                k: 7,
            },
            ret(99),
            ret(0),
        ];
        let prog = with_checks(user, false, Loopback::OutgoingOn(1));
        // Layout: ld type, jeq out, ld ifindex, jeq lo, ret 0, then the user's 4.
        assert_eq!(prog.len(), 9);
        assert_eq!((prog[1].jt, prog[1].jf), (0, 3));
        assert_eq!((prog[3].jt, prog[3].jf), (0, 1));
        assert_eq!(run(&prog, &[7u8; 60], 0), 99);
        assert_eq!(run(&prog, &[8u8; 60], 0), 0);
        // -Q out on any: an incoming packet is refused before the interface is looked at
        // (the interpreter has no interface index; the kernel tests cover that part).
        let prog = with_checks(vec![ret(5)], true, Loopback::OutgoingOn(1));
        assert_eq!((prog[1].jt, prog[1].jf), (0, 2));
        assert_eq!(run(&prog, &[7u8; 60], 0), 0);
    }

    #[test]
    fn cooked_programs_are_fitted_as_libpcap_fits_them() {
        let ld = |code: u16, k: u32| SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        let mut p = vec![
            ld(0x28, 0),              // ldh [0]: SLL2 protocol
            ld(0x20, 4),              // ld [4]: SLL2 ifindex
            ld(0x30, 10),             // ldb [10]: SLL2 packet type
            ld(0x30, 29),             // ldb [29]: IPv4 protocol
            ld(0xb1, 20),             // ldxb 4*([20]&0xf)
            ld(0x48, 22),             // ldh [x + 22]
            ld(0x20, SKF_AD_OFF + 8), // an ancillary load stays
        ];
        fit_to_cooked(&mut p, LinkLayer::LinuxSll2).unwrap();
        let ks: Vec<u32> = p.iter().map(|i| i.k).collect();
        assert_eq!(
            ks,
            vec![
                SKF_AD_OFF + SKF_AD_PROTOCOL,
                SKF_AD_OFF + SKF_AD_IFINDEX,
                SKF_AD_OFF + SKF_AD_PKTTYPE,
                9,
                0,
                2,
                SKF_AD_OFF + 8
            ]
        );
        // SLL: the packet type at 0, the protocol at 14, the payload from 16.
        let mut p = vec![ld(0x28, 0), ld(0x28, 14), ld(0x30, 25)];
        fit_to_cooked(&mut p, LinkLayer::LinuxSll).unwrap();
        let ks: Vec<u32> = p.iter().map(|i| i.k).collect();
        assert_eq!(
            ks,
            vec![SKF_AD_OFF + SKF_AD_PKTTYPE, SKF_AD_OFF + SKF_AD_PROTOCOL, 9]
        );
        // The source address has no kernel counterpart.
        let mut p = vec![ld(0x20, 12)];
        let e = fit_to_cooked(&mut p, LinkLayer::LinuxSll2).unwrap_err();
        assert!(
            e.to_string().contains("byte 12 of the LINUX_SLL2 header"),
            "{e}"
        );
        // Ethernet programs are not touched.
        let mut p = vec![ld(0x28, 12)];
        fit_to_cooked(&mut p, LinkLayer::Ethernet).unwrap();
        assert_eq!(p[0].k, 12);
    }
}
