//! `ringcap capture`'s flags, with tcpdump's meaning where tcpdump has them, and the engine
//! [`Config`] they make (with a sentence on what was chosen by default and why).

use std::time::Duration;

use anyhow::{bail, Context};
use ringcap::config::{parse_cpu_list, Geometry, XdpOptions, DEFAULT_MAX_MEMORY, DEFAULT_SNAPLEN};
use ringcap::sizing::{buffer_geometry, Budget, WorkerChoice, MAX_RING};
use ringcap::stats::human_bytes;
use ringcap::{Config, Direction, Fanout, FanoutMode, LinkLayer, Mode};

use crate::expr::FilterArgs;
use crate::util::parse_size;

#[derive(clap::Args)]
#[command(after_help = "\
Receive paths (--mode, --threads):
  recv, 1 thread    one AF_PACKET socket, one recvmsg per packet (the baseline)
  recv, N threads   N sockets in one PACKET_FANOUT group
  ring, 1 thread    a TPACKET_V3 mmap ring, poll only when no block is ready
  ring, N threads   a ring per worker in one fanout group (the default)
  xdp               AF_XDP, one socket per RX queue; frames it takes NO LONGER REACH the
                    host's network stack (right for a mirror port, wrong for a host's own traffic);
                    with a filter, it runs in the XDP program and only matching frames are
                    taken: the others stay with the host (--xdp-filter user: all are taken)

Defaults that fit the machine: one worker per RX queue of the interface (or per CPU its RPS
spreads to), at most one per CPU; rings share a budget of the lesser of 1 GiB and 1/64 of the
RAM, at most 64 MiB each; the start line says what was chosen and why. --threads, --blocks,
--block-size and -B override. The 4 ms block timeout lets a lone packet show within ~10 ms at
low rates. Counts add up at the end: kernel-counted = received + past -c + dropped.

Output: one line per packet in time order (without -w), or -w FILE (one file in time order;
--per-worker-files for one per worker), or -q for counts only. Writing is done by writer
threads, with O_DIRECT where the file system takes it; a packet the output cannot keep up with
is counted as not written, never waited for.

tcpdump's flags keep their meaning: -i any (every interface, cooked LINUX_SLL2), -D, -L, -y,
-p, -B KiB, -Q in|out|inout, -F FILE, -Z USER, -s 0; options may follow the expression.

Examples:
  ringcap capture -i eth0                       one line per packet, a summary at the end
  ringcap capture -i eth0 -q --stats            counts only, statistics every second
  ringcap capture -i eth0 -w out.pcap --compress zstd
  ringcap capture -i any -w all.pcap udp port 53 -c 100
  ringcap capture -D                            the interfaces, as tcpdump -D
  ringcap capture -i eth0 -Q in -Z nobody -w /var/tmp/in.pcap
  ringcap capture -i eth0 -c 1000 --mode recv --threads 1
  ringcap capture -i eth0 --fanout hash --cpus 2-5 -q --stats json")]
