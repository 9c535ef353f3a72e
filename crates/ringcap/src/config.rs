//! What a capture is asked to do, validated before any socket is opened.

use std::time::Duration;

use ringcap_sys::packet as pk;

use crate::{Error, Result};

mod link;
pub use link::{Direction, LinkLayer, ANY};

/// The receive path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One `recvmsg` per packet: the copying baseline.
    Recv,
    /// A TPACKET_V3 mmap ring per worker: no copy, one `poll` per block at most.
    Ring,
    /// AF_XDP sockets, one per RX queue (see [`crate::xdp`]).
    Xdp,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "recv" => Ok(Mode::Recv),
            "ring" => Ok(Mode::Ring),
            "xdp" => Ok(Mode::Xdp),
            _ => Err(format!("unknown mode {s:?} (recv, ring, xdp)")),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Recv => "recv",
            Mode::Ring => "ring",
            Mode::Xdp => "xdp",
        })
    }
}

/// How the kernel spreads packets over the workers of one fanout group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutMode {
    /// By flow hash: a flow always lands on one worker.
    Hash,
    /// Round robin.
    Lb,
    /// By the CPU that received the packet (pairs with IRQ/RPS spreading).
    Cpu,
    /// Random.
    Rnd,
    /// Fill one socket, then the next.
    Rollover,
    /// By the NIC's RX queue.
    Qm,
}

impl FanoutMode {
    pub(crate) fn kernel_value(self) -> u16 {
        match self {
            FanoutMode::Hash => pk::PACKET_FANOUT_HASH,
            FanoutMode::Lb => pk::PACKET_FANOUT_LB,
            FanoutMode::Cpu => pk::PACKET_FANOUT_CPU,
            FanoutMode::Rnd => pk::PACKET_FANOUT_RND,
            FanoutMode::Rollover => pk::PACKET_FANOUT_ROLLOVER,
            FanoutMode::Qm => pk::PACKET_FANOUT_QM,
        }
    }
}

impl std::str::FromStr for FanoutMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "hash" => Ok(FanoutMode::Hash),
            "lb" => Ok(FanoutMode::Lb),
            "cpu" => Ok(FanoutMode::Cpu),
            "rnd" => Ok(FanoutMode::Rnd),
            "rollover" => Ok(FanoutMode::Rollover),
            "qm" => Ok(FanoutMode::Qm),
            _ => Err(format!(
                "unsupported fanout mode {s:?} (hash, lb, cpu, rnd, rollover, qm)"
            )),
        }
    }
}

impl std::fmt::Display for FanoutMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FanoutMode::Hash => "hash",
            FanoutMode::Lb => "lb",
            FanoutMode::Cpu => "cpu",
            FanoutMode::Rnd => "rnd",
            FanoutMode::Rollover => "rollover",
            FanoutMode::Qm => "qm",
        })
    }
}

/// Fanout group settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fanout {
    pub mode: FanoutMode,
    /// Reassemble IP fragments before hashing (PACKET_FANOUT_FLAG_DEFRAG).
    pub defrag: bool,
    /// Move packets to another worker when one's ring is full (PACKET_FANOUT_FLAG_ROLLOVER).
    pub rollover: bool,
    /// A fixed group id; `None` lets the kernel pick a free one (PACKET_FANOUT_FLAG_UNIQUEID), so
    /// two captures never join each other's group by accident.
    pub group: Option<u16>,
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout {
            mode: FanoutMode::Cpu,
            defrag: false,
            rollover: false,
            group: None,
        }
    }
}

/// TPACKET_V3 ring geometry.
///
/// Defaults are sized for a busy 10 GbE port: 64 blocks of 1 MiB per worker (64 MiB) hold about
/// half a million minimum-size frames, a quarter of a second of a worker's share of 14.88 Mpps
/// on 8 cores, so a worker can be descheduled briefly without loss. The 4 ms block timeout hands
/// a partly filled block to user space at low rates, so a single ping shows within ~10 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub block_size: u32,
    pub blocks: u32,
    pub frame_size: u32,
    pub block_timeout_ms: u32,
}

