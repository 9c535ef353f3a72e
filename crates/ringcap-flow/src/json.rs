//! One JSON object per flow record (JSON Lines), for jq, Vector, Logstash or a Kafka shipper.
//!
//! Field names follow goflow2's JSON output where it has one (`src_addr`, `dst_addr`, `etype`,
//! `proto`, `bytes`, `packets`, `time_flow_start_ns`…), so pipelines built for it take these
//! records as they are; `l2_bytes`, `flags` (nfdump's notation) and `end_reason` are ringcap's.

use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use serde::Serialize;

use crate::export::{Counters, OutputReport};
use crate::key::Kind;
use crate::record::{tcp, FlowRecord};

#[derive(Serialize)]
struct Json<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    time_flow_start_ns: u64,
    time_flow_end_ns: u64,
    first: String,
    last: String,
    etype: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proto: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_flags: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan_id: Option<u16>,
    packets: u64,
    bytes: u64,
    l2_bytes: u64,
    end_reason: &'a str,
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// UTC date and time with nanoseconds, RFC 3339.
pub fn rfc3339(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ns % 1_000_000_000
    )
}

/// The JSON line of a record (without the newline).
pub fn to_json(r: &FlowRecord) -> String {
    let k = &r.key;
    let ip = k.kind != Kind::L2;
    let icmp = k.is_icmp();
    let is_tcp = ip && k.proto == 6;
    let j = Json {
        ty: "flow",
        time_flow_start_ns: r.first_ns,
        time_flow_end_ns: r.last_ns,
        first: rfc3339(r.first_ns),
        last: rfc3339(r.last_ns),
        etype: k.ethertype,
        src_addr: k.src_ip().map(|a| a.to_string()),
        dst_addr: k.dst_ip().map(|a| a.to_string()),
        proto: ip.then_some(k.proto),
        src_port: (ip && !icmp).then_some(k.src_port),
        dst_port: (ip && !icmp).then_some(k.dst_port),
        icmp_type: icmp.then_some((k.dst_port >> 8) as u8),
        icmp_code: icmp.then_some(k.dst_port as u8),
        tcp_flags: is_tcp.then_some(r.tcp_flags),
        flags: is_tcp.then(|| tcp::flags_string(r.tcp_flags)),
        src_mac: (!ip).then(|| mac(k.src_mac())),
        dst_mac: (!ip).then(|| mac(k.dst_mac())),
        vlan_id: k.has_vlan().then_some(k.vlan),
        packets: r.packets,
        bytes: r.octets,
        l2_bytes: r.l2_octets,
        end_reason: r.end.name(),
    };
    serde_json::to_string(&j).unwrap_or_default()
}

/// The `--json` output: one line per record.
pub(crate) struct JsonOut {
    pub(crate) name: String,
    pub(crate) w: BufWriter<Box<dyn Write + Send>>,
    pub(crate) written: u64,
    pub(crate) lost: u64,
    pub(crate) error: Option<String>,
    /// Its slot in the counters' outputs (the last).
    pub(crate) live: Arc<Counters>,
}

impl JsonOut {
    pub(crate) fn record(&mut self, r: &FlowRecord) {
        if self.error.is_some() {
            self.lost += 1;
            return;
        }
        let line = to_json(r);
        match writeln!(self.w, "{line}") {
            Ok(()) => self.written += 1,
            Err(e) => {
                self.lost += 1;
                self.error = Some(e.to_string());
            }
        }
    }

    pub(crate) fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.w.flush() {
                self.error = Some(e.to_string());
            }
        }
        if let Some(o) = self.live.outputs.last() {
            o.sent.store(self.written, Relaxed);
            o.failed.store(self.lost, Relaxed);
        }
    }

    pub(crate) fn report(&self) -> OutputReport {
        let mut line = format!("json {}: {} records written", self.name, self.written);
        if let Some(e) = &self.error {
            line += &format!(", {} not written ({e})", self.lost);
        }
        OutputReport {
            line,
            failed_records: self.lost,
            broken: self.error.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::FlowKey;
    use crate::record::EndReason;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn icmp_record() {
        let mut key = FlowKey {
            kind: Kind::V4,
            proto: 1,
            dst_port: 8 << 8,
            vlan: 5,
            ethertype: 0x0800,
            ..FlowKey::default()
        };
        key.src[..4].copy_from_slice(&[192, 0, 2, 1]);
        key.dst[..4].copy_from_slice(&[192, 0, 2, 2]);
        let r = FlowRecord {
            key,
            packets: 2,
            octets: 168,
            l2_octets: 204,
            first_ns: 1_000_000_000,
            last_ns: 2_000_000_000,
            tcp_flags: 0,
            end: EndReason::Idle,
        };
        let v: serde_json::Value = serde_json::from_str(&to_json(&r)).unwrap();
        assert_eq!(v["src_addr"], "192.0.2.1");
        assert_eq!(v["icmp_type"], 8);
        assert_eq!(v["icmp_code"], 0);
        assert_eq!(v["vlan_id"], 5);
        assert_eq!(v["bytes"], 168);
        assert_eq!(v["end_reason"], "idle");
        assert!(v.get("src_port").is_none());
        assert!(v.get("tcp_flags").is_none());
    }
}
