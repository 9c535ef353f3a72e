//! One run of a compared tool: started on the capture end with the same CPU placement as
//! ringcap, traffic only once it is capturing, stopped with SIGINT as a user would, its count
//! from its own report or from the file it wrote, its CPU time from its rusage.
//!
//! A tool that cannot start, exits with an error, does not stop, or captures nothing of the
//! traffic fails the run, with its last lines on standard error.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ringcap::config::format_cpu_list;

use crate::busy::{Marginal, Mark, Window};
use crate::child::{Child, Ended};

/// SIGTERM's number (Linux).
const SIGTERM: i32 = 15;
use crate::collector::Collector;
use crate::run::{tool_reconciles, Counts, Failure, Run, Side};
use crate::session::Ctx;
use crate::tools::{Ready, Stop, Tool, ToolArgs};

/// How long a tool may take to open its capture (netsniff-ng allocating a big ring can take
/// seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// After its socket is bound, before the traffic: the tool's own start-up after the bind.
const SETTLE: Duration = Duration::from_millis(300);
/// How long a tool may take to stop after SIGINT before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs `tool` once; None when the bench was interrupted during the run.
pub(crate) fn run(
    ctx: &Ctx<'_>,
    tool: &Tool,
    name: String,
    round: usize,
) -> crate::Result<Option<Run>> {
    let to_null = tool.to_null(ctx.output.is_some());
    let file = if tool.flows {
        Path::new(crate::collector::ADDR).to_path_buf()
    } else if to_null {
        Path::new("/dev/null").to_path_buf()
    } else {
        ctx.scratch.dir.join(format!("{}.pcap", tool.name))
    };
    // ringcap's own flow exporter is the ringcap side of the `--flows` ratios.
    let side = if tool.name == "ringcap" {
        Side::Ringcap
    } else if tool.control {
        Side::Control
    } else {
        Side::Compared
    };
    let failed = |f: Failure| Ok(Some(Run::failed(name.clone(), side, round, f)));
    let collector = if tool.flows {
        match Collector::start(ctx) {
            Ok(c) => Some(c),
            Err(f) => return failed(f),
        }
    } else {
        None
    };

    let before = ctx.link()?;
    let ifindex = ctx.net.ifindex(ctx.net.capture_if())?;
    let ctl = ctx.scratch.dir.join(format!("{}.ctl", tool.name));
    // A socket left by an earlier run would stop the tool from binding its own.
    let _ = std::fs::remove_file(&ctl);
    let ctl = ctl.to_string_lossy().into_owned();
    let tool_args = ToolArgs {
        iface: ctx.net.capture_if(),
        out: &file.to_string_lossy(),
        filter: ctx.settings.filter.as_ref().map(|f| f.expr.as_str()),
        ctl: &ctl,
    };
    let mut child = match Child::spawn(&mut command(ctx, tool, &tool_args)) {
        Ok(c) => c,
        Err(e) => return failed(Failure::new(format!("could not start {}: {e}", tool.name))),
    };
    if let Err(f) = wait_capturing(ctx, tool, &mut child, ifindex) {
        return if ctx.stop.is_stopped() {
            Ok(None)
        } else {
            failed(f)
        };
    }
    std::thread::sleep(SETTLE);
    // What the tool used to start (a flow exporter sizing its tables, say) is not what the
    // traffic cost it: its CPU so far is taken out of its rusage.
    let startup = start_up_cpu(child.id());
    // The window of the marginal CPU: from the traffic's start to the tool's exit.
    let mark = Mark::start()?;
    let traffic = ctx.traffic()?;
    // Children's CPU time is added when they are reaped: the generator's is in from here on,
    // so what grows after this point is the tool's alone.
    let (cu0, cs0) = ringcap::process::children_cpu_time();
    match &collector {
        // Until the exporter has sent every record it holds.
        Some(c) => {
            if let Err(f) = c.settle(ctx, tool.flush.map(|f| f(&tool_args))) {
                return failed(f.with_stderr(&child.stderr()));
            }
        }
        None => std::thread::sleep(Duration::from_millis(300)),
    }
    match tool.stop {
        Stop::Interrupt => child.interrupt(),
        Stop::Terminate => child.terminate(),
    }
    let ended = child
        .wait_for(STOP_GRACE)
        .map_err(crate::Error::io(format!("waiting for {}", tool.name)))?;
    let (cu1, cs1) = ringcap::process::children_cpu_time();
    let span = Mark::end()?.since(&mark);
    if traffic.interrupted {
        return Ok(None);
    }
    let link = ctx.link()?.since(before);
    let stderr = child.stderr();
    // softflowd in the foreground dies of SIGTERM instead of handling it: its records were
    // exported by its timers and its flush command before, and the collector's count is what
    // it did.
    let asked_to_stop = tool.flows
        && !ended.killed
        && std::os::unix::process::ExitStatusExt::signal(&ended.status) == Some(SIGTERM);
    if let Some(why) = exit_failure(ended).filter(|_| !asked_to_stop) {
        return failed(Failure::new(why).with_stderr(&stderr));
    }
    let mut window = None;
    let captured = if let Some(c) = collector {
        match c.finish(ctx) {
            Ok(got) if got.lost_datagrams > 0 => {
                return failed(Failure::new(format!(
                    "the collector nfcapd dropped {} export datagrams at its full socket buffer: its records undercount what {} sent",
                    got.lost_datagrams, tool.name
                )))
            }
            Ok(got) => {
                window = Some(Window {
                    span,
                    generator_ns: traffic.cpu_ns,
                    collector_ns: got.cpu_ns,
                });
                Ok(got.packets)
            }
            Err(f) => return failed(f),
        }
    } else if to_null {
        let count = tool.own_count.and_then(|count| count(&stderr));
        count.ok_or_else(|| "it reported no packet count".to_string())
    } else {
        count_packets(&file).map_err(|e| format!("its file {} is unreadable: {e}", file.display()))
    };
    let captured = match captured {
        Ok(n) => n,
        Err(why) => return failed(Failure::new(why).with_stderr(&stderr)),
    };
    let drops = (tool.own_drops)(&stderr).unwrap_or(link.rx_packets.saturating_sub(captured));
    let mut run = Run {
        name,
        side,
        round,
        counts: Counts {
            seen: link.rx_packets,
            if_drops: link.rx_dropped,
            captured,
            drops,
            secs: traffic.secs,
            cpu_user_ns: cu1.saturating_sub(cu0).saturating_sub(startup.0),
            cpu_sys_ns: cs1.saturating_sub(cs0).saturating_sub(startup.1),
            ring_bytes: tool.ring_bytes.unwrap_or(0),
            sent: traffic.sent,
            output: None,
            marginal: window.zip(ctx.baseline).map(|(w, b)| Marginal::new(w, b)),
            window,
        },
        reconciles: tool_reconciles(captured, drops, link.rx_packets),
        background: 0,
        host: None,
        failure: None,
    };
    // The control captures nothing by design.
    if !tool.control {
        run = run.judge();
    }
    if let Some(f) = &mut run.failure {
        *f = f.clone().with_stderr(&stderr);
    }
    Ok(Some(run))
}

