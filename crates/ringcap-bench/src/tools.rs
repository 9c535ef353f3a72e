//! The tools the bench runs beside ringcap on the same traffic, each as one table entry: its
//! command line, how it reports what it captured and dropped, and how the bench knows it is
//! capturing before traffic starts. Adding a tool is adding an entry to [`KNOWN`].

/// A capture program compared with ringcap.
#[derive(Debug)]
pub struct Tool {
    /// Its program name (on `PATH`) and its name in `--compare`.
    pub name: &'static str,
    /// The package that installs it (the same name in Debian, Ubuntu and Fedora).
    pub package: &'static str,
    /// Its arguments (after the program name) for one run.
    pub args: fn(&ToolArgs<'_>) -> Vec<String>,
    /// Reads the number of packets it captured from its standard error, when it reports one:
    /// count-only runs then let it write to /dev/null. Tools without it always write a file,
    /// and the bench counts the file's packets.
    pub own_count: Option<fn(&str) -> Option<u64>>,
    /// Reads the kernel drops it reports on standard error.
    pub own_drops: fn(&str) -> Option<u64>,
    /// Capture buffer it is given, in bytes (None: the tool's own default, not shown).
    pub ring_bytes: Option<u64>,
    /// How the bench knows it is capturing, before the traffic starts.
    pub ready: Ready,
    /// Said in its row name (what it cannot do that ringcap's rows do).
    pub note: Option<&'static str>,
    /// A flow exporter (`bench --flows`): it sends its records to the bench's collector
    /// ([`crate::collector`]), given as `out`, and what it "captured" is the packets those
    /// records account for.
    pub flows: bool,
    /// How a run stops it.
    pub stop: Stop,
    /// A flow exporter's command (in the bench's namespace) that exports every flow it still
    /// holds, run once the traffic is over and before the bench waits for its last records:
    /// not every exporter flushes when stopped.
    pub flush: Option<fn(&ToolArgs<'_>) -> Vec<String>>,
    /// A control that does nothing (`--compare sleep` with `--flows`): it exports no record,
    /// is in no ratio, and its marginal CPU shows the method's zero ([`crate::busy`]).
    pub control: bool,
}

/// How a tool is stopped at the end of a run, the way its users stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT, as Ctrl-C: capture tools print their statistics.
    Interrupt,
    /// SIGTERM, as a service manager: exporters flush their tables.
    Terminate,
}

/// What a libpcap exporter is given as its filter: only what arrives (on Linux libpcap also
/// sees the capture end's own replies, which ringcap's sockets and the interface's offered
/// count leave out), and the bench's filter.
fn inbound(filter: Option<&str>) -> String {
    match filter {
        Some(f) => format!("inbound and ({f})"),
        None => "inbound".into(),
    }
}

/// The sign that a tool is capturing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// A packet socket of its own, bound to the capture end and running (`/proc/net/packet`).
    PacketSocket,
    /// An XDP program attached to the capture end (xdpdump's capture program).
    XdpProgram,
    /// Once started (the control, which captures nothing).
    Started,
}

impl Tool {
    /// Whether a run lets it write to /dev/null: count-only runs of a tool that counts itself.
    pub fn to_null(&self, writing: bool) -> bool {
        !writing && self.own_count.is_some()
    }
}

/// Tools are told apart by name.
impl PartialEq for Tool {
    fn eq(&self, other: &Tool) -> bool {
        self.name == other.name
    }
}
impl Eq for Tool {}

/// What a run gives a tool.
#[derive(Debug, Clone, Copy)]
pub struct ToolArgs<'a> {
    pub iface: &'a str,
    /// The file to write (`/dev/null` for count-only runs of a tool that counts itself).
    pub out: &'a str,
    pub filter: Option<&'a str>,
    /// A path in the bench's scratch directory for a control socket of the tool's own.
    pub ctl: &'a str,
}

/// ringcap's default ring per worker (64 blocks of 1 MiB): the buffer netsniff-ng is given,
/// so both capture into the same memory. (Left alone, netsniff-ng sizes its ring from the
/// link speed: 2.5 GB on a 10 Gbit/s veth, whose allocation took 0.6 to 4 s here and made it
/// miss the start of the traffic.)
const NETSNIFF_RING: u64 = 64 << 20;

pub static TCPDUMP: Tool = Tool {
    name: "tcpdump",
    package: "tcpdump",
    args: |a| {
        let mut v: Vec<String> = ["-i", a.iface, "-n", "-w", a.out, "-s", "262144"]
            .map(String::from)
            .into();
        v.extend(a.filter.map(String::from));
        v
    },
    // "123 packets captured", "4 packets dropped by kernel"
    own_count: Some(|err| number_before(err, "packets captured")),
    own_drops: |err| number_before(err, "packets dropped by kernel"),
    ring_bytes: None,
    ready: Ready::PacketSocket,
    note: None,
    flows: false,
    stop: Stop::Interrupt,
    flush: None,
    control: false,
};

