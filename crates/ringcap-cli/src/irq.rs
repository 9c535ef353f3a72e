//! `ringcap irq`: an interface's queue interrupts, where they may run and where they ran;
//! spreading them one CPU per queue (`--spread`), or RPS over CPUs (`--rps`) for devices
//! without interrupts of their own.

use anyhow::{bail, Context};
use ringcap_netinfo::cpulist::{format_cpu_list, format_cpu_mask, online_cpus, parse_cpu_list};
use ringcap_netinfo::irq::{self, DeviceIrq};

/// `println!` that ignores a closed stdout (`ringcap ... | head`) instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

#[derive(clap::Args)]
#[command(after_help = "\
Without interrupt spreading one CPU takes every queue's interrupt and runs all the receive work
(watch it with `ringcap ifstat IF --cpu`). --spread gives each queue one CPU, round robin over
--cpus (a queue's separate RX and TX interrupts share it), through
/proc/irq/N/smp_affinity_list, printing each change. irqbalance rewrites affinities: stop
it first (`systemctl stop irqbalance`). Virtual devices (veth, bridges) have no interrupts; --rps
sets rps_cpus on each RX queue instead, so protocol work is handed to those CPUs by flow hash.

Examples:
  ringcap irq eth0                      queues, IRQs, affinity, per-CPU counts, RPS
  ringcap irq eth0 --spread --cpus 2-7 --dry-run
  ringcap irq veth0 --rps --cpus 0-3
  ringcap irq veth0 --rps --off")]
pub struct Args {
    /// Interface whose queues to show or change.
    #[arg(value_name = "IFACE")]
    pub iface: String,
    /// Set one CPU per queue's IRQs, round robin over --cpus.
    #[arg(long, conflicts_with = "rps")]
    pub spread: bool,
    /// Set rps_cpus of every RX queue to --cpus.
    #[arg(long)]
    pub rps: bool,
    /// With --rps: clear rps_cpus (RPS off).
    #[arg(long, requires = "rps", conflicts_with = "cpus")]
    pub off: bool,
    /// CPUs to use, e.g. 0-3,8 (default: every online CPU).
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Print the changes without writing them.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let iface = args.iface.as_str();
    ringcap_netinfo::check_interface(iface)?;
    let online = online_cpus();
    let cpus = match &args.cpus {
        Some(list) => {
            let cpus = parse_cpu_list(list)?;
            if cpus.is_empty() {
                bail!("--cpus {list:?} names no CPU");
            }
            if let Some(c) = cpus.iter().find(|c| !online.contains(c)) {
                bail!(
                    "CPU {c} in --cpus is not online (online: {})",
                    format_cpu_list(&online)
                );
            }
            cpus
        }
        None => online.clone(),
    };

    if args.rps {
        let target = if args.off { Vec::new() } else { cpus };
        return set_rps(iface, &target, args.dry_run);
    }

    let irqs = irq::interface_irqs(iface).context("reading /proc/interrupts")?;
    let driver = ringcap_netinfo::iface::driver_name(iface).unwrap_or_else(|| "unknown".into());
    if irqs.is_empty() {
        let why = if irq::has_device(iface) {
            "no interrupts found for its device"
        } else {
            "a virtual device"
        };
        if args.spread {
            bail!(
                "{iface} has no IRQs to spread ({why}, driver {driver}); use `ringcap irq {iface} --rps` to spread its receive work"
            );
        }
        say!(
            "{iface}: no IRQs of its own ({why}, driver {driver}): its receive work runs on \
             the CPU that sends to it; `--rps` spreads protocol work over CPUs"
        );
        print_rps(iface);
        return Ok(0);
    }

    if irq::irqbalance_running() {
        eprintln!(
            "warning: irqbalance is running and rewrites IRQ affinities (it will undo --spread); \
             stop it first: systemctl stop irqbalance"
        );
    }

    if args.spread {
        let queue_irqs: Vec<&DeviceIrq> = irqs.iter().filter(|i| i.queue).collect();
        if queue_irqs.is_empty() {
            bail!("{iface} has IRQs but none belongs to a queue (all are control interrupts)");
        }
        let named: Vec<(u32, &str)> = queue_irqs
            .iter()
            .map(|i| (i.irq, i.name.as_str()))
            .collect();
        let verb = if args.dry_run { "would set" } else { "set" };
        for (irq_no, cpu) in irq::spread_plan(&named, &cpus) {
            let Some(info) = queue_irqs.iter().find(|i| i.irq == irq_no) else {
                continue;
            };
            let before = info
                .affinity
                .as_deref()
                .map(format_cpu_list)
                .unwrap_or_else(|| "?".into());
            if info.affinity.as_deref() == Some(&[cpu][..]) {
                say!("IRQ {irq_no} ({}): already on CPU {cpu}", info.name);
                continue;
            }
            if !args.dry_run {
                irq::set_affinity(irq_no, &[cpu])?;
            }
            say!("IRQ {irq_no} ({}): {verb} CPU {before} -> {cpu}", info.name);
        }
        return Ok(0);
    }

    say!(
        "{iface}: {} IRQs ({} for queues), driver {driver}",
        irqs.len(),
        irqs.iter().filter(|i| i.queue).count()
    );
    say!(
        "  {:>5}  {:<24} {:<6} {:<10} {:<10} handled per CPU",
        "IRQ",
        "name",
        "queue",
        "affinity",
        "effective"
    );
    for i in &irqs {
        let aff = i
            .affinity
            .as_deref()
            .map(format_cpu_list)
            .unwrap_or_else(|| "?".into());
        let eff = i
            .effective
            .as_deref()
            .map(format_cpu_list)
            .unwrap_or_else(|| "-".into());
        let handled: Vec<String> = i
            .counts
            .iter()
            .filter(|&&(_, n)| n > 0)
            .map(|&(c, n)| format!("cpu{c}:{n}"))
            .collect();
        let handled = if handled.is_empty() {
            "none".to_string()
        } else {
            handled.join(" ")
        };
        let name = if i.name.is_empty() {
            "(no handler)"
        } else {
            &i.name
        };
        say!(
            "  {:>5}  {:<24} {:<6} {:<10} {:<10} {handled}",
            i.irq,
            name,
            if i.queue { "yes" } else { "no" },
            aff,
            eff
        );
    }
    print_rps(iface);
    Ok(0)
}

fn print_rps(iface: &str) {
    let Ok(queues) = irq::queues(iface, "rx") else {
        return;
    };
    let states: Vec<String> = queues
        .iter()
        .map(|q| match irq::read_rps(iface, q) {
            Ok(c) if c.is_empty() => format!("{q} off"),
            Ok(c) => format!("{q} {}", format_cpu_list(&c)),
            Err(_) => format!("{q} ?"),
        })
        .collect();
    say!("  RPS: {}", states.join(", "));
}

fn set_rps(iface: &str, cpus: &[usize], dry_run: bool) -> anyhow::Result<i32> {
    let queues = irq::queues(iface, "rx")?;
    if queues.is_empty() {
        bail!("{iface} has no RX queues in /sys/class/net/{iface}/queues");
    }
    let verb = if dry_run { "would set" } else { "set" };
    let desc = if cpus.is_empty() {
        "off".to_string()
    } else {
        format!("CPUs {}", format_cpu_list(cpus))
    };
    for q in &queues {
        let before = irq::read_rps(iface, q)?;
        let path = irq::rps_path(iface, q);
        if !dry_run {
            irq::write_rps(iface, q, cpus)?;
            let after = irq::read_rps(iface, q)?;
            if after != cpus {
                bail!(
                    "{} reads back {} after writing {}",
                    path.display(),
                    format_cpu_mask(&after),
                    format_cpu_mask(cpus)
                );
            }
        }
        say!(
            "{}: {verb} {} -> {} ({desc})",
            path.display(),
            format_cpu_mask(&before),
            format_cpu_mask(cpus)
        );
    }
    Ok(0)
}
