//! Zero-copy packet views handed to handlers.
//!
//! A [`Packet`] borrows the bytes where the kernel put them (a TPACKET_V3 block, a UMEM frame, a
//! receive buffer) for as long as the worker holds that memory; handlers that need to keep a
//! packet past the call must copy it. The few header fields are read once when the view is made.

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
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    ts_ns: u64,
    len: u32,
    vlan: Option<Vlan>,
    rxhash: u32,
    pkttype: u8,
    data: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Builds a view; `len` is the length on the wire (as the kernel saw it), at least `data.len()`.
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
            ts_ns,
            len: len.max(data.len() as u32),
            vlan,
            rxhash,
            pkttype,
            data,
        }
    }

    /// Nanoseconds since the Unix epoch.
    #[inline]
    pub fn ts_ns(&self) -> u64 {
        self.ts_ns
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
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The VLAN tag the kernel stripped (TP_STATUS_VLAN_VALID), if any.
    #[inline]
    pub fn vlan(&self) -> Option<Vlan> {
        self.vlan
    }

    /// The kernel's flow hash (0 when not computed).
    #[inline]
    pub fn rxhash(&self) -> u32 {
        self.rxhash
    }

    #[inline]
    pub fn pkttype(&self) -> PacketType {
        PacketType::from(self.pkttype)
    }

    #[inline]
    pub fn pkttype_raw(&self) -> u8 {
        self.pkttype
    }
}
