//! The ethtool ioctl (`SIOCETHTOOL`): driver facts, link speed, channel (queue) counts and the
//! offload features that change what a capture sees (GRO, LRO, RX VLAN stripping).
//!
//! Every request buffer is a `[u32]` laid out like the kernel's structure in
//! `<linux/ethtool.h>`: the structures are all built from 32-bit words (strings and bytes are
//! packed into them), so the buffers are plain integers, start zeroed, and are read back with
//! `to_ne_bytes` instead of casts. Only "get" requests are made; they need no privilege.

use crate::net::ioctl_ifreq_words;
use crate::{Errno, Error, Result};

/// `SIOCETHTOOL` from `<linux/sockios.h>`.
const SIOCETHTOOL: libc::c_ulong = 0x8946;

const ETHTOOL_GSET: u32 = 0x01;
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GFLAGS: u32 = 0x25;
const ETHTOOL_GGRO: u32 = 0x2b;
const ETHTOOL_GSSET_INFO: u32 = 0x37;
const ETHTOOL_GFEATURES: u32 = 0x3a;
const ETHTOOL_GCHANNELS: u32 = 0x3c;
const ETHTOOL_GLINKSETTINGS: u32 = 0x4c;

/// The string set holding the feature names (`ETH_SS_FEATURES`).
const ETH_SS_FEATURES: u32 = 4;
const ETH_GSTRING_LEN: usize = 32;
const ETH_FLAG_RXVLAN: u32 = 1 << 8;
const ETH_FLAG_LRO: u32 = 1 << 15;
const SPEED_UNKNOWN: u32 = u32::MAX;

/// Words of `struct ethtool_link_settings` before its link-mode bitmaps (48 bytes).
const LINK_SETTINGS_HEADER_WORDS: usize = 12;

/// Sends one ethtool request whose buffer is `buf` (word 0 is the command).
///
/// # Safety
/// `buf` must be at least as large as the structure the command in `buf[0]` (with the sizes
/// stored in the following words) makes the kernel read and write.
unsafe fn ethtool(name: &str, buf: &mut [u32], call: &'static str) -> Result<()> {
    // SAFETY: the caller's contract is the one ioctl_ifreq_words asks for.
    unsafe { ioctl_ifreq_words(name, SIOCETHTOOL, buf, call) }
}

fn bytes_of(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// A NUL-terminated C string inside a byte buffer.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// What `ETHTOOL_GDRVINFO` reports (`ethtool -i`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverInfo {
    pub driver: String,
    pub version: String,
    pub fw_version: String,
    /// PCI address or similar; empty for virtual devices.
    pub bus_info: String,
}

/// The driver behind an interface (`ethtool -i`).
pub fn driver_info(name: &str) -> Result<DriverInfo> {
    // struct ethtool_drvinfo: cmd, 5 x char[32], char[12], 5 x u32 = 196 bytes.
    let mut buf = [0u32; 49];
    buf[0] = ETHTOOL_GDRVINFO;
    // SAFETY: buf is 49 words, the 196 bytes of struct ethtool_drvinfo.
    unsafe { ethtool(name, &mut buf, "ioctl(SIOCETHTOOL, ETHTOOL_GDRVINFO)") }?;
    let b = bytes_of(&buf);
    let field = |i: usize| c_string(&b[4 + 32 * i..4 + 32 * (i + 1)]);
    Ok(DriverInfo {
        driver: field(0),
        version: field(1),
        fw_version: field(2),
        bus_info: field(3),
    })
}

/// Duplex mode of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplex {
    Half,
    Full,
    Unknown,
}

/// Speed and duplex (`ethtool IF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSettings {
    /// Mbit/s; `None` when the driver does not know (link down, or no notion of speed).
    pub speed_mbps: Option<u32>,
    pub duplex: Duplex,
    pub autoneg: bool,
}

fn duplex_of(v: u8) -> Duplex {
    match v {
        0 => Duplex::Half,
        1 => Duplex::Full,
        _ => Duplex::Unknown,
    }
}

fn speed_of(v: u32) -> Option<u32> {
    (v != 0 && v != SPEED_UNKNOWN && v <= i32::MAX as u32).then_some(v)
}

/// Link speed and duplex through `ETHTOOL_GLINKSETTINGS` (with its size handshake), falling
/// back to the older `ETHTOOL_GSET` for drivers that only answer that.
pub fn link_settings(name: &str) -> Result<LinkSettings> {
    match link_settings_new(name) {
        Ok(s) => Ok(s),
        Err(e) if e.errno() == Some(Errno::EOPNOTSUPP) => link_settings_legacy(name),
        Err(e) => Err(e),
    }
}

