//! The machine a bench ran on, for the caption of its chart and its JSON: figures mean little
//! without it.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    /// Online CPUs.
    pub cpus: usize,
    pub kernel: String,
}

impl Machine {
    /// This machine, from /proc.
    pub fn here() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Machine {
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".into()),
            cpus: ringcap::process::online_cpus(),
            kernel: match kernel.trim() {
                "" => "unknown".into(),
                k => k.to_string(),
            },
        }
    }

    /// `AMD EPYC, 2 CPUs, Linux 6.18.44`
    pub fn line(&self) -> String {
        format!(
            "{}, {} CPU{}, Linux {}",
            self.cpu_model,
            self.cpus,
            if self.cpus == 1 { "" } else { "s" },
            self.kernel
        )
    }
}

/// The CPU's name in /proc/cpuinfo: `model name` on x86, `Model`/`Hardware` or the
/// implementer/part on Arm; inner runs of spaces squeezed.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    let field = |key: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    };
    let name = field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("Hardware"))
        .or_else(|| {
            let part = field("CPU part")?;
            Some(format!(
                "CPU implementer {} part {part}",
                field("CPU implementer")?
            ))
        })?;
    Some(name.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_names() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13  64-Core Processor\nflags\t: fpu\n";
        assert_eq!(
            cpu_model(x86).as_deref(),
            Some("AMD EPYC 7B13 64-Core Processor")
        );
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n";
        assert_eq!(
            cpu_model(arm).as_deref(),
            Some("CPU implementer 0x41 part 0xd0c")
        );
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn one_line() {
        let m = Machine {
            cpu_model: "AMD EPYC".into(),
            cpus: 2,
            kernel: "6.18.44".into(),
        };
        assert_eq!(m.line(), "AMD EPYC, 2 CPUs, Linux 6.18.44");
        assert!(!Machine::here().line().is_empty());
    }
}
