//! The metric families: names, help, labels and types, encoded through prometheus-client's
//! collector interface from a snapshot taken at scrape time.
//!
//! Names follow Prometheus' conventions: the `ringcap_` prefix, base units in the name
//! (`_bytes`, `_seconds`), `_total` on counters (prometheus-client appends it), and one family
//! per quantity with `worker`/`cpu`/`queue` labels rather than one name per worker.

use std::fmt::Error;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::snapshot::{
    CaptureInfo, CaptureSnapshot, FlowSnapshot, GenSnapshot, OutputSnapshot, WorkerSample,
};

type Labels = Vec<(&'static str, String)>;

/// A snapshot-returning closure; the collectors call it once per scrape.
pub(crate) struct Source<T>(Box<dyn Fn() -> T + Send + Sync>);

impl<T> Source<T> {
    pub(crate) fn new(f: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Source(Box::new(f))
    }
    fn get(&self) -> T {
        (self.0)()
    }
}

impl<T> std::fmt::Debug for Source<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Source")
    }
}

/// Writes one counter family (skipped when it has no samples). A sample without labels is
/// written bare (`name_total value`).
fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: &[(Labels, u64)],
) -> Result<(), Error> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, v) in samples {
        if labels.is_empty() {
            m.encode_counter::<NoLabelSet, u64, u64>(v, None)?;
        } else {
            m.encode_family(labels)?
                .encode_counter::<NoLabelSet, u64, u64>(v, None)?;
        }
    }
    Ok(())
}

/// Writes one gauge family (skipped when it has no samples). A sample without labels is
/// written bare (`name value`).
fn gauge<G: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: &[(Labels, G)],
) -> Result<(), Error> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in samples {
        if labels.is_empty() {
            m.encode_gauge(v)?;
        } else {
            m.encode_family(labels)?.encode_gauge(v)?;
        }
    }
    Ok(())
}

/// Integral gauge samples (the gauge encoder takes signed values).
fn signed(samples: Vec<(Labels, u64)>) -> Vec<(Labels, i64)> {
    samples
        .into_iter()
        .map(|(l, v)| (l, i64::try_from(v).unwrap_or(i64::MAX)))
        .collect()
}

/// Writes an info metric (`<name>_info{labels} 1`).
fn info(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    labels: &Labels,
) -> Result<(), Error> {
    enc.encode_descriptor(name, help, None, MetricType::Info)?
        .encode_info(labels)
}

fn opt(v: Option<usize>) -> String {
    v.map(|c| c.to_string()).unwrap_or_default()
}

/// `ringcap_build_info`: the version and the command serving the metrics.
#[derive(Debug)]
pub(crate) struct BuildInfo {
    pub labels: Labels,
}

impl Collector for BuildInfo {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), Error> {
        info(
            &mut enc,
            "ringcap_build",
            "ringcap's version and the command serving these metrics.",
            &self.labels,
        )
    }
}

/// A capture: per-worker counters and the configuration as an info metric.
#[derive(Debug)]
pub(crate) struct CaptureCollector(pub Source<CaptureSnapshot>);

fn worker_labels(w: &WorkerSample) -> Labels {
    let mut l = vec![("worker", w.worker.to_string()), ("cpu", opt(w.cpu))];
    if let Some(q) = w.queue {
        l.push(("queue", q.to_string()));
    }
    l
}

/// Samples of one per-worker quantity, for the workers that have it.
fn per_worker(s: &CaptureSnapshot, f: impl Fn(&WorkerSample) -> Option<u64>) -> Vec<(Labels, u64)> {
    s.workers
        .iter()
        .filter_map(|w| f(w).map(|v| (worker_labels(w), v)))
        .collect()
}

fn info_labels(i: &CaptureInfo) -> Labels {
    let num = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    vec![
        ("interface", i.interface.clone()),
        ("mode", i.mode.clone()),
        ("fanout", i.fanout.clone()),
        ("workers", i.workers.to_string()),
        ("block_size_bytes", num(i.block_size)),
        ("blocks", num(i.blocks)),
        ("frame_size_bytes", num(i.frame_size)),
        ("snaplen_bytes", i.snaplen.to_string()),
        ("filter", i.filter.to_string()),
    ]
}

