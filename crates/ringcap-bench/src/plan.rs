//! Where everything runs, and what runs: the CPU split between the generator and the captures,
//! the receive paths asked for, and the line-up of contenders (ringcap's modes, then the
//! compared tools) every round runs in order.

use ringcap::{Config, Mode};

use crate::tools::Tool;

/// CPUs and threads of the generator and of the captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub gen_cpus: Vec<usize>,
    pub cap_cpus: Vec<usize>,
    pub gen_threads: usize,
    pub threads: usize,
}

impl Plan {
    /// By default the generator gets the first half of the CPUs this process may use (at least
    /// one) and the captures the rest (all of them on a one-CPU machine); explicit lists and
    /// thread counts win. None when no CPU is allowed at all.
    pub fn new(
        allowed: &[usize],
        gen_cpus: Option<Vec<usize>>,
        cap_cpus: Option<Vec<usize>>,
        gen_threads: Option<usize>,
        threads: Option<usize>,
    ) -> Option<Plan> {
        if allowed.is_empty() {
            return None;
        }
        let split = (allowed.len() / 2).max(1);
        let gen_cpus = gen_cpus.unwrap_or_else(|| allowed[..split].to_vec());
        let cap_cpus = cap_cpus.unwrap_or_else(|| {
            if allowed.len() > split {
                allowed[split..].to_vec()
            } else {
                allowed.to_vec()
            }
        });
        Some(Plan {
            gen_threads: gen_threads.unwrap_or(gen_cpus.len()).max(1),
            threads: threads.unwrap_or(cap_cpus.len()).max(1),
            gen_cpus,
            cap_cpus,
        })
    }

    /// The RPS mask that puts the capture end's receive work on the capture CPUs, as spreading
    /// a NIC's queue IRQs does (CPUs above 63 are left out: one 64-bit word).
    pub fn rps_mask(&self) -> u64 {
        self.cap_cpus
            .iter()
            .filter(|&&c| c < 64)
            .fold(0, |m, &c| m | 1u64 << c)
    }
}

/// A receive path as `--modes` names it: one row of the table per round.
///
/// **Adding a mode row** (e.g. AF_XDP with the filter in the kernel) is four steps, all in this
/// file: a variant here; its `--modes` word in [`ModeSpec::ALL`]; its engine mode, worker count
/// and row label in [`ModeSpec::resolve`]; and any engine setting of its own in
/// [`ModeSpec::configure`]. Rows are told apart by label, so give it its own. The runs, the
/// checks, the medians and ratios, the table, the JSON and the chart take it from there. Add
/// its word to `--modes`' help in the CLI (`crates/ringcap-cli/src/bench.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeSpec {
    Recv1,
    RecvN,
    Ring1,
    RingN,
    Xdp,
    /// AF_XDP with a filter matching 1 frame in 64 in the XDP program: the rest go on to the
    /// host's stack ([`crate::host_stack`]).
    XdpFilter,
    /// The same filter run in user space over every frame (`--xdp-filter user`): every frame is
    /// taken from the host.
    XdpUserFilter,
}