pub static NETSNIFF_NG: Tool = Tool {
    name: "netsniff-ng",
    package: "netsniff-ng",
    args: |a| {
        let mut v: Vec<String> = [
            "--in",
            a.iface,
            "--out",
            a.out,
            "--silent",
            // Leave the host's socket memory settings alone.
            "--no-sock-mem",
            "--ring-size",
        ]
        .map(String::from)
        .into();
        v.push(format!("{}MiB", NETSNIFF_RING >> 20));
        if let Some(f) = a.filter {
            v.extend(["--filter".to_string(), f.to_string()]);
        }
        v
    },
    own_count: None,
    // "      0  packets failed filter (out of space)": the ring's drops.
    own_drops: |err| number_before(err, "packets failed filter (out of space)"),
    ring_bytes: Some(NETSNIFF_RING),
    ready: Ready::PacketSocket,
    note: None,
    flows: false,
    stop: Stop::Interrupt,
    flush: None,
    control: false,
};

/// xdp-tools' capture at the XDP hook: its own XDP program copies every frame into a perf
/// ring and passes it on (without `--load-xdp-program` it falls back to libpcap on an
/// interface with no XDP program). It has no filter: a `--filter` is not given to it, and its
/// row says so.
pub static XDPDUMP: Tool = Tool {
    name: "xdpdump",
    package: "xdp-tools",
    args: |a| {
        ["-i", a.iface, "-w", a.out, "--load-xdp-program"]
            .map(String::from)
            .into()
    },
    // "123 packets captured", "4 packets dropped by perf ring"
    own_count: Some(|err| number_before(err, "packets captured")),
    own_drops: |err| number_before(err, "packets dropped by perf ring"),
    ring_bytes: None,
    ready: Ready::XdpProgram,
    note: Some("no filter"),
    flows: false,
    stop: Stop::Interrupt,
    flush: None,
    control: false,
};

/// ringcap's own flow exporter (`bench --flows`): the bench's binary, `ringcap flows`, by IPFIX.
/// Short timeouts so records leave during the run; the rest is flushed when it stops.
pub static RINGCAP_FLOWS: Tool = Tool {
    name: "ringcap",
    package: "ringcap",
    args: |a| {
        let mut v: Vec<String> = [
            "flows",
            "-i",
            a.iface,
            "--ipfix",
            a.out,
            "--idle-timeout",
            "1",
            "--active-timeout",
            "1",
        ]
        .map(String::from)
        .into();
        v.extend(a.filter.map(String::from));
        v
    },
    own_count: None,
    own_drops: |_| None,
    ring_bytes: None,
    ready: Ready::PacketSocket,
    note: Some("flows --ipfix"),
    flows: true,
    stop: Stop::Terminate,
    flush: None,
    control: false,
};

/// softflowd (libpcap) exporting IPFIX, expiring flows every second (`expint=1`), with its
/// control socket in the scratch directory (`-c`) for `softflowctl expire-all`.
pub static SOFTFLOWD: Tool = Tool {
    name: "softflowd",
    package: "softflowd",
    args: |a| {
        let mut v: Vec<String> = [
            "-i",
            a.iface,
            "-n",
            a.out,
            "-v",
            "10",
            "-d",
            "-t",
            "maxlife=1",
            "-t",
            "general=1",
            "-t",
            "expint=1",
            "-c",
            a.ctl,
        ]
        .map(String::from)
        .into();
        v.push(inbound(a.filter));
        v
    },
    own_count: None,
    own_drops: |_| None,
    ring_bytes: None,
    ready: Ready::PacketSocket,
    note: Some("-v 10"),
    flows: true,
    stop: Stop::Terminate,
    // softflowd(8): "receipt of a SIGTERM or SIGINT will cause softflowd to exit, after
    // expiring all flows"; run in the foreground it was seen to die of SIGTERM without
    // exporting what it held, so its flows are expired through its control socket first
    // (best effort: see `Collector::flush`).
    flush: Some(|a| {
        ["softflowctl", "-c", a.ctl, "expire-all"]
            .map(String::from)
            .into()
    }),
    control: false,
};

/// fprobe (libpcap) exporting NetFlow v5, in the foreground (`-l 2`: log to stdout).
pub static FPROBE: Tool = Tool {
    name: "fprobe",
    package: "fprobe",
    args: |a| {
        let mut v: Vec<String> = ["-i", a.iface, "-l", "2", "-d", "1", "-e", "1"]
            .map(String::from)
            .into();
        v.extend(["-f".to_string(), inbound(a.filter)]);
        v.push(a.out.to_string());
        v
    },
    own_count: None,
    own_drops: |_| None,
    ring_bytes: None,
    ready: Ready::PacketSocket,
    note: Some("NetFlow v5"),
    flows: true,
    stop: Stop::Terminate,
    flush: None,
    control: false,
};

