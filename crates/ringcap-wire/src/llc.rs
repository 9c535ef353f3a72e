//! IEEE 802.2 LLC header (after an 802.3 length field) and the SNAP extension (RFC 1042) that
//! carries an OUI and an EtherType-like protocol ID.

use crate::be::u16_at;
use crate::{Error, Result};

mod field {
    pub const DSAP: usize = 0;
    pub const SSAP: usize = 1;
    pub const CONTROL: usize = 2;
    /// SNAP header after a one-byte (U-format) control field.
    pub const SNAP_OUI: core::ops::Range<usize> = 3..6;
    pub const SNAP_PID: core::ops::Range<usize> = 6..8;
    pub const SNAP_PAYLOAD: usize = 8;
}

/// The SAP value that announces a SNAP header (in both DSAP and SSAP).
pub const SAP_SNAP: u8 = 0xaa;
/// Spanning tree BPDUs.
pub const SAP_STP: u8 = 0x42;
/// Unnumbered information, the control value of SNAP and STP.
pub const CONTROL_UI: u8 = 0x03;

/// A read-only view of an LLC PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlcPdu<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LlcPdu<T> {
    pub const fn new_unchecked(buffer: T) -> LlcPdu<T> {
        LlcPdu { buffer }
    }

    /// Wraps a buffer holding the LLC header (3 or 4 bytes, by the control field's format) and,
    /// when DSAP and SSAP announce it, the 5-byte SNAP header.
    pub fn new_checked(buffer: T) -> Result<LlcPdu<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < 3 || b.len() < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination service access point (the I/G bit included).
    #[inline]
    pub fn dsap(&self) -> u8 {
        self.buffer.as_ref()[field::DSAP]
    }

    /// Source service access point (the C/R bit included).
    #[inline]
    pub fn ssap(&self) -> u8 {
        self.buffer.as_ref()[field::SSAP]
    }

    /// The control field: one byte for unnumbered (U) frames, two for I and S frames.
    #[inline]
    pub fn control(&self) -> u16 {
        let b = self.buffer.as_ref();
        if self.control_len() == 1 {
            u16::from(b[field::CONTROL])
        } else {
            u16_at(b, field::CONTROL)
        }
    }

    #[inline]
    fn control_len(&self) -> usize {
        match self.buffer.as_ref().get(field::CONTROL) {
            Some(c) if c & 3 != 3 => 2,
            _ => 1,
        }
    }

    /// Whether a SNAP header follows (DSAP = SSAP = 0xaa, UI control).
    #[inline]
    pub fn is_snap(&self) -> bool {
        let b = self.buffer.as_ref();
        b[field::DSAP] == SAP_SNAP && b[field::SSAP] == SAP_SNAP && b[field::CONTROL] == CONTROL_UI
    }

    /// LLC header length, plus the SNAP header when there is one.
    pub fn header_len(&self) -> usize {
        if self.is_snap() {
            field::SNAP_PAYLOAD
        } else {
            field::CONTROL + self.control_len()
        }
    }

    /// SNAP organisation code (0 for an encapsulated EtherType).
    pub fn snap_oui(&self) -> Option<u32> {
        let b = self.buffer.as_ref();
        self.is_snap()
            .then(|| u32::from_be_bytes([0, b[field::SNAP_OUI.start], b[4], b[5]]))
    }

    /// SNAP protocol ID (an EtherType when the OUI is 0).
    pub fn snap_pid(&self) -> Option<u16> {
        self.is_snap()
            .then(|| u16_at(self.buffer.as_ref(), field::SNAP_PID.start))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> LlcPdu<&'a T> {
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stp_bpdu() {
        let b = [0x42, 0x42, 0x03, 0x00, 0x00];
        let p = LlcPdu::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.dsap(), p.ssap(), p.control(), p.is_snap()),
            (0x42, 0x42, 3, false)
        );
        assert_eq!((p.header_len(), p.payload()), (3, &[0u8, 0][..]));
        assert_eq!(p.snap_pid(), None);
    }

    #[test]
    fn snap_ipv4_and_i_format() {
        let b = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45];
        let p = LlcPdu::new_checked(&b[..]).unwrap();
        assert_eq!((p.snap_oui(), p.snap_pid()), (Some(0), Some(0x0800)));
        assert_eq!(p.payload(), &[0x45]);
        assert_eq!(LlcPdu::new_checked(&b[..7]), Err(Error::Truncated));
        // An I-format control field is two bytes.
        let b = [0xf0, 0xf0, 0x00, 0x02, 0x99];
        let p = LlcPdu::new_checked(&b[..]).unwrap();
        assert_eq!((p.control(), p.header_len()), (0x0002, 4));
        assert_eq!(LlcPdu::new_checked(&b[..3]), Err(Error::Truncated));
    }
}
