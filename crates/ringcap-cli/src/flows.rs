//! `ringcap flows`: every packet into a flow record, exported by IPFIX / NetFlow v9 / JSON.
//!
//! Live (`-i IF`): the capture engine with hash fanout, so a flow stays on one worker; one
//! [`ringcap_flow::Meter`] (flow table) per worker, records handed to the exporter thread.
//! Files (`-r FILE`, repeatable): the same meter over the packets of capture files, in order, as
//! nfpcapd and `softflowd -r` do; times are the packets' own.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use ringcap::config::{parse_cpu_list, Geometry};
use ringcap::{
    Batch, Capture, Config, Fanout, FanoutMode, Flow, Handler, Mode, Tick, WorkerReport,
};
use ringcap_flow::{
    CollectorSpec, ExportConfig, ExportReport, Exporter, FlowTable, Meter, MeterReport, Timeouts,
};
use ringcap_pcap::{linktype, Reader};

use crate::util::{parse_size, seconds_arg};

/// Turn packets into flow records: IPFIX, NetFlow v9 or JSON to collectors (live or from files).
#[derive(clap::Args)]
#[command(after_help = "\
Every packet lands in a flow record (IPv4/IPv6 5-tuple and VLAN; ICMP type and code in the
destination port; other frames one record per MAC pair and EtherType). A record ends after
--idle-timeout without packets, every --active-timeout of a long flow, shortly after TCP FIN or
RST, when the table is full (--max-flows, evicted and counted) or at the end of the capture.
The summary checks that the packets in records equal the packets received.

Examples:
  ringcap flows -i eth0 --ipfix collector:4739                 IPFIX to nfcapd, nfacctd, goflow2...
  ringcap flows -i eth0 --netflow9 10.0.0.5:2055 --json - 'not port 22'
  ringcap flows -r day.pcap --ipfix 127.0.0.1:4739             a capture file, like nfpcapd -r")]
pub struct Args {
    /// Interface to capture on.
    #[arg(short = 'i', long = "interface", required_unless_present = "read")]
    pub iface: Option<String>,
    /// Read packets from a capture file instead (pcap or pcapng; repeat -r for several).
    #[arg(short = 'r', value_name = "FILE", conflicts_with = "iface")]
    pub read: Vec<String>,
    /// Send IPFIX (RFC 7011) over UDP to HOST:PORT; repeat for several collectors.
    #[arg(long, value_name = "HOST:PORT")]
    pub ipfix: Vec<String>,
    /// Send NetFlow v9 (RFC 3954) over UDP to HOST:PORT; repeat for several collectors.
    #[arg(long, value_name = "HOST:PORT")]
    pub netflow9: Vec<String>,
    /// Write one JSON object per flow record to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// End a flow after this long without packets.
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub idle_timeout: f64,
    /// Report a long flow every SECS (as several records that sum up).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub active_timeout: f64,
    /// Flows each worker's table holds; when full, the longest-quiet flow of a few is
    /// exported early (counted as evicted) to make room. About 270 bytes a flow, allocated at
    /// the start (refused if the tables would not fit the memory available).
    #[arg(long, value_name = "N", default_value_t = 262_144)]
    pub max_flows: usize,
    /// IPFIX observation domain id (NetFlow v9 source id) of this exporter.
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub observation_domain: u32,
    /// Send the templates (and the exporter's statistics) again every SECS...
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub template_refresh: f64,
    /// ...or every N messages, whichever comes first.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub template_refresh_messages: u32,
    /// Largest IP packet for export messages (default: the path MTU to each collector, at
    /// most 1500).
    #[arg(long, value_name = "BYTES")]
    pub mtu: Option<u32>,
    /// Flow records the queue to the exporter holds; records that find it full are counted.
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    pub export_queue: usize,
    /// Stop after COUNT packets in total.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after SECS seconds (live).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Bytes to keep of each packet: the headers are enough (live).
    #[arg(short = 's', long = "snaplen", default_value_t = 256)]
    pub snaplen: u32,
    /// Receive path: ring, recv or xdp (live).
    #[arg(long, default_value = "ring")]
    pub mode: Mode,
    /// Worker threads, each with its own flow table (default: the number of online CPUs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// CPUs to pin workers to, e.g. 0-3,8.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Do not pin workers to CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Ring block size (suffixes K, M; default 1M). With --blocks: a fixed ring per worker
    /// instead of one sized from the host's memory, as `capture` does.
    #[arg(long, value_parser = parse_size_u32)]
    pub block_size: Option<u32>,
    /// Hand a partly filled ring block to the meter after this many milliseconds. Flow
    /// records leave after a timeout of a second or more, so the default is longer than a
    /// capture's (4 ms): fewer wake-ups and larger batches when traffic is light.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub block_timeout_ms: u32,
    /// Ring blocks per worker (default 64).
    #[arg(long)]
    pub blocks: Option<u32>,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// No per-second line.
    #[arg(short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
    /// Filter expression (tcpdump syntax): only matching packets are metered.
    #[arg(trailing_var_arg = true, allow_hyphen_values = false)]
    pub expr: Vec<String>,
}

