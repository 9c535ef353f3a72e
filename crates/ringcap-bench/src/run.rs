//! One measured run of one contender, and the checks that decide whether it counts.
//!
//! A run is either good (its counts reconcile with what the interface saw) or FAILED: the
//! contender did not start, exited with an error, or captured nothing of a load that was
//! offered. A failed run is never a row that "adds up", and it is kept (with why, and the last
//! lines the tool wrote on standard error) so the table can say what happened.

use serde::Serialize;

/// Which side of a comparison a row is on: ratios pair every ringcap row with every compared
/// tool's row, round by round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Ringcap,
    Compared,
    /// A control that does nothing (`--compare sleep`): the zero of the marginal CPU, in no
    /// ratio.
    Control,
}

/// What one run counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Frames the capture end's interface received during the run.
    pub seen: u64,
    /// Frames the capture end's interface dropped before any socket (rx_dropped).
    pub if_drops: u64,
    pub captured: u64,
    pub drops: u64,
    /// How long traffic flowed (the generator's own sending time).
    pub secs: f64,
    pub cpu_user_ns: u64,
    pub cpu_sys_ns: u64,
    /// Capture buffer memory (ringcap's rings, or the buffer a tool was given); 0 = not known.
    pub ring_bytes: u64,
    /// Frames the generator says it sent (None: it did not say).
    pub sent: Option<u64>,
    /// `--write` runs of ringcap: what its output threads did (their CPU is also in
    /// `cpu_user_ns`/`cpu_sys_ns`).
    pub output: Option<Written>,
    /// `--flows`: the machine's busy time the tool added over the round's baseline
    /// ([`crate::busy`]); `cpu_user_ns`/`cpu_sys_ns` are its rusage, which on this kind of
    /// kernel also holds softirq work billed to it by chance.
    pub marginal: Option<crate::busy::Marginal>,
    /// `--flows`: what the run cost the machine before any baseline is taken out.
    pub window: Option<crate::busy::Window>,
}

/// What ringcap's output threads (writers, merger) did in one `--write` run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Packets that reached the files (the run's captured count).
    pub packets: u64,
    /// Packets the workers took but the output did not write (writer behind, write errors).
    pub not_written: u64,
    pub cpu_user_ns: u64,
    pub cpu_sys_ns: u64,
    /// The O_DIRECT I/O threads' share of that CPU (user + system).
    pub cpu_io_ns: u64,
    /// Bytes handed to the files and bytes the files took (they differ when compressing).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// `--replay` with `--compress`: the `zstd` tool over the same bytes, for comparison.
    pub zstd_cli: Option<ZstdCli>,
}

/// What the `zstd` tool made of the bytes ringcap compressed (see [`crate::replay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZstdCli {
    pub level: i32,
    /// Its compressed size.
    pub bytes: u64,
}

impl Written {
    /// The output threads' CPU per packet written.
    pub fn cpu_per_pkt(&self) -> Option<f64> {
        (self.packets > 0)
            .then(|| (self.cpu_user_ns + self.cpu_sys_ns) as f64 / self.packets as f64)
    }

    /// How much smaller the files are than what they hold (1.0 uncompressed).
    pub fn ratio(&self) -> Option<f64> {
        (self.bytes_out > 0).then(|| self.bytes_in as f64 / self.bytes_out as f64)
    }

    /// The `zstd` tool's ratio over the same bytes.
    pub fn zstd_cli_ratio(&self) -> Option<f64> {
        let z = self.zstd_cli?;
        (z.bytes > 0).then(|| self.bytes_in as f64 / z.bytes as f64)
    }
}

impl Counts {
    /// Frames offered to the capture: what the interface received plus what it dropped before
    /// any socket could see it.
    pub fn offered(&self) -> u64 {
        self.seen + self.if_drops
    }

    pub fn offered_pps(&self) -> f64 {
        self.offered() as f64 / self.secs.max(1e-9)
    }

    pub fn captured_pps(&self) -> f64 {
        self.captured as f64 / self.secs.max(1e-9)
    }

    /// Dropped anywhere (by the socket or before it), as a share of what was offered.
    pub fn drop_pct(&self) -> f64 {
        if self.offered() == 0 {
            return 0.0;
        }
        100.0 * (self.drops.min(self.seen) + self.if_drops) as f64 / self.offered() as f64
    }

    pub fn captured_pct(&self) -> f64 {
        if self.offered() == 0 {
            return 0.0;
        }
        100.0 * self.captured as f64 / self.offered() as f64
    }

