//! Facts about an interface that change what a capture sees, and advice about them.
//!
//! Offloads matter most: with GRO (or hardware GRO / LRO) the stack merges a TCP stream's
//! segments into super-frames up to 64 KiB before a packet socket sees them, so a capture shows
//! packets that never crossed the wire; with RX VLAN stripping the tag leaves the frame and
//! travels as metadata. Queue counts tell whether receive work can spread over CPUs at all.

use ringcap_sys::ethtool;
/// The ethtool answers [`Info`] carries, re-exported so callers need not name ringcap-sys.
pub use ringcap_sys::ethtool::{Channels, DriverInfo, Duplex, LinkSettings};

use crate::{irq, read_file, sysfs_dir, Result};

/// On/off state of one offload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offload {
    pub on: bool,
    /// The driver does not let it change (`[fixed]` in `ethtool -k`); unknown counts as not fixed.
    pub fixed: bool,
}

/// The offloads that change captured frames. `None`: the driver did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offloads {
    /// Software GRO (`rx-gro`, ethtool's `gro`).
    pub gro: Option<Offload>,
    /// Hardware GRO (`rx-gro-hw`).
    pub gro_hw: Option<Offload>,
    /// LRO (`rx-lro`, ethtool's `lro`).
    pub lro: Option<Offload>,
    /// 802.1Q tag stripping (`rx-vlan-hw-parse`, ethtool's `rxvlan`).
    pub rx_vlan: Option<Offload>,
    /// 802.1ad tag stripping (`rx-vlan-stag-hw-parse`).
    pub rx_vlan_stag: Option<Offload>,
}

impl Offloads {
    /// From the full feature list (`ETHTOOL_GFEATURES`).
    pub fn from_features(features: &[ethtool::Feature]) -> Offloads {
        let get = |name: &str| {
            features.iter().find(|f| f.name == name).map(|f| Offload {
                on: f.active,
                fixed: !f.changeable,
            })
        };
        Offloads {
            gro: get("rx-gro"),
            gro_hw: get("rx-gro-hw"),
            lro: get("rx-lro"),
            rx_vlan: get("rx-vlan-hw-parse"),
            rx_vlan_stag: get("rx-vlan-stag-hw-parse"),
        }
    }

    /// From the legacy value requests (no "fixed" information there).
    pub fn from_legacy(l: ethtool::LegacyOffloads) -> Offloads {
        let o = |v: Option<bool>| v.map(|on| Offload { on, fixed: false });
        Offloads {
            gro: o(l.gro),
            gro_hw: None,
            lro: o(l.lro),
            rx_vlan: o(l.rx_vlan),
            rx_vlan_stag: None,
        }
    }
}

/// Promiscuous state: asked for by the administrator (`ip link set IF promisc on`), and in effect
/// (also when only a packet socket asked for it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Promisc {
    pub configured: bool,
    pub effective: bool,
}

/// Everything `ringcap info` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub name: String,
    pub ifindex: u32,
    /// `None` when the driver does not answer ethtool.
    pub driver: Option<DriverInfo>,
    /// No device behind it (veth, bridge, tunnel, loopback): no IRQs, no hardware queues.
    pub is_virtual: bool,
    pub admin_up: bool,
    /// `operstate` from sysfs: up, down, lowerlayerdown, unknown, ...
    pub operstate: String,
    pub carrier: Option<bool>,
    pub link: Option<LinkSettings>,
    pub mtu: u32,
    pub rx_queues: u32,
    pub tx_queues: u32,
    /// Where the queue counts came from: "ethtool channels" or "sysfs queues".
    pub queues_from: &'static str,
    pub channels: Option<Channels>,
    pub offloads: Offloads,
    pub promisc: Promisc,
    /// RPS CPUs per RX queue (empty: off).
    pub rps: Vec<(String, Vec<usize>)>,
}

const IFF_UP: u32 = 0x1;

