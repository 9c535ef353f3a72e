//! A device's queue interrupts and receive packet steering.
//!
//! A multi-queue NIC raises one MSI-X interrupt per queue (listed in
//! `/sys/class/net/IF/device/msi_irqs`, named in `/proc/interrupts`, e.g. `eth0-TxRx-3`). The
//! CPU that takes a queue's interrupt also runs its `NET_RX` softirq, so when every queue
//! interrupt lands on one CPU (the default on many systems) that CPU caps the receive rate.
//! Spreading sets one CPU per queue interrupt through `/proc/irq/N/smp_affinity_list`.
//!
//! Virtual devices (veth, bridges, tunnels) have no interrupts; their receive work runs where the
//! sender runs. RPS (`/sys/class/net/IF/queues/rx-N/rps_cpus`) moves the protocol work of each
//! RX queue to other CPUs chosen by flow hash, which is the spreading knob they do have.

use std::path::{Path, PathBuf};

use crate::cpulist::{format_cpu_list, format_cpu_mask, parse_cpu_list, parse_cpu_mask};
use crate::{read_file, sysfs_dir, write_file, Error, Result};

/// One numbered line of `/proc/interrupts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptLine {
    pub irq: u32,
    /// `(cpu, count)` in column order.
    pub counts: Vec<(usize, u64)>,
    /// The interrupt controller (`PCI-MSIX-0000:00:03.0`, `IR-PCI-MSI`, `IO-APIC`).
    pub chip: String,
    /// The handler names (`eth0-TxRx-0`, `virtio2-input.0`); several are joined by ", ".
    pub name: String,
}

impl InterruptLine {
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&(_, c)| c).sum()
    }
}

/// Whether a token of `/proc/interrupts` is the trigger type (`1-edge`, `PCI-MSI-edge`,
/// `fasteoi`, `Level`), after which the handler names follow.
fn is_trigger(token: &str) -> bool {
    let t = token.to_ascii_lowercase();
    t.ends_with("edge") || t.ends_with("level") || t.ends_with("fasteoi") || t.ends_with("-eoi")
}

/// Parses the numbered lines of `/proc/interrupts` (NMI, LOC and other letter lines are skipped).
pub fn parse_interrupts(text: &str) -> Result<Vec<InterruptLine>> {
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::parse("/proc/interrupts", "empty"))?;
    let cpus: Vec<usize> = header
        .split_whitespace()
        .map(|c| {
            c.strip_prefix("CPU")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::parse("/proc/interrupts", format!("bad header column {c:?}")))
        })
        .collect::<Result<_>>()?;
    let mut out = Vec::new();
    for line in lines {
        let Some((label, rest)) = line.split_once(':') else {
            continue;
        };
        let Ok(irq) = label.trim().parse::<u32>() else {
            continue;
        };
        let mut tokens = rest.split_whitespace().peekable();
        let mut counts = Vec::with_capacity(cpus.len());
        for &cpu in &cpus {
            match tokens.peek().and_then(|t| t.parse::<u64>().ok()) {
                Some(c) => {
                    counts.push((cpu, c));
                    tokens.next();
                }
                None => break,
            }
        }
        let desc: Vec<&str> = tokens.collect();
        let chip = desc.first().copied().unwrap_or("").to_string();
        let name = match desc.iter().position(|t| is_trigger(t)) {
            Some(i) => desc[i + 1..].join(" "),
            None => desc.get(1..).map(|d| d.join(" ")).unwrap_or_default(),
        };
        out.push(InterruptLine {
            irq,
            counts,
            chip,
            name,
        });
    }
    Ok(out)
}

/// `/proc/interrupts`, now.
pub fn read_interrupts() -> Result<Vec<InterruptLine>> {
    parse_interrupts(&read_file("/proc/interrupts")?)
}

/// Whether an interrupt name is a queue's (as opposed to the device's control or error
/// interrupt: `virtio2-config`, `i40e-0000:3b:00.0:misc`, `mlx5_async_eq`, ...).
pub fn is_queue_irq_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const CONTROL: [&str; 10] = [
        "config", "misc", "async", "event", "ctrl", "control", "adminq", "mgmt", "cmdq", "aeq",
    ];
    !CONTROL.iter().any(|c| n.contains(c))
}