/// The control of `bench --flows`: a process that captures and exports nothing, run like an
/// exporter (the same collector, the same wait for records, stopped the same way). Its
/// marginal CPU should come out at about 0; what it does come out at is the method's error.
pub static SLEEP: Tool = Tool {
    name: "sleep",
    package: "coreutils",
    args: |_| vec!["3600".to_string()],
    own_count: None,
    own_drops: |_| None,
    ring_bytes: None,
    ready: Ready::Started,
    note: Some("(control: does nothing)"),
    flows: true,
    stop: Stop::Terminate,
    flush: None,
    control: true,
};

/// Every tool the bench knows, in the order it runs them.
pub static KNOWN: [&Tool; 2] = [&TCPDUMP, &NETSNIFF_NG];

/// Tools run only when `--compare` names them: xdpdump is a counterpart of the xdp rows alone,
/// the flow exporters of `--flows` rows.
pub static ON_REQUEST: [&Tool; 4] = [&XDPDUMP, &SOFTFLOWD, &FPROBE, &SLEEP];

/// The tool called `name`, known or run on request.
pub fn find(name: &str) -> Option<&'static Tool> {
    KNOWN
        .iter()
        .chain(ON_REQUEST.iter())
        .copied()
        .find(|t| t.name == name)
}

/// The number that starts the first line containing `what` ("57 packets captured" → 57).
fn number_before(text: &str, what: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.contains(what))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCPDUMP_END: &str = "tcpdump: listening on rc0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n\
        1748212 packets captured\n1790001 packets received by filter\n41789 packets dropped by kernel\n";
    const NETSNIFF_END: &str = "Running! Hang up with ^C!\n\n\
        \x20     57009  packets incoming (0 unread on exit)\n\
        \x20     57000  packets passed filter\n\
        \x20         9  packets failed filter (out of space)\n\
        \x20    0.0157% packet droprate\n";

    #[test]
    fn tcpdump_counts_itself() {
        let count = TCPDUMP.own_count.unwrap();
        assert_eq!(count(TCPDUMP_END), Some(1_748_212));
        assert_eq!((TCPDUMP.own_drops)(TCPDUMP_END), Some(41_789));
        assert_eq!(count("tcpdump: rc0: No such device exists\n"), None);
    }

    #[test]
    fn xdpdump_counts_itself() {
        let end = "listening on rc0, ingress XDP program ID 14579 func xdpdump, capture mode entry, capture size 262144 bytes\n\
                   1 packets captured\n0 packets dropped by perf ring\n";
        assert_eq!(XDPDUMP.own_count.unwrap()(end), Some(1));
        assert_eq!((XDPDUMP.own_drops)(end), Some(0));
    }

    #[test]
    fn netsniff_reports_its_ring_drops() {
        assert!(NETSNIFF_NG.own_count.is_none());
        assert_eq!((NETSNIFF_NG.own_drops)(NETSNIFF_END), Some(9));
        assert_eq!((NETSNIFF_NG.own_drops)(""), None);
    }

    #[test]
    fn command_lines() {
        let a = ToolArgs {
            iface: "rc0",
            out: "/dev/null",
            filter: Some("tcp port 80"),
            ctl: "/x/ctl",
        };
        assert_eq!(
            (TCPDUMP.args)(&a),
            [
                "-i",
                "rc0",
                "-n",
                "-w",
                "/dev/null",
                "-s",
                "262144",
                "tcp port 80"
            ]
        );
        let a = ToolArgs {
            out: "/x/netsniff-ng.pcap",
            ..a
        };
        assert_eq!(
            (NETSNIFF_NG.args)(&a).join(" "),
            "--in rc0 --out /x/netsniff-ng.pcap --silent --no-sock-mem --ring-size 64MiB --filter tcp port 80"
        );
        assert_eq!(find("netsniff-ng").map(|t| t.name), Some("netsniff-ng"));
        assert_eq!(
            (XDPDUMP.args)(&a).join(" "),
            "-i rc0 -w /x/netsniff-ng.pcap --load-xdp-program",
            "no filter given"
        );
        assert_eq!(find("xdpdump").map(|t| t.package), Some("xdp-tools"));
        assert_eq!(
            (SOFTFLOWD.args)(&a).join(" "),
            "-i rc0 -n /x/netsniff-ng.pcap -v 10 -d -t maxlife=1 -t general=1 -t expint=1 -c /x/ctl inbound and (tcp port 80)"
        );
        assert_eq!(
            (SOFTFLOWD.flush.unwrap())(&a).join(" "),
            "softflowctl -c /x/ctl expire-all"
        );
        assert!(FPROBE.flush.is_none() && RINGCAP_FLOWS.flush.is_none());
        assert!(find("wireshark").is_none());
    }
}