fn parse_size_u32(s: &str) -> Result<u32, String> {
    let v = parse_size(s)?;
    u32::try_from(v).map_err(|_| format!("{s} is too large"))
}

impl Args {
    /// The limits that size memory, checked before anything is opened or created.
    fn check_limits(&self) -> anyhow::Result<()> {
        if self.max_flows == 0 {
            bail!("--max-flows 0: needs at least 1");
        }
        if self.max_flows > ringcap_flow::table::MAX_FLOWS {
            bail!(
                "--max-flows {}: at most {} per worker",
                self.max_flows,
                ringcap_flow::table::MAX_FLOWS
            );
        }
        if self.export_queue > MAX_EXPORT_QUEUE {
            bail!(
                "--export-queue {}: at most {MAX_EXPORT_QUEUE} records",
                self.export_queue
            );
        }
        Ok(())
    }

    fn timeouts(&self) -> anyhow::Result<Timeouts> {
        let idle = seconds_arg("--idle-timeout", self.idle_timeout)?;
        let active = seconds_arg("--active-timeout", self.active_timeout)?;
        Ok(Timeouts {
            idle_ns: idle.as_nanos() as u64,
            active_ns: active.as_nanos() as u64,
            ..Timeouts::default()
        })
    }

    fn capture_config(&self, iface: &str) -> anyhow::Result<Config> {
        let mut cfg = Config::new(iface);
        cfg.mode = self.mode;
        if let Some(t) = self.threads {
            cfg.workers = t;
        }
        cfg.cpus = match &self.cpus {
            Some(list) => Some(parse_cpu_list(list).map_err(anyhow::Error::msg)?),
            None => None,
        };
        if let (None, Some(list)) = (self.threads, &cfg.cpus) {
            cfg.workers = list.len();
        }
        cfg.pin = !self.no_pin;
        // Hash fanout: every packet of a flow goes to the same worker and its table.
        cfg.fanout = Fanout {
            mode: FanoutMode::Hash,
            ..Default::default()
        };
        // Rings are sized from the host's memory unless given: then exactly as given.
        if self.block_size.is_some() || self.blocks.is_some() {
            cfg = cfg.geometry(Geometry {
                block_size: self.block_size.unwrap_or(1 << 20),
                blocks: self.blocks.unwrap_or(64),
                ..Geometry::default()
            });
        }
        // 0 is refused with the rest of the ring's geometry (`Config::validate`).
        cfg.geometry.block_timeout_ms = self.block_timeout_ms;
        cfg.promisc = !self.no_promisc;
        cfg.snaplen = self.snaplen;
        cfg.count = self.count;
        if let Some(d) = self.duration {
            cfg.duration = Some(seconds_arg("--duration", d)?);
        }
        if !self.expr.is_empty() {
            cfg.filter = Some(crate::capture::compile_live(
                &self.expr.join(" "),
                cfg.snaplen,
                cfg.mode,
            )?);
        }
        Ok(cfg)
    }
}

