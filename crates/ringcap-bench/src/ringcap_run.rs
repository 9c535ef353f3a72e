//! One run of one of ringcap's receive paths: the engine in this process, pinned to the
//! capture CPUs, counting (or writing, see [`crate::write`]) while the generator sends.

use std::sync::mpsc;
use std::time::Duration;

use ringcap::{Batch, Capture, Config, EndReason, Fanout, FanoutMode, Flow, Handler, Mode, Report};

use crate::host_stack;
use crate::plan::RingcapMode;
use crate::run::{ringcap_reconciles, Counts, Failure, Run, Side, Written};
use crate::session::Ctx;
use crate::traffic::Traffic;
use crate::write;

/// What a capture run under traffic gave.
pub(crate) struct Driven {
    /// The engine's report, or why the capture failed.
    pub report: Result<Report, String>,
    pub traffic: Traffic,
    /// Why the run failed besides the capture itself (e.g. its files are incomplete).
    pub failure: Option<String>,
    /// `--write`: what the output threads wrote.
    pub written: Option<Written>,
}

/// The counting handler: takes every packet, does nothing with it.
struct Nop;

impl Handler for Nop {
    fn batch(&mut self, _: &mut Batch<'_>) -> Flow {
        Flow::Continue
    }
}

/// Runs `m` once; None when the bench was interrupted during the run.
pub(crate) fn run(
    ctx: &Ctx<'_>,
    m: &RingcapMode,
    name: String,
    round: usize,
) -> crate::Result<Option<Run>> {
    let failed = |why: String| Run::failed(name.clone(), Side::Ringcap, round, Failure::new(why));
    // The xdp+filter rows: the frames go to the capture end's own address, first with nothing
    // capturing (the host stack's floor), then with the capture.
    let mac;
    let mut row_ctx = *ctx;
    let mut host = None;
    if m.spec.host_stack() {
        mac = host_stack::capture_mac(ctx)?;
        row_ctx.dst_mac = Some(&mac);
        match host_stack::baseline(&row_ctx)? {
            Some(b) => host = Some(b),
            None => return Ok(None),
        }
    }
    let ctx = &row_ctx;
    // The sockets (and the workers, spawned by this thread) live in the bench's namespace.
    let _in = ctx.net.enter()?;
    let cap = match Capture::open(config(ctx, m)) {
        Ok(c) => c,
        Err(e) => return Ok(Some(failed(format!("could not start: {e}")))),
    };
    if let Some(watch) = ctx.settings.on_capture {
        watch(&cap);
    }
    let ring_bytes = cap.ring_memory();
    let before = ctx.link()?;
    let host_before = host
        .as_ref()
        .map(|_| host_stack::Sample::take(ctx))
        .transpose()?;
    let driven = match ctx.output {
        None => {
            let handlers = (0..cap.workers()).map(|_| Nop).collect();
            drive(ctx, cap, handlers)?
        }
        Some(out) => match write::capture_writing(ctx, out, cap)? {
            Ok(d) => d,
            Err(why) => return Ok(Some(failed(why))),
        },
    };
    if driven.traffic.interrupted {
        return Ok(None);
    }
    let link = ctx.link()?.since(before);
    let host_after = host_before
        .map(|_| host_stack::Sample::take(ctx))
        .transpose()?;
    let report = match driven.report {
        Ok(r) => r,
        Err(e) => return Ok(Some(failed(format!("the capture failed: {e}")))),
    };
    let t = &report.total;
    // AF_XDP with a filter: what the XDP program passed to the host's stack (filter in the
    // kernel), or what the filter rejected after the redirect (in user space), is neither
    // received nor dropped, but it is part of what the interface took in.
    let extra = |name: &str| {
        report
            .extra
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    };
    let passed = extra("xdp_passed");
    let taken = t.kernel_packets + passed + extra("xdp_filtered");
    let host = match (host, host_before, host_after) {
        (Some(without), Some(b), Some(a)) => {
            let (ip_in, busy) = a.since(&b, link.rx_packets + link.rx_dropped);
            Some(host_stack::HostStack {
                passed,
                ip_in,
                busy_ns_per_offered: busy,
                without,
            })
        }
        _ => None,
    };
    let mut run = Run {
        name,
        side: Side::Ringcap,
        round,
        counts: Counts {
            seen: link.rx_packets,
            if_drops: link.rx_dropped,
            // With --write, what reached the files (a compared tool's count is from its file
            // too), and the output threads' CPU with the workers'.
            captured: driven.written.map_or(t.received, |w| w.packets),
            drops: t.drops,
            secs: driven.traffic.secs,
            cpu_user_ns: t.cpu_user_ns + driven.written.map_or(0, |w| w.cpu_user_ns),
            cpu_sys_ns: t.cpu_sys_ns + driven.written.map_or(0, |w| w.cpu_sys_ns),
            ring_bytes,
            sent: driven.traffic.sent,
            output: driven.written,
            marginal: None,
            window: None,
        },
        reconciles: ringcap_reconciles(report.reconciles(), taken, link.rx_packets),
        background: link.rx_packets.saturating_sub(taken),
        host,
        failure: None,
    };
    if report.reason.is_error() {
        run.failure = Some(Failure::new(format!(
            "the capture ended: {}",
            report.reason
        )));
    } else if let Some(why) = driven.failure {
        run.failure = Some(Failure::new(why));
    }
    Ok(Some(run.judge()))
}

fn config(ctx: &Ctx<'_>, m: &RingcapMode) -> Config {
    let s = ctx.settings;
    let mut cfg = Config::new(ctx.net.capture_if())
        .mode(m.mode)
        .workers(m.threads)
        .cpus(Some(ctx.plan.cap_cpus.clone()))
        .fanout(Fanout {
            mode: FanoutMode::Cpu,
            ..Default::default()
        })
        .filter(s.filter.as_ref().map(|f| match m.mode {
            Mode::Xdp => f.xdp.clone(),
            _ => f.live.clone(),
        }))
        // The generator stops by itself; this is only a safety net.
        .duration(Some(Duration::from_secs_f64(s.seconds + 30.0)));
    cfg.coalesce = Duration::from_millis(s.coalesce_ms);
    m.spec.configure(cfg)
}

/// Runs the capture while the generator sends, then stops it through its normal path (so the
/// last blocks are drained and the kernel's final counts read).
pub(crate) fn drive<H: Handler + 'static>(
    ctx: &Ctx<'_>,
    cap: Capture,
    handlers: Vec<H>,
) -> crate::Result<Driven> {
    let (tx, rx) = mpsc::channel();
    let stop = cap.stop_handle();
    std::thread::scope(|s| {
        let h =
            s.spawn(move || cap.run_notify(handlers, move || tx.send(()).unwrap_or(()), |_| {}));
        // Every worker takes packets, or the capture ended before it could.
        let ready = rx.recv_timeout(Duration::from_secs(10)).is_ok();
        let traffic = if ready {
            let t = ctx.traffic();
            // Let the last blocks retire.
            std::thread::sleep(Duration::from_millis(100));
            t
        } else {
            Ok(Traffic {
                secs: 0.0,
                sent: None,
                interrupted: false,
                cpu_ns: 0,
            })
        };
        stop.stop(EndReason::Duration);
        let report = match h.join() {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the capture thread panicked".to_string()),
        };
        Ok(Driven {
            report,
            traffic: traffic?,
            failure: (!ready).then(|| "its workers were not ready within 10 s".to_string()),
            written: None,
        })
    })
}
