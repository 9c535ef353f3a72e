//! IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) messages: templates, flow records and the
//! exporter's own statistics, built into one buffer no larger than the path allows.
//!
//! Templates (the same ids in both protocols):
//! - 256 IPv4 flows, 257 IPv6 flows, 258 non-IP frames (MACs and EtherType), each with packets,
//!   layer-3 and layer-2 octets, start and end in milliseconds, TCP flags, VLAN, ICMP type and
//!   code, and flowEndReason — standard IANA Information Elements only;
//! - 259 (options, scope observationDomainId): what the exporter saw and lost —
//!   exportedMessageTotalCount, exportedFlowRecordTotalCount, observedFlowTotalCount,
//!   ignoredPacketTotalCount (the kernel's drops), notSentFlow/Packet/OctetTotalCount (records
//!   lost at a full export queue) and systemInitTimeMilliseconds;
//! - 260 (IPFIX only; options, scope observationDomainId + flowEndReason): records exported per
//!   end reason, so flows evicted by a full table (reason 5, lackOfResources) are counted;
//! - 261 (IPFIX only, with a filter; options, scope selectorId): the filter as a PSAMP
//!   property-match selector (RFC 5476) with packets observed and selected.
//!
//! NetFlow v9 has no scope for an end reason or a selector, so it carries 256–259 only, with
//! tcpControlBits in one byte as v9 collectors expect.

use crate::key::{FlowKey, Kind};
use crate::record::{EndReason, FlowRecord};

/// Which wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Ipfix,
    NetflowV9,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Ipfix => "ipfix",
            Protocol::NetflowV9 => "netflow9",
        })
    }
}

pub const TEMPLATE_V4: u16 = 256;
pub const TEMPLATE_V6: u16 = 257;
pub const TEMPLATE_L2: u16 = 258;
pub const TEMPLATE_STATS: u16 = 259;
pub const TEMPLATE_REASONS: u16 = 260;
pub const TEMPLATE_FILTER: u16 = 261;

/// IANA Information Element ids used here.
pub mod ie {
    pub const OCTET_DELTA_COUNT: u16 = 1;
    pub const PACKET_DELTA_COUNT: u16 = 2;
    pub const PROTOCOL_IDENTIFIER: u16 = 4;
    pub const TCP_CONTROL_BITS: u16 = 6;
    pub const SOURCE_TRANSPORT_PORT: u16 = 7;
    pub const SOURCE_IPV4_ADDRESS: u16 = 8;
    pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
    pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
    pub const SOURCE_IPV6_ADDRESS: u16 = 27;
    pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
    pub const ICMP_TYPE_CODE_IPV4: u16 = 32;
    pub const EXPORTED_MESSAGE_TOTAL_COUNT: u16 = 41;
    pub const EXPORTED_FLOW_RECORD_TOTAL_COUNT: u16 = 42;
    pub const SOURCE_MAC_ADDRESS: u16 = 56;
    pub const VLAN_ID: u16 = 58;
    pub const DESTINATION_MAC_ADDRESS: u16 = 80;
    pub const FLOW_END_REASON: u16 = 136;
    pub const ICMP_TYPE_CODE_IPV6: u16 = 139;
    pub const OBSERVATION_DOMAIN_ID: u16 = 149;
    pub const FLOW_START_MILLISECONDS: u16 = 152;
    pub const FLOW_END_MILLISECONDS: u16 = 153;
    pub const SYSTEM_INIT_TIME_MILLISECONDS: u16 = 160;
    pub const OBSERVED_FLOW_TOTAL_COUNT: u16 = 163;
    pub const IGNORED_PACKET_TOTAL_COUNT: u16 = 164;
    pub const NOT_SENT_FLOW_TOTAL_COUNT: u16 = 166;
    pub const NOT_SENT_PACKET_TOTAL_COUNT: u16 = 167;
    pub const NOT_SENT_OCTET_TOTAL_COUNT: u16 = 168;
    pub const ETHERNET_TYPE: u16 = 256;
    pub const SELECTOR_ID: u16 = 302;
    pub const SELECTOR_ALGORITHM: u16 = 304;
    pub const SELECTOR_ID_TOTAL_PKTS_OBSERVED: u16 = 318;
    pub const SELECTOR_ID_TOTAL_PKTS_SELECTED: u16 = 319;
    pub const LAYER2_OCTET_DELTA_COUNT: u16 = 352;
}

use ie::*;

const COUNTERS: [(u16, u16); 6] = [
    (OCTET_DELTA_COUNT, 8),
    (PACKET_DELTA_COUNT, 8),
    (LAYER2_OCTET_DELTA_COUNT, 8),
    (FLOW_START_MILLISECONDS, 8),
    (FLOW_END_MILLISECONDS, 8),
    (FLOW_END_REASON, 1),
];

