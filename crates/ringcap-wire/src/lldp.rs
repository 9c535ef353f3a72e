//! LLDP (IEEE 802.1AB) TLVs: a 7-bit type and a 9-bit length, then the value. The frame is a
//! run of TLVs ending with the End TLV (type 0).

use crate::{Error, Result};

/// TLV types of the basic management set.
pub mod tlv {
    pub const END: u8 = 0;
    pub const CHASSIS_ID: u8 = 1;
    pub const PORT_ID: u8 = 2;
    pub const TTL: u8 = 3;
    pub const PORT_DESCRIPTION: u8 = 4;
    pub const SYSTEM_NAME: u8 = 5;
    pub const SYSTEM_DESCRIPTION: u8 = 6;
    pub const SYSTEM_CAPABILITIES: u8 = 7;
    pub const MANAGEMENT_ADDRESS: u8 = 8;
    pub const ORGANIZATION_SPECIFIC: u8 = 127;
}

/// One TLV, borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LldpTlv<'a> {
    pub kind: u8,
    pub value: &'a [u8],
}

impl<'a> LldpTlv<'a> {
    /// For chassis and port IDs: the subtype octet and the ID bytes.
    pub fn subtyped(&self) -> Option<(u8, &'a [u8])> {
        self.value.split_first().map(|(s, rest)| (*s, rest))
    }

    /// For the TTL TLV: seconds.
    pub fn ttl(&self) -> Option<u16> {
        match self.value {
            [a, b, ..] if self.kind == tlv::TTL => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }
}

/// Iterates the TLVs of an LLDP PDU (the Ethernet payload). Stops after the End TLV; a TLV
/// that runs past the buffer yields `Err(Truncated)` once, then the walk ends.
#[derive(Debug, Clone)]
pub struct LldpTlvs<'a> {
    rest: &'a [u8],
}

impl<'a> LldpTlvs<'a> {
    pub fn new(pdu: &'a [u8]) -> LldpTlvs<'a> {
        LldpTlvs { rest: pdu }
    }
}

impl<'a> Iterator for LldpTlvs<'a> {
    type Item = Result<LldpTlv<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let b = std::mem::take(&mut self.rest);
        let [hi, lo, ..] = *b else {
            return Some(Err(Error::Truncated));
        };
        let kind = hi >> 1;
        let len = usize::from(u16::from_be_bytes([hi, lo]) & 0x1ff);
        let Some(value) = b.get(2..2 + len) else {
            return Some(Err(Error::Truncated));
        };
        if kind != tlv::END {
            self.rest = &b[2 + len..];
        }
        Some(Ok(LldpTlv { kind, value }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_tlvs() {
        let pdu = [
            0x02, 0x07, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // chassis: MAC
            0x04, 0x03, 0x05, b'e', b'1', // port: interface name
            0x06, 0x02, 0x00, 0x78, // TTL 120
            0x0a, 0x02, b's', b'w', // system name
            0x00, 0x00, // end
            0xde, 0xad, // ignored after End
        ];
        let tlvs: Vec<_> = LldpTlvs::new(&pdu).collect::<Result<_>>().unwrap();
        assert_eq!(tlvs.len(), 5);
        assert_eq!(tlvs[0].subtyped(), Some((4, &[2, 0, 0, 0, 0, 1][..])));
        assert_eq!(tlvs[1].subtyped(), Some((5, &b"e1"[..])));
        assert_eq!(tlvs[2].ttl(), Some(120));
        assert_eq!(
            (tlvs[3].kind, tlvs[3].value),
            (tlv::SYSTEM_NAME, &b"sw"[..])
        );
        assert_eq!(tlvs[4].kind, tlv::END);
        let cut: Vec<_> = LldpTlvs::new(&pdu[..12]).collect();
        assert_eq!(cut.len(), 2);
        assert_eq!(cut[1], Err(Error::Truncated));
    }
}
