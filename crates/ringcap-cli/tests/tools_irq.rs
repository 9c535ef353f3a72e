//! `ringcap irq` on veth devices in a private namespace: no IRQs (said so), `--rps` writes
//! rps_cpus on every RX queue (read back through sysfs by the shell), `--rps --off` clears it,
//! `--dry-run` writes nothing, and refusals are one clear line.

use std::process::Output;

use ringcap_netlab::TestNet;

const BIN: &str = env!("CARGO_BIN_EXE_ringcap");

fn run(net: &TestNet, args: &[&str]) -> Output {
    net.command(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The CPUs in a kernel hex mask (`3`, `00000000,00000001`).
fn mask_cpus(mask: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (gi, g) in mask.trim().rsplit(',').enumerate() {
        let v = u32::from_str_radix(g, 16).unwrap();
        out.extend((0..32).filter(|b| v & (1 << b) != 0).map(|b| gi * 32 + b));
    }
    out.sort();
    out
}

/// rps_cpus of a queue as the namespace's own sysfs shows it to `cat`.
fn rps(net: &TestNet, iface: &str, queue: &str) -> Vec<usize> {
    mask_cpus(
        &net.sh(&format!(
            "cat /sys/class/net/{iface}/queues/{queue}/rps_cpus"
        ))
        .unwrap(),
    )
}

fn online() -> Vec<usize> {
    let t = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let mut v = Vec::new();
    for part in t.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => v.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => v.push(part.parse().unwrap()),
        }
    }
    v
}

fn assert_one_error_line(out: &Output) -> String {
    let err = ringcap_netlab::tools::one_line_error(out);
    assert!(err.starts_with("ringcap: "), "{err}");
    err
}

