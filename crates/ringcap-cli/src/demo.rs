//! `ringcap demo`: a self-contained run on any Linux machine (as root): builds a private network
//! namespace with a veth pair, captures on one end with every receive path while frames are sent
//! from the other, and prints what each path received, with counts that add up. Nothing leaves
//! the namespace, and the namespace is removed at the end (also on Ctrl-C or an error).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use ringcap::{
    Batch, Capture, Config, EndReason, Fanout, FanoutMode, Flow, Handler, Mode, StopHandle,
};
use ringcap_gen::{FrameBuilder, FrameSpec, Proto};
use ringcap_netns::PrivateNet;

#[derive(clap::Args)]
pub struct Args {
    /// Frames to send per receive path.
    #[arg(short = 'c', default_value_t = 20_000)]
    pub count: u32,
    /// Frame size in bytes (60..1514).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
}

struct Nop;
impl Handler for Nop {
    fn batch(&mut self, _: &mut Batch<'_>) -> Flow {
        Flow::Continue
    }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if !(60..=1514).contains(&args.size) {
        anyhow::bail!("--size {} is out of range (60..1514)", args.size);
    }
    // Ctrl-C stops the demo between paths, and the capture under way through its handle.
    let interrupted = StopHandle::new();
    ringcap::signals::stop_on_signal(&interrupted)?;
    let frames = frames(args.size)?;
    let net = PrivateNet::new().context("building the demo network (needs root)")?;
    let _in = net.enter()?;
    let cpus = ringcap::process::allowed_cpus()?;
    println!(
        "demo: namespace {}, veth {} <- {}, {} frames of {} bytes per path",
        net.ns(),
        net.capture_if(),
        net.peer_if(),
        args.count,
        args.size
    );
    println!(
        "{:<8} {:>7} {:>10} {:>10} {:>10} {:>10}  adds up",
        "mode", "threads", "sent", "received", "dropped", "kernel"
    );
    let mut ok = true;
    for (mode, threads) in [
        (Mode::Recv, 1),
        (Mode::Recv, cpus.len()),
        (Mode::Ring, 1),
        (Mode::Ring, cpus.len()),
    ] {
        if interrupted.is_stopped() {
            break;
        }
        let cfg = Config::new(net.capture_if())
            .mode(mode)
            .workers(threads)
            .cpus(Some(cpus.clone()))
            .fanout(Fanout {
                mode: FanoutMode::Hash,
                ..Default::default()
            })
            .duration(Some(Duration::from_secs(30)));
        let cap = Capture::open(cfg)?;
        let stop = cap.stop_handle();
        ringcap::signals::stop_on_signal(&stop)?;
        let handlers = (0..cap.workers()).map(|_| Nop).collect();
        let done = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        let report = std::thread::scope(|s| -> anyhow::Result<_> {
            let h = s.spawn(|| {
                cap.run_notify(
                    handlers,
                    move || tx.send(()).unwrap_or(()),
                    |_| {
                        if done.load(Ordering::Acquire) {
                            stop.stop(EndReason::Duration);
                        }
                    },
                )
            });
            let _ = rx.recv_timeout(Duration::from_secs(10));
            let sender = net.sender()?;
            for i in 0..args.count as usize {
                if interrupted.is_stopped() {
                    break;
                }
                sender.send(&frames[i % frames.len()])?;
            }
            std::thread::sleep(Duration::from_millis(100));
            done.store(true, Ordering::Release);
            stop.stop(EndReason::Duration);
            Ok(h.join()
                .map_err(|_| anyhow::anyhow!("capture thread panicked"))??)
        })?;
        let t = &report.total;
        println!(
            "{:<8} {:>7} {:>10} {:>10} {:>10} {:>10}  {}",
            mode.to_string(),
            threads,
            args.count,
            t.received,
            t.drops,
            t.kernel_packets,
            if report.reconciles() { "yes" } else { "NO" }
        );
        ok &= report.reconciles();
        if interrupted.is_stopped() {
            break; // Ctrl-C: stop here, the namespace goes with `net`
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// 1024 UDP frames of `size` bytes, each of another flow (source port), so hash fanout spreads
/// them over the workers.
fn frames(size: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut spec = FrameSpec::new(Proto::Udp, false);
    spec.size = Some(size);
    let mut b = FrameBuilder::new(&spec)?;
    Ok((0..1024)
        .map(|_| {
            let mut f = vec![0u8; b.len()];
            b.write_next(&mut f);
            f
        })
        .collect())
}