impl ModeSpec {
    /// Every mode with its `--modes` word, in the order rows are listed in help.
    pub const ALL: &'static [(&'static str, ModeSpec)] = &[
        ("recv1", ModeSpec::Recv1),
        ("recvN", ModeSpec::RecvN),
        ("ring1", ModeSpec::Ring1),
        ("ringN", ModeSpec::RingN),
        ("xdp", ModeSpec::Xdp),
        ("xdp+filter", ModeSpec::XdpFilter),
        ("xdp+ufilter", ModeSpec::XdpUserFilter),
    ];

    /// The words `--modes` takes, for its error message.
    pub fn names() -> String {
        let words: Vec<&str> = ModeSpec::ALL.iter().map(|(w, _)| *w).collect();
        words.join(", ")
    }

    /// The comma-separated list of `--modes`.
    pub fn parse_list(s: &str) -> Result<Vec<ModeSpec>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| {
                ModeSpec::ALL
                    .iter()
                    .find(|(w, _)| *w == m)
                    .map(|(_, spec)| *spec)
                    .ok_or_else(|| format!("unknown mode {m:?} in --modes ({})", ModeSpec::names()))
            })
            .collect()
    }

    /// The engine mode, worker count and row label for `threads` capture threads.
    pub fn resolve(self, threads: usize) -> RingcapMode {
        let (mode, threads) = match self {
            ModeSpec::Recv1 => (Mode::Recv, 1),
            ModeSpec::RecvN => (Mode::Recv, threads),
            ModeSpec::Ring1 => (Mode::Ring, 1),
            ModeSpec::RingN => (Mode::Ring, threads),
            ModeSpec::Xdp | ModeSpec::XdpFilter | ModeSpec::XdpUserFilter => (Mode::Xdp, 1),
        };
        let label = match self {
            ModeSpec::Xdp => "xdp".to_string(),
            ModeSpec::XdpFilter => "xdp+filter".to_string(),
            ModeSpec::XdpUserFilter => "xdp+ufilter".to_string(),
            _ => format!("{mode} x{threads}"),
        };
        RingcapMode {
            spec: self,
            mode,
            threads,
            label,
        }
    }

    /// Engine settings of this mode's own, applied last over the bench's common ones (CPUs,
    /// fanout, filter, coalescing) in `ringcap_run`. The modes so far need none.
    pub fn configure(self, cfg: Config) -> Config {
        match self {
            ModeSpec::Recv1
            | ModeSpec::RecvN
            | ModeSpec::Ring1
            | ModeSpec::RingN
            | ModeSpec::Xdp => cfg,
            // The row's own filter, whatever --filter says; in the XDP program, or in user
            // space over every frame.
            ModeSpec::XdpFilter | ModeSpec::XdpUserFilter => {
                let mut cfg = cfg.filter(crate::host_stack::program().ok());
                cfg.xdp.user_filter = self == ModeSpec::XdpUserFilter;
                cfg
            }
        }
    }

    /// The rows that measure what the host's stack keeps ([`crate::host_stack`]).
    pub fn host_stack(self) -> bool {
        matches!(self, ModeSpec::XdpFilter | ModeSpec::XdpUserFilter)
    }
}

/// One of ringcap's receive paths, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingcapMode {
    /// What `--modes` asked for.
    pub spec: ModeSpec,
    pub mode: Mode,
    pub threads: usize,
    pub label: String,
}