pub struct Args {
    /// Interface to capture on: a name, a number from -D, or `any` for every interface.
    #[arg(short = 'i', long = "interface", value_name = "IFACE",
          required_unless_present_any = ["list_interfaces"])]
    pub iface: Option<String>,
    /// List the interfaces a capture can use, with their state (as tcpdump -D), and exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,
    /// List the data link types of the -i interface (as tcpdump -L), and exit.
    #[arg(short = 'L', long = "list-data-link-types")]
    pub list_link_types: bool,
    /// Data link type: EN10MB, or LINUX_SLL2 (the default) or LINUX_SLL with -i any.
    #[arg(short = 'y', long = "linktype", value_name = "TYPE")]
    pub link_type: Option<String>,
    /// Stop after exactly COUNT packets in total (across workers).
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after SECS seconds (fractions allowed).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Bytes to keep of each packet, at most 262144; 0 means 262144, as in tcpdump (the
    /// original length is kept too).
    #[arg(short = 's', long = "snaplen", alias = "snapshot-length", value_name = "BYTES",
          value_parser = parse_snaplen, default_value = "262144")]
    pub snaplen: u32,
    /// Receive path: recv, ring or xdp.
    #[arg(long, default_value = "ring")]
    pub mode: Mode,
    /// Worker threads (default: one per RX queue of the interface, at most one per CPU).
    #[arg(long)]
    pub threads: Option<usize>,
    /// CPUs to pin workers to, e.g. 0-3,8: worker i on the i-th CPU of the list, wrapping
    /// (default: the CPUs this process may use).
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Do not pin workers to CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Fanout mode: hash, lb, cpu, rnd, rollover, qm (default: cpu when every CPU has a
    /// worker, else hash).
    #[arg(long, value_parser = parse_fanout_mode)]
    pub fanout: Option<FanoutMode>,
    /// Fanout flags, comma separated: defrag, rollover.
    #[arg(long, value_name = "FLAGS")]
    pub fanout_flags: Option<String>,
    /// Fanout group id (default: a free id chosen by the kernel).
    #[arg(long, value_name = "ID")]
    pub fanout_group: Option<u16>,
    /// Ring block size in bytes (suffixes K, M): a power-of-two multiple of the page size
    /// (default: from the memory budget; 1M with --blocks).
    #[arg(long, value_parser = parse_size_u32)]
    pub block_size: Option<u32>,
    /// Ring blocks per worker (default: from the memory budget; 64 with --block-size).
    #[arg(long)]
    pub blocks: Option<u32>,
    /// Each worker's capture buffer in KiB, as tcpdump -B: its ring (rounded up to whole
    /// blocks), or its socket's receive buffer with --mode recv.
    #[arg(short = 'B', long = "buffer-size", value_name = "KiB")]
    pub buffer_kib: Option<u64>,
    /// Ring frame size: a multiple of 16, at most the block size.
    #[arg(long, value_parser = parse_size_u32, default_value = "2048")]
    pub frame_size: u32,
    /// Hand a partly filled block to ringcap after this many milliseconds (latency at low rates).
    #[arg(long, default_value_t = 4)]
    pub block_timeout_ms: u32,
    /// Under heavy traffic (a quarter block or more per wake-up), wait up to this long before
    /// polling again so one wake-up takes several blocks; never long enough to fill a quarter of
    /// the ring. Light traffic is not delayed. 0: poll right away.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub coalesce_ms: u64,
    /// Refuse rings above this total size (suffixes K, M, G, T); default rings stay below it.
    #[arg(long, value_parser = parse_size, default_value_t = DEFAULT_MAX_MEMORY)]
    pub max_memory: u64,
    /// Do not put the interface in promiscuous mode.
    #[arg(short = 'p', long = "no-promisc", alias = "no-promiscuous-mode")]
    pub no_promisc: bool,
    /// Capture only packets going this way: in, out or inout (as tcpdump -Q).
    #[arg(short = 'Q', long = "direction", value_name = "DIR")]
    pub direction: Option<Direction>,
    /// Once the sockets are open, become USER (its groups, group and user id) before any
    /// packet is taken or file created, as tcpdump -Z: -w files then belong to USER and must
    /// be in a directory it may write.
    #[arg(short = 'Z', long = "relinquish-privileges", value_name = "USER")]
    pub user: Option<String>,
    /// Count only: no packet lines, no output pipeline (the fastest way to measure); with -w,
    /// no start line.
    #[arg(short = 'q', long = "count-only")]
    pub quiet: bool,
    /// Statistics every second on standard error: text (the default) or json (on standard
    /// output when it carries no packets).
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "text",
          value_parser = ["text", "json"])]
    pub stats: Option<String>,
    /// Packet lines: flush after every line (also when standard output is not a terminal).
    #[arg(short = 'l')]
    pub line_buffered: bool,
    /// AF_XDP attach mode: native or generic (default: native, falling back to generic).
    #[arg(long, value_parser = ["native", "generic"])]
    pub xdp_mode: Option<String>,
    /// AF_XDP zero-copy (drivers that support it).
    #[arg(long)]
    pub zero_copy: bool,
    /// AF_XDP busy polling (SO_PREFER_BUSY_POLL, SO_BUSY_POLL).
    #[arg(long)]
    pub busy_poll: bool,
    /// Where the filter runs in xdp mode: kernel (in the XDP program; what does not match stays
    /// with the host's stack) or user (every frame is taken, then filtered in user space).
    #[arg(long, default_value = "kernel", value_parser = ["kernel", "user"])]
    pub xdp_filter: String,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
    #[command(flatten)]
    pub decode: crate::read::DecodeArgs,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
}

fn parse_fanout_mode(s: &str) -> Result<FanoutMode, String> {
    s.parse()
}

