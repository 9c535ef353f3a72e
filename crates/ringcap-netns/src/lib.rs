//! A private network for programs that need real traffic on a real interface without touching
//! the host's: a fresh network namespace holding a veth pair.
//!
//! **Owns:** building and removing the namespace and its veth pair, entering it from a thread,
//! a send-only packet socket on the far end, the interface counters and the packet sockets bound
//! inside it. `ringcap bench` and `ringcap demo` build their network with it at run time, and the
//! tests' `ringcap_netlab::TestNet` is this type.
//!
//! **Must not depend on:** the engine, the CLI, or anything test-only (no tool parsing, no skip
//! reporting: those stay in `ringcap-netlab`, a dev-dependency). Errors are values, never
//! panics: a run-time caller must be able to clean up and say what failed.
//!
//! The capture end ([`PrivateNet::capture_if`]) receives what is sent from the far end
//! ([`PrivateNet::peer_if`]). IPv6 is off and no addresses are set, so the kernel sends no
//! chatter of its own and every frame on the wire is one the program sent. Nothing leaves the
//! namespace; dropping the `PrivateNet` deletes the namespace and with it both interfaces, also
//! on a panic.
//!
//! Namespaces are named `ringcap-<pid>-<n>`; ones left by a process that no longer exists (a
//! killed run) are removed by [`PrivateNet::new`].

#![forbid(unsafe_code)]

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use ringcap_sys as sys;

mod procnet;

pub use procnet::PacketSocket;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("building a private network needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)")]
    NotRoot,
    #[error("`{cmd}` failed: {stderr}")]
    Command { cmd: String, stderr: String },
    #[error("could not run `ip` (iproute2): {0}")]
    Spawn(std::io::Error),
    #[error(transparent)]
    Sys(#[from] sys::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("no interface {0} in the namespace")]
    NoInterface(String),
    #[error("{what}: unexpected value {value:?}")]
    Parse { what: String, value: String },
}

pub type Result<T> = std::result::Result<T, Error>;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace with a veth pair inside it.
pub struct PrivateNet {
    ns: String,
    /// The peer end's own namespace (`<ns>-peer`) with [`Options::split`].
    peer_ns: Option<String>,
    capture_if: String,
    peer_if: String,
    deleted: bool,
}

/// Options for [`PrivateNet::with_options`].
#[derive(Debug, Clone)]
pub struct Options {
    pub capture_if: String,
    pub peer_if: String,
    /// Put the peer end in a namespace of its own (`<ns>-peer`), like a separate host: then
    /// traffic between the two ends crosses the capture end's stack as a host's would.
    pub split: bool,
    pub mtu: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            capture_if: "rc0".into(),
            peer_if: "rc1".into(),
            split: false,
            mtu: None,
        }
    }
}

impl PrivateNet {
    /// A namespace with `rc0` (capture end) and `rc1` (peer end), both up.
    pub fn new() -> Result<PrivateNet> {
        Self::with_options(Options::default())
    }