/// Resolves `HOST:PORT` and sizes messages to the path MTU (at most 1500 unless --mtu).
fn collector(flag: &str, spec: &str, mtu: Option<u32>) -> anyhow::Result<CollectorSpec> {
    let addr: SocketAddr = spec
        .to_socket_addrs()
        .with_context(|| format!("{flag} {spec}: cannot resolve (HOST:PORT expected)"))?
        .next()
        .with_context(|| format!("{flag} {spec}: no address"))?;
    let path_mtu = match mtu {
        Some(m) => m as usize,
        None => ringcap_netinfo::route::path_mtu(addr)
            .map(|m| m as usize)
            .with_context(|| format!("{flag} {spec}: no route"))?
            .min(1500),
    };
    let overhead = if addr.is_ipv4() { 20 + 8 } else { 40 + 8 };
    if path_mtu < ringcap_flow::message::MIN_MESSAGE + overhead {
        bail!("--mtu {path_mtu}: too small for export messages");
    }
    Ok(CollectorSpec {
        name: spec.to_string(),
        addr,
        max_message: path_mtu - overhead,
    })
}

fn export_config(args: &Args, workers: usize) -> anyhow::Result<ExportConfig> {
    if args.ipfix.is_empty() && args.netflow9.is_empty() && args.json.is_none() {
        bail!("nowhere to send flows: give --ipfix HOST:PORT, --netflow9 HOST:PORT or --json FILE");
    }
    // The options first: a refused one leaves no --json file behind.
    let refresh = seconds_arg("--template-refresh", args.template_refresh)?;
    if args.template_refresh_messages == 0 {
        bail!("--template-refresh-messages 0: needs at least 1");
    }
    let ipfix = args
        .ipfix
        .iter()
        .map(|s| collector("--ipfix", s, args.mtu))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let netflow9 = args
        .netflow9
        .iter()
        .map(|s| collector("--netflow9", s, args.mtu))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let json = match args.json.as_deref() {
        None => None,
        Some("-") => Some((
            "-".to_string(),
            Box::new(std::io::stdout()) as Box<dyn std::io::Write + Send>,
        )),
        Some(path) => Some((
            path.to_string(),
            Box::new(
                std::fs::File::create(path)
                    .with_context(|| format!("--json {path}: cannot create"))?,
            ) as Box<dyn std::io::Write + Send>,
        )),
    };
    Ok(ExportConfig {
        ipfix,
        netflow9,
        json,
        observation_domain: args.observation_domain,
        template_refresh: refresh,
        template_refresh_messages: args.template_refresh_messages,
        queue_chunks: args
            .export_queue
            .div_ceil(ringcap_flow::meter::CHUNK)
            .max(1),
        workers,
        filter: !args.expr.is_empty(),
    })
}

/// A capture worker's sink: its meter.
struct FlowSink {
    meter: Meter,
    newest: u64,
    reports: Arc<Mutex<Vec<Option<MeterReport>>>>,
    idx: usize,
}

impl Handler for FlowSink {
    #[inline]
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        for p in batch {
            let ts = p.ts_ns();
            self.newest = self.newest.max(ts);
            self.meter
                .ethernet(ts, p.len(), p.vlan().map(|v| v.id()), p.data());
        }
        self.meter.end_batch(self.newest);
        Flow::Continue
    }

    fn idle(&mut self) -> Flow {
        // Ring timestamps are CLOCK_REALTIME, so the clock carries on where packets stopped.
        self.newest = self.newest.max(now_ns());
        self.meter.end_batch(self.newest);
        Flow::Continue
    }

    fn finish(&mut self, _report: &WorkerReport) -> Result<(), String> {
        let r = self.meter.finish();
        if let Ok(mut v) = self.reports.lock() {
            v[self.idx] = Some(r);
        }
        Ok(())
    }
}

/// The most records --export-queue may hold: its chunks are reserved at the start (address
/// space only, touched as the queue fills), 16 Mi records being a few GB of it.
const MAX_EXPORT_QUEUE: usize = 1 << 24;

