//! TCP header (RFC 9293) and its options (MSS, window scale, SACK-permitted, SACK blocks,
//! timestamps, NOP, EOL; anything else as kind and bytes).

use crate::be::{set_u16, set_u32, u16_at, u32_at};
use crate::checksum;
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

/// Flag bits of the 13th byte (plus NS, the low bit of the 12th, in [`TcpPacket::flags`]).
pub mod flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    /// ECN nonce (RFC 3540, historic).
    pub const NS: u16 = 0x100;
}

/// A read/write view of a TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps a buffer holding the whole header, options included.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if hl < MIN_HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < hl {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::DST_PORT.start)
    }

    #[inline]
    pub fn seq_number(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::SEQ_NUM.start)
    }

    #[inline]
    pub fn ack_number(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ACK_NUM.start)
    }

    /// Header length in bytes (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// The nine flag bits (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::DATA_OFF) & 0x1ff
    }

    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    #[inline]
    pub fn psh(&self) -> bool {
        self.flags() & flags::PSH != 0
    }

    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    #[inline]
    pub fn urg(&self) -> bool {
        self.flags() & flags::URG != 0
    }

    #[inline]
    pub fn ece(&self) -> bool {
        self.flags() & flags::ECE != 0
    }

    #[inline]
    pub fn cwr(&self) -> bool {
        self.flags() & flags::CWR != 0
    }

    #[inline]
    pub fn window_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::WIN_SIZE.start)
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    #[inline]
    pub fn urgent_at(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::URGENT.start)
    }

    /// Whether the checksum verifies, given the pseudo-header sum (from the IP view); the
    /// buffer must hold the whole segment.
    pub fn verify_checksum(&self, pseudo_header_sum: u64) -> bool {
        checksum::finish(pseudo_header_sum + checksum::sum(self.buffer.as_ref())) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The option bytes.
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// The options, decoded one by one.
    pub fn option_iter(&self) -> TcpOptions<'a> {
        TcpOptions::new(self.options())
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT.start, p);
    }

    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT.start, p);
    }

    #[inline]
    pub fn set_seq_number(&mut self, n: u32) {
        set_u32(self.buffer.as_mut(), field::SEQ_NUM.start, n);
    }

    #[inline]
    pub fn set_ack_number(&mut self, n: u32) {
        set_u32(self.buffer.as_mut(), field::ACK_NUM.start, n);
    }

    /// Sets the header length (bytes, a multiple of 4) and the nine flag bits together.
    #[inline]
    pub fn set_header_len_flags(&mut self, header_len: usize, flags: u16) {
        let w = ((header_len / 4) as u16) << 12 | (flags & 0x1ff);
        set_u16(self.buffer.as_mut(), field::DATA_OFF, w);
    }

    /// Sets the eight flag bits of byte 13 (FIN..CWR), keeping the header length and NS.
    #[inline]
    pub fn set_flags(&mut self, flags: u8) {
        self.buffer.as_mut()[field::FLAGS] = flags;
    }

    #[inline]
    pub fn set_window_len(&mut self, w: u16) {
        set_u16(self.buffer.as_mut(), field::WIN_SIZE.start, w);
    }

    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }

    #[inline]
    pub fn set_urgent_at(&mut self, u: u16) {
        set_u16(self.buffer.as_mut(), field::URGENT.start, u);
    }

    /// Computes and writes the checksum over the whole buffer (the segment) and the
    /// pseudo-header sum.
    pub fn fill_checksum(&mut self, pseudo_header_sum: u64) {
        self.set_checksum(0);
        let c = checksum::finish(pseudo_header_sum + checksum::sum(self.buffer.as_ref()));
        self.set_checksum(c);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..hl]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// Option kinds.
pub mod option {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WSCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
    /// TCP MD5 signature (RFC 2385).
    pub const MD5: u8 = 19;
    /// TCP authentication option (RFC 5925).
    pub const AUTH: u8 = 29;
    /// Multipath TCP (RFC 8684).
    pub const MPTCP: u8 = 30;
    /// TCP Fast Open cookie (RFC 7413).
    pub const FAST_OPEN: u8 = 34;
}

/// One decoded TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOperation,
    MaxSegmentSize(u16),
    WindowScale(u8),
    SackPermitted,
    /// The SACK blocks' bytes, a multiple of 8; read them with [`sack_blocks`].
    Sack(&'a [u8]),
    Timestamp {
        tsval: u32,
        tsecr: u32,
    },
    /// Any other kind, or a known kind with a length it cannot have.
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

/// The (left edge, right edge) pairs of a SACK option.
pub fn sack_blocks(data: &[u8]) -> impl Iterator<Item = (u32, u32)> + '_ {
    data.chunks_exact(8).map(|c| (u32_at(c, 0), u32_at(c, 4)))
}

