//! The interfaces a capture can use, listed as tcpdump's `-D` lists them (libpcap's
//! `pcap_findalldevs` on Linux): every interface of the network namespace and `any`, each with
//! its state, best candidates first.
//!
//! The state is libpcap's: up and running from the interface flags, loopback, wireless (a
//! `wireless` directory in sysfs, or a wireless hardware type), and whether a link is detected
//! (`ETHTOOL_GLINK`: "Connected", "Disconnected"; not applicable to loopback devices or drivers
//! without a link state). The order is libpcap's "figure of merit": running before not
//! running, up before down, connected before disconnected, others before `any`, `any` before
//! loopback devices; interfaces of equal merit by index, as the kernel lists them.
//!
//! libpcap also lists devices that are not network interfaces (bluetooth-monitor, nflog,
//! nfqueue, dbus-*, usbmon*); ringcap captures on network interfaces only, so they are not here.

use ringcap_sys::link;

/// Whether a link is detected (libpcap's PCAP_IF_CONNECTION_STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Unknown,
    Connected,
    Disconnected,
    NotApplicable,
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    /// Interface index (0 for `any`).
    pub index: u32,
    pub description: Option<&'static str>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    pub wireless: bool,
    pub connection: Connection,
}

/// libpcap's description of the `any` device.
pub const ANY_DESCRIPTION: &str = "Pseudo-device that captures on all interfaces";

impl Device {
    /// The `any` pseudo-device: up and running, connection status not applicable.
    pub fn any() -> Device {
        Device {
            name: "any".into(),
            index: 0,
            description: Some(ANY_DESCRIPTION),
            up: true,
            running: true,
            loopback: false,
            wireless: false,
            connection: Connection::NotApplicable,
        }
    }

    /// Reads the state of interface `name` (index `index`).
    pub fn read(name: &str, index: u32) -> Device {
        let flags = ringcap_sys::interface_flags(name).unwrap_or(0);
        let loopback = flags & link::IFF_LOOPBACK != 0;
        let hatype = link::hardware_type(name).ok();
        let wireless = crate::sysfs_dir(name).join("wireless").exists()
            || hatype.is_some_and(|t| link::ARPHRD_WIRELESS.contains(&t));
        let connection = if loopback {
            Connection::NotApplicable
        } else {
            match link::link_detected(name) {
                Ok(Some(true)) => Connection::Connected,
                Ok(Some(false)) => Connection::Disconnected,
                Ok(None) => Connection::NotApplicable,
                Err(_) => Connection::Unknown,
            }
        };
        Device {
            name: name.to_string(),
            index,
            description: None,
            up: flags & ringcap_sys::IFF_UP != 0,
            running: flags & link::IFF_RUNNING != 0,
            loopback,
            wireless,
            connection,
        }
    }

    /// libpcap's figure of merit: lower is listed first.
    pub fn merit(&self) -> u32 {
        let mut n = 0;
        if !self.running {
            n |= 0x8000_0000;
        }
        if !self.up {
            n |= 0x4000_0000;
        }
        if !self.wireless && self.connection == Connection::Disconnected {
            n |= 0x2000_0000;
        }
        if self.loopback {
            n |= 0x1000_0000;
        }
        if self.name == "any" {
            n |= 0x0800_0000;
        }
        n
    }