/// The flow tables are written whole when made (so that no page fault comes with the first
/// packets): `workers` tables for `max_flows` must fit the memory available now, or the
/// allocation would abort the process or the kernel's OOM killer end it mid-way.
fn check_table_memory(max_flows: usize, workers: usize) -> anyhow::Result<()> {
    let per = FlowTable::memory_for(max_flows) as u64;
    let total = per.saturating_mul(workers as u64);
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| ringcap::sizing::meminfo_bytes(&m, "MemAvailable"));
    if let Some(avail) = available {
        if total > avail {
            let human = ringcap::stats::human_bytes;
            let tables = if workers == 1 {
                "the flow table".to_string()
            } else {
                format!("{workers} flow tables of {} each", human(per))
            };
            bail!(
                "--max-flows {max_flows}: {tables} would take {}, more than the {} of memory \
                 available; lower --max-flows",
                human(total),
                human(avail)
            );
        }
    }
    Ok(())
}

/// The wall clock in ns since the epoch (the ring's timestamps are CLOCK_REALTIME too).
fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let timeouts = args.timeouts()?;
    args.check_limits()?;
    let metrics = crate::metrics::bind(&args.metrics, "flows")?;
    if !args.read.is_empty() {
        return run_files(&args, timeouts, metrics);
    }
    let iface = args.iface.clone().unwrap_or_default();
    let cfg = args.capture_config(&iface)?;
    // Collectors resolve (and --json opens) before any socket is opened.
    let mut ecfg = export_config(&args, 1)?;
    let capture = Capture::open(cfg)?;
    ringcap::signals::stop_on_signal(&capture.stop_handle())
        .context("installing signal handlers")?;
    let workers = capture.workers();
    check_table_memory(args.max_flows, workers)?;
    ecfg.workers = workers;
    let (exporter, queue) = Exporter::start(ecfg)?;
    let counters = exporter.counters().clone();
    let _server = crate::metrics::serve_flows(metrics, &counters, Some(&capture))?;
    let reports = Arc::new(Mutex::new(vec![None; workers]));
    let handlers: Vec<FlowSink> = (0..workers)
        .map(|i| FlowSink {
            meter: Meter::new(i, FlowTable::new(args.max_flows, timeouts), queue.clone()),
            newest: 0,
            reports: reports.clone(),
            idx: i,
        })
        .collect();
    let mem: usize = handlers
        .iter()
        .map(|h| h.meter.table().memory_bytes())
        .sum();
    // Said once every worker takes packets, so traffic started after this line is all seen.
    let start_line = format!(
        "ringcap: flows on {iface}, {} mode, {workers} worker{} (hash fanout), {} flows per worker ({} of tables), idle {}s, active {}s",
        capture.config().mode,
        if workers == 1 { "" } else { "s" },
        args.max_flows,
        ringcap::stats::human_bytes(mem as u64),
        args.idle_timeout,
        args.active_timeout
    );
    let quiet = args.quiet;
    let on_ready = move || {
        if !quiet {
            eprintln!("{start_line}");
        }
    };
    // Packets the interface received, for the filter's observed count (from sysfs: approximate,
    // as the interface counts from before the capture's sockets opened to after they closed).
    let rx_start = ringcap_netinfo::stats::Counters::read(&iface).ok();
    let filter = !args.expr.is_empty();
    let on_tick = |t: &Tick| {
        counters.kernel_drops.store(t.drops, Relaxed);
        if filter {
            publish_filter(&counters, &iface, rx_start, t.kernel_packets);
        }
        if !quiet {
            let sum =
                |f: fn(&ringcap_flow::export::WorkerCounters) -> &std::sync::atomic::AtomicU64| {
                    counters
                        .workers
                        .iter()
                        .map(|w| f(w).load(Relaxed))
                        .sum::<u64>()
                };
            eprintln!(
                "{:>7.1}s {:>10}pps  flows {} in tables, {} records, {} evicted, {} lost  received {} dropped {}",
                t.elapsed,
                ringcap::stats::human_rate(t.total_pps()),
                sum(|w| &w.in_table),
                sum(|w| &w.records),
                sum(|w| &w.evicted),
                sum(|w| &w.lost_records),
                t.received,
                t.drops
            );
        }
    };
    let report = capture.run_notify(handlers, on_ready, on_tick)?;
    // The last message carries the final statistics: the exporter sends it once every queue
    // is gone, so this one is held until the kernel's final counts are in (the workers'
    // queues went with their threads, before the capture's report was made).
    counters.kernel_drops.store(report.total.drops, Relaxed);
    if filter {
        publish_filter(&counters, &iface, rx_start, report.total.kernel_packets);
    }
    drop(queue);
    let export = exporter.finish();
    crate::capture::print_summary(&report, false);
    let meters: Vec<MeterReport> = reports
        .lock()
        .map(|v| v.iter().map(|r| r.unwrap_or_default()).collect())
        .unwrap_or_default();
    let ok = print_flow_summary(&meters, report.total.received, &export, args.max_flows);
    Ok(if !ok {
        1
    } else {
        crate::capture::exit_code(&report)
    })
}

