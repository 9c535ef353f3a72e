//! Which tools the bench runs beside ringcap. Without `--compare` it takes every known tool
//! that is installed and names the missing ones with the line that installs them, so the bench
//! needs nothing but itself; a tool asked for by name must be there.

use std::path::PathBuf;

use crate::tools::{self, Tool};

/// The tools to run, and the known ones left out because they are not installed.
#[derive(Debug, PartialEq, Eq)]
pub struct Choice {
    pub tools: Vec<&'static Tool>,
    pub missing: Vec<&'static Tool>,
}

impl Choice {
    /// One line naming the missing tools and how to install them (None when none is missing).
    pub fn note(&self) -> Option<String> {
        if self.missing.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.missing.iter().map(|t| t.name).collect();
        Some(format!(
            "bench: not comparing with {}: not installed ({})",
            names.join(", "),
            install_hint(&self.missing)
        ))
    }
}

/// Resolves `--compare` (absent, `none`, or a comma-separated list) against `installed`.
/// The error is one line, for a usage error: an unknown tool or one asked for that is missing.
pub fn choose(arg: Option<&str>, installed: impl Fn(&str) -> bool) -> Result<Choice, String> {
    let Some(arg) = arg else {
        let (tools, missing) = tools::KNOWN.iter().partition(|t| installed(t.name));
        return Ok(Choice { tools, missing });
    };
    let mut chosen: Vec<&'static Tool> = Vec::new();
    for name in arg.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if name == "none" {
            continue;
        }
        let Some(tool) = tools::find(name) else {
            let known: Vec<&str> = tools::KNOWN
                .iter()
                .chain(tools::ON_REQUEST.iter())
                .map(|t| t.name)
                .collect();
            return Err(format!(
                "--compare knows {} (or none), not {name:?}",
                known.join(", ")
            ));
        };
        if !installed(name) {
            return Err(format!(
                "--compare {name}: {name} is not installed ({})",
                install_hint(&[tool])
            ));
        }
        if !chosen.contains(&tool) {
            chosen.push(tool);
        }
    }
    Ok(Choice {
        tools: chosen,
        missing: Vec::new(),
    })
}

/// How to install `tools` here: the package manager's command line, or the package names.
pub fn install_hint(tools: &[&Tool]) -> String {
    let pkgs: Vec<&str> = tools.iter().map(|t| t.package).collect();
    let pkgs = pkgs.join(" ");
    // Run through sudo, the line the user types needs it too.
    let sudo = if std::env::var_os("SUDO_USER").is_some() {
        "sudo "
    } else {
        ""
    };
    if which("apt-get").is_some() {
        format!("install with: {sudo}apt-get install -y {pkgs}")
    } else if which("dnf").is_some() {
        format!("install with: {sudo}dnf install -y {pkgs}")
    } else {
        format!("install the packages {pkgs} with the system's package manager")
    }
}

/// The program `prog` would run as, found on `PATH` like `execvp` does.
pub fn which(prog: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(prog))
        .find(|f| {
            std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{NETSNIFF_NG, TCPDUMP};

    #[test]
    fn without_compare_the_installed_tools_are_taken() {
        let c = choose(None, |t| t == "tcpdump").unwrap();
        assert_eq!(c.tools, [&TCPDUMP]);
        assert_eq!(c.missing, [&NETSNIFF_NG]);
        let note = c.note().unwrap();
        assert!(
            note.starts_with("bench: not comparing with netsniff-ng: not installed ("),
            "{note}"
        );
        assert!(note.contains("netsniff-ng)"), "{note}");
        let c = choose(None, |_| true).unwrap();
        assert_eq!(c.tools, tools::KNOWN);
        assert_eq!(c.note(), None);
    }

    #[test]
    fn named_tools_must_be_known_and_installed() {
        let c = choose(Some("tcpdump, tcpdump,netsniff-ng"), |_| true).unwrap();
        assert_eq!(c.tools, [&TCPDUMP, &NETSNIFF_NG]);
        assert!(choose(Some("none"), |_| false).unwrap().tools.is_empty());
        let e = choose(Some("tcpdump"), |t| t != "tcpdump").unwrap_err();
        assert!(
            e.starts_with("--compare tcpdump: tcpdump is not installed ("),
            "{e}"
        );
        let e = choose(Some("wireshark"), |_| true).unwrap_err();
        assert_eq!(
            e,
            "--compare knows tcpdump, netsniff-ng, xdpdump, softflowd, fprobe, sleep (or none), not \"wireshark\""
        );
        // xdpdump only when named, from the xdp-tools package
        assert_eq!(choose(None, |_| true).unwrap().tools, tools::KNOWN);
        let c = choose(Some("xdpdump"), |_| true).unwrap();
        assert_eq!(c.tools, [&tools::XDPDUMP]);
        let e = choose(Some("xdpdump"), |_| false).unwrap_err();
        assert!(e.contains("xdp-tools"), "{e}");
    }
}
