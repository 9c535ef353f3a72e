//! Prometheus metrics for ringcap's long-running commands (`capture`, `flows`, `gen`, `bench`).
//!
//! ```no_run
//! use ringcap_metrics::{CaptureSnapshot, Listener, Metrics};
//!
//! // Bind first: a port in use fails before anything else starts.
//! let listener = Listener::bind("127.0.0.1:9100")?;
//! let mut metrics = Metrics::new("capture");
//! metrics.capture(CaptureSnapshot::default);
//! let _server = listener.serve(metrics)?; // serves until dropped
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Owns:** the metric families (names, help, labels, types: [`collect`]), their encoding with
//! prometheus-client (OpenMetrics for Prometheus, the classic text format for everyone else:
//! [`format`]), and the HTTP listener serving `/metrics` ([`server`]).
//!
//! **Reads, at scrape time only:** snapshots ([`snapshot`]) returned by closures its caller
//! registers, which copy counters their owners already keep (the engine's per-worker totals, the
//! kernel's counts as the engine's statistics loop accumulated them, the writers', the flow
//! meters', the generator's). A scrape never adds work to a packet: no lock, no system call and
//! no counter on the hot path exist for the exporter's sake, and it never reads the kernel's
//! statistics itself (they reset on read and belong to the capture's summary).
//!
//! **Must not depend on:** the capture engine (`ringcap`), `ringcap-sys`, `libc`, the output,
//! flow or generator crates, or any test crate. The CLI glues their counters to the snapshots.

#![forbid(unsafe_code)]

pub mod collect;
pub mod format;
pub mod server;
pub mod snapshot;

use prometheus_client::registry::Registry;

use collect::{BuildInfo, CaptureCollector, FlowCollector, GenCollector, OutputCollector, Source};
pub use server::{BindError, Listener, Server};
pub use snapshot::{
    CaptureInfo, CaptureSnapshot, CollectorSample, FlowMeterSample, FlowSnapshot, GenSnapshot,
    GenThreadSample, OutputSnapshot, WorkerSample,
};

/// The metrics one command exports: `ringcap_build_info` plus the sources registered.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// Metrics of the command `command` (a label of `ringcap_build_info`).
    pub fn new(command: &str) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(BuildInfo {
            labels: vec![
                ("version", env!("CARGO_PKG_VERSION").to_string()),
                ("command", command.to_string()),
            ],
        }));
        Metrics { registry }
    }

    /// A capture: `snapshot` is called at every scrape (it may name a different capture each
    /// time, e.g. the bench's current run).
    pub fn capture(&mut self, snapshot: impl Fn() -> CaptureSnapshot + Send + Sync + 'static) {
        self.registry
            .register_collector(Box::new(CaptureCollector(Source::new(snapshot))));
    }

    /// The capture output's writers.
    pub fn output(&mut self, snapshot: impl Fn() -> OutputSnapshot + Send + Sync + 'static) {
        self.registry
            .register_collector(Box::new(OutputCollector(Source::new(snapshot))));
    }

    /// Flow meters and exporters.
    pub fn flows(&mut self, snapshot: impl Fn() -> FlowSnapshot + Send + Sync + 'static) {
        self.registry
            .register_collector(Box::new(FlowCollector(Source::new(snapshot))));
    }

    /// The traffic generator.
    pub fn generator(&mut self, snapshot: impl Fn() -> GenSnapshot + Send + Sync + 'static) {
        self.registry
            .register_collector(Box::new(GenCollector(Source::new(snapshot))));
    }

    /// The exposition in OpenMetrics text (what Prometheus asks for), ending in `# EOF`.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry)?;
        Ok(s)
    }

    /// The exposition in the Prometheus text format 0.0.4.
    pub fn encode_text(&self) -> Result<String, std::fmt::Error> {
        self.encode().map(|om| format::to_prometheus_text(&om))
    }
}