fn link_settings_new(name: &str) -> Result<LinkSettings> {
    // Three bitmaps of at most 127 words each follow the header (nwords is an s8).
    let mut buf = vec![0u32; LINK_SETTINGS_HEADER_WORDS + 3 * 127];
    buf[0] = ETHTOOL_GLINKSETTINGS;
    // Handshake: with nwords = 0 the kernel answers -(the number of words it wants).
    // SAFETY: buf holds the 12-word header and three bitmaps of the largest size
    // nwords (an s8) can ask for, 127 words each.
    unsafe { ethtool(name, &mut buf, "ioctl(SIOCETHTOOL, ETHTOOL_GLINKSETTINGS)") }?;
    let nwords = buf[3].to_ne_bytes()[3] as i8;
    if nwords >= 0 {
        return Err(Error::from_errno(
            "ioctl(SIOCETHTOOL, ETHTOOL_GLINKSETTINGS)",
            Errno::EPROTO,
        ));
    }
    buf.fill(0);
    buf[0] = ETHTOOL_GLINKSETTINGS;
    let mut w3 = buf[3].to_ne_bytes();
    w3[3] = (-nwords) as u8;
    buf[3] = u32::from_ne_bytes(w3);
    // SAFETY: buf holds the 12-word header and three bitmaps of the largest size
    // nwords (an s8) can ask for, 127 words each.
    unsafe { ethtool(name, &mut buf, "ioctl(SIOCETHTOOL, ETHTOOL_GLINKSETTINGS)") }?;
    let b = bytes_of(&buf[..LINK_SETTINGS_HEADER_WORDS]);
    Ok(LinkSettings {
        speed_mbps: speed_of(buf[1]),
        duplex: duplex_of(b[8]),
        autoneg: b[11] != 0,
    })
}

fn link_settings_legacy(name: &str) -> Result<LinkSettings> {
    // struct ethtool_cmd: 44 bytes.
    let mut buf = [0u32; 11];
    buf[0] = ETHTOOL_GSET;
    // SAFETY: buf is 11 words, the 44 bytes of struct ethtool_cmd.
    unsafe { ethtool(name, &mut buf, "ioctl(SIOCETHTOOL, ETHTOOL_GSET)") }?;
    let b = bytes_of(&buf);
    let lo = u16::from_ne_bytes([b[12], b[13]]) as u32;
    let hi = u16::from_ne_bytes([b[28], b[29]]) as u32;
    Ok(LinkSettings {
        speed_mbps: speed_of(hi << 16 | lo),
        duplex: duplex_of(b[14]),
        autoneg: b[18] != 0,
    })
}

/// Queue (channel) counts (`ethtool -l`): current and maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Channels {
    pub max_rx: u32,
    pub max_tx: u32,
    pub max_other: u32,
    pub max_combined: u32,
    pub rx: u32,
    pub tx: u32,
    pub other: u32,
    pub combined: u32,
}

impl Channels {
    /// Queues that receive: dedicated RX channels plus combined ones.
    pub fn rx_queues(&self) -> u32 {
        self.rx + self.combined
    }

    /// Queues that transmit: dedicated TX channels plus combined ones.
    pub fn tx_queues(&self) -> u32 {
        self.tx + self.combined
    }
}

/// The interface's channels through `ETHTOOL_GCHANNELS` (EOPNOTSUPP when the driver has none).
pub fn channels(name: &str) -> Result<Channels> {
    let mut buf = [0u32; 9];
    buf[0] = ETHTOOL_GCHANNELS;
    // SAFETY: buf is 9 words, the 36 bytes of struct ethtool_channels.
    unsafe { ethtool(name, &mut buf, "ioctl(SIOCETHTOOL, ETHTOOL_GCHANNELS)") }?;
    Ok(Channels {
        max_rx: buf[1],
        max_tx: buf[2],
        max_other: buf[3],
        max_combined: buf[4],
        rx: buf[5],
        tx: buf[6],
        other: buf[7],
        combined: buf[8],
    })
}

/// One netdev feature (`ethtool -k`), named as the kernel names it (`rx-gro`, `rx-lro`,
/// `rx-vlan-hw-parse`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: String,
    /// In effect now.
    pub active: bool,
    /// Asked for by the user (may differ from `active` when a dependency is missing).
    pub requested: bool,
    /// The driver lets the user switch it (`ethtool -k` prints `[fixed]` otherwise).
    pub changeable: bool,
}