/// Iterator over the options area. Ends at EOL (after yielding it) or the end of the area; an
/// option whose length is below 2 or runs past the area yields `Err(Malformed)` or
/// `Err(Truncated)` once, then the walk ends.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    pub fn new(options: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: options }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = std::mem::take(&mut self.rest);
        let (&kind, after) = b.split_first()?;
        match kind {
            option::EOL => return Some(Ok(TcpOption::EndOfList)),
            option::NOP => {
                self.rest = after;
                return Some(Ok(TcpOption::NoOperation));
            }
            _ => {}
        }
        let Some(&len) = after.first() else {
            return Some(Err(Error::Truncated));
        };
        let len = usize::from(len);
        if len < 2 {
            return Some(Err(Error::Malformed));
        }
        let Some(data) = b.get(2..len) else {
            return Some(Err(Error::Truncated));
        };
        self.rest = &b[len..];
        Some(Ok(match (kind, data.len()) {
            (option::MSS, 2) => TcpOption::MaxSegmentSize(u16_at(data, 0)),
            (option::WSCALE, 1) => TcpOption::WindowScale(data[0]),
            (option::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (option::SACK, n) if n % 8 == 0 && n > 0 => TcpOption::Sack(data),
            (option::TIMESTAMP, 8) => TcpOption::Timestamp {
                tsval: u32_at(data, 0),
                tsecr: u32_at(data, 4),
            },
            _ => TcpOption::Unknown { kind, data },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A Linux SYN, 10.0.0.1:46386 -> 10.0.0.2:80: MSS 1460, SACK-permitted, timestamps,
    /// NOP, window scale 7; checksum computed for that pseudo-header.
    const SYN: [u8; 40] = [
        0xb5, 0x32, 0x00, 0x50, 0x6e, 0x0d, 0x8c, 0x1b, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x00, 0x00, 0x00, 0x00, // header, checksum zero
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x3a, 0x6b, 0x0c, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    fn pseudo() -> u64 {
        checksum::pseudo_v4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            6,
            40,
        )
    }

    #[test]
    fn header() {
        let p = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (46386, 80));
        assert_eq!((p.seq_number(), p.ack_number()), (0x6e0d_8c1b, 0));
        assert_eq!(
            (p.header_len(), p.flags(), p.window_len()),
            (40, flags::SYN, 64240)
        );
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst() && !p.psh() && !p.urg());
        assert!(!p.ece() && !p.cwr());
        assert!(p.payload().is_empty());
        assert_eq!(TcpPacket::new_checked(&SYN[..39]), Err(Error::Truncated));
        assert_eq!(TcpPacket::new_checked(&SYN[..19]), Err(Error::Truncated));
        let mut bad = SYN;
        bad[12] = 0x40;
        assert_eq!(TcpPacket::new_checked(&bad[..]), Err(Error::Malformed));
    }

    #[test]
    fn options() {
        let p = TcpPacket::new_checked(&SYN[..]).unwrap();
        let o: Vec<_> = p.option_iter().collect::<Result<_>>().unwrap();
        assert_eq!(
            o,
            [
                TcpOption::MaxSegmentSize(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamp {
                    tsval: 0x003a_6b0c,
                    tsecr: 0
                },
                TcpOption::NoOperation,
                TcpOption::WindowScale(7),
            ]
        );
        let sack = [
            1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40, 0, 0xaa,
        ];
        let o: Vec<_> = TcpOptions::new(&sack).collect();
        assert_eq!(o.len(), 4);
        let Ok(TcpOption::Sack(d)) = o[2] else {
            panic!("{o:?}")
        };
        assert_eq!(sack_blocks(d).collect::<Vec<_>>(), [(10, 20), (30, 40)]);
        assert_eq!(o[3], Ok(TcpOption::EndOfList));
        assert_eq!(
            TcpOptions::new(&[2, 4, 5]).collect::<Vec<_>>(),
            [Err(Error::Truncated)]
        );
        assert_eq!(
            TcpOptions::new(&[2]).collect::<Vec<_>>(),
            [Err(Error::Truncated)]
        );
        assert_eq!(
            TcpOptions::new(&[9, 1, 1]).collect::<Vec<_>>(),
            [Err(Error::Malformed)]
        );
        assert_eq!(
            TcpOptions::new(&[2, 3, 9]).collect::<Vec<_>>(),
            [Ok(TcpOption::Unknown {
                kind: 2,
                data: &[9]
            })]
        );
    }

    #[test]
    fn checksum_round_trip() {
        let mut b = SYN;
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.fill_checksum(pseudo());
        let c = p.checksum();
        assert!(p.verify_checksum(pseudo()));
        // Incremental update after a port change agrees with a full recompute.
        p.set_src_port(1234);
        p.set_checksum(checksum::update(c, 46386, 1234));
        assert!(p.verify_checksum(pseudo()));
        p.set_flags(0x12);
        assert!(!p.verify_checksum(pseudo()));
        assert!(p.syn() && p.ack());
    }

    #[test]
    fn write() {
        let mut b = [0u8; 40];
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.set_src_port(46386);
        p.set_dst_port(80);
        p.set_seq_number(0x6e0d_8c1b);
        p.set_header_len_flags(40, flags::SYN);
        p.set_window_len(64240);
        p.options_mut().copy_from_slice(&SYN[20..]);
        assert_eq!(b, SYN);
    }
}