/// The interface's driver name as ethtool reports it (`ethtool -i`), if the driver answers.
pub fn driver_name(iface: &str) -> Option<String> {
    ethtool::driver_info(iface).ok().map(|d| d.driver)
}
const IFF_PROMISC: u32 = 0x100;

/// Parses a sysfs `flags` file (`0x1103`).
pub fn parse_flags(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

impl Info {
    /// Gathers the facts of `iface`, which must exist (see [`crate::check_interface`]).
    pub fn read(iface: &str) -> Result<Info> {
        let ifindex = crate::check_interface(iface)?;
        let dir = sysfs_dir(iface);
        let gflags = ringcap_sys::interface_flags(iface)?;
        let dev_flags = read_file(dir.join("flags"))
            .ok()
            .and_then(|t| parse_flags(&t))
            .unwrap_or(gflags);
        let mtu = ringcap_sys::interface_mtu(iface)?;
        let operstate = read_file(dir.join("operstate"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        // Reading `carrier` fails (EINVAL) while the interface is administratively down.
        let carrier = std::fs::read_to_string(dir.join("carrier"))
            .ok()
            .map(|s| s.trim() == "1");

        let channels = ethtool::channels(iface).ok();
        let (rx_queues, tx_queues, queues_from) = match channels {
            Some(c) if c.rx_queues() > 0 && c.tx_queues() > 0 => {
                (c.rx_queues(), c.tx_queues(), "ethtool channels")
            }
            _ => (
                irq::queues(iface, "rx")?.len() as u32,
                irq::queues(iface, "tx")?.len() as u32,
                "sysfs queues",
            ),
        };
        let offloads = match ethtool::features(iface) {
            Ok(f) => Offloads::from_features(&f),
            Err(_) => Offloads::from_legacy(ethtool::legacy_offloads(iface)),
        };
        let rps = irq::queues(iface, "rx")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|q| irq::read_rps(iface, &q).ok().map(|c| (q, c)))
            .collect();
        Ok(Info {
            name: iface.to_string(),
            ifindex,
            driver: ethtool::driver_info(iface).ok(),
            is_virtual: !irq::has_device(iface),
            admin_up: gflags & IFF_UP != 0,
            operstate,
            carrier,
            link: ethtool::link_settings(iface).ok(),
            mtu,
            rx_queues,
            tx_queues,
            queues_from,
            channels,
            offloads,
            promisc: Promisc {
                configured: gflags & IFF_PROMISC != 0,
                effective: dev_flags & IFF_PROMISC != 0,
            },
            rps,
        })
    }

    /// Advice lines, most important first: what will make a capture differ from the wire, and
    /// how to change it.
    pub fn advice(&self, cpus: usize) -> Vec<String> {
        let n = &self.name;
        let mut out = Vec::new();
        if !self.admin_up {
            out.push(format!(
                "{n} is down: nothing will be captured; `ip link set {n} up`"
            ));
        } else if self.carrier == Some(false) {
            out.push(format!(
                "{n} has no carrier (link down): nothing will arrive"
            ));
        }
        let fixed_note = |o: Offload| {
            if o.fixed {
                " (fixed by the driver: it cannot be turned off)"
            } else {
                ""
            }
        };
        if let Some(o) = self.offloads.gro.filter(|o| o.on) {
            out.push(format!(
                "GRO is on: captures see merged super-frames; `ethtool -K {n} gro off`{}",
                fixed_note(o)
            ));
        }
        if let Some(o) = self.offloads.gro_hw.filter(|o| o.on) {
            out.push(format!(
                "hardware GRO is on: the NIC merges segments into super-frames; \
                 `ethtool -K {n} rx-gro-hw off`{}",
                fixed_note(o)
            ));
        }
        if let Some(o) = self.offloads.lro.filter(|o| o.on) {
            out.push(format!(
                "LRO is on: the NIC merges TCP segments and rewrites their headers, captures \
                 miss the packets on the wire; `ethtool -K {n} lro off`{}",
                fixed_note(o)
            ));
        }
        if let Some(o) = self.offloads.rx_vlan.filter(|o| o.on) {
            out.push(format!(
                "RX VLAN stripping is on: 802.1Q tags leave the frame and travel as metadata \
                 (tools reading raw bytes miss them); `ethtool -K {n} rxvlan off`{}",
                fixed_note(o)
            ));
        }
        if self.promisc.effective && !self.promisc.configured {
            out.push(format!(
                "{n} is promiscuous because a capture asked for it (not configured)"
            ));
        } else if !self.promisc.effective {
            out.push(format!(
                "promiscuous mode is off: a capture sees only traffic for this host unless it \
                 turns it on (ringcap capture does; `ip link set {n} promisc on` to keep it)"
            ));
        }
        let rps_on = self.rps.iter().any(|(_, c)| !c.is_empty());
        if self.rx_queues <= 1 && cpus > 1 && !rps_on {
            out.push(format!(
                "one RX queue and RPS off: all receive work for {n} runs on one CPU; \
                 `ringcap irq {n} --rps` spreads it"
            ));
        } else if self.rx_queues > 1 && !self.is_virtual {
            out.push(format!(
                "{} RX queues: check that their interrupts are spread over CPUs with \
                 `ringcap irq {n}` (`--spread` to fix)",
                self.rx_queues
            ));
        }
        if self.mtu > 1500 {
            out.push(format!(
                "MTU {}: a capture needs a snap length (-s) of at least {} to keep whole frames",
                self.mtu,
                self.mtu + 18
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Info {
        Info {
            name: "eth0".into(),
            ifindex: 2,
            driver: None,
            is_virtual: false,
            admin_up: true,
            operstate: "up".into(),
            carrier: Some(true),
            link: None,
            mtu: 1500,
            rx_queues: 4,
            tx_queues: 4,
            queues_from: "ethtool channels",
            channels: None,
            offloads: Offloads::default(),
            promisc: Promisc {
                configured: true,
                effective: true,
            },
            rps: Vec::new(),
        }
    }

    #[test]
    fn sysfs_flags() {
        assert_eq!(parse_flags("0x1103\n"), Some(0x1103));
        assert_eq!(parse_flags("zz"), None);
    }

    #[test]
    fn advice_names_the_offloads_and_the_fix() {
        let mut i = info();
        i.offloads.gro = Some(Offload {
            on: true,
            fixed: false,
        });
        i.offloads.lro = Some(Offload {
            on: false,
            fixed: true,
        });
        i.offloads.rx_vlan = Some(Offload {
            on: true,
            fixed: true,
        });
        let a = i.advice(4);
        assert!(a[0]
            .starts_with("GRO is on: captures see merged super-frames; `ethtool -K eth0 gro off`"));
        assert!(!a.iter().any(|l| l.contains("LRO")));
        assert!(a
            .iter()
            .any(|l| l.contains("rxvlan off") && l.contains("fixed")));
        assert!(a.iter().any(|l| l.contains("4 RX queues")));
    }

    #[test]
    fn advice_for_a_single_queue_and_down_link() {
        let mut i = info();
        i.rx_queues = 1;
        i.admin_up = false;
        i.promisc = Promisc::default();
        i.mtu = 9000;
        let a = i.advice(2);
        assert!(a[0].contains("is down"));
        assert!(a.iter().any(|l| l.contains("--rps")));
        assert!(a.iter().any(|l| l.contains("promiscuous mode is off")));
        assert!(a.iter().any(|l| l.contains("9018")));
        // With RPS on, no single-CPU warning; on a one-CPU machine neither.
        i.rps = vec![("rx-0".into(), vec![0, 1])];
        assert!(!i.advice(2).iter().any(|l| l.contains("--rps")));
        i.rps.clear();
        assert!(!i.advice(1).iter().any(|l| l.contains("--rps")));
    }

    #[test]
    fn loopback_facts() {
        let i = Info::read("lo").unwrap();
        assert!(i.is_virtual);
        assert_eq!(i.mtu, ringcap_sys::interface_mtu("lo").unwrap());
        assert!(i.rx_queues >= 1);
        assert!(i.offloads.gro.is_some());
    }
}