/// The name an extra receive-path counter is exported under (`rx_ring_full` →
/// `ringcap_xdp_rx_ring_full`), keeping to the metric-name alphabet.
fn other_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ringcap_xdp_{clean}")
}

impl Collector for CaptureCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), Error> {
        let s = self.0.get();
        let e = &mut enc;
        if let Some(i) = &s.info {
            info(
                e,
                "ringcap_capture",
                "The capture's configuration: interface, receive path, fanout, ring geometry.",
                &info_labels(i),
            )?;
        }
        gauge(
            e,
            "ringcap_capture_running",
            "1 while the capture takes packets, 0 before it starts and after it ends.",
            None,
            &[(vec![], i64::from(s.running))],
        )?;
        if s.start_time_seconds > 0.0 {
            gauge(
                e,
                "ringcap_capture_start_time",
                "When the capture started, seconds since the epoch.",
                Some(&Unit::Seconds),
                &[(vec![], s.start_time_seconds)],
            )?;
        }
        counter(
            e,
            "ringcap_packets_received",
            "Packets handed to the capture's output, per worker.",
            None,
            &per_worker(&s, |w| Some(w.received_packets)),
        )?;
        counter(
            e,
            "ringcap_received",
            "Wire bytes of the packets received, per worker.",
            Some(&Unit::Bytes),
            &per_worker(&s, |w| Some(w.received_bytes)),
        )?;
        counter(
            e,
            "ringcap_kernel_packets",
            "Packets the kernel counted for the worker's socket (received + past -c + dropped \
             once the capture has ended), as of the last statistics read (every second).",
            None,
            &per_worker(&s, |w| Some(w.kernel_packets)),
        )?;
        counter(
            e,
            "ringcap_packets_dropped",
            "Packets the kernel dropped because the worker's ring or buffer was full.",
            None,
            &per_worker(&s, |w| Some(w.dropped_packets)),
        )?;
        counter(
            e,
            "ringcap_ring_freezes",
            "Times the worker's ring queue froze (TPACKET_V3 tp_freeze_q_cnt).",
            None,
            &per_worker(&s, |w| Some(w.freezes)),
        )?;
        counter(
            e,
            "ringcap_packets_past_count",
            "Packets delivered after -c was reached, or left unprocessed when a worker failed.",
            None,
            &per_worker(&s, |w| Some(w.past_count_packets)),
        )?;
        gauge(
            e,
            "ringcap_ring_blocks_user",
            "Ring blocks in user space: retired by the kernel and not given back yet (ring fill).",
            None,
            &signed(per_worker(&s, |w| w.ring_blocks.map(|b| b.0))),
        )?;
        gauge(
            e,
            "ringcap_ring_blocks",
            "Blocks in the worker's ring.",
            None,
            &signed(per_worker(&s, |w| w.ring_blocks.map(|b| b.1))),
        )?;
        counter(
            e,
            "ringcap_filter_rejected_packets",
            "Frames the capture filter rejected where they are counted (AF_XDP user-space filter).",
            None,
            &per_worker(&s, |w| w.filter_rejected),
        )?;
        counter(
            e,
            "ringcap_xdp_redirected_packets",
            "Frames the XDP program redirected to the worker's AF_XDP socket.",
            None,
            &per_worker(&s, |w| w.xdp_redirected),
        )?;
        counter(
            e,
            "ringcap_xdp_passed_packets",
            "Frames the XDP program's filter did not match and passed to the host stack.",
            None,
            &per_worker(&s, |w| w.xdp_passed),
        )?;
        let mut names: Vec<&str> = Vec::new();
        for w in &s.workers {
            for (n, _) in &w.other {
                if !names.contains(&n.as_str()) {
                    names.push(n);
                }
            }
        }
        for n in names {
            let samples = per_worker(&s, |w| {
                w.other.iter().find(|(m, _)| m == n).map(|(_, v)| *v)
            });
            counter(
                e,
                &other_name(n),
                "An AF_XDP socket statistic (XDP_STATISTICS) of the worker's socket.",
                None,
                &samples,
            )?;
        }
        Ok(())
    }
}

/// The capture output (`-w`).
#[derive(Debug)]
pub(crate) struct OutputCollector(pub Source<OutputSnapshot>);