/// The filter's counts for the options record: `selected`, the packets the kernel passed
/// through it, of those the interface received since the capture began (at least `selected`,
/// also where sysfs does not show the interface, as in a network namespace entered without
/// remounting /sys).
fn publish_filter(
    counters: &ringcap_flow::export::Counters,
    iface: &str,
    rx_start: Option<ringcap_netinfo::stats::Counters>,
    selected: u64,
) {
    counters.filter_selected.store(selected, Relaxed);
    let rx = match (rx_start, ringcap_netinfo::stats::Counters::read(iface)) {
        (Some(a), Ok(b)) => b.since(&a).rx_packets,
        _ => 0,
    };
    counters.filter_observed.store(rx.max(selected), Relaxed);
}

/// The flow accounting at the end; false when the counts do not add up or an output broke.
fn print_flow_summary(m: &[MeterReport], received: u64, e: &ExportReport, max: usize) -> bool {
    let sum = |f: fn(&MeterReport) -> u64| m.iter().map(f).sum::<u64>();
    let metered = sum(|r| r.table.packets);
    let (exp_r, exp_p) = (sum(|r| r.expired_records), sum(|r| r.expired_packets));
    let (fl_r, fl_p) = (sum(|r| r.flushed_records), sum(|r| r.flushed_packets));
    let (lost_r, lost_p) = (sum(|r| r.lost_records), sum(|r| r.lost_packets));
    let evicted = sum(|r| r.table.evicted());
    let mut out = format!(
        "flows: {} records ({} packets): {exp_r} records ({exp_p} packets) ended during the capture, {fl_r} ({fl_p} packets) still in the tables and flushed at the end\n",
        exp_r + fl_r,
        exp_p + fl_p,
    );
    out += &format!(
        "flows: {} records ({} packets) went to the exporter, {lost_r} ({lost_p} packets) lost at a full export queue; {evicted} flows evicted by a full table (--max-flows {max} per worker)\n",
        e.records, e.packets
    );
    for o in &e.outputs {
        out += &format!("{}\n", o.line);
    }
    let adds_up =
        exp_p + fl_p == received && metered == received && e.packets + lost_p == exp_p + fl_p;
    if adds_up {
        out += &format!(
            "flow counts add up: packets in flow records {} (exported during the capture {exp_p} + flushed at the end {fl_p}) = received {received}",
            exp_p + fl_p
        );
    } else {
        out += &format!(
            "FLOW COUNTS DO NOT ADD UP: packets in flow records {} (exported {exp_p} + flushed {fl_p}) != received {received} (metered {metered}, exporter {} + lost {lost_p})",
            exp_p + fl_p,
            e.packets
        );
    }
    eprintln!("{out}");
    adds_up && !e.outputs.iter().any(|o| o.broken)
}