/// Something that captures the bench's traffic and is measured: a row of the table.
///
/// Adding a kind of row is adding a variant here and its run function in
/// [`crate::session`]; adding a compared tool is one entry in [`crate::tools::KNOWN`].
#[derive(Debug, Clone)]
pub enum Contender {
    Ringcap(RingcapMode),
    Tool(&'static Tool),
}

impl Contender {
    /// The row's name: the mode or tool and, when it writes a file, where
    /// (`ring x2 -w tmpfs`, `tcpdump -w /dev/null`, `netsniff-ng -w tmpfs`).
    pub fn row_name(&self, writing: bool, files: &str) -> String {
        match self {
            Contender::Ringcap(m) if writing => format!("{} -w {files}", m.label),
            Contender::Ringcap(m) => m.label.clone(),
            Contender::Tool(t) if t.flows => format!("{} {}", t.name, t.note.unwrap_or("")),
            Contender::Tool(t) => {
                let to = if t.to_null(writing) {
                    "/dev/null"
                } else {
                    files
                };
                match t.note {
                    Some(note) => format!("{} -w {to} ({note})", t.name),
                    None => format!("{} -w {to}", t.name),
                }
            }
        }
    }
}

/// The contenders of every round, in order: ringcap's modes, then the compared tools. With
/// one capture thread the fanout modes equal the single-socket ones and are left out; the
/// note says so.
pub fn lineup(
    modes: &[ModeSpec],
    threads: usize,
    tools: &[&'static Tool],
) -> (Vec<Contender>, Option<String>) {
    let mut resolved: Vec<RingcapMode> = Vec::new();
    let mut repeated = false;
    for m in modes.iter().map(|m| m.resolve(threads)) {
        if resolved.iter().any(|r| r.label == m.label) {
            repeated = true;
            continue;
        }
        resolved.push(m);
    }
    let note = (repeated && threads == 1).then(|| {
        "bench: one capture CPU, so the fanout rows (N = 1) equal the single-socket rows and are not repeated".to_string()
    });
    let mut out: Vec<Contender> = resolved.into_iter().map(Contender::Ringcap).collect();
    out.extend(tools.iter().map(|t| Contender::Tool(t)));
    (out, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_split_is_half_and_half() {
        let p = Plan::new(&[0, 1, 2, 3], None, None, None, None).unwrap();
        assert_eq!(
            (p.gen_cpus.clone(), p.cap_cpus.clone()),
            (vec![0, 1], vec![2, 3])
        );
        assert_eq!((p.gen_threads, p.threads), (2, 2));
        assert_eq!(p.rps_mask(), 0b1100);
        // Two CPUs: one each. Three: one for the generator.
        let p = Plan::new(&[0, 1], None, None, None, None).unwrap();
        assert_eq!((p.gen_cpus, p.cap_cpus), (vec![0], vec![1]));
        let p = Plan::new(&[4, 5, 6], None, None, None, None).unwrap();
        assert_eq!((p.gen_cpus, p.cap_cpus), (vec![4], vec![5, 6]));
        // One CPU: both on it.
        let p = Plan::new(&[3], None, None, None, None).unwrap();
        assert_eq!((p.gen_cpus, p.cap_cpus), (vec![3], vec![3]));
        assert_eq!(Plan::new(&[], None, None, None, None), None);
    }

    #[test]
    fn explicit_cpus_and_threads_win() {
        let p = Plan::new(
            &[0, 1, 2, 3],
            Some(vec![3]),
            Some(vec![0, 1, 2]),
            Some(2),
            Some(6),
        )
        .unwrap();
        assert_eq!(
            (p.gen_cpus.clone(), p.cap_cpus.clone()),
            (vec![3], vec![0, 1, 2])
        );
        assert_eq!((p.gen_threads, p.threads), (2, 6));
        let p = Plan::new(&[0], None, Some(vec![63, 64, 100]), None, None).unwrap();
        assert_eq!(p.rps_mask(), 1 << 63);
    }

    #[test]
    fn modes_parse_and_name_themselves() {
        let m = ModeSpec::parse_list("recv1, ringN,,xdp").unwrap();
        assert_eq!(m, [ModeSpec::Recv1, ModeSpec::RingN, ModeSpec::Xdp]);
        assert_eq!(ModeSpec::RingN.resolve(4).label, "ring x4");
        assert_eq!(ModeSpec::Recv1.resolve(4).label, "recv x1");
        assert_eq!(ModeSpec::Xdp.resolve(4).label, "xdp");
        let m = ModeSpec::parse_list("xdp,xdp+filter,xdp+ufilter").unwrap();
        let labels: Vec<String> = m.iter().map(|m| m.resolve(4).label).collect();
        assert_eq!(labels, ["xdp", "xdp+filter", "xdp+ufilter"]);
        let (l, note) = lineup(&m, 1, &[]);
        assert_eq!(
            (l.len(), note),
            (3, None),
            "three rows of one xdp socket each"
        );
        let e = ModeSpec::parse_list("ring1,warp").unwrap_err();
        assert!(e.starts_with("unknown mode \"warp\" in --modes"), "{e}");
    }

    #[test]
    fn one_capture_thread_leaves_the_fanout_rows_out() {
        let all = ModeSpec::parse_list("recv1,recvN,ring1,ringN").unwrap();
        let (l, note) = lineup(&all, 1, &[]);
        let names: Vec<String> = l.iter().map(|c| c.row_name(false, "tmpfs")).collect();
        assert_eq!(names, ["recv x1", "ring x1"]);
        assert!(note.unwrap().contains("not repeated"));
        let (l, note) = lineup(&all, 2, &[&crate::tools::TCPDUMP]);
        assert_eq!(l.len(), 5);
        assert!(matches!(l[4], Contender::Tool(t) if t.name == "tcpdump"));
        assert_eq!(note, None);
    }

    #[test]
    fn row_names_say_where_the_packets_went() {
        let ring = Contender::Ringcap(ModeSpec::RingN.resolve(2));
        let tcpdump = Contender::Tool(&crate::tools::TCPDUMP);
        let netsniff = Contender::Tool(&crate::tools::NETSNIFF_NG);
        let names = |w: bool| -> Vec<String> {
            [&ring, &tcpdump, &netsniff]
                .iter()
                .map(|c| c.row_name(w, "tmpfs"))
                .collect()
        };
        assert_eq!(
            names(false),
            ["ring x2", "tcpdump -w /dev/null", "netsniff-ng -w tmpfs"]
        );
        assert_eq!(
            names(true),
            [
                "ring x2 -w tmpfs",
                "tcpdump -w tmpfs",
                "netsniff-ng -w tmpfs"
            ]
        );
    }
}
