//! Child processes of the bench (the generator, the compared tools): their output collected as
//! they run, so a chatty one never blocks on a full pipe and the bench can show its last
//! lines; stopped the way a user would (SIGINT), and killed and reaped on every way out.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running child with its standard output and error collected.
pub(crate) struct Child {
    proc: std::process::Child,
    status: Option<ExitStatus>,
    out: Collected,
    err: Collected,
}

/// How a child ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    pub status: ExitStatus,
    /// It did not exit within the grace time and was killed.
    pub killed: bool,
}

impl Child {
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
        let mut proc = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let out = Collected::start(proc.stdout.take());
        let err = Collected::start(proc.stderr.take());
        Ok(Child {
            proc,
            status: None,
            out,
            err,
        })
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.proc.id()
    }

    /// Its exit status, if it has exited (reaping it).
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.proc.try_wait()?;
        }
        Ok(self.status)
    }

    /// Sends SIGINT, as Ctrl-C would: a capture tool ends through its normal path and prints
    /// its statistics.
    pub fn interrupt(&self) {
        if self.status.is_none() {
            let _ = ringcap::process::interrupt(self.proc.id());
        }
    }

    /// Sends SIGTERM, as a service manager would stop a daemon.
    pub fn terminate(&self) {
        if self.status.is_none() {
            let _ = ringcap::process::terminate(self.proc.id());
        }
    }

    /// Waits up to `grace` for it to exit, then kills it.
    pub fn wait_for(&mut self, grace: Duration) -> std::io::Result<Ended> {
        let until = Instant::now() + grace;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Ended {
                    status,
                    killed: false,
                });
            }
            if Instant::now() >= until {
                let _ = self.proc.kill();
                let status = self.proc.wait()?;
                self.status = Some(status);
                return Ok(Ended {
                    status,
                    killed: true,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything it wrote on standard output (complete once it has exited).
    pub fn stdout(&self) -> String {
        self.out.text(self.status.is_some())
    }

    /// Everything it wrote on standard error so far (complete once it has exited).
    pub fn stderr(&self) -> String {
        self.err.text(self.status.is_some())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.proc.kill();
            let _ = self.proc.wait();
        }
    }
}

/// A pipe drained by a thread into a buffer.
struct Collected {
    buf: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Collected {
    fn start(src: Option<impl Read + Send + 'static>) -> Collected {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let reader = src.map(|mut src| {
            let buf = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = src.read(&mut chunk) {
                    lock(&buf).extend_from_slice(&chunk[..n]);
                }
            })
        });
        Collected { buf, reader }
    }

    /// The text so far; after the child exited, first waits (briefly: a grandchild may hold
    /// the pipe open) for the reader to see the end of the pipe.
    fn text(&self, exited: bool) -> String {
        if exited {
            if let Some(r) = &self.reader {
                let until = Instant::now() + Duration::from_secs(1);
                while !r.is_finished() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        String::from_utf8_lossy(&lock(&self.buf)).into_owned()
    }
}

fn lock(m: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_collected_and_a_stubborn_child_is_killed() {
        let mut c = Child::spawn(
            Command::new("sh").args(["-c", "echo out; echo err >&2; trap '' INT; exec sleep 5"]),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        c.interrupt();
        let end = c.wait_for(Duration::from_millis(300)).unwrap();
        assert!(end.killed);
        assert_eq!(c.stdout(), "out\n");
        assert_eq!(c.stderr(), "err\n");
    }

    #[test]
    fn sigint_ends_a_child_that_takes_it() {
        let mut c = Child::spawn(Command::new("sleep").arg("5")).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        c.interrupt();
        let end = c.wait_for(Duration::from_secs(5)).unwrap();
        assert!(!end.killed && !end.status.success());
    }
}
