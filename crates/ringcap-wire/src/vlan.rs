//! IEEE 802.1Q / 802.1ad VLAN tag: the four bytes after a tag protocol identifier (0x8100,
//! 0x88a8, 0x9100): the tag control information and the EtherType of what follows.

use crate::be::{set_u16, u16_at};
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const TCI: Range<usize> = 0..2;
    pub const ETHERTYPE: Range<usize> = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of a tag after its TPID.
pub const TAG_LEN: usize = field::PAYLOAD;

/// A read/write view of one VLAN tag, starting after the TPID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    pub const fn new_unchecked(buffer: T) -> VlanTag<T> {
        VlanTag { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<VlanTag<T>> {
        let t = Self::new_unchecked(buffer);
        t.check_len()?;
        Ok(t)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < TAG_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Tag control information: priority (3 bits), drop eligible (1), VLAN ID (12).
    #[inline]
    pub fn tci(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::TCI.start)
    }

    #[inline]
    pub fn vlan_id(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// Priority code point (802.1p).
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator (formerly CFI).
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// EtherType (or 802.3 length) of what follows the tag.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ETHERTYPE.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> VlanTag<&'a T> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanTag<T> {
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        set_u16(self.buffer.as_mut(), field::TCI.start, tci);
    }

    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE.start, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        // PCP 5, DEI set, VID 100, then IPv6.
        let b = [0xb0, 0x64, 0x86, 0xdd, 0x60];
        let t = VlanTag::new_checked(&b[..]).unwrap();
        assert_eq!(
            (t.pcp(), t.dei(), t.vlan_id(), t.ethertype()),
            (5, true, 100, 0x86dd)
        );
        assert_eq!(t.payload(), &[0x60]);
        assert_eq!(VlanTag::new_checked(&b[..3]), Err(Error::Truncated));
        let mut w = [0u8; 4];
        let mut t = VlanTag::new_unchecked(&mut w[..]);
        t.set_tci(0xb064);
        t.set_ethertype(0x86dd);
        assert_eq!(w, b[..4]);
    }
}