    pub fn with_options(opts: Options) -> Result<PrivateNet> {
        if sys::geteuid() != 0 {
            return Err(Error::NotRoot);
        }
        remove_stale();
        let ns = format!(
            "ringcap-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &ns])?;
        // From here on, dropping `net` removes the namespace, also when a step below fails.
        let mut net = PrivateNet {
            ns,
            peer_ns: None,
            capture_if: opts.capture_if.clone(),
            peer_if: opts.peer_if.clone(),
            deleted: false,
        };
        net.sh("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6")?;
        net.ip(&[
            "link",
            "add",
            &opts.capture_if,
            "type",
            "veth",
            "peer",
            "name",
            &opts.peer_if,
        ])?;
        if let Some(mtu) = opts.mtu {
            net.ip(&["link", "set", &opts.capture_if, "mtu", &mtu.to_string()])?;
            net.ip(&["link", "set", &opts.peer_if, "mtu", &mtu.to_string()])?;
        }
        if opts.split {
            let peer_ns = format!("{}-peer", net.ns);
            ip(&["netns", "add", &peer_ns])?;
            net.peer_ns = Some(peer_ns.clone());
            net.peer_sh("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6")?;
            net.ip(&["link", "set", &opts.peer_if, "netns", &peer_ns])?;
            net.peer_ip(&["link", "set", "lo", "up"])?;
        }
        net.ip(&["link", "set", &opts.capture_if, "up"])?;
        net.peer_ip(&["link", "set", &opts.peer_if, "up"])?;
        net.ip(&["link", "set", "lo", "up"])?;
        Ok(net)
    }

    /// The namespace's name, for `ip netns exec`.
    pub fn ns(&self) -> &str {
        &self.ns
    }

    pub fn capture_if(&self) -> &str {
        &self.capture_if
    }

    pub fn peer_if(&self) -> &str {
        &self.peer_if
    }

    /// Runs `ip ARGS` inside the namespace.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.ns];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Adds another veth pair in the namespace, both ends with `rx` RX and `tx` TX queues (the
    /// main pair has one of each), left down.
    pub fn add_veth(&self, name: &str, peer: &str, rx: u32, tx: u32) -> Result<()> {
        let (rx, tx) = (rx.to_string(), tx.to_string());
        self.ip(&[
            "link",
            "add",
            name,
            "numrxqueues",
            &rx,
            "numtxqueues",
            &tx,
            "type",
            "veth",
            "peer",
            "name",
            peer,
            "numrxqueues",
            &rx,
            "numtxqueues",
            &tx,
        ])
        .map(drop)
    }

    /// The namespace holding the peer end: its own with [`Options::split`], else [`Self::ns`].
    pub fn peer_ns(&self) -> &str {
        self.peer_ns.as_deref().unwrap_or(&self.ns)
    }

    /// Runs `ip ARGS` in the peer end's namespace.
    pub fn peer_ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.peer_ns()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Runs a shell snippet in the peer end's namespace.
    pub fn peer_sh(&self, script: &str) -> Result<String> {
        run(Command::new("ip").args(["netns", "exec", self.peer_ns(), "sh", "-c", script]))
    }

    /// A command that runs `program` in the peer end's namespace.
    pub fn peer_command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.peer_ns(), program]);
        c
    }

    /// Runs a shell snippet inside the namespace (with its own /sys).
    pub fn sh(&self, script: &str) -> Result<String> {
        run(Command::new("ip").args(["netns", "exec", &self.ns, "sh", "-c", script]))
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }

    /// Moves the calling thread into the namespace until the guard drops. Threads spawned
    /// meanwhile stay in it for their whole life.
    pub fn enter(&self) -> Result<NsGuard> {
        enter_ns(&self.ns)
    }

    /// Like [`Self::enter`], into the peer end's namespace.
    pub fn enter_peer(&self) -> Result<NsGuard> {
        enter_ns(self.peer_ns())
    }

    /// A raw socket on the peer end, to send frames that arrive at the capture end.
    pub fn sender(&self) -> Result<Sender> {
        let _in = self.enter_peer()?;
        Sender::open(&self.peer_if)
    }

    /// Reads one of an interface's statistics counters (e.g. `rx_packets`).
    pub fn counter(&self, ifname: &str, name: &str) -> Result<u64> {
        let out = self.sh(&format!("cat /sys/class/net/{ifname}/statistics/{name}"))?;
        out.trim().parse().map_err(|_| Error::Parse {
            what: format!("{ifname} {name}"),
            value: out.trim().to_string(),
        })
    }

    /// Sets rps_cpus on the capture end's RX queue (hex mask), like spreading a NIC's IRQs.
    pub fn set_rps(&self, mask: u64) -> Result<()> {
        self.sh(&format!(
            "echo {mask:x} > /sys/class/net/{}/queues/rx-0/rps_cpus",
            self.capture_if
        ))
        .map(drop)
    }

    /// The interface index of `ifname` inside the namespace.
    pub fn ifindex(&self, ifname: &str) -> Result<u32> {
        let _in = self.enter()?;
        sys::if_nametoindex(ifname).ok_or_else(|| Error::NoInterface(ifname.into()))
    }

    /// The packet sockets open in the namespace (`/proc/net/packet` as seen from inside it):
    /// a program capturing on an interface shows here once it has bound its socket.
    pub fn packet_sockets(&self) -> Result<Vec<PacketSocket>> {
        const PATH: &str = "/proc/thread-self/net/packet";
        let text = {
            let _in = self.enter()?;
            std::fs::read_to_string(PATH).map_err(|e| Error::Io(PATH.into(), e))?
        };
        procnet::parse_packet(&text).ok_or(Error::Parse {
            what: "/proc/net/packet".into(),
            value: text.lines().next().unwrap_or_default().to_string(),
        })
    }

    /// Deletes the capture end (and with it the peer), as if the interface disappeared.
    pub fn delete_capture_if(&self) -> Result<()> {
        self.ip(&["link", "del", &self.capture_if]).map(drop)
    }

    /// Removes the namespace now (also done on drop), reporting a failure.
    pub fn destroy(mut self) -> Result<()> {
        self.deleted = true;
        if let Some(p) = &self.peer_ns {
            ip(&["netns", "del", p])?;
        }
        ip(&["netns", "del", &self.ns]).map(drop)
    }
}

