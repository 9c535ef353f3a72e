//! The captures: the differential test's traffic, plus seeded mutants of it (header fields set
//! to random values, cuts at random places), as files of every link type the compiler supports.

use super::filter_common::*;
use super::gen::Rng;
use ringcap_filter::LinkType;

pub struct Capture {
    pub name: &'static str,
    pub linktype: u32,
    pub link: LinkType,
    pub pkts: Vec<Pkt>,
}

/// Byte ranges (from the start of the Ethernet frame) a mutation may touch: link, network and
/// transport headers. IPv6 source addresses are left alone: with them, libpcap's AH step of
/// protochain (which restarts from the header length alone) can loop for ever.
fn mutable(frame: &[u8], i: usize) -> bool {
    let v6 = frame.len() > 14 && frame[12] == 0x86 && frame[13] == 0xdd;
    i >= 12 && i < frame.len().min(90) && !(v6 && (22..38).contains(&i))
}

/// Seeded variants of the Ethernet traffic: random header bytes, chosen header fields set to
/// values the filters care about, and cuts.
pub fn mutants(base: &[Pkt], rng: &mut Rng, n: usize) -> Vec<Pkt> {
    let full: Vec<&Pkt> = base
        .iter()
        .filter(|p| p.data.len() as u32 == p.wirelen && p.data.len() > 34)
        .collect();
    let mut out = Vec::new();
    while out.len() < n {
        let p = full[rng.below(full.len())];
        let mut d = p.data.clone();
        let v4 = d[12] == 8 && d[13] == 0;
        match rng.below(8) {
            // one to three random bytes
            0..=2 => {
                for _ in 0..=rng.below(3) {
                    let i = 12 + rng.below(d.len() - 12);
                    if mutable(&d, i) {
                        d[i] = rng.next() as u8;
                    }
                }
            }
            // the IPv4 header length and fragment fields
            3 if v4 => {
                d[14] = 0x40 | rng.pick(&[0u8, 1, 4, 5, 6, 7, 8, 15]);
                if rng.pct(50) {
                    d[20] = rng.pick(&[0u8, 0x20, 0x40, 0x1f, 0x60, 0x00]);
                    d[21] = rng.pick(&[0u8, 1, 0xff, 3]);
                }
            }
            // the protocol field
            4 => {
                let i = if v4 { 23 } else { 20 };
                if mutable(&d, i) {
                    d[i] = rng.pick(&[0u8, 1, 2, 6, 17, 43, 44, 50, 51, 58, 60, 132, 255]);
                }
            }
            // the ethertype
            5 => {
                let et: u16 = rng.pick(&[
                    0x0800, 0x86dd, 0x0806, 0x8035, 0x8100, 0x88a8, 0x8847, 0x05dc,
                ]);
                d[12..14].copy_from_slice(&et.to_be_bytes());
            }
            // a cut
            _ => {
                let cut = 1 + rng.below(d.len() - 1);
                out.push(Pkt {
                    data: d[..cut].to_vec(),
                    wirelen: p.wirelen,
                });
                continue;
            }
        }
        out.push(Pkt {
            wirelen: d.len() as u32,
            data: d,
        });
    }
    out
}

/// IP packets of one version (by the frame's ethertype), without a link header.
fn ip_only(eth_pkts: &[Pkt], et: u16) -> Vec<Pkt> {
    eth_pkts
        .iter()
        .filter(|p| p.data.len() > 14 && u16::from_be_bytes([p.data[12], p.data[13]]) == et)
        .map(|p| Pkt {
            data: p.data[14..].to_vec(),
            wirelen: p.wirelen - 14,
        })
        .collect()
}

/// The captures, one per link type: the differential test's traffic and `n_mutants` mutants.
pub fn captures(seed: u64, n_mutants: usize) -> Vec<Capture> {
    let mut rng = Rng::new(seed ^ 0x0005_eed0_f9ac_4e75);
    let mut eth = ethernet_traffic();
    let m = mutants(&eth, &mut rng, n_mutants);
    eth.extend(m);
    let cap = |name, linktype, pkts: Vec<Pkt>| Capture {
        name,
        linktype,
        link: LinkType::from_linktype(linktype).expect("a link type the compiler supports"),
        pkts,
    };
    vec![
        cap("en10mb", 1, eth.clone()),
        cap("sll", 113, cooked(&eth, false)),
        cap("sll2", 276, cooked(&eth, true)),
        cap("raw", 101, raw_ip(&eth, false)),
        cap("null", 0, raw_ip(&eth, true)),
        cap("ipv4", 228, ip_only(&eth, 0x0800)),
        cap("ipv6", 229, ip_only(&eth, 0x86dd)),
    ]
}
