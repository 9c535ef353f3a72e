//! Flow records: what a table hands to the exporters when a flow ends or is reported.

use crate::key::FlowKey;

/// Why a record was emitted, with IPFIX's flowEndReason values (IANA registry, RFC 7012 §5.11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
    /// No packet for `--idle-timeout`.
    Idle = 1,
    /// The flow lasted `--active-timeout`: this record is one piece of a longer flow.
    Active = 2,
    /// TCP FIN or RST seen (and the flow went quiet).
    EndOfFlow = 3,
    /// The capture ended with the flow still open.
    Forced = 4,
    /// The table was full (`--max-flows`) and this flow made room for a new one.
    Evicted = 5,
}

impl EndReason {
    pub const ALL: [EndReason; 5] = [
        EndReason::Idle,
        EndReason::Active,
        EndReason::EndOfFlow,
        EndReason::Forced,
        EndReason::Evicted,
    ];

    /// A short name, used in JSON and summaries.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Active => "active",
            EndReason::EndOfFlow => "end",
            EndReason::Forced => "forced",
            EndReason::Evicted => "evicted",
        }
    }

    /// Index 0..5 for per-reason counters.
    pub fn index(self) -> usize {
        self as usize - 1
    }
}

/// One flow record (unidirectional, as IPFIX's and NetFlow's are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    pub key: FlowKey,
    pub packets: u64,
    /// Layer-3 octets as IPFIX's octetDeltaCount counts them: the IP header and payload (the
    /// IPv4 total length, or 40 + the IPv6 payload length), taken from the header, so frames
    /// cut short by the snap length still count whole. For non-IP frames: the bytes after the
    /// Ethernet header.
    pub octets: u64,
    /// Layer-2 octets (layer2OctetDeltaCount): whole frames as on the wire, without the FCS,
    /// VLAN tags included even where the ring stripped them.
    pub l2_octets: u64,
    /// Nanoseconds since the Unix epoch, from the capture's timestamps.
    pub first_ns: u64,
    pub last_ns: u64,
    /// Union of the TCP flags of every packet (0 for other protocols).
    pub tcp_flags: u8,
    pub end: EndReason,
}

/// TCP flag bits (tcpControlBits' low byte).
pub mod tcp {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    /// nfdump's notation: `CEUAPRSF` with `.` for a clear bit (nfdump prints the low six).
    pub fn flags_string(f: u8) -> String {
        let names = [
            (CWR, 'C'),
            (ECE, 'E'),
            (URG, 'U'),
            (ACK, 'A'),
            (PSH, 'P'),
            (RST, 'R'),
            (SYN, 'S'),
            (FIN, 'F'),
        ];
        names
            .iter()
            .map(|&(bit, c)| if f & bit != 0 { c } else { '.' })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_like_nfdump() {
        assert_eq!(
            tcp::flags_string(tcp::SYN | tcp::ACK | tcp::FIN),
            "...A..SF"
        );
        assert_eq!(tcp::flags_string(0), "........");
    }

    #[test]
    fn end_reasons_are_ipfix_codes() {
        let codes: Vec<u8> = EndReason::ALL.iter().map(|r| *r as u8).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
        assert_eq!(EndReason::Evicted.index(), 4);
    }
}