    /// CPU nanoseconds per captured packet: None when nothing was captured.
    pub fn ns_per_pkt(&self, ns: u64) -> Option<f64> {
        (self.captured > 0).then(|| ns as f64 / self.captured as f64)
    }

    pub fn cpu_ns(&self) -> u64 {
        self.cpu_user_ns + self.cpu_sys_ns
    }

    /// User + system CPU per captured packet.
    pub fn cpu_per_pkt(&self) -> Option<f64> {
        self.ns_per_pkt(self.cpu_ns())
    }

    /// User + system CPU per offered packet: what the load as a whole cost, so a contender
    /// that drops most of it does not look cheap by dividing by what it kept.
    pub fn cpu_per_offered(&self) -> Option<f64> {
        (self.offered() > 0).then(|| self.cpu_ns() as f64 / self.offered() as f64)
    }

    /// Marginal CPU ([`crate::busy`]) per captured packet (for an exporter: per packet in its
    /// decoded records).
    pub fn marginal_per_pkt(&self) -> Option<f64> {
        let m = self.marginal?;
        (self.captured > 0).then(|| m.ns / self.captured as f64)
    }

    /// Marginal CPU per offered packet.
    pub fn marginal_per_offered(&self) -> Option<f64> {
        let m = self.marginal?;
        (self.offered() > 0).then(|| m.ns / self.offered() as f64)
    }
}

/// Why a run failed, with the tool's own last words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub why: String,
    /// The last lines it wrote on standard error (empty for ringcap's own modes).
    pub stderr_tail: Vec<String>,
}

impl Failure {
    pub fn new(why: impl Into<String>) -> Failure {
        Failure {
            why: why.into(),
            stderr_tail: Vec::new(),
        }
    }

    pub fn with_stderr(mut self, stderr: &str) -> Failure {
        self.stderr_tail = tail(stderr, 5);
        self
    }
}

/// One contender's result in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The row's label (`ring x2`, `tcpdump -w /dev/null`, ...).
    pub name: String,
    pub side: Side,
    /// 0-based round.
    pub round: usize,
    pub counts: Counts,
    /// Whether the counts reconcile with what the interface saw (see [`ringcap_reconciles`],
    /// [`tool_reconciles`]).
    pub reconciles: bool,
    /// Frames the interface received that no socket counted (another listener, a stray frame).
    pub background: u64,
    /// The `xdp+filter` rows: what the filter left to the host's stack, and the stack's count.
    pub host: Option<crate::host_stack::HostStack>,
    pub failure: Option<Failure>,
}

impl Run {
    /// A run that failed before it counted anything.
    pub fn failed(name: String, side: Side, round: usize, failure: Failure) -> Run {
        Run {
            name,
            side,
            round,
            counts: Counts::default(),
            reconciles: false,
            background: 0,
            host: None,
            failure: Some(failure),
        }
    }

    /// A good run whose counts reconcile: never true of a failed run.
    pub fn adds_up(&self) -> bool {
        self.failure.is_none() && self.reconciles
    }

    pub fn is_failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Marks the run failed if it measured nothing: no traffic reached the capture end, or
    /// the capture took none of it (keeps an earlier, more specific failure).
    pub fn judge(mut self) -> Run {
        if self.failure.is_none() {
            self.failure = measured_nothing(&self.counts);
        }
        self
    }
}

/// Why a run with these counts measured nothing, if it did not.
pub fn measured_nothing(c: &Counts) -> Option<Failure> {
    if c.offered() == 0 {
        return Some(Failure::new(match c.sent {
            Some(0) => "no traffic: the generator sent nothing".to_string(),
            Some(n) => format!("none of the {n} frames sent reached the capture interface"),
            None => "no traffic reached the capture interface".to_string(),
        }));
    }
    (c.captured == 0).then(|| {
        Failure::new(format!(
            "captured nothing of {} frames offered ({:.3} Mpps)",
            c.offered(),
            c.offered_pps() / 1e6
        ))
    })
}

/// How many frames a ringcap run may see that its sockets did not count (e.g. a frame the
/// kernel sent on its own) before the run no longer adds up.
pub const BACKGROUND_TOLERANCE: u64 = 10;

/// A ringcap run adds up when its own report reconciles (kernel = received + dropped + ...),
/// its sockets saw no more than the interface received, and the interface received no more
/// than a few frames beyond that.
pub fn ringcap_reconciles(report_reconciles: bool, kernel_packets: u64, seen: u64) -> bool {
    report_reconciles && kernel_packets <= seen && seen - kernel_packets <= BACKGROUND_TOLERANCE
}