/// The (IE, length) fields of a flow template, in order.
pub fn flow_fields(proto: Protocol, kind: Kind) -> Vec<(u16, u16)> {
    let flags_len = if proto == Protocol::Ipfix { 2 } else { 1 };
    let mut f = match kind {
        Kind::V4 => vec![(SOURCE_IPV4_ADDRESS, 4), (DESTINATION_IPV4_ADDRESS, 4)],
        Kind::V6 => vec![(SOURCE_IPV6_ADDRESS, 16), (DESTINATION_IPV6_ADDRESS, 16)],
        Kind::L2 => vec![
            (SOURCE_MAC_ADDRESS, 6),
            (DESTINATION_MAC_ADDRESS, 6),
            (ETHERNET_TYPE, 2),
        ],
    };
    if kind != Kind::L2 {
        // v9 has one ICMP type field (32) for both families.
        let icmp = if kind == Kind::V6 && proto == Protocol::Ipfix {
            ICMP_TYPE_CODE_IPV6
        } else {
            ICMP_TYPE_CODE_IPV4
        };
        f.extend_from_slice(&[
            (SOURCE_TRANSPORT_PORT, 2),
            (DESTINATION_TRANSPORT_PORT, 2),
            (PROTOCOL_IDENTIFIER, 1),
            (TCP_CONTROL_BITS, flags_len),
            (icmp, 2),
        ]);
    }
    f.push((VLAN_ID, 2));
    f.extend_from_slice(&COUNTERS);
    f
}

const STATS_SCOPE: [(u16, u16); 1] = [(OBSERVATION_DOMAIN_ID, 4)];
const STATS_FIELDS: [(u16, u16); 8] = [
    (EXPORTED_MESSAGE_TOTAL_COUNT, 8),
    (EXPORTED_FLOW_RECORD_TOTAL_COUNT, 8),
    (OBSERVED_FLOW_TOTAL_COUNT, 8),
    (IGNORED_PACKET_TOTAL_COUNT, 8),
    (NOT_SENT_FLOW_TOTAL_COUNT, 8),
    (NOT_SENT_PACKET_TOTAL_COUNT, 8),
    (NOT_SENT_OCTET_TOTAL_COUNT, 8),
    (SYSTEM_INIT_TIME_MILLISECONDS, 8),
];
const REASONS_SCOPE: [(u16, u16); 2] = [(OBSERVATION_DOMAIN_ID, 4), (FLOW_END_REASON, 1)];
const REASONS_FIELDS: [(u16, u16); 1] = [(EXPORTED_FLOW_RECORD_TOTAL_COUNT, 8)];
const FILTER_SCOPE: [(u16, u16); 1] = [(SELECTOR_ID, 8)];
const FILTER_FIELDS: [(u16, u16); 3] = [
    (SELECTOR_ALGORITHM, 2),
    (SELECTOR_ID_TOTAL_PKTS_OBSERVED, 8),
    (SELECTOR_ID_TOTAL_PKTS_SELECTED, 8),
];
/// PSAMP selectorAlgorithm 5: property match filtering (RFC 5477).
const PROPERTY_MATCH_FILTERING: u16 = 5;

/// What the exporter reports about itself in the options records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterStats {
    /// Messages sent on this stream before the current one.
    pub messages: u64,
    /// Flow records sent on this stream.
    pub records: u64,
    /// Flow records sent, by end reason ([`EndReason::index`]).
    pub records_by_reason: [u64; 5],
    /// Flows (records begun) in the tables.
    pub flows: u64,
    /// Packets the kernel dropped before ringcap could see them.
    pub kernel_drops: u64,
    /// Records (and their packets, octets) lost at a full export queue.
    pub not_sent_records: u64,
    pub not_sent_packets: u64,
    pub not_sent_octets: u64,
    /// When metering started, ms since the epoch.
    pub start_ms: u64,
    /// Packets observed and selected by the capture filter, when there is one.
    pub filter: Option<(u64, u64)>,
}

/// Builds one message at a time into a reusable buffer.
pub struct Encoder {
    proto: Protocol,
    domain: u32,
    max_len: usize,
    buf: Vec<u8>,
    /// Open set: its id and where its header starts.
    set: Option<(u16, usize)>,
    /// Records in this message: data records (IPFIX) or every record (v9's count).
    records: u32,
    flow_records: u32,
    /// IPFIX: data records sent before this message. v9: messages sent before this one.
    seq: u32,
    /// v9: sysUptime counts from here (ms since the epoch).
    boot_ms: u64,
}

/// The smallest message size accepted: room for the templates and a few records.
pub const MIN_MESSAGE: usize = 512;