fn parse_size_u32(s: &str) -> Result<u32, String> {
    let v = parse_size(s)?;
    u32::try_from(v).map_err(|_| format!("{s} is too large (at most 4G-1)"))
}

/// tcpdump's `-s`: 0 to 262144, where 0 means 262144.
fn parse_snaplen(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(0) => Ok(DEFAULT_SNAPLEN),
        Ok(n) if n <= DEFAULT_SNAPLEN => Ok(n),
        _ => Err(format!(
            "invalid snaplen {s} (must be >= 0 and <= {DEFAULT_SNAPLEN})"
        )),
    }
}

/// Why the capture has the workers and rings it has: the end of the start line.
#[derive(Debug, Clone, Default)]
pub struct Why {
    pub workers: String,
    pub ring: String,
}

impl Args {
    /// The interface: as given, or the N-th entry of `-D`'s list when given as a number that
    /// names no interface (as tcpdump).
    pub fn interface(&self) -> anyhow::Result<String> {
        let Some(name) = &self.iface else {
            bail!("-i IFACE is needed (-D lists the interfaces)");
        };
        if let Ok(n) = name.parse::<usize>() {
            if ringcap_netinfo::check_interface(name).is_err() {
                let list = ringcap_netinfo::devices::list();
                return match n.checked_sub(1).and_then(|i| list.get(i)) {
                    Some(d) => Ok(d.name.clone()),
                    None => bail!(
                        "-i {n}: -D lists {} interfaces (1 to {})",
                        list.len(),
                        list.len()
                    ),
                };
            }
        }
        Ok(name.clone())
    }

    /// The engine's configuration, and why it has the workers and rings it has.
    pub fn config(&self) -> anyhow::Result<(Config, Why)> {
        let iface = self.interface()?;
        let mut cfg = Config::new(&iface);
        let mut why = Why::default();
        cfg.mode = self.mode;
        cfg.cpus = match &self.cpus {
            Some(list) => Some(parse_cpu_list(list).map_err(anyhow::Error::msg)?),
            None => None,
        };
        match (self.threads, &cfg.cpus) {
            (Some(t), _) => {
                cfg.workers = t;
                why.workers = "by --threads".into();
            }
            (None, Some(list)) => {
                cfg.workers = list.len();
                why.workers = "by --cpus".into();
            }
            (None, None) => {
                why.workers = format!("for {}", WorkerChoice::for_interface(&iface));
            }
        }
        cfg.pin = !self.no_pin;
        cfg.fanout = self.fanout_config(cfg.workers)?;
        self.ring(&mut cfg, &mut why)?;
        if let Some(y) = &self.link_type {
            cfg.link = LinkLayer::from_name(y).with_context(|| {
                format!("-y {y}: unknown data link type (EN10MB, LINUX_SLL, LINUX_SLL2; -L lists those of the interface)")
            })?;
        }
        cfg.direction = self.direction.unwrap_or_default();
        cfg.promisc = !self.no_promisc;
        cfg.snaplen = self.snaplen;
        cfg.max_memory = self.max_memory;
        if self.coalesce_ms > 1000 {
            bail!("--coalesce-ms {} is above 1000", self.coalesce_ms);
        }
        cfg.coalesce = Duration::from_millis(self.coalesce_ms);
        cfg.count = self.count;
        cfg.duration = self
            .duration
            .map(|d| crate::util::seconds_arg("--duration", d))
            .transpose()?;
        cfg.xdp = XdpOptions {
            native: self.xdp_mode.as_deref().map(|m| m == "native"),
            zero_copy: self.zero_copy,
            busy_poll: self.busy_poll,
            user_filter: self.xdp_filter == "user",
        };
        if self.user.is_some() && self.mode == Mode::Xdp {
            bail!(
                "-Z cannot be used with --mode xdp: removing the XDP program at the end needs root"
            );
        }
        let expr = self.filter.expression()?;
        if !expr.is_empty() {
            cfg.filter = Some(compile_for(&expr, cfg.snaplen, cfg.mode, cfg.link)?);
        }
        Ok((cfg, why))
    }