impl Drop for PrivateNet {
    fn drop(&mut self) {
        if !self.deleted {
            if let Some(p) = &self.peer_ns {
                let _ = ip(&["netns", "del", p]);
            }
            let _ = ip(&["netns", "del", &self.ns]);
        }
    }
}

/// Returns the thread to the namespace it was in before [`PrivateNet::enter`].
pub struct NsGuard {
    back: OwnedFd,
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        let _ = sys::setns_net(self.back.as_fd());
    }
}

/// An AF_PACKET socket bound to one interface, sending whole Ethernet frames.
pub struct Sender {
    fd: OwnedFd,
}

impl Sender {
    pub fn open(ifname: &str) -> Result<Sender> {
        let idx = sys::if_nametoindex(ifname).ok_or_else(|| Error::NoInterface(ifname.into()))?;
        // Protocol 0: a send-only socket that never queues received packets.
        let fd = sys::packet_socket()?;
        sys::bind_packet(fd.as_fd(), idx, 0)?;
        Ok(Sender { fd })
    }

    /// Sends one frame (retrying while the device queue is full).
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        loop {
            match sys::send(self.fd.as_fd(), frame) {
                Ok(_) => return Ok(()),
                Err(e) if e.errno() == Some(sys::Errno::ENOBUFS) => std::thread::yield_now(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn enter_ns(ns: &str) -> Result<NsGuard> {
    let back = File::open("/proc/thread-self/ns/net")
        .map_err(|e| Error::Io("/proc/thread-self/ns/net".into(), e))?;
    let path = format!("/run/netns/{ns}");
    let target = File::open(&path).map_err(|e| Error::Io(path, e))?;
    sys::setns_net(target.as_fd())?;
    Ok(NsGuard {
        back: OwnedFd::from(back),
    })
}

fn ip(args: &[&str]) -> Result<String> {
    run(Command::new("ip").args(args))
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(Error::Spawn)?;
    if !out.status.success() {
        return Err(Error::Command {
            cmd: format!("{cmd:?}"),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deletes `ringcap-<pid>-*` namespaces whose process is gone.
fn remove_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = owner_pid(&name) {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = ip(&["netns", "del", &name]);
            }
        }
    }
}

/// The process that made namespace `name` (`ringcap-<pid>-<n>`, or its peer's
/// `ringcap-<pid>-<n>-peer`), if it is one of ours.
fn owner_pid(name: &str) -> Option<u32> {
    let name = name.strip_suffix("-peer").unwrap_or(name);
    let rest = name.strip_prefix("ringcap-")?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_namespace_names_have_an_owner() {
        assert_eq!(owner_pid("ringcap-1234-0"), Some(1234));
        assert_eq!(owner_pid("ringcap-1234-17"), Some(1234));
        assert_eq!(owner_pid("ringcap-1234-17-peer"), Some(1234));
        assert_eq!(owner_pid("ringcap-1234"), None);
        assert_eq!(owner_pid("ringcap-bench-1234"), None);
        assert_eq!(owner_pid("other-1234-0"), None);
    }
}
