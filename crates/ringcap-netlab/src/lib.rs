//! Private test networks for ringcap's tests, demo and bench.
//!
//! A [`TestNet`] is a fresh network namespace holding a veth pair: the capture end
//! ([`TestNet::capture_if`]) and the far end ([`TestNet::peer_if`]) that traffic is sent from.
//! IPv6 is off and no addresses are set, so the kernel sends no chatter of its own and every frame
//! on the wire is one the test sent. Nothing leaves the namespace; dropping the `TestNet` deletes
//! the namespace and with it both interfaces, also when a test panics.
//!
//! Namespaces are named `ringcap-<pid>-<n>`; ones left by a process that no longer exists (a
//! killed run) are removed by [`TestNet::new`].

#![forbid(unsafe_code)]

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use ringcap_sys as sys;
use ringcap_wire::{
    ethertype, ip_proto, vlan, EthernetFrame, Ipv4Packet, MacAddr, UdpPacket, VlanTag,
};

pub mod craft;
pub mod skip;
pub mod tools;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("building a test network needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)")]
    NotRoot,
    #[error("`{cmd}` failed: {stderr}")]
    Command { cmd: String, stderr: String },
    #[error("could not run `ip` (iproute2): {0}")]
    Spawn(std::io::Error),
    #[error(transparent)]
    Sys(#[from] sys::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when the caller can build test networks (root, and `ip` from iproute2). Otherwise the
/// test skips, reported through [`skip`] (a failure under CI). `test` is only used when the
/// thread does not carry the test's name.
pub fn can_run(test: &str) -> bool {
    skip::root_as(Some(test)) && skip::tools(&["ip"])
}

/// A network namespace with a veth pair inside it.
pub struct TestNet {
    ns: String,
    /// The peer end's own namespace (`<ns>-peer`) with [`Options::split`].
    peer_ns: Option<String>,
    capture_if: String,
    peer_if: String,
    deleted: bool,
}

/// Options for [`TestNet::with_options`].
#[derive(Debug, Clone)]
pub struct Options {
    pub capture_if: String,
    pub peer_if: String,
    /// Put the peer end in a namespace of its own (`<ns>-peer`), like a separate host.
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

impl TestNet {
    /// A namespace with `rc0` (capture end) and `rc1` (peer end), both up.
    pub fn new() -> Result<TestNet> {
        Self::with_options(Options::default())
    }

    pub fn with_options(opts: Options) -> Result<TestNet> {
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
        let mut net = TestNet {
            ns: ns.clone(),
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
            let peer_ns = format!("{ns}-peer");
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
    /// test pair has one of each), left down.
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

    /// Reads one of the capture end's statistics counters (e.g. `rx_packets`).
    pub fn counter(&self, ifname: &str, name: &str) -> Result<u64> {
        let out = self.sh(&format!("cat /sys/class/net/{ifname}/statistics/{name}"))?;
        Ok(out.trim().parse().unwrap_or(0))
    }

    /// Sets rps_cpus on the capture end's RX queue (hex mask), like spreading a NIC's IRQs.
    pub fn set_rps(&self, mask: u64) -> Result<()> {
        self.sh(&format!(
            "echo {mask:x} > /sys/class/net/{}/queues/rx-0/rps_cpus",
            self.capture_if
        ))
        .map(drop)
    }

    /// Deletes the capture end (and with it the peer), as if the interface disappeared.
    pub fn delete_capture_if(&self) -> Result<()> {
        self.ip(&["link", "del", &self.capture_if]).map(drop)
    }

    /// Removes the namespace now (also done on drop).
    pub fn destroy(mut self) -> Result<()> {
        self.deleted = true;
        if let Some(p) = &self.peer_ns {
            ip(&["netns", "del", p])?;
        }
        ip(&["netns", "del", &self.ns]).map(drop)
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if !self.deleted {
            if let Some(p) = &self.peer_ns {
                let _ = ip(&["netns", "del", p]);
            }
            let _ = ip(&["netns", "del", &self.ns]);
        }
    }
}

/// Returns the thread to the namespace it was in before [`TestNet::enter`].
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
        let idx = sys::if_nametoindex(ifname).ok_or(Error::Command {
            cmd: format!("if_nametoindex {ifname}"),
            stderr: "no such interface".into(),
        })?;
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
        let Some(rest) = name.strip_prefix("ringcap-") else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = ip(&["netns", "del", &name]);
            }
        }
    }
}

/// Test frames: Ethernet/IPv4/UDP, `size` bytes in all (60..=1514), carrying `seq` in the
/// payload so a receiver can tell every frame apart; the UDP source port varies with `flow`
/// so hash fanout spreads them. Checksums are valid.
pub fn udp_frame(seq: u32, flow: u16, size: usize) -> Vec<u8> {
    let size = size.clamp(60, 9014);
    let mut f = vec![0u8; size];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    eth.set_dst_addr(MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]));
    eth.set_src_addr(MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]));
    eth.set_ethertype(ethertype::IPV4);
    let ip_len = (size - 14) as u16;
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.set_header_len(20);
    ip.set_total_len(ip_len);
    ip.set_ident(seq as u16);
    ip.set_ttl(64);
    ip.set_protocol(ip_proto::UDP);
    ip.set_src_addr(Ipv4Addr::new(10, 0, (flow >> 8) as u8, flow as u8));
    ip.set_dst_addr(Ipv4Addr::new(10, 1, 0, 1));
    ip.fill_checksum();
    let pseudo = ip.pseudo_header_sum();
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    udp.set_src_port(10000u16.wrapping_add(flow));
    udp.set_dst_port(9);
    udp.set_len(ip_len - 20);
    let payload = udp.payload_mut();
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in payload[4..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    udp.fill_checksum(pseudo);
    f
}

/// The sequence number [`udp_frame`] put in a frame (None if it is not one of ours).
pub fn frame_seq(frame: &[u8]) -> Option<u32> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != ethertype::IPV4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != ip_proto::UDP {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    Some(u32::from_be_bytes(udp.payload().get(..4)?.try_into().ok()?))
}

/// Inserts an 802.1Q (0x8100) or 802.1ad (0x88a8) tag after the MAC addresses.
pub fn with_vlan(frame: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    let mut f = vec![0u8; frame.len() + vlan::TAG_LEN];
    f[..12].copy_from_slice(&frame[..12]);
    f[12 + vlan::TAG_LEN..].copy_from_slice(&frame[12..]);
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    eth.set_ethertype(tpid);
    // The tag's own type field already holds the frame's EtherType, copied above.
    VlanTag::new_unchecked(eth.payload_mut()).set_tci(tci);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_sequence_and_valid_ip_checksum() {
        for size in [60, 61, 100, 1514] {
            let f = udp_frame(12345, 7, size);
            assert_eq!(f.len(), size);
            assert_eq!(frame_seq(&f), Some(12345));
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum());
            let pseudo = ip.pseudo_header_sum();
            assert!(UdpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(pseudo));
        }
    }

    #[test]
    fn vlan_tag_goes_after_the_addresses() {
        let f = udp_frame(1, 1, 60);
        let t = with_vlan(&f, 0x8100, 100);
        assert_eq!(&t[12..16], &[0x81, 0x00, 0x00, 100]);
        assert_eq!(&t[16..], &f[12..]);
    }
}