    fn fanout_config(&self, workers: usize) -> anyhow::Result<Fanout> {
        let mode = match self.fanout {
            Some(m) => m,
            None => {
                let cpus = ringcap::process::allowed_cpus()
                    .map(|c| c.len())
                    .unwrap_or_else(|_| ringcap::process::online_cpus());
                WorkerChoice::choose(cpus, Some(workers), 0).fanout_mode()
            }
        };
        let mut fanout = Fanout {
            mode,
            group: self.fanout_group,
            ..Default::default()
        };
        if let Some(flags) = &self.fanout_flags {
            for f in flags.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                match f {
                    "defrag" => fanout.defrag = true,
                    "rollover" => fanout.rollover = true,
                    _ => bail!("unknown fanout flag {f:?} (defrag, rollover)"),
                }
            }
        }
        if fanout.rollover && fanout.mode == FanoutMode::Rollover {
            bail!("--fanout-flags rollover cannot be combined with --fanout rollover");
        }
        Ok(fanout)
    }

    /// The ring: `-B`, `--blocks`/`--block-size`, or a share of the budget (sized at open).
    fn ring(&self, cfg: &mut Config, why: &mut Why) -> anyhow::Result<()> {
        let base = Geometry {
            frame_size: self.frame_size,
            block_timeout_ms: self.block_timeout_ms,
            ..Geometry::default()
        };
        let explicit = self.block_size.is_some() || self.blocks.is_some();
        cfg.geometry = base;
        match self.buffer_kib {
            Some(_) if explicit => {
                bail!("-B sets the ring size: give -B or --blocks/--block-size, not both")
            }
            Some(0) => bail!("invalid packet buffer size 0 (-B takes KiB, at least 1)"),
            Some(kib) => {
                let bytes = kib
                    .checked_mul(1024)
                    .filter(|b| *b <= u32::MAX as u64 * base.block_size as u64)
                    .with_context(|| format!("-B {kib}: too large"))?;
                cfg.ring_budget = None;
                if self.mode == Mode::Recv {
                    cfg.recv_buffer = Some(bytes.min(i32::MAX as u64) as u32);
                    why.ring = format!("receive buffer by -B {kib}");
                } else {
                    cfg.geometry = buffer_geometry(bytes, &base);
                    why.ring = format!("ring by -B {kib}, rounded up to whole blocks");
                }
            }
            None if explicit => {
                cfg.ring_budget = None;
                cfg.geometry.block_size = self.block_size.unwrap_or(1 << 20);
                cfg.geometry.blocks = self.blocks.unwrap_or(64);
                why.ring = "ring by --blocks/--block-size".into();
            }
            None => {
                let budget = Budget::host();
                let from = if budget.bytes > self.max_memory {
                    format!("--max-memory {}", human_bytes(self.max_memory))
                } else {
                    format!("a budget of {budget}")
                };
                why.ring = format!("rings from {from}, at most {} each", human_bytes(MAX_RING));
            }
        }
        Ok(())
    }
}

/// Compiles the expression for a live Linux socket (VLAN and direction from the kernel), or for
/// AF_XDP's user-space run over the frame's own bytes; Ethernet.
pub(crate) fn compile_live(
    expr: &str,
    snaplen: u32,
    mode: Mode,
) -> anyhow::Result<ringcap_filter::Program> {
    compile_for(expr, snaplen, mode, LinkLayer::Ethernet)
}

/// Compiles the expression for the capture's link type: Ethernet, or the LINUX_SLL/LINUX_SLL2
/// header of a cooked capture (which the engine then fits to the cooked socket, as libpcap).
pub(crate) fn compile_for(
    expr: &str,
    snaplen: u32,
    mode: Mode,
    link: LinkLayer,
) -> anyhow::Result<ringcap_filter::Program> {
    let target = if mode == Mode::Xdp {
        ringcap_filter::Target::File
    } else {
        ringcap_filter::Target::LinuxLive
    };
    let lt = match link {
        LinkLayer::Ethernet => ringcap_filter::LinkType::Ethernet,
        LinkLayer::LinuxSll => ringcap_filter::LinkType::LinuxSll,
        LinkLayer::LinuxSll2 => ringcap_filter::LinkType::LinuxSll2,
    };
    crate::compile::filter(expr, lt, snaplen, target, true)
        .map_err(|e| crate::compile::filter_error(expr, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snaplen_zero_is_the_maximum() {
        assert_eq!(parse_snaplen("0"), Ok(262_144));
        assert_eq!(parse_snaplen("96"), Ok(96));
        assert!(parse_snaplen("262145").unwrap_err().contains("<= 262144"));
        assert!(parse_snaplen("-1").is_err());
    }
}