/// A compared tool adds up when what it captured and what it says was dropped are no more
/// than what the interface received (tools count less precisely than the engine).
pub fn tool_reconciles(captured: u64, drops: u64, seen: u64) -> bool {
    captured.saturating_add(drops) <= seen
}

/// The last `n` non-empty lines of `text`, each trimmed.
pub fn tail(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(seen: u64, if_drops: u64, captured: u64, drops: u64) -> Counts {
        Counts {
            seen,
            if_drops,
            captured,
            drops,
            secs: 2.0,
            cpu_user_ns: 1000,
            cpu_sys_ns: 3000,
            ring_bytes: 0,
            sent: Some(seen + if_drops),
            output: None,
            marginal: None,
            window: None,
        }
    }

    #[test]
    fn rates_and_shares_of_what_was_offered() {
        let c = counts(900, 100, 600, 300);
        assert_eq!(c.offered(), 1000);
        assert_eq!(c.offered_pps(), 500.0);
        assert_eq!(c.captured_pps(), 300.0);
        assert_eq!(c.captured_pct(), 60.0);
        // Socket drops (300) and interface drops (100) of 1000 offered.
        assert_eq!(c.drop_pct(), 40.0);
        assert_eq!(c.cpu_per_pkt(), Some(4000.0 / 600.0));
        assert_eq!(c.cpu_per_offered(), Some(4.0));
        let none = counts(0, 0, 0, 0);
        assert_eq!((none.drop_pct(), none.captured_pct()), (0.0, 0.0));
        assert_eq!(none.cpu_per_pkt(), None);
        assert_eq!(none.cpu_per_offered(), None);
    }

    #[test]
    fn capturing_nothing_of_an_offered_load_is_a_failure() {
        let run = |c: Counts| Run {
            name: "netsniff-ng -w tmpfs".into(),
            side: Side::Compared,
            round: 0,
            counts: c,
            reconciles: true,
            background: 0,
            host: None,
            failure: None,
        };
        // The case from the field: 0 of 0.019 Mpps, 100 % drops, and it "added up".
        let r = run(counts(57_000, 0, 0, 57_000)).judge();
        assert!(r.is_failed() && !r.adds_up());
        let why = &r.failure.as_ref().unwrap().why;
        assert!(
            why.starts_with("captured nothing of 57000 frames offered"),
            "{why}"
        );
        // Nothing offered: nothing measured, and the row says why.
        let why = |c: Counts| run(c).judge().failure.unwrap().why;
        assert_eq!(
            why(counts(0, 0, 0, 0)),
            "no traffic: the generator sent nothing"
        );
        let mut lost = counts(0, 0, 0, 0);
        lost.sent = Some(500);
        assert_eq!(
            why(lost),
            "none of the 500 frames sent reached the capture interface"
        );
        // A partial capture is a result, not a failure.
        assert!(run(counts(57_000, 0, 1, 56_999)).judge().adds_up());
        // An earlier failure is kept.
        let mut r = run(counts(57_000, 0, 0, 0));
        r.failure = Some(Failure::new("exited with status 1"));
        assert_eq!(r.judge().failure.unwrap().why, "exited with status 1");
    }

    #[test]
    fn reconciliation_checks() {
        assert!(ringcap_reconciles(true, 1000, 1000));
        assert!(ringcap_reconciles(true, 1000, 1010));
        assert!(!ringcap_reconciles(true, 1000, 1011), "too much background");
        assert!(
            !ringcap_reconciles(true, 1001, 1000),
            "sockets saw more than the link"
        );
        assert!(!ringcap_reconciles(false, 1000, 1000));
        assert!(tool_reconciles(600, 400, 1000));
        assert!(!tool_reconciles(600, 401, 1000));
        assert!(!tool_reconciles(u64::MAX, 1, 1000));
    }

    #[test]
    fn stderr_tails() {
        let t = tail("a\n\n  b \nc\nd\ne\nf\n", 5);
        assert_eq!(t, ["b", "c", "d", "e", "f"]);
        assert_eq!(tail("", 5), Vec::<String>::new());
        let f = Failure::new("x").with_stderr("tcpdump: /x: No such file or directory\n");
        assert_eq!(f.stderr_tail, ["tcpdump: /x: No such file or directory"]);
    }
}
