//! `ringcap info`: the facts about an interface that change what a capture sees (driver, link,
//! speed, MTU, queue counts, GRO/LRO/VLAN offloads, promiscuous state, RPS), with advice.

use anyhow::Context;
use ringcap_netinfo::cpulist::{format_cpu_list, online_cpus};
use ringcap_netinfo::iface::Duplex;
use ringcap_netinfo::iface::{Info, Offload};

/// `println!` that ignores a closed stdout (`ringcap ... | head`) instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

#[derive(clap::Args)]
#[command(after_help = "\
Offloads are read through the ethtool ioctl (like `ethtool -k`); queue counts through ethtool
channels (`ethtool -l`), or from /sys/class/net/IF/queues when the driver has none.

Examples:
  ringcap info eth0")]
pub struct Args {
    /// Interface to describe.
    #[arg(value_name = "IFACE")]
    pub iface: String,
}

fn offload(o: Option<Offload>) -> String {
    match o {
        None => "unknown (the driver does not say)".into(),
        Some(o) => format!(
            "{}{}",
            if o.on { "on" } else { "off" },
            if o.fixed { " [fixed]" } else { "" }
        ),
    }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let iface = args.iface.as_str();
    ringcap_netinfo::check_interface(iface)?;
    let info = Info::read(iface).with_context(|| format!("reading the facts of {iface}"))?;

    say!("{} (ifindex {})", info.name, info.ifindex);
    let driver = match &info.driver {
        Some(d) => {
            let mut s = d.driver.clone();
            if !d.version.is_empty() {
                s.push_str(&format!(" {}", d.version));
            }
            if !d.bus_info.is_empty() {
                s.push_str(&format!(", bus {}", d.bus_info));
            }
            if !d.fw_version.is_empty() {
                s.push_str(&format!(", firmware {}", d.fw_version));
            }
            s
        }
        None => "unknown (no ethtool driver info)".into(),
    };
    let kind = if info.is_virtual {
        " (virtual device: no IRQs)"
    } else {
        ""
    };
    say!("  driver:       {driver}{kind}");
    let carrier = match info.carrier {
        Some(true) => "carrier",
        Some(false) => "no carrier",
        None => "carrier unknown",
    };
    say!(
        "  link:         {}, {carrier} (operstate {})",
        if info.admin_up { "up" } else { "down" },
        info.operstate
    );
    let speed = match info.link {
        Some(l) => {
            let s = l
                .speed_mbps
                .map(|m| format!("{m} Mbit/s"))
                .unwrap_or_else(|| "unknown".into());
            let d = match l.duplex {
                Duplex::Full => ", full duplex",
                Duplex::Half => ", half duplex",
                Duplex::Unknown => "",
            };
            format!("{s}{d}")
        }
        None => "unknown (the driver does not say)".into(),
    };
    say!("  speed:        {speed}");
    say!("  mtu:          {}", info.mtu);
    let max = match info.channels {
        Some(c) if info.queues_from == "ethtool channels" => {
            format!(
                "; max {} RX, {} TX",
                c.max_rx + c.max_combined,
                c.max_tx + c.max_combined
            )
        }
        _ => String::new(),
    };
    say!(
        "  queues:       {} RX, {} TX ({}{max})",
        info.rx_queues,
        info.tx_queues,
        info.queues_from
    );
    say!("  gro:          {}", offload(info.offloads.gro));
    say!("  rx-gro-hw:    {}", offload(info.offloads.gro_hw));
    say!("  lro:          {}", offload(info.offloads.lro));
    say!("  rx-vlan:      {}", offload(info.offloads.rx_vlan));
    if info.offloads.rx_vlan_stag.is_some() {
        say!("  rx-vlan-stag: {}", offload(info.offloads.rx_vlan_stag));
    }
    let promisc = match (info.promisc.configured, info.promisc.effective) {
        (true, _) => "on (configured)",
        (false, true) => "on (asked for by a capture)",
        (false, false) => "off",
    };
    say!("  promiscuous:  {promisc}");
    let rps: Vec<String> = info
        .rps
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(q, c)| format!("{q}: {}", format_cpu_list(c)))
        .collect();
    if info.rps.is_empty() {
        say!("  rps:          unknown");
    } else if rps.is_empty() {
        say!("  rps:          off");
    } else {
        say!("  rps:          {}", rps.join(", "));
    }
    let advice = info.advice(online_cpus().len());
    if !advice.is_empty() {
        say!("advice:");
        for a in advice {
            say!("  - {a}");
        }
    }
    Ok(0)
}