/// `-r FILE...`: the packets of capture files through one meter, in file order.
fn run_files(
    args: &Args,
    timeouts: Timeouts,
    metrics: Option<crate::metrics::Exporter>,
) -> anyhow::Result<i32> {
    // Before export_config, which creates the --json file: a refused limit leaves none.
    check_table_memory(args.max_flows, 1)?;
    let ecfg = export_config(args, 1)?;
    let expr = args.expr.join(" ");
    let (exporter, queue) = Exporter::start(ecfg)?;
    let counters = exporter.counters().clone();
    let _server = crate::metrics::serve_flows(metrics, &counters, None)?;
    let mut meter = Meter::new(0, FlowTable::new(args.max_flows, timeouts), queue);
    let (mut read, mut taken) = (0u64, 0u64);
    let result = (|| -> anyhow::Result<()> {
        for path in &args.read {
            let file = std::fs::File::open(path).with_context(|| format!("-r {path}"))?;
            let mut reader = Reader::new(std::io::BufReader::with_capacity(1 << 20, file))
                .with_context(|| format!("-r {path}"))?;
            let mut progs: Vec<(u32, ringcap_filter::Program)> = Vec::new();
            while let Some(m) = reader.next_record().with_context(|| format!("-r {path}"))? {
                if args.count.is_some_and(|c| taken >= c) {
                    return Ok(());
                }
                read += 1;
                let data = reader.data();
                if !expr.is_empty() {
                    let prog = match progs.iter().find(|(l, _)| *l == m.linktype) {
                        Some((_, p)) => p,
                        None => {
                            let lt = ringcap_filter::LinkType::from_linktype(m.linktype)
                                .with_context(|| {
                                    format!(
                                        "-r {path}: filters do not support link type {}",
                                        m.linktype
                                    )
                                })?;
                            let p = crate::compile::filter(
                                &expr,
                                lt,
                                262_144,
                                ringcap_filter::Target::File,
                                true,
                            )
                            .map_err(|e| crate::compile::filter_error(&expr, e))?;
                            progs.push((m.linktype, p));
                            &progs[progs.len() - 1].1
                        }
                    };
                    if !prog.matches(data, m.orig_len) {
                        continue;
                    }
                }
                taken += 1;
                meter_frame(&mut meter, m.linktype, m.ts_ns, m.orig_len, data)
                    .with_context(|| format!("-r {path}"))?;
                if taken.is_multiple_of(256) {
                    meter.end_batch(m.ts_ns);
                    counters.filter_observed.store(read, Relaxed);
                    counters.filter_selected.store(taken, Relaxed);
                }
            }
        }
        Ok(())
    })();
    counters.filter_observed.store(read, Relaxed);
    counters.filter_selected.store(taken, Relaxed);
    let m = meter.finish();
    drop(meter);
    let export = exporter.finish();
    result?;
    eprintln!(
        "read {read} packets from {} file{}{}",
        args.read.len(),
        if args.read.len() == 1 { "" } else { "s" },
        if expr.is_empty() {
            String::new()
        } else {
            format!(", {taken} matched the filter, {} did not", read - taken)
        }
    );
    let ok = print_flow_summary(&[m], taken, &export, args.max_flows);
    Ok(if ok { 0 } else { 1 })
}

/// One packet of a file, by link type.
fn meter_frame(meter: &mut Meter, lt: u32, ts: u64, len: u32, d: &[u8]) -> anyhow::Result<()> {
    match lt {
        linktype::ETHERNET => meter.ethernet(ts, len, None, d),
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => meter.ip(ts, len, d),
        linktype::LINUX_SLL => meter.ip(ts, len, d.get(16..).unwrap_or_default()),
        linktype::LINUX_SLL2 => meter.ip(ts, len, d.get(20..).unwrap_or_default()),
        linktype::NULL => meter.ip(ts, len, d.get(4..).unwrap_or_default()),
        other => bail!(
            "link type {other} ({}) is not supported for flows",
            linktype::name(other)
        ),
    }
    Ok(())
}