/// All features with their state, through `ETHTOOL_GSSET_INFO`, `ETHTOOL_GSTRINGS` and
/// `ETHTOOL_GFEATURES`.
pub fn features(name: &str) -> Result<Vec<Feature>> {
    // struct ethtool_sset_info: cmd, reserved, u64 sset_mask, data[1] (padded to 24 bytes).
    let mut info = [0u32; 6];
    info[0] = ETHTOOL_GSSET_INFO;
    let mask = 1u64 << ETH_SS_FEATURES;
    let mb = mask.to_ne_bytes();
    info[2] = u32::from_ne_bytes([mb[0], mb[1], mb[2], mb[3]]);
    info[3] = u32::from_ne_bytes([mb[4], mb[5], mb[6], mb[7]]);
    // SAFETY: info is 6 words: struct ethtool_sset_info with room for the one u32 of data asked for.
    unsafe { ethtool(name, &mut info, "ioctl(SIOCETHTOOL, ETHTOOL_GSSET_INFO)") }?;
    let gb = bytes_of(&info[2..4]);
    let got = u64::from_ne_bytes([gb[0], gb[1], gb[2], gb[3], gb[4], gb[5], gb[6], gb[7]]);
    if got & mask == 0 {
        return Err(Error::from_errno(
            "ioctl(SIOCETHTOOL, ETHTOOL_GSSET_INFO)",
            Errno::EOPNOTSUPP,
        ));
    }
    let count = info[4] as usize;
    if count == 0 || count > 4096 {
        return Err(Error::from_errno(
            "ioctl(SIOCETHTOOL, ETHTOOL_GSSET_INFO)",
            Errno::EPROTO,
        ));
    }

    // struct ethtool_gstrings: cmd, string_set, len, then len x 32 bytes.
    let mut strings = vec![0u32; 3 + count * ETH_GSTRING_LEN / 4];
    strings[0] = ETHTOOL_GSTRINGS;
    strings[1] = ETH_SS_FEATURES;
    strings[2] = count as u32;
    // SAFETY: strings holds the 3-word header and the `count` strings of 32 bytes asked for in word 2.
    unsafe { ethtool(name, &mut strings, "ioctl(SIOCETHTOOL, ETHTOOL_GSTRINGS)") }?;
    let names = bytes_of(&strings[3..]);

    // struct ethtool_gfeatures: cmd, size (blocks), then per block available, requested,
    // active, never_changed.
    let blocks = count.div_ceil(32);
    let mut feat = vec![0u32; 2 + 4 * blocks];
    feat[0] = ETHTOOL_GFEATURES;
    feat[1] = blocks as u32;
    // SAFETY: feat holds the 2-word header and the `blocks` blocks of 4 words asked for in word 1.
    unsafe { ethtool(name, &mut feat, "ioctl(SIOCETHTOOL, ETHTOOL_GFEATURES)") }?;

    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let n = c_string(&names[i * ETH_GSTRING_LEN..(i + 1) * ETH_GSTRING_LEN]);
        if n.is_empty() {
            continue;
        }
        let block = 2 + 4 * (i / 32);
        let bit = 1u32 << (i % 32);
        out.push(Feature {
            name: n,
            changeable: feat[block] & bit != 0 && feat[block + 3] & bit == 0,
            requested: feat[block + 1] & bit != 0,
            active: feat[block + 2] & bit != 0,
        });
    }
    Ok(out)
}

/// The three offloads through the legacy requests (`ETHTOOL_GGRO`, `ETHTOOL_GFLAGS`), for
/// kernels or drivers that refuse `ETHTOOL_GFEATURES`. `None` where the request failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegacyOffloads {
    pub gro: Option<bool>,
    pub lro: Option<bool>,
    pub rx_vlan: Option<bool>,
}

/// GRO, LRO and RX VLAN stripping through the legacy value requests.
pub fn legacy_offloads(name: &str) -> LegacyOffloads {
    let value = |cmd: u32, call: &'static str| -> Result<u32> {
        // struct ethtool_value: cmd, data.
        let mut buf = [cmd, 0];
        // SAFETY: buf is 2 words, the 8 bytes of struct ethtool_value.
        unsafe { ethtool(name, &mut buf, call) }?;
        Ok(buf[1])
    };
    let gro = value(ETHTOOL_GGRO, "ioctl(SIOCETHTOOL, ETHTOOL_GGRO)").ok();
    let flags = value(ETHTOOL_GFLAGS, "ioctl(SIOCETHTOOL, ETHTOOL_GFLAGS)").ok();
    LegacyOffloads {
        gro: gro.map(|v| v != 0),
        lro: flags.map(|f| f & ETH_FLAG_LRO != 0),
        rx_vlan: flags.map(|f| f & ETH_FLAG_RXVLAN != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_answers_driver_and_features() {
        // Loopback exists in every namespace and implements these requests without privilege.
        let feats = features("lo").expect("features of lo");
        assert!(feats.iter().any(|f| f.name == "rx-gro"), "{feats:?}");
        let legacy = legacy_offloads("lo");
        let gro = feats.iter().find(|f| f.name == "rx-gro").unwrap().active;
        assert_eq!(legacy.gro, Some(gro));
    }

    #[test]
    fn unknown_interface_is_enodev() {
        let e = driver_info("nosuchif9").unwrap_err();
        assert_eq!(e.errno(), Some(Errno::ENODEV));
        assert!(e.to_string().contains("ETHTOOL_GDRVINFO"), "{e}");
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert_eq!(c_string(b"veth\0\0xx"), "veth");
        assert_eq!(c_string(b"abc"), "abc");
    }
}
