//! The collector of `bench --flows`: nfcapd on the namespace's loopback receives what a flow
//! exporter sends (IPFIX, NetFlow v5 or v9), and nfdump sums the packets of the records, so
//! every exporter is judged by the same decoder, not by its own word.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::child::Child;
use crate::run::Failure;
use crate::session::Ctx;

/// Where the exporters send, inside the bench's private namespace.
pub(crate) const ADDR: &str = "127.0.0.1:9995";
/// nfcapd's own start-up, before the exporter starts.
const SETTLE: Duration = Duration::from_millis(500);
/// After the traffic, before an exporter is stopped: longer than the 1 s idle timeouts it is
/// given and its expiry scan, so every exporter has exported its flows by its own timers
/// (not all of them flush reliably when stopped).
pub(crate) const EXPIRE: Duration = Duration::from_secs(3);
/// For the last datagrams to land after the exporter exited.
const DRAIN: Duration = Duration::from_millis(300);

/// A running nfcapd and the directory it writes.
pub(crate) struct Collector {
    child: Child,
    dir: PathBuf,
}

impl Collector {
    pub fn start(ctx: &Ctx<'_>) -> Result<Collector, Failure> {
        let dir = ctx.scratch.dir.join("nfcapd");
        // Nothing of an earlier run's records may count in this one.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::new(format!("cannot make {}: {e}", dir.display())))?;
        let mut cmd = ctx.net.command("nfcapd");
        cmd.arg("-w")
            .arg(&dir)
            .args(["-b", "127.0.0.1", "-p", "9995"]);
        let mut child = Child::spawn(&mut cmd)
            .map_err(|e| Failure::new(format!("could not start nfcapd: {e}")))?;
        std::thread::sleep(SETTLE);
        if let Ok(Some(st)) = child.try_wait() {
            return Err(Failure::new(format!("the collector nfcapd exited ({st})"))
                .with_stderr(&child.stderr()));
        }
        Ok(Collector { child, dir })
    }

    /// Stops nfcapd (its files are complete once it has exited) and sums the packets of every
    /// record it stored.
    pub fn finish(mut self) -> Result<u64, Failure> {
        std::thread::sleep(DRAIN);
        self.child.terminate();
        let ended = self
            .child
            .wait_for(Duration::from_secs(10))
            .map_err(|e| Failure::new(format!("waiting for nfcapd: {e}")))?;
        if ended.killed {
            return Err(Failure::new("the collector nfcapd did not stop"));
        }
        let out = Command::new("nfdump")
            .arg("-R")
            .arg(&self.dir)
            .args(["-q", "-N", "-o", "fmt:%pkt"])
            .output()
            .map_err(|e| Failure::new(format!("could not run nfdump: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(Failure::new(format!("nfdump failed ({})", out.status))
                .with_stderr(&String::from_utf8_lossy(&out.stderr)));
        }
        sum_packets(&text)
            .ok_or_else(|| Failure::new("nfdump's packet column is unreadable").with_stderr(&text))
    }
}

/// The sum of nfdump's `fmt:%pkt` lines (None when one is not a number).
fn sum_packets(text: &str) -> Option<u64> {
    text.lines()
        .map(str::trim)
        // nfdump's line for no record at all.
        .filter(|l| !l.is_empty() && *l != "No matching flows")
        .try_fold(0u64, |sum, l| Some(sum + l.parse::<u64>().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_the_packet_column() {
        assert_eq!(super::sum_packets("  12\n 3\n\n"), Some(15));
        assert_eq!(super::sum_packets(""), Some(0));
        assert_eq!(super::sum_packets("No matching flows\n"), Some(0));
        assert_eq!(super::sum_packets("1.2 M\n"), None);
    }
}