/// A running process's user and system CPU so far (every thread), in ns, from
/// `/proc/PID/stat` (clock ticks); (0, 0) if it cannot be read.
fn start_up_cpu(pid: u32) -> (u64, u64) {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| user_sys_ticks(&t))
        .map_or((0, 0), |(u, s)| (u * NS_PER_TICK, s * NS_PER_TICK))
}

/// USER_HZ: 100 ticks per second on Linux's common architectures.
const NS_PER_TICK: u64 = 10_000_000;

/// utime and stime from the text of `/proc/PID/stat` (fields 14 and 15; the command name
/// before them is in parentheses and may hold spaces).
fn user_sys_ticks(stat: &str) -> Option<(u64, u64)> {
    let f: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some((f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?))
}

/// `ip netns exec NS taskset -c CPUS TOOL ARGS…`: ip and taskset exec, so the child is the
/// tool itself (its pid gets the SIGINT, its rusage is the tool's).
fn command(ctx: &Ctx<'_>, tool: &Tool, a: &ToolArgs<'_>) -> Command {
    let cpus = format_cpu_list(&ctx.plan.cap_cpus);
    let args = (tool.args)(a);
    let mut cmd = ctx.net.command("taskset");
    // `ringcap flows` is the bench's own binary.
    let program = if tool.name == "ringcap" {
        ctx.settings.generator.to_string_lossy().into_owned()
    } else {
        tool.name.to_string()
    };
    cmd.args(["-c", &cpus, &program]).args(args);
    cmd
}

