//! A captured packet as a pcap record: the bytes the file holds for it, given in parts so
//! nothing is copied before the writer's own copy. Where libpcap puts a stripped VLAN tag
//! back (Ethernet frames, LINUX_SLL headers) it is put back unless asked not to; a cooked
//! capture (`-i any`, `-y LINUX_SLL*`) gets its LINUX_SLL/LINUX_SLL2 header in front, built
//! from the kernel's description of the packet's link layer ([`ringcap::Packet::link`]).

use ringcap::{LinkLayer, Packet};
use ringcap_pcap::{vlan_parts, CookedFields, SLL_PROTOCOL_OFFSET};

/// Writes one packet through `write(ts, orig_len, parts)`, with its VLAN tag put back if asked
/// (where libpcap puts it back: in Ethernet frames and LINUX_SLL headers) and, on a cooked
/// capture, the LINUX_SLL/LINUX_SLL2 header in front.
#[inline]
pub fn record_parts<E>(
    pkt: &Packet<'_>,
    restore: bool,
    link: LinkLayer,
    write: impl FnOnce(u64, u32, &[&[u8]]) -> Result<(), E>,
) -> Result<(), E> {
    if link.is_cooked() {
        return with_cooked_header(pkt, restore, link, write);
    }
    match pkt.vlan() {
        Some(v) if restore => {
            let mut tag = [0u8; 4];
            let (parts, len) = vlan_parts(pkt.data(), pkt.len(), v.tci, v.tpid, &mut tag);
            write(pkt.ts_ns(), len, &parts)
        }
        _ => write(pkt.ts_ns(), pkt.len(), &[pkt.data()]),
    }
}

fn with_cooked_header<E>(
    pkt: &Packet<'_>,
    restore: bool,
    link: LinkLayer,
    write: impl FnOnce(u64, u32, &[&[u8]]) -> Result<(), E>,
) -> Result<(), E> {
    let l = pkt.link();
    let fields = CookedFields {
        protocol: l.protocol,
        ifindex: l.ifindex,
        hatype: l.hatype,
        pkttype: pkt.pkttype_raw(),
        addr: l.addr(),
    };
    let len = pkt.len() + link.header_len();
    if link == LinkLayer::LinuxSll2 {
        return write(pkt.ts_ns(), len, &[&fields.sll2(), pkt.data()]);
    }
    let h = fields.sll();
    match pkt.vlan() {
        Some(v) if restore => {
            let mut tag = [0u8; 4];
            tag[..2].copy_from_slice(&v.tpid.to_be_bytes());
            tag[2..].copy_from_slice(&v.tci.to_be_bytes());
            let at = SLL_PROTOCOL_OFFSET;
            write(
                pkt.ts_ns(),
                len + 4,
                &[&h[..at], &tag, &h[at..], pkt.data()],
            )
        }
        _ => write(pkt.ts_ns(), len, &[&h, pkt.data()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringcap::{Link, Vlan};

    fn record(pkt: &Packet<'_>, restore: bool, link: LinkLayer) -> (u32, Vec<u8>) {
        let mut out = (0, Vec::new());
        record_parts(pkt, restore, link, |_, len, parts| {
            out = (len, parts.concat());
            Ok::<(), ()>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn cooked_records_carry_the_header_and_the_vlan_where_libpcap_puts_it() {
        let ip = [
            0x45u8, 0, 0, 20, 1, 2, 3, 4, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let link = Link {
            protocol: 0x0800,
            ifindex: 7,
            hatype: 1,
            halen: 6,
            addr: [2, 0, 0, 0, 0, 1, 0xee, 0xee],
        };
        let vlan = Some(Vlan {
            tci: 100,
            tpid: 0x8100,
        });
        let pkt = Packet::new(1, 20, vlan, 0, 4, &ip).with_link(link);
        // SLL2: no VLAN tag (libpcap has no place for it), the address cut to halen.
        let (len, rec) = record(&pkt, true, LinkLayer::LinuxSll2);
        assert_eq!(len, 40);
        assert_eq!(
            &rec[..20],
            &[8, 0, 0, 0, 0, 0, 0, 7, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(&rec[20..], &ip);
        // SLL: the tag goes before the protocol field, unless --no-vlan-restore.
        let (len, rec) = record(&pkt, true, LinkLayer::LinuxSll);
        assert_eq!(len, 40);
        assert_eq!(&rec[..14], &[0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(&rec[14..20], &[0x81, 0x00, 0, 100, 8, 0]);
        assert_eq!(&rec[20..], &ip);
        let (len, rec) = record(&pkt, false, LinkLayer::LinuxSll);
        assert_eq!((len, rec.len()), (36, 36));
        // Ethernet: the frame as it is (this one carries no tag).
        let plain = Packet::new(1, 20, None, 0, 0, &ip);
        assert_eq!(record(&plain, true, LinkLayer::Ethernet), (20, ip.to_vec()));
    }
}