impl Default for Geometry {
    fn default() -> Self {
        Geometry {
            block_size: 1 << 20,
            blocks: 64,
            frame_size: 2048,
            block_timeout_ms: 4,
        }
    }
}

impl Geometry {
    /// Bytes of one ring.
    pub fn ring_bytes(&self) -> u64 {
        self.block_size as u64 * self.blocks as u64
    }

    /// Checks what the kernel would refuse with a bare EINVAL, and says why.
    pub fn validate(&self) -> Result<()> {
        let page = ringcap_sys::page_size() as u32;
        if self.block_size < page
            || !self.block_size.is_multiple_of(page)
            || !(self.block_size / page).is_power_of_two()
        {
            return Err(Error::Geometry(format!(
                "--block-size {} must be a power-of-two multiple of the page size ({page})",
                self.block_size
            )));
        }
        if self.blocks == 0 {
            return Err(Error::Geometry("--blocks must be at least 1".into()));
        }
        let align = pk::TPACKET_ALIGNMENT as u32;
        if self.frame_size == 0 || !self.frame_size.is_multiple_of(align) {
            return Err(Error::Geometry(format!(
                "--frame-size {} must be a non-zero multiple of TPACKET_ALIGNMENT ({align})",
                self.frame_size
            )));
        }
        if self.frame_size < 64 + pk::TP3_HDRLEN as u32 {
            return Err(Error::Geometry(format!(
                "--frame-size {} is too small to hold a header and a minimum frame (at least {})",
                self.frame_size,
                64 + pk::TP3_HDRLEN
            )));
        }
        if self.frame_size > self.block_size {
            return Err(Error::Geometry(format!(
                "--frame-size {} is larger than --block-size {}",
                self.frame_size, self.block_size
            )));
        }
        let frames = (self.block_size / self.frame_size) as u64 * self.blocks as u64;
        if frames > u32::MAX as u64 {
            return Err(Error::Geometry(format!(
                "{} blocks of {} frames is more frames than the kernel can count",
                self.blocks,
                self.block_size / self.frame_size
            )));
        }
        if self.block_timeout_ms == 0 {
            return Err(Error::Geometry(
                "--block-timeout-ms must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// AF_XDP attach options (used by [`Mode::Xdp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XdpOptions {
    /// `Some(true)` native (driver) mode, `Some(false)` generic (skb) mode, `None` native with a
    /// fallback to generic.
    pub native: Option<bool>,
    pub zero_copy: bool,
    pub busy_poll: bool,
    /// Run the filter in user space on every frame instead of in the XDP program (which leaves
    /// what does not match to the host's stack): every frame is then redirected, and the host
    /// sees none of them.
    pub user_filter: bool,
}

/// Everything a capture is asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub iface: String,
    pub mode: Mode,
    pub workers: usize,
    /// Worker i runs on `cpus[i]`; default: CPU i.
    pub cpus: Option<Vec<usize>>,
    pub pin: bool,
    pub fanout: Fanout,
    pub geometry: Geometry,
    pub promisc: bool,
    /// What handlers get and files are written as; `any` is always cooked.
    pub link: LinkLayer,
    /// `-Q`: which way the captured packets go.
    pub direction: Direction,
    /// Ring mode: when set, each worker's ring is sized at open from this total (split over
    /// the workers, at most [`crate::sizing::MAX_RING`] each) and `geometry`'s block size and
    /// count are chosen then (its frame size and block timeout are kept). `None`: `geometry`
    /// as given. [`Config::new`] sets it from [`crate::sizing::Budget::host`].
    pub ring_budget: Option<u64>,
    /// Recv mode: the socket's receive buffer in bytes (default [`crate::socket::RECV_BUFFER`]).
    pub recv_buffer: Option<u32>,
    pub snaplen: u32,
    /// A classic BPF program (from `ringcap_filter::compile`), run in the kernel on every
    /// AF_PACKET socket, or in user space on every AF_XDP frame; its accept value should be
    /// the snap length. `None`: everything, truncated to `snaplen`.
    pub filter: Option<ringcap_filter::Program>,
    /// Refuse rings above this many bytes in total.
    pub max_memory: u64,
    /// Stop after exactly this many packets in total.
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub stats_interval: Duration,
    /// Ring mode under heavy traffic: how long a worker may wait before polling again, so one
    /// wake-up takes several blocks (see [`coalesce_sleep`]). Zero: poll right away.
    pub coalesce: Duration,
    pub xdp: XdpOptions,
}

pub const DEFAULT_COALESCE: Duration = Duration::from_millis(20);

/// How long a ring worker waits before polling again, given that `bytes` arrived in its ring
/// over `elapsed` since its previous wait.
///
/// At high rates every wake-up costs a context switch, and on a CPU that also does the receive
/// softirq work (RSS/RPS on the capture CPUs) the softirq runs on top of whatever is current:
/// the fewer and the shorter the times the worker is woken, the less of the kernel's receive
/// work lands on it. Waiting lets blocks accumulate and one wake-up take them all, the way NAPI
/// batches interrupts. Light traffic (less than a quarter block per wait) is never delayed, so a
/// lone packet still shows within the block timeout; the wait never lets more than a quarter of
/// the ring fill at the measured rate, so a burst cannot overrun it.
pub fn coalesce_sleep(
    bytes: u64,
    elapsed: Duration,
    block_size: u32,
    ring_bytes: u64,
    max: Duration,
) -> Duration {
    if max.is_zero() || bytes < u64::from(block_size) / 4 || elapsed.is_zero() {
        return Duration::ZERO;
    }
    let rate = bytes as f64 / elapsed.as_secs_f64();
    let safe = Duration::from_secs_f64((ring_bytes as f64 / 4.0) / rate);
    let s = max.min(safe);
    if s < Duration::from_millis(1) {
        Duration::ZERO
    } else {
        s
    }
}

pub const DEFAULT_SNAPLEN: u32 = 262_144;
pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;

impl Config {
    /// A capture of `iface` with the defaults that suit the machine: workers from its RX
    /// queues and CPUs ([`crate::sizing::WorkerChoice`]), rings from a memory budget
    /// ([`crate::sizing::Budget`]), fanout by CPU when every CPU has a worker and by flow hash
    /// otherwise, cooked LINUX_SLL2 for `any`.
    pub fn new(iface: &str) -> Config {
        let choice = crate::sizing::WorkerChoice::for_interface(iface);
        let fanout = Fanout {
            mode: choice.fanout_mode(),
            ..Default::default()
        };
        Config {
            iface: iface.to_string(),
            mode: Mode::Ring,
            workers: choice.workers,
            cpus: None,
            pin: true,
            fanout,
            geometry: Geometry::default(),
            promisc: true,
            link: if iface == ANY {
                LinkLayer::LinuxSll2
            } else {
                LinkLayer::Ethernet
            },
            direction: Direction::InOut,
            ring_budget: Some(crate::sizing::Budget::host().bytes),
            recv_buffer: None,
            snaplen: DEFAULT_SNAPLEN,
            filter: None,
            max_memory: DEFAULT_MAX_MEMORY,
            count: None,
            duration: None,
            stats_interval: Duration::from_secs(1),
            coalesce: DEFAULT_COALESCE,
            xdp: XdpOptions::default(),
        }
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }
    pub fn cpus(mut self, cpus: Option<Vec<usize>>) -> Self {
        self.cpus = cpus;
        self
    }
    pub fn pin(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }
    pub fn fanout(mut self, fanout: Fanout) -> Self {
        self.fanout = fanout;
        self
    }
    /// A fixed ring geometry (no sizing from [`Config::ring_budget`]).
    pub fn geometry(mut self, g: Geometry) -> Self {
        self.geometry = g;
        self.ring_budget = None;
        self
    }
    pub fn link(mut self, link: LinkLayer) -> Self {
        self.link = link;
        self
    }
    pub fn direction(mut self, d: Direction) -> Self {
        self.direction = d;
        self
    }
    pub fn promisc(mut self, on: bool) -> Self {
        self.promisc = on;
        self
    }
    pub fn snaplen(mut self, n: u32) -> Self {
        self.snaplen = n;
        self
    }
    pub fn filter(mut self, prog: Option<ringcap_filter::Program>) -> Self {
        self.filter = prog;
        self
    }
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }
    pub fn count(mut self, n: Option<u64>) -> Self {
        self.count = n;
        self
    }
    /// See [`Config::coalesce`].
    pub fn coalesce(mut self, max: Duration) -> Self {
        self.coalesce = max;
        self
    }
    pub fn duration(mut self, d: Option<Duration>) -> Self {
        self.duration = d;
        self
    }

    /// The CPU worker `i` is pinned to, if pinning: the i-th CPU of the list, wrapping when
    /// there are more workers than CPUs (without a list, CPU i until [`Capture::open`] puts
    /// the CPUs this process may use in its place).
    ///
    /// [`Capture::open`]: crate::Capture::open
    pub fn cpu_of(&self, i: usize) -> Option<usize> {
        if !self.pin {
            return None;
        }
        Some(match &self.cpus {
            Some(list) if !list.is_empty() => list[i % list.len()],
            _ => i,
        })
    }

    /// What [`Capture::open`](crate::Capture::open) settles before validating: the CPUs to pin
    /// to (those this process may use, when none were given) and, with a ring budget, the
    /// ring of each worker.
    pub fn settle(&mut self) {
        if self.pin && self.cpus.is_none() {
            self.cpus = ringcap_sys::allowed_cpus().ok().filter(|c| !c.is_empty());
        }
        if let Some(budget) = self.ring_budget {
            let total = budget.min(self.max_memory);
            self.geometry = crate::sizing::share_geometry(total, self.workers, &self.geometry);
            self.ring_budget = Some(total);
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.workers == 0 {
            return Err(Error::Config("--threads must be at least 1".into()));
        }
        if self.workers > 1024 {
            return Err(Error::Config(format!(
                "--threads {} is more than 1024",
                self.workers
            )));
        }
        if self.snaplen == 0 {
            return Err(Error::Config("-s must be at least 1".into()));
        }
        if let Some(list) = &self.cpus {
            if list.is_empty() {
                return Err(Error::Config("--cpus is empty".into()));
            }
        }
        self.validate_link()?;
        if self.pin {
            let allowed = ringcap_sys::allowed_cpus().unwrap_or_default();
            for i in 0..self.workers {
                let cpu = self.cpu_of(i).unwrap_or(0);
                if !allowed.is_empty() && !allowed.contains(&cpu) {
                    return Err(Error::Config(format!(
                        "worker {i} would be pinned to CPU {cpu}, which this process may not use (allowed: {}); use --cpus, fewer --threads, or --no-pin",
                        format_cpu_list(&allowed)
                    )));
                }
            }
        }
        if self.mode == Mode::Ring {
            self.geometry.validate()?;
            let total = self.geometry.ring_bytes() * self.workers as u64;
            if total > self.max_memory {
                return Err(Error::TooMuchMemory {
                    total,
                    max: self.max_memory,
                    workers: self.workers,
                    blocks: self.geometry.blocks,
                    block_size: self.geometry.block_size,
                });
            }
        }
        if self.count == Some(0) {
            return Err(Error::Config("-c must be at least 1".into()));
        }
        Ok(())
    }
}

impl Config {
    /// What `-i any`, `-y` and `-Q` can be combined with.
    fn validate_link(&self) -> Result<()> {
        let any = self.iface == ANY;
        if any && !self.link.is_cooked() {
            return Err(Error::Config(format!(
                "-i any captures cooked packets: -y {} is not one of its data link types (LINUX_SLL, LINUX_SLL2)",
                self.link.name()
            )));
        }
        if self.mode == Mode::Xdp {
            if any {
                return Err(Error::Config(
                    "--mode xdp needs a real interface, not any (AF_XDP binds to one device's RX queues)"
                        .into(),
                ));
            }
            if self.link.is_cooked() {
                return Err(Error::Config(format!(
                    "--mode xdp captures Ethernet frames: -y {} needs --mode ring or recv",
                    self.link.name()
                )));
            }
            if self.direction == Direction::Out {
                return Err(Error::Config(
                    "--mode xdp sees received packets only: -Q out needs --mode ring or recv"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// Parses a CPU list such as `0-3,8`.
pub fn parse_cpu_list(s: &str) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("invalid CPU list {s:?} (expected e.g. 0-3,8)");
        if let Some((a, b)) = part.split_once('-') {
            let a: usize = a.trim().parse().map_err(|_| bad())?;
            let b: usize = b.trim().parse().map_err(|_| bad())?;
            if b < a || b - a > 4096 {
                return Err(bad());
            }
            out.extend(a..=b);
        } else {
            out.push(part.parse().map_err(|_| bad())?);
        }
    }
    if out.is_empty() {
        return Err(format!("empty CPU list {s:?}"));
    }
    Ok(out)
}

/// Formats CPUs compactly: `0-3,8`.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8").unwrap(), vec![0, 1, 2, 3, 8]);
        assert_eq!(parse_cpu_list("5").unwrap(), vec![5]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("").is_err());
        assert_eq!(format_cpu_list(&[0, 1, 2, 3, 8]), "0-3,8");
    }

    #[test]
    fn geometry_rules() {
        assert!(Geometry::default().validate().is_ok());
        let bad_block = Geometry {
            block_size: 3 * 4096,
            ..Default::default()
        };
        assert!(bad_block.validate().is_err());
        let bad_frame = Geometry {
            frame_size: 2050,
            ..Default::default()
        };
        assert!(bad_frame.validate().is_err());
        let big_frame = Geometry {
            block_size: 4096,
            frame_size: 8192,
            ..Default::default()
        };
        assert!(big_frame.validate().is_err());
    }

    #[test]
    fn memory_cap() {
        let cfg = Config::new("x").workers(4).pin(false).max_memory(100 << 20);
        match cfg.validate() {
            Err(Error::TooMuchMemory { total, .. }) => assert_eq!(total, 256 << 20),
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod coalesce_tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn light_traffic_is_never_delayed() {
        // A lone ping, or a few kB per block timeout: poll right away.
        assert_eq!(
            coalesce_sleep(0, 4 * MS, 1 << 20, 64 << 20, 20 * MS),
            Duration::ZERO
        );
        assert_eq!(
            coalesce_sleep(100, 4 * MS, 1 << 20, 64 << 20, 20 * MS),
            Duration::ZERO
        );
        assert_eq!(
            coalesce_sleep((1 << 18) - 1, 4 * MS, 1 << 20, 64 << 20, 20 * MS),
            Duration::ZERO
        );
    }

    #[test]
    fn heavy_traffic_waits_up_to_the_maximum() {
        // 1 MiB in 5 ms is 200 MiB/s: a quarter of a 64 MiB ring lasts 80 ms, so the cap rules.
        assert_eq!(
            coalesce_sleep(1 << 20, 5 * MS, 1 << 20, 64 << 20, 20 * MS),
            20 * MS
        );
        assert_eq!(
            coalesce_sleep(1 << 20, 5 * MS, 1 << 20, 64 << 20, Duration::ZERO),
            Duration::ZERO
        );
    }

    #[test]
    fn the_wait_never_fills_more_than_a_quarter_of_the_ring() {
        // 4 MiB in 4 ms is 1 GiB/s; a 8 MiB ring: 2 MiB lasts about 2 ms.
        let s = coalesce_sleep(4 << 20, 4 * MS, 1 << 20, 8 << 20, 20 * MS);
        assert!(s > MS && s <= 2 * MS + MS / 10, "{s:?}");
        // A tiny ring at that rate: less than a millisecond is not worth a sleep.
        assert_eq!(
            coalesce_sleep(4 << 20, 4 * MS, 1 << 20, 2 << 20, 20 * MS),
            Duration::ZERO
        );
    }
}