    /// What tcpdump `-D` prints after the number: the name, the description in parentheses,
    /// the state in brackets (`rc0 [Up, Running, Connected]`, `lo [Up, Running, Loopback]`).
    pub fn tcpdump_line(&self) -> String {
        let mut s = self.name.clone();
        if let Some(d) = self.description {
            s += &format!(" ({d})");
        }
        let words: Vec<&str> = [
            (self.up, "Up"),
            (self.running, "Running"),
            (self.loopback, "Loopback"),
            (self.wireless, "Wireless"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
        let status = match (self.wireless, self.connection) {
            (_, Connection::NotApplicable) => None,
            (true, Connection::Unknown) => Some("Association status unknown"),
            (true, Connection::Connected) => Some("Associated"),
            (true, Connection::Disconnected) => Some("Not associated"),
            (false, Connection::Unknown) => Some("Connection status unknown"),
            (false, Connection::Connected) => Some("Connected"),
            (false, Connection::Disconnected) => Some("Disconnected"),
        };
        // libpcap's flags word is zero only with no state bit and an unknown status: then
        // tcpdump prints no brackets at all.
        let any_flag = !words.is_empty() || self.connection != Connection::Unknown;
        if any_flag {
            s += " [";
            s += &if words.is_empty() {
                "none".to_string()
            } else {
                words.join(", ")
            };
            if let Some(st) = status {
                s += ", ";
                s += st;
            }
            s += "]";
        }
        s
    }
}

/// Sorts devices as libpcap does: by figure of merit, then by index (stable).
pub fn sort(devices: &mut [Device]) {
    devices.sort_by_key(|d| (d.merit(), d.index == 0, d.index));
}

/// Every interface of the calling thread's network namespace and `any`, in libpcap's order.
pub fn list() -> Vec<Device> {
    let mut devices: Vec<Device> = ringcap_sys::interface_names()
        .into_iter()
        .filter_map(|name| {
            let index = ringcap_sys::if_nametoindex(&name)?;
            Some(Device::read(&name, index))
        })
        .collect();
    devices.push(Device::any());
    sort(&mut devices);
    devices
}

/// The interface's ARP hardware type (1 Ethernet, 772 loopback, 65534 none...), for deciding
/// the data link types it offers.
pub fn hardware_type(name: &str) -> Option<u16> {
    link::hardware_type(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str, index: u32, up: bool, running: bool, c: Connection) -> Device {
        Device {
            name: name.into(),
            index,
            description: None,
            up,
            running,
            loopback: name == "lo",
            wireless: false,
            connection: c,
        }
    }

    #[test]
    fn lines_read_as_tcpdump_prints_them() {
        // Lines copied from `tcpdump -D` (4.99.3, libpcap 1.10.3) in a namespace.
        let lo = dev("lo", 1, true, true, Connection::NotApplicable);
        assert_eq!(lo.tcpdump_line(), "lo [Up, Running, Loopback]");
        let va = dev("va", 3, true, true, Connection::Connected);
        assert_eq!(va.tcpdump_line(), "va [Up, Running, Connected]");
        let vc = dev("vc", 5, false, false, Connection::Disconnected);
        assert_eq!(vc.tcpdump_line(), "vc [none, Disconnected]");
        let tun = dev("tun0", 6, true, false, Connection::Disconnected);
        assert_eq!(tun.tcpdump_line(), "tun0 [Up, Disconnected]");
        assert_eq!(
            Device::any().tcpdump_line(),
            "any (Pseudo-device that captures on all interfaces) [Up, Running]"
        );
        let odd = dev("x0", 7, false, false, Connection::Unknown);
        assert_eq!(odd.tcpdump_line(), "x0");
    }

    #[test]
    fn order_is_libpcaps() {
        let mut v = vec![
            dev("lo", 1, true, true, Connection::NotApplicable),
            dev("vb", 2, true, true, Connection::Connected),
            dev("va", 3, true, true, Connection::Connected),
            dev("vd", 4, false, false, Connection::Disconnected),
            dev("tun0", 5, true, false, Connection::Disconnected),
            dev("vc", 6, false, false, Connection::Disconnected),
            Device::any(),
        ];
        sort(&mut v);
        let names: Vec<&str> = v.iter().map(|d| d.name.as_str()).collect();
        // As tcpdump -D printed them (less its non-network devices).
        assert_eq!(names, ["vb", "va", "any", "lo", "tun0", "vd", "vc"]);
    }

    #[test]
    fn this_namespace_has_lo_and_any() {
        let v = list();
        assert!(v.iter().any(|d| d.name == "any"));
        let lo = v.iter().find(|d| d.name == "lo").expect("lo");
        assert!(lo.loopback);
        assert_eq!(hardware_type("lo"), Some(link::ARPHRD_LOOPBACK));
    }
}
