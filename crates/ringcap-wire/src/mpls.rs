//! MPLS label stack entries (RFC 3032): label, traffic class, bottom-of-stack, TTL.

use crate::be::{set_u32, u32_at};
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const ENTRY: Range<usize> = 0..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of one label stack entry.
pub const ENTRY_LEN: usize = field::PAYLOAD;

/// A read/write view of one label stack entry; the payload is the next entry or, after the
/// bottom of the stack, the labelled packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplsLabel<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MplsLabel<T> {
    pub const fn new_unchecked(buffer: T) -> MplsLabel<T> {
        MplsLabel { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<MplsLabel<T>> {
        let m = Self::new_unchecked(buffer);
        m.check_len()?;
        Ok(m)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ENTRY_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn entry(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ENTRY.start)
    }

    /// The 20-bit label.
    #[inline]
    pub fn label(&self) -> u32 {
        self.entry() >> 12
    }

    /// Traffic class (formerly EXP), 3 bits.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        ((self.entry() >> 9) & 7) as u8
    }

    /// The last entry of the stack.
    #[inline]
    pub fn bottom_of_stack(&self) -> bool {
        self.entry() & 0x100 != 0
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.entry() as u8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> MplsLabel<&'a T> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MplsLabel<T> {
    pub fn set_entry(&mut self, label: u32, traffic_class: u8, bottom: bool, ttl: u8) {
        let e = (label & 0xf_ffff) << 12
            | u32::from(traffic_class & 7) << 9
            | u32::from(bottom) << 8
            | u32::from(ttl);
        set_u32(self.buffer.as_mut(), field::ENTRY.start, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_entry_stack() {
        // Label 16, TC 0, not bottom, TTL 255; then label 1000, TC 5, bottom, TTL 64.
        let b = [0x00, 0x01, 0x00, 0xff, 0x00, 0x3e, 0x8b, 0x40, 0x45];
        let outer = MplsLabel::new_checked(&b[..]).unwrap();
        assert_eq!(
            (outer.label(), outer.bottom_of_stack(), outer.ttl()),
            (16, false, 255)
        );
        let inner = MplsLabel::new_checked(outer.payload()).unwrap();
        assert_eq!(
            (
                inner.label(),
                inner.traffic_class(),
                inner.bottom_of_stack(),
                inner.ttl()
            ),
            (1000, 5, true, 64)
        );
        assert_eq!(inner.payload(), &[0x45]);
        let mut w = [0u8; 4];
        MplsLabel::new_unchecked(&mut w[..]).set_entry(1000, 5, true, 64);
        assert_eq!(w, b[4..8]);
        assert_eq!(MplsLabel::new_checked(&b[..3]), Err(Error::Truncated));
    }
}