impl Encoder {
    /// `max_len`: the largest message (UDP payload) to build, at least [`MIN_MESSAGE`].
    pub fn new(proto: Protocol, domain: u32, max_len: usize, boot_ms: u64) -> Encoder {
        let max_len = max_len.clamp(MIN_MESSAGE, u16::MAX as usize);
        Encoder {
            proto,
            domain,
            max_len,
            buf: Vec::with_capacity(max_len),
            set: None,
            records: 0,
            flow_records: 0,
            seq: 0,
            boot_ms,
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Flow records in the message being built.
    pub fn flow_records(&self) -> u32 {
        self.flow_records
    }

    /// Whether the message being built holds any record or template.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= self.header_len()
    }

    fn header_len(&self) -> usize {
        match self.proto {
            Protocol::Ipfix => 16,
            Protocol::NetflowV9 => 20,
        }
    }

    /// Starts a message; `now_ms` is the export time.
    pub fn start(&mut self, now_ms: u64) {
        self.buf.clear();
        self.set = None;
        self.records = 0;
        self.flow_records = 0;
        let secs = (now_ms / 1000) as u32;
        match self.proto {
            Protocol::Ipfix => {
                self.put16(10);
                self.put16(0); // length, set in finish
                self.put32(secs);
                self.put32(self.seq);
                self.put32(self.domain);
            }
            Protocol::NetflowV9 => {
                self.put16(9);
                self.put16(0); // count, set in finish
                self.put32(now_ms.saturating_sub(self.boot_ms) as u32);
                self.put32(secs);
                self.put32(self.seq);
                self.put32(self.domain);
            }
        }
    }

    /// Completes the message and returns its bytes; the sequence number moves on.
    pub fn finish(&mut self) -> &[u8] {
        self.close_set();
        match self.proto {
            Protocol::Ipfix => {
                let len = self.buf.len() as u16;
                self.buf[2..4].copy_from_slice(&len.to_be_bytes());
                self.seq = self.seq.wrapping_add(self.records);
            }
            Protocol::NetflowV9 => {
                let n = self.records as u16;
                self.buf[2..4].copy_from_slice(&n.to_be_bytes());
                self.seq = self.seq.wrapping_add(1);
            }
        }
        &self.buf
    }

    fn put16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn put32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn put64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn open_set(&mut self, id: u16) {
        if self.set.map(|(s, _)| s) == Some(id) {
            return;
        }
        self.close_set();
        self.set = Some((id, self.buf.len()));
        self.put16(id);
        self.put16(0);
    }

    fn close_set(&mut self) {
        let Some((_, start)) = self.set.take() else {
            return;
        };
        if self.proto == Protocol::NetflowV9 {
            // v9 FlowSets end on a 4-byte boundary.
            while !(self.buf.len() - start).is_multiple_of(4) {
                self.buf.push(0);
            }
        }
        let len = (self.buf.len() - start) as u16;
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Room for `n` more bytes (plus a set header and v9 padding when a set must be opened).
    fn fits(&self, set: u16, n: usize) -> bool {
        let extra = if self.set.map(|(s, _)| s) == Some(set) {
            0
        } else {
            4
        };
        self.buf.len() + n + extra + 3 <= self.max_len
    }

    /// Adds the flow templates and the options templates. `filter`: include the selector
    /// template (IPFIX).
    pub fn add_templates(&mut self, filter: bool) {
        let (tset, oset) = match self.proto {
            Protocol::Ipfix => (2, 3),
            Protocol::NetflowV9 => (0, 1),
        };
        self.open_set(tset);
        for (id, kind) in [
            (TEMPLATE_V4, Kind::V4),
            (TEMPLATE_V6, Kind::V6),
            (TEMPLATE_L2, Kind::L2),
        ] {
            let fields = flow_fields(self.proto, kind);
            self.put16(id);
            self.put16(fields.len() as u16);
            for (t, l) in fields {
                self.put16(t);
                self.put16(l);
            }
            if self.proto == Protocol::NetflowV9 {
                self.records += 1;
            }
        }
        self.open_set(oset);
        self.options_template(TEMPLATE_STATS, &STATS_SCOPE, &STATS_FIELDS);
        if self.proto == Protocol::Ipfix {
            self.options_template(TEMPLATE_REASONS, &REASONS_SCOPE, &REASONS_FIELDS);
            if filter {
                self.options_template(TEMPLATE_FILTER, &FILTER_SCOPE, &FILTER_FIELDS);
            }
        }
        self.close_set();
    }

    fn options_template(&mut self, id: u16, scope: &[(u16, u16)], fields: &[(u16, u16)]) {
        self.put16(id);
        match self.proto {
            Protocol::Ipfix => {
                self.put16((scope.len() + fields.len()) as u16);
                self.put16(scope.len() as u16);
            }
            Protocol::NetflowV9 => {
                self.put16(scope.len() as u16 * 4);
                self.put16(fields.len() as u16 * 4);
                self.records += 1;
            }
        }
        for &(t, l) in scope.iter().chain(fields) {
            // v9 scope types are its own (1 = System), not IEs.
            let t = if self.proto == Protocol::NetflowV9 && t == OBSERVATION_DOMAIN_ID {
                1
            } else {
                t
            };
            self.put16(t);
            self.put16(l);
        }
    }

    /// Adds the options records with the exporter's statistics. False when they do not fit.
    pub fn add_stats(&mut self, st: &ExporterStats) -> bool {
        // Set headers, the stats record (scope + 8 counters), the per-reason and filter records.
        let mut need = 4 + 4 + 8 * 8;
        if self.proto == Protocol::Ipfix {
            need += 4 + 13 * 5 + 4 + 26;
        }
        if !self.fits(0, need) {
            return false;
        }
        self.open_set(TEMPLATE_STATS);
        self.put32(self.domain);
        for v in [
            st.messages,
            st.records,
            st.flows,
            st.kernel_drops,
            st.not_sent_records,
            st.not_sent_packets,
            st.not_sent_octets,
            st.start_ms,
        ] {
            self.put64(v);
        }
        self.records += 1;
        if self.proto == Protocol::Ipfix {
            self.open_set(TEMPLATE_REASONS);
            for r in EndReason::ALL {
                self.put32(self.domain);
                self.buf.push(r as u8);
                self.put64(st.records_by_reason[r.index()]);
                self.records += 1;
            }
            if let Some((observed, selected)) = st.filter {
                self.open_set(TEMPLATE_FILTER);
                self.put64(1);
                self.put16(PROPERTY_MATCH_FILTERING);
                self.put64(observed);
                self.put64(selected);
                self.records += 1;
            }
        }
        true
    }

    /// Adds one flow record. False when it does not fit (send this message, start another).
    ///
    /// Written in the templates' fixed layout ([`flow_fields`]) at constant offsets, not
    /// field by field: a flood of one-packet flows makes a record per packet.
    #[inline]
    pub fn add_record(&mut self, r: &FlowRecord) -> bool {
        let v9 = self.proto == Protocol::NetflowV9;
        let (id, len) = match r.key.kind {
            Kind::V4 => (TEMPLATE_V4, 60 - v9 as usize),
            Kind::V6 => (TEMPLATE_V6, 84 - v9 as usize),
            Kind::L2 => (TEMPLATE_L2, 57),
        };
        if !self.fits(id, len) {
            return false;
        }
        self.open_set(id);
        let mut rec = [0u8; MAX_RECORD];
        let n = fixed_record(r, v9, &mut rec);
        debug_assert_eq!(n, len);
        self.buf.extend_from_slice(&rec[..n]);
        self.records += 1;
        self.flow_records += 1;
        true
    }
}

/// The longest flow record (IPFIX IPv6).
const MAX_RECORD: usize = 84;

/// Writes `r` in its template's layout into `out`; returns its length. `v9`: tcpControlBits
/// in one byte. The order is [`flow_fields`]' (the tests hold the two together).
#[inline(always)]
fn fixed_record(r: &FlowRecord, v9: bool, out: &mut [u8; MAX_RECORD]) -> usize {
    let k: &FlowKey = &r.key;
    let mut w = Cursor { b: out, at: 0 };
    match k.kind {
        Kind::L2 => {
            w.put(&k.src[..6]);
            w.put(&k.dst[..6]);
            w.put(&k.ethertype.to_be_bytes());
        }
        Kind::V4 | Kind::V6 => {
            let a = if k.kind == Kind::V4 { 4 } else { 16 };
            w.put(&k.src[..a]);
            w.put(&k.dst[..a]);
            w.put(&k.src_port.to_be_bytes());
            w.put(&k.dst_port.to_be_bytes());
            w.put(&[k.proto]);
            if v9 {
                w.put(&[r.tcp_flags]);
            } else {
                w.put(&(r.tcp_flags as u16).to_be_bytes());
            }
            let icmp = if k.is_icmp() { k.dst_port } else { 0 };
            w.put(&icmp.to_be_bytes());
        }
    }
    let vlan = if k.has_vlan() { k.vlan } else { 0 };
    w.put(&vlan.to_be_bytes());
    w.put(&r.octets.to_be_bytes());
    w.put(&r.packets.to_be_bytes());
    w.put(&r.l2_octets.to_be_bytes());
    w.put(&(r.first_ns / 1_000_000).to_be_bytes());
    w.put(&(r.last_ns / 1_000_000).to_be_bytes());
    w.put(&[r.end as u8]);
    w.at
}

/// Bytes written one after another into a fixed array (inlined, the offsets are constants).
struct Cursor<'a> {
    b: &'a mut [u8; MAX_RECORD],
    at: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn put(&mut self, v: &[u8]) {
        self.b[self.at..self.at + v.len()].copy_from_slice(v);
        self.at += v.len();
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
