//! TEMPORARY: the `ringcap_wire::{summarize, summarize_ip, Summary, Addrs}` API, until the wire
//! crate lands on its branch; deleted when it is merged. Only what the flow table needs.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addrs {
    None,
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: [u8; 16], dst: [u8; 16] },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub vlan: Option<u16>,
    pub ethertype: u16,
    pub addrs: Addrs,
    pub l3_len: u32,
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    pub ttl: u8,
    pub fragment: bool,
}

impl Summary {
    const EMPTY: Summary = Summary {
        src_mac: [0; 6],
        dst_mac: [0; 6],
        vlan: None,
        ethertype: 0,
        addrs: Addrs::None,
        l3_len: 0,
        proto: 0,
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        ttl: 0,
        fragment: false,
    };
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

pub fn summarize(frame: &[u8]) -> Summary {
    let mut s = Summary::EMPTY;
    if frame.len() < 14 {
        s.l3_len = frame.len() as u32;
        return s;
    }
    s.dst_mac.copy_from_slice(&frame[0..6]);
    s.src_mac.copy_from_slice(&frame[6..12]);
    let mut et = be16(frame, 12);
    let mut off = 14;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) && frame.len() >= off + 4 {
        if s.vlan.is_none() {
            s.vlan = Some(be16(frame, off) & 0x0fff);
        }
        et = be16(frame, off + 2);
        off += 4;
    }
    s.ethertype = et;
    let rest = &frame[off..];
    s.l3_len = rest.len() as u32;
    match et {
        0x0800 | 0x86dd => ip(&mut s, rest),
        _ => {}
    }
    s
}

pub fn summarize_ip(packet: &[u8]) -> Summary {
    let mut s = Summary::EMPTY;
    s.l3_len = packet.len() as u32;
    match packet.first().map(|b| b >> 4) {
        Some(4) => s.ethertype = 0x0800,
        Some(6) => s.ethertype = 0x86dd,
        _ => return s,
    }
    ip(&mut s, packet);
    s
}

fn ip(s: &mut Summary, d: &[u8]) {
    if s.ethertype == 0x0800 {
        if d.len() < 20 || d[0] >> 4 != 4 {
            return;
        }
        let ihl = (d[0] & 15) as usize * 4;
        s.l3_len = be16(d, 2) as u32;
        s.ttl = d[8];
        s.proto = d[9];
        s.addrs = Addrs::V4 {
            src: d[12..16].try_into().unwrap(),
            dst: d[16..20].try_into().unwrap(),
        };
        let frag = be16(d, 6);
        s.fragment = frag & 0x3fff != 0;
        if frag & 0x1fff != 0 || d.len() < ihl {
            return;
        }
        l4(s, &d[ihl..], false);
    } else {
        if d.len() < 40 || d[0] >> 4 != 6 {
            return;
        }
        s.l3_len = be16(d, 4) as u32 + 40;
        s.ttl = d[7];
        s.addrs = Addrs::V6 {
            src: d[8..24].try_into().unwrap(),
            dst: d[24..40].try_into().unwrap(),
        };
        let mut nh = d[6];
        let mut off = 40;
        loop {
            match nh {
                0 | 43 | 60 if d.len() >= off + 8 => {
                    nh = d[off];
                    off += (d[off + 1] as usize + 1) * 8;
                }
                44 if d.len() >= off + 8 => {
                    s.fragment = true;
                    let fo = be16(d, off + 2) >> 3;
                    nh = d[off];
                    off += 8;
                    if fo != 0 {
                        s.proto = nh;
                        return;
                    }
                }
                51 if d.len() >= off + 8 => {
                    nh = d[off];
                    off += (d[off + 1] as usize + 2) * 4;
                }
                _ => break,
            }
        }
        s.proto = nh;
        if off <= d.len() {
            l4(s, &d[off..], true);
        }
    }
}

fn l4(s: &mut Summary, d: &[u8], v6: bool) {
    match s.proto {
        6 if d.len() >= 14 => {
            s.src_port = be16(d, 0);
            s.dst_port = be16(d, 2);
            s.tcp_flags = d[13];
        }
        17 | 132 | 136 if d.len() >= 4 => {
            s.src_port = be16(d, 0);
            s.dst_port = be16(d, 2);
        }
        1 if !v6 && d.len() >= 2 => s.dst_port = be16(d, 0),
        58 if v6 && d.len() >= 2 => s.dst_port = be16(d, 0),
        _ => {}
    }
}