impl Collector for OutputCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), Error> {
        let s = self.0.get();
        let e = &mut enc;
        counter(
            e,
            "ringcap_output_records_written",
            "Packet records written to capture files (or printed as packet lines).",
            None,
            &[(vec![], s.records_written)],
        )?;
        if let Some(b) = s.bytes_written {
            counter(
                e,
                "ringcap_output_written",
                "Bytes written to capture files (compressed bytes with --compress).",
                Some(&Unit::Bytes),
                &[(vec![], b)],
            )?;
        }
        counter(
            e,
            "ringcap_output_records_not_written",
            "Packet records that could not be written (after a write error).",
            None,
            &[(vec![], s.records_not_written)],
        )?;
        counter(
            e,
            "ringcap_output_write_errors",
            "Write errors that stopped an output.",
            None,
            &[(vec![], s.write_errors)],
        )?;
        if let Some(r) = s.files_rotated {
            counter(
                e,
                "ringcap_output_files_rotated",
                "Capture files closed to start the next one (-C, -G).",
                None,
                &[(vec![], r)],
            )?;
        }
        Ok(())
    }
}

/// Flow metering and export.
#[derive(Debug)]
pub(crate) struct FlowCollector(pub Source<FlowSnapshot>);

impl Collector for FlowCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), Error> {
        let s = self.0.get();
        let e = &mut enc;
        let meter = |f: fn(&crate::snapshot::FlowMeterSample) -> u64| -> Vec<(Labels, u64)> {
            s.meters
                .iter()
                .map(|m| (vec![("worker", m.worker.to_string())], f(m)))
                .collect()
        };
        gauge(
            e,
            "ringcap_flows_active",
            "Flows in the worker's flow table now.",
            None,
            &signed(meter(|m| m.active)),
        )?;
        counter(
            e,
            "ringcap_flows_exported",
            "Flow records the worker's table ended and handed on to the exporter (those that \
             found its queue full are also counted in ringcap_flow_records_lost_total).",
            None,
            &meter(|m| m.exported),
        )?;
        counter(
            e,
            "ringcap_flows_evicted",
            "Flows pushed out of a full flow table before their timeout.",
            None,
            &meter(|m| m.evicted),
        )?;
        counter(
            e,
            "ringcap_flow_records_lost",
            "Flow records dropped because the exporter's queue was full.",
            None,
            &meter(|m| m.records_lost),
        )?;
        let coll = |f: fn(&crate::snapshot::CollectorSample) -> u64| -> Vec<(Labels, u64)> {
            s.collectors
                .iter()
                .map(|c| {
                    (
                        vec![
                            ("collector", c.collector.clone()),
                            ("protocol", c.protocol.clone()),
                        ],
                        f(c),
                    )
                })
                .collect()
        };
        counter(
            e,
            "ringcap_flow_export_messages_sent",
            "Export messages (IPFIX, NetFlow v9 packets, JSON lines) sent to a collector.",
            None,
            &coll(|c| c.messages_sent),
        )?;
        counter(
            e,
            "ringcap_flow_export_messages_failed",
            "Export messages that could not be sent to a collector.",
            None,
            &coll(|c| c.messages_failed),
        )
    }
}

/// The traffic generator.
#[derive(Debug)]
pub(crate) struct GenCollector(pub Source<GenSnapshot>);

impl Collector for GenCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), Error> {
        let s = self.0.get();
        let e = &mut enc;
        let per = |f: fn(&crate::snapshot::GenThreadSample) -> u64| -> Vec<(Labels, u64)> {
            s.threads
                .iter()
                .map(|t| {
                    (
                        vec![("thread", t.thread.to_string()), ("cpu", opt(t.cpu))],
                        f(t),
                    )
                })
                .collect()
        };
        counter(
            e,
            "ringcap_gen_frames_sent",
            "Frames the generator sent, per sender thread.",
            None,
            &per(|t| t.frames_sent),
        )?;
        counter(
            e,
            "ringcap_gen_sent",
            "Bytes of the frames sent, per sender thread.",
            Some(&Unit::Bytes),
            &per(|t| t.bytes_sent),
        )?;
        counter(
            e,
            "ringcap_gen_frames_refused",
            "Frames the kernel refused (or longer than the MTU), per sender thread.",
            None,
            &per(|t| t.frames_refused),
        )
    }
}