/// Parses the entries of an `msi_irqs` directory (file names are IRQ numbers).
pub fn parse_msi_irq_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
    let mut v: Vec<u32> = names.into_iter().filter_map(|n| n.parse().ok()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn list_dir(path: &Path) -> Option<Vec<String>> {
    let rd = std::fs::read_dir(path).ok()?;
    Some(
        rd.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}

/// Whether the interface has a device behind it (`/sys/class/net/IF/device`); virtual devices
/// do not.
pub fn has_device(iface: &str) -> bool {
    sysfs_dir(iface).join("device").exists()
}

/// The IRQ numbers of the device behind `iface`: its MSI/MSI-X vectors (for virtio-net, those of
/// the PCI function the virtio device sits on), else its legacy INTx line, else the lines of
/// `/proc/interrupts` named after the interface. Empty for virtual devices.
pub fn device_irqs(iface: &str, interrupts: &[InterruptLine]) -> Vec<u32> {
    let dev = sysfs_dir(iface).join("device");
    if !dev.exists() {
        return Vec::new();
    }
    if let Some(names) = list_dir(&dev.join("msi_irqs")) {
        return parse_msi_irq_names(names.iter().map(String::as_str));
    }
    let on_virtio = std::fs::read_link(dev.join("subsystem"))
        .map(|p| p.ends_with("virtio"))
        .unwrap_or(false);
    if on_virtio {
        if let Some(names) = list_dir(&dev.join("..").join("msi_irqs")) {
            return parse_msi_irq_names(names.iter().map(String::as_str));
        }
    }
    if let Ok(t) = std::fs::read_to_string(dev.join("irq")) {
        if let Ok(n) = t.trim().parse::<u32>() {
            if n != 0 {
                return vec![n];
            }
        }
    }
    interrupts
        .iter()
        .filter(|l| name_mentions(&l.name, iface))
        .map(|l| l.irq)
        .collect()
}

/// Whether an interrupt name belongs to `iface`: `eth0`, `eth0-TxRx-3`, `i40e-eth0-TxRx-3`.
fn name_mentions(name: &str, iface: &str) -> bool {
    name.split([' ', ',']).any(|handler| {
        handler == iface
            || handler.split_once(iface).is_some_and(|(pre, post)| {
                (pre.is_empty() || pre.ends_with('-') || pre.ends_with(' '))
                    && (post.is_empty() || post.starts_with('-') || post.starts_with('@'))
            })
    })
}

/// One interrupt of a device, with where it may run and where it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIrq {
    pub irq: u32,
    /// Handler name from `/proc/interrupts`; empty when no handler is registered.
    pub name: String,
    /// A queue's interrupt (see [`is_queue_irq_name`]).
    pub queue: bool,
    /// `smp_affinity_list`: the CPUs it may be delivered to.
    pub affinity: Option<Vec<usize>>,
    /// `effective_affinity_list`: the CPU(s) it is actually delivered to, when the kernel says.
    pub effective: Option<Vec<usize>>,
    /// `(cpu, count)` of interrupts handled so far.
    pub counts: Vec<(usize, u64)>,
}

/// Path of an IRQ's affinity list.
pub fn affinity_path(irq: u32) -> PathBuf {
    PathBuf::from(format!("/proc/irq/{irq}/smp_affinity_list"))
}

/// The CPUs an IRQ may be delivered to.
pub fn read_affinity(irq: u32) -> Result<Vec<usize>> {
    parse_cpu_list(&read_file(affinity_path(irq))?)
}

/// Sets the CPUs an IRQ may be delivered to. The kernel refuses (EIO) for interrupts whose
/// affinity it manages itself (many drivers spread their queue vectors that way).
pub fn set_affinity(irq: u32, cpus: &[usize]) -> Result<()> {
    let path = affinity_path(irq);
    match write_file(&path, &format!("{}\n", format_cpu_list(cpus))) {
        Err(Error::Write { source, .. }) if source.raw_os_error() == Some(5) => {
            Err(Error::Refused {
                path,
                reason: "the kernel manages this interrupt's affinity (the driver spreads its \
                         queue interrupts itself)"
                    .into(),
            })
        }
        other => other,
    }
}

/// The interrupts of the device behind `iface`, sorted by number, with affinity and counts.
pub fn interface_irqs(iface: &str) -> Result<Vec<DeviceIrq>> {
    let lines = read_interrupts()?;
    let mut out = Vec::new();
    for irq in device_irqs(iface, &lines) {
        let line = lines.iter().find(|l| l.irq == irq);
        let name = line.map(|l| l.name.clone()).unwrap_or_default();
        let effective = std::fs::read_to_string(format!("/proc/irq/{irq}/effective_affinity_list"))
            .ok()
            .and_then(|t| parse_cpu_list(&t).ok());
        out.push(DeviceIrq {
            irq,
            queue: !name.is_empty() && is_queue_irq_name(&name),
            name,
            affinity: read_affinity(irq).ok(),
            effective,
            counts: line.map(|l| l.counts.clone()).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The queue number in an interrupt name: `eth0-TxRx-3` → 3, `virtio2-input.0` → 0,
/// `mlx5_comp3@pci:0000:03:00.0` → 3 (the part after `@` is ignored). `None` without one.
pub fn queue_index(name: &str) -> Option<u32> {
    let base = name.split('@').next().unwrap_or(name);
    let digits: String = base
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// One CPU per queue, round robin over `cpus` in the order given: the interrupts of one queue
/// (a driver with separate RX and TX vectors has two, e.g. `virtio2-input.0` and
/// `virtio2-output.0`) share its CPU; an interrupt without a queue number is a queue of its own.
/// `irqs` are `(irq, name)`; the plan keeps their order, grouped by queue number.
pub fn spread_plan(irqs: &[(u32, &str)], cpus: &[usize]) -> Vec<(u32, usize)> {
    if cpus.is_empty() {
        return Vec::new();
    }
    let mut keyed: Vec<(Option<u32>, usize, u32)> = irqs
        .iter()
        .enumerate()
        .map(|(pos, &(irq, name))| (queue_index(name), pos, irq))
        .collect();
    // Numbered queues in number order, then the unnumbered ones in the order given.
    keyed.sort_by_key(|&(q, pos, _)| (q.is_none(), q, pos));
    let mut out = Vec::with_capacity(keyed.len());
    let mut slot = 0usize;
    let mut last: Option<Option<u32>> = None;
    for (q, _, irq) in keyed {
        if let Some(prev) = last {
            if q.is_none() || prev != q {
                slot += 1;
            }
        }
        last = Some(q);
        out.push((irq, cpus[slot % cpus.len()]));
    }
    out
}

/// Whether a process named `irqbalance` runs (it rewrites affinities and undoes a spread).
pub fn irqbalance_running() -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .map(|c| c.trim() == "irqbalance")
                .unwrap_or(false)
        })
}

/// Sorts queue directory names (`rx-10` after `rx-9`).
pub fn sort_queues(names: &mut [String]) {
    names.sort_by_key(|n| {
        let (kind, num) = n.split_once('-').unwrap_or((n.as_str(), ""));
        (kind.to_string(), num.parse::<u64>().unwrap_or(u64::MAX))
    });
}

/// The interface's queues of one kind (`rx` or `tx`) from `/sys/class/net/IF/queues`.
pub fn queues(iface: &str, kind: &str) -> Result<Vec<String>> {
    let dir = sysfs_dir(iface).join("queues");
    let names = list_dir(&dir).ok_or_else(|| Error::Io {
        path: dir.clone(),
        source: std::io::Error::from_raw_os_error(2),
    })?;
    let prefix = format!("{kind}-");
    let mut v: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    sort_queues(&mut v);
    Ok(v)
}

/// Path of a RX queue's RPS mask.
pub fn rps_path(iface: &str, queue: &str) -> PathBuf {
    sysfs_dir(iface).join("queues").join(queue).join("rps_cpus")
}

/// The CPUs RPS hands a RX queue's packets to (empty: RPS is off).
pub fn read_rps(iface: &str, queue: &str) -> Result<Vec<usize>> {
    parse_cpu_mask(&read_file(rps_path(iface, queue))?)
}

/// Sets a RX queue's RPS CPUs (empty turns RPS off for that queue).
pub fn write_rps(iface: &str, queue: &str, cpus: &[usize]) -> Result<()> {
    write_file(
        rps_path(iface, queue),
        &format!("{}\n", format_cpu_mask(cpus)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERRUPTS: &str = "           CPU0       CPU1       
 24:          1          0  IO-APIC   5-edge      ACPI:Ged
 37:          0          0 PCI-MSIX-0000:00:03.0   0-edge      virtio2-config
 38:          0       1692 PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0
 39:       1396          0 PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0
 120:      5000         10  IR-PCI-MSI 524288-edge      eth0-TxRx-0
 121:        7          9  PCI-MSI-edge      eth1-rx-1
 130:        0          0  IR-PCI-MSIX-0000:3b:00.0    0-edge      i40e-0000:3b:00.0:misc
  9:          0          0   IO-APIC   9-fasteoi   acpi, eth2
NMI:          0          0   Non-maskable interrupts
ERR:          0
";

    #[test]
    fn interrupts_lines() {
        let v = parse_interrupts(INTERRUPTS).unwrap();
        assert_eq!(v.len(), 8);
        assert_eq!(v[2].irq, 38);
        assert_eq!(v[2].counts, vec![(0, 0), (1, 1692)]);
        assert_eq!(v[2].name, "virtio2-input.0");
        assert_eq!(v[2].chip, "PCI-MSIX-0000:00:03.0");
        assert_eq!(v[4].name, "eth0-TxRx-0");
        assert_eq!(v[4].total(), 5010);
        assert_eq!(v[5].name, "eth1-rx-1");
        assert_eq!(v[6].name, "i40e-0000:3b:00.0:misc");
        assert_eq!(v[7].name, "acpi, eth2");
        assert!(parse_interrupts("").is_err());
    }

    #[test]
    fn queue_names() {
        assert!(is_queue_irq_name("virtio2-input.0"));
        assert!(is_queue_irq_name("eth0-TxRx-3"));
        assert!(is_queue_irq_name("mlx5_comp3@pci:0000:03:00.0"));
        assert!(!is_queue_irq_name("virtio2-config"));
        assert!(!is_queue_irq_name("i40e-0000:3b:00.0:misc"));
        assert!(!is_queue_irq_name("mlx5_async_eq@pci:0000:03:00.0"));
    }

    #[test]
    fn names_that_mention_an_interface() {
        assert!(name_mentions("eth0-TxRx-0", "eth0"));
        assert!(name_mentions("i40e-eth0-TxRx-0", "eth0"));
        assert!(name_mentions("acpi, eth2", "eth2"));
        assert!(!name_mentions("eth01-TxRx-0", "eth0"));
        assert!(!name_mentions("veth0", "eth0"));
    }

    #[test]
    fn msi_dir_entries() {
        assert_eq!(
            parse_msi_irq_names(["39", "37", "38", "x"]),
            vec![37, 38, 39]
        );
    }

    #[test]
    fn round_robin() {
        let irqs = [
            (10, "eth0-TxRx-0"),
            (11, "eth0-TxRx-1"),
            (12, "eth0-TxRx-2"),
            (13, "eth0-TxRx-3"),
            (14, "eth0-TxRx-4"),
        ];
        assert_eq!(
            spread_plan(&irqs, &[2, 3]),
            vec![(10, 2), (11, 3), (12, 2), (13, 3), (14, 2)]
        );
        assert!(spread_plan(&irqs, &[]).is_empty());
    }

    #[test]
    fn rx_and_tx_vectors_of_a_queue_share_a_cpu() {
        let irqs = [
            (38, "virtio2-input.0"),
            (39, "virtio2-output.0"),
            (40, "virtio2-input.1"),
            (41, "virtio2-output.1"),
            (50, "eth9"),
        ];
        assert_eq!(
            spread_plan(&irqs, &[0, 1, 2]),
            vec![(38, 0), (39, 0), (40, 1), (41, 1), (50, 2)]
        );
    }

    #[test]
    fn queue_numbers_in_names() {
        assert_eq!(queue_index("eth0-TxRx-3"), Some(3));
        assert_eq!(queue_index("virtio2-input.12"), Some(12));
        assert_eq!(queue_index("mlx5_comp3@pci:0000:03:00.0"), Some(3));
        assert_eq!(queue_index("ACPI:Ged"), None);
    }

    #[test]
    fn queue_order_is_numeric() {
        let mut v: Vec<String> = ["rx-10", "rx-2", "rx-1", "rx-0"].map(String::from).to_vec();
        sort_queues(&mut v);
        assert_eq!(v, ["rx-0", "rx-1", "rx-2", "rx-10"]);
    }

    #[test]
    fn loopback_has_no_irqs_but_a_queue() {
        let lines = read_interrupts().unwrap();
        assert!(device_irqs("lo", &lines).is_empty());
        assert_eq!(queues("lo", "rx").unwrap(), vec!["rx-0".to_string()]);
    }
}