/// Whether the child has a packet socket of its own bound and running on the capture end: one
/// of the sockets its file descriptors name (`socket:[inode]`) among the namespace's packet
/// sockets. Its own, not a count of them, so a socket of an earlier run still being closed
/// can neither hide nor stand in for it.
fn own_socket_running(ctx: &Ctx<'_>, pid: u32, ifindex: u32) -> std::io::Result<bool> {
    let mut inodes = Vec::new();
    // Unreadable when it has just exited: the caller's wait says so next.
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Ok(false);
    };
    for fd in fds.flatten() {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue; // closed meanwhile
        };
        if let Some(inode) = socket_inode(&target.to_string_lossy()) {
            inodes.push(inode);
        }
    }
    if inodes.is_empty() {
        return Ok(false);
    }
    Ok(ctx
        .net
        .packet_sockets()
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .iter()
        .any(|s| s.running && s.ifindex == ifindex && inodes.contains(&s.inode)))
}

/// The inode of a `/proc/PID/fd` link to a socket (`socket:[500316]`).
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Whether an XDP program is attached to the capture end (`ip link` shows `prog/xdp`).
fn xdp_attached(ctx: &Ctx<'_>) -> std::io::Result<bool> {
    let link = ctx
        .net
        .ip(&["-d", "link", "show", ctx.net.capture_if()])
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(link.contains("prog/xdp"))
}

/// Waits until the tool is capturing: its packet socket bound to the capture end, or (xdpdump)
/// its XDP program attached to it; from then on the kernel hands it the traffic. Fails if it
/// exits first or takes too long.
fn wait_capturing(
    ctx: &Ctx<'_>,
    tool: &Tool,
    child: &mut Child,
    ifindex: u32,
) -> Result<(), Failure> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                return Err(
                    Failure::new(format!("exited ({st}) before it was capturing"))
                        .with_stderr(&child.stderr()),
                )
            }
            Ok(None) => {}
            Err(e) => return Err(Failure::new(format!("cannot wait for it: {e}"))),
        }
        let ready = match tool.ready {
            Ready::PacketSocket => own_socket_running(ctx, child.id(), ifindex),
            Ready::XdpProgram => xdp_attached(ctx),
            Ready::Started => Ok(true),
        };
        match ready {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => return Err(Failure::new(format!("cannot see its capture: {e}"))),
        }
        if start.elapsed() > READY_TIMEOUT {
            let what = match tool.ready {
                Ready::PacketSocket | Ready::Started => "no packet socket of its own bound to",
                Ready::XdpProgram => "no XDP program attached to",
            };
            return Err(Failure::new(format!(
                "not capturing after {} s ({what} {})",
                READY_TIMEOUT.as_secs(),
                ctx.net.capture_if()
            ))
            .with_stderr(&child.stderr()));
        }
        if ctx.stop.is_stopped() {
            return Err(Failure::new("interrupted"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Why the way a tool ended fails its run: SIGINT is its normal end, so anything but a clean
/// exit is a failure.
fn exit_failure(e: Ended) -> Option<String> {
    if e.killed {
        return Some(format!(
            "did not stop within {} s of SIGINT and was killed",
            STOP_GRACE.as_secs()
        ));
    }
    (!e.status.success()).then(|| format!("exited with an error ({})", e.status))
}

/// Counts the packets of the file a tool wrote (a tool stopped mid-write may leave a partial
/// last record: every whole one counts).
fn count_packets(path: &Path) -> std::io::Result<u64> {
    let f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut r = ringcap_pcap::Reader::new(f).map_err(std::io::Error::other)?;
    let mut n = 0u64;
    while let Ok(Some(_)) = r.next_record() {
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_up_cpu_from_proc_stat() {
        let line = "1234 (ringcap w (x)) S 77 1234 1234 0 -1 4194560 100 0 0 0 15 7 3 2 20";
        assert_eq!(user_sys_ticks(line), Some((15, 7)));
        assert_eq!(user_sys_ticks("1234 (x"), None);
        // This process has run a little.
        let (u, s) = start_up_cpu(std::process::id());
        assert_eq!((u + s) % NS_PER_TICK, 0);
        assert_eq!(start_up_cpu(u32::MAX), (0, 0));
    }

    #[test]
    fn socket_links_name_their_inode() {
        assert_eq!(socket_inode("socket:[500316]"), Some(500316));
        assert_eq!(socket_inode("pipe:[500316]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("socket:[]"), None);
    }

    /// This process's own sockets are found through its fd links, as a tool's are.
    #[test]
    fn a_process_socket_is_found_by_its_inode() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let me = std::process::id();
        let mut found = false;
        for fd in std::fs::read_dir(format!("/proc/{me}/fd"))
            .unwrap()
            .flatten()
        {
            if let Ok(t) = std::fs::read_link(fd.path()) {
                found |= socket_inode(&t.to_string_lossy()).is_some();
            }
        }
        assert!(found, "no socket:[inode] link among this process's fds");
        drop(sock);
    }
}