#[test]
fn veth_has_no_irqs_and_cannot_spread() {
    if !ringcap_netlab::can_run("veth_has_no_irqs_and_cannot_spread") {
        return;
    }
    let net = TestNet::new().unwrap();
    let out = run(&net, &["irq", "rc0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("rc0: no IRQs of its own"), "{s}");
    assert!(s.contains("driver veth"), "{s}");
    assert!(s.contains("RPS: rx-0 off"), "{s}");

    let err = assert_one_error_line(&run(&net, &["irq", "rc0", "--spread"]));
    assert!(
        err.contains("no IRQs to spread") && err.contains("--rps"),
        "{err}"
    );
}

#[test]
fn rps_writes_reads_back_and_clears() {
    if !ringcap_netlab::can_run("rps_writes_reads_back_and_clears") {
        return;
    }
    let net = TestNet::new().unwrap();
    let cpus = online();
    let last = *cpus.last().unwrap();
    assert_eq!(rps(&net, "rc0", "rx-0"), Vec::<usize>::new());

    // One CPU.
    let out = run(&net, &["irq", "rc0", "--rps", "--cpus", &last.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("/sys/class/net/rc0/queues/rx-0/rps_cpus: set 0 -> "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(rps(&net, "rc0", "rx-0"), vec![last]);

    // --dry-run changes nothing.
    let out = run(&net, &["irq", "rc0", "--rps", "--off", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("would set"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(rps(&net, "rc0", "rx-0"), vec![last]);

    // Default: every online CPU; the listing shows it.
    let out = run(&net, &["irq", "rc0", "--rps"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rps(&net, "rc0", "rx-0"), cpus);
    let show = text(&run(&net, &["irq", "rc0"]).stdout);
    assert!(!show.contains("rx-0 off"), "{show}");

    // --off clears it.
    let out = run(&net, &["irq", "rc0", "--rps", "--off"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rps(&net, "rc0", "rx-0"), Vec::<usize>::new());
    // The peer was never touched.
    assert_eq!(rps(&net, "rc1", "rx-0"), Vec::<usize>::new());
}

#[test]
fn rps_covers_every_rx_queue() {
    if !ringcap_netlab::can_run("rps_covers_every_rx_queue") {
        return;
    }
    let net = TestNet::new().unwrap();
    net.add_veth("rq0", "rq1", 4, 4).unwrap();
    let out = run(&net, &["irq", "rq0", "--rps", "--cpus", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        4,
        "{}",
        text(&out.stdout)
    );
    for q in ["rx-0", "rx-1", "rx-2", "rx-3"] {
        assert_eq!(rps(&net, "rq0", q), vec![0], "{q}");
    }
    let out = run(&net, &["irq", "rq0", "--rps", "--off"]);
    assert!(out.status.success());
    for q in ["rx-0", "rx-1", "rx-2", "rx-3"] {
        assert_eq!(rps(&net, "rq0", q), Vec::<usize>::new(), "{q}");
    }
}

#[test]
fn refusals_are_one_clear_line() {
    if !ringcap_netlab::can_run("refusals_are_one_clear_line")
        || !ringcap_netlab::skip::tools(&["setpriv"])
    {
        return;
    }
    let net = TestNet::new().unwrap();

    let err = assert_one_error_line(&run(&net, &["irq", "nosuch0"]));
    assert!(
        err.contains("\"nosuch0\"") && err.contains("rc0") && err.contains("rc1"),
        "{err}"
    );

    let err = assert_one_error_line(&run(&net, &["irq", "rc0", "--rps", "--cpus", "4095"]));
    assert!(err.contains("not online"), "{err}");

    let err = assert_one_error_line(&run(&net, &["irq", "rc0", "--rps", "--cpus", "x"]));
    assert!(err.contains("CPU list"), "{err}");

    // Without privilege: run as nobody inside the namespace.
    let out = net
        .command("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            BIN,
            "irq",
            "rc0",
            "--rps",
        ])
        .output()
        .unwrap();
    let err = assert_one_error_line(&out);
    assert!(
        err.contains("cannot write /sys/class/net/rc0/queues/rx-0/rps_cpus: permission denied"),
        "{err}"
    );
    assert_eq!(rps(&net, "rc0", "rx-0"), Vec::<usize>::new());
}

/// A host interface with a device behind it (a NIC with IRQs), if this machine has one.
fn host_nic() -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| std::path::Path::new(&format!("/sys/class/net/{n}/device")).exists())
        .collect();
    names.sort();
    names.into_iter().next()
}

#[test]
fn host_nic_irqs_listed_and_spread_planned_without_writing() {
    // Read-only on the host: lists the IRQs of a real device and plans a spread with --dry-run.
    let Some(nic) = host_nic() else {
        ringcap_netlab::skip::skip("no interface with a device behind it on this machine");
        return;
    };
    let out = std::process::Command::new(BIN)
        .args(["irq", &nic])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    if listing.contains("no IRQs of its own") {
        ringcap_netlab::skip::skip(&format!("{nic} shows no IRQs of its own"));
        return;
    }
    let interrupts = std::fs::read_to_string("/proc/interrupts").unwrap();
    let rows: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|t| t.first().is_some_and(|f| f.parse::<u32>().is_ok()))
        .collect();
    assert!(!rows.is_empty(), "{listing}");
    let mut queue_irqs = Vec::new();
    for r in &rows {
        // Every IRQ listed is in /proc/interrupts under the name shown.
        let line = interrupts
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{}:", r[0])))
            .unwrap_or_else(|| panic!("IRQ {} not in /proc/interrupts", r[0]));
        assert!(line.contains(r[1]), "{line} vs {r:?}");
        if r[2] == "yes" {
            queue_irqs.push(r[0].to_string());
        }
    }
    let before: Vec<String> = queue_irqs
        .iter()
        .map(|i| std::fs::read_to_string(format!("/proc/irq/{i}/smp_affinity_list")).unwrap())
        .collect();
    let out = std::process::Command::new(BIN)
        .args(["irq", &nic, "--spread", "--dry-run", "--cpus", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert_eq!(plan.lines().count(), queue_irqs.len(), "{plan}");
    for i in &queue_irqs {
        assert!(
            plan.lines().any(|l| l.starts_with(&format!("IRQ {i} "))
                && (l.ends_with("-> 0") || l.ends_with("already on CPU 0"))),
            "{plan}"
        );
    }
    let after: Vec<String> = queue_irqs
        .iter()
        .map(|i| std::fs::read_to_string(format!("/proc/irq/{i}/smp_affinity_list")).unwrap())
        .collect();
    assert_eq!(before, after, "--dry-run changed an affinity");

    // Without privilege the first write is refused in one line naming the file; nothing changes.
    // (As root, run as nobody; otherwise this test is unprivileged already.)
    if plan.contains("would set") {
        let mut cmd = if ringcap::process::is_root() {
            let mut c = std::process::Command::new("setpriv");
            c.args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                BIN,
            ]);
            c
        } else {
            std::process::Command::new(BIN)
        };
        let out = cmd
            .args(["irq", &nic, "--spread", "--cpus", "0"])
            .output()
            .unwrap();
        let err = assert_one_error_line(&out);
        assert!(
            err.contains("cannot write /proc/irq/")
                && err.contains("/smp_affinity_list: permission denied"),
            "{err}"
        );
        let again: Vec<String> = queue_irqs
            .iter()
            .map(|i| std::fs::read_to_string(format!("/proc/irq/{i}/smp_affinity_list")).unwrap())
            .collect();
        assert_eq!(before, again);
    }
}
