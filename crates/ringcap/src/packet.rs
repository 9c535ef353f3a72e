//! Zero-copy packet views handed to handlers.
//!
//! A [`Packet`] borrows the bytes where the kernel put them (a TPACKET_V3 block, a UMEM frame, a
//! receive buffer) for as long as the worker holds that memory; handlers that need to keep a
//! packet past the call must copy it. The few header fields are read once when the view is made.

use ringcap_sys::packet as pk;
use ringcap_sys::ring::rx::TP3_SPAN;

/// An 802.1Q/802.1ad tag the kernel stripped from the frame and reported beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vlan {
    /// Tag control information: PCP (3 bits), DEI (1), VLAN ID (12).
    pub tci: u16,
    /// 0x8100 (802.1Q) or 0x88a8 (802.1ad); 0x8100 when the kernel did not say.
    pub tpid: u16,
}

impl Vlan {
    pub fn id(&self) -> u16 {
        self.tci & 0x0fff
    }
}

/// Which way the packet went, from the socket address's `sll_pkttype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Host,
    Broadcast,
    Multicast,
    OtherHost,
    Outgoing,
    Other(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            0 => PacketType::Host,
            1 => PacketType::Broadcast,
            2 => PacketType::Multicast,
            3 => PacketType::OtherHost,
            4 => PacketType::Outgoing,
            x => PacketType::Other(x),
        }
    }
}

/// One captured packet, borrowed from the capture's memory.
///
/// In ring mode the view keeps a reference to the kernel's `tpacket3_hdr` and reads each field
/// only when asked, as smoltcp's wire types do: walking a block costs a few loads per packet
/// whatever the handler looks at.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    meta: Meta<'a>,
    data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
enum Meta<'a> {
    Tp3(&'a [u8; TP3_SPAN]),
    Fields(Fields),
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    ts_ns: u64,
    len: u32,
    rxhash: u32,
    vlan: Option<Vlan>,
    pkttype: u8,
}

#[inline(always)]
fn rd32(h: &[u8; TP3_SPAN], off: usize) -> u32 {
    u32::from_ne_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]])
}

#[inline(always)]
fn rd16(h: &[u8; TP3_SPAN], off: usize) -> u16 {
    u16::from_ne_bytes([h[off], h[off + 1]])
}

impl<'a> Packet<'a> {
    /// Builds a view from known fields; `len` is the length on the wire (as the kernel saw
    /// it), at least `data.len()`.
    #[inline]
    pub fn new(
        ts_ns: u64,
        len: u32,
        vlan: Option<Vlan>,
        rxhash: u32,
        pkttype: u8,
        data: &'a [u8],
    ) -> Self {
        Packet {
            meta: Meta::Fields(Fields {
                ts_ns,
                len: len.max(data.len() as u32),
                rxhash,
                vlan,
                pkttype,
            }),
            data,
        }
    }

    /// A view of a TPACKET_V3 frame: its header and its captured bytes.
    #[inline(always)]
    pub(crate) fn from_tp3(hdr: &'a [u8; TP3_SPAN], data: &'a [u8]) -> Self {
        Packet {
            meta: Meta::Tp3(hdr),
            data,
        }
    }

    /// Nanoseconds since the Unix epoch.
    #[inline]
    pub fn ts_ns(&self) -> u64 {
        match self.meta {
            Meta::Tp3(h) => {
                rd32(h, pk::TP3_SEC) as u64 * 1_000_000_000 + rd32(h, pk::TP3_NSEC) as u64
            }
            Meta::Fields(f) => f.ts_ns,
        }
    }

    /// The captured bytes (at most the snap length), starting at the link-layer header.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Captured length.
    #[inline]
    pub fn caplen(&self) -> u32 {
        self.data.len() as u32
    }

    /// Original length of the frame as delivered (without a stripped VLAN tag).
    #[inline]
    pub fn len(&self) -> u32 {
        match self.meta {
            Meta::Tp3(h) => rd32(h, pk::TP3_LEN),
            Meta::Fields(f) => f.len,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The VLAN tag the kernel stripped (TP_STATUS_VLAN_VALID), if any.
    #[inline]
    pub fn vlan(&self) -> Option<Vlan> {
        match self.meta {
            Meta::Tp3(h) => {
                let status = rd32(h, pk::TP3_STATUS);
                if status & pk::TP_STATUS_VLAN_VALID == 0 {
                    return None;
                }
                let tpid = if status & pk::TP_STATUS_VLAN_TPID_VALID != 0 {
                    rd16(h, pk::TP3_VLAN_TPID)
                } else {
                    0x8100
                };
                Some(Vlan {
                    tci: rd32(h, pk::TP3_VLAN_TCI) as u16,
                    tpid,
                })
            }
            Meta::Fields(f) => f.vlan,
        }
    }

    /// The kernel's flow hash (0 when not computed).
    #[inline]
    pub fn rxhash(&self) -> u32 {
        match self.meta {
            Meta::Tp3(h) => rd32(h, pk::TP3_RXHASH),
            Meta::Fields(f) => f.rxhash,
        }
    }

    #[inline]
    pub fn pkttype(&self) -> PacketType {
        PacketType::from(self.pkttype_raw())
    }

    #[inline]
    pub fn pkttype_raw(&self) -> u8 {
        match self.meta {
            Meta::Tp3(h) => h[pk::TP3_SLL_PKTTYPE],
            Meta::Fields(f) => f.pkttype,
        }
    }
}
