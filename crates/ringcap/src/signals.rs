//! Ctrl-C, SIGTERM and SIGHUP as a [`StopHandle`]'s stop, for programs that want them to end a
//! capture through its normal path.
//!
//! The handlers themselves only set a flag (ringcap-sys; nothing else is async-signal-safe).
//! One watcher thread, started with the first [`stop_on_signal`], relays that flag to every
//! handle registered with it. The engine never looks at the flag: a program that embeds the
//! library and does not call this keeps its own signal handling.
//!
//! A signal is sticky: a handle registered after one arrived is stopped at once, so a program
//! that runs several captures in a row (`ringcap demo`, `ringcap bench`) does not start the
//! next one after Ctrl-C.

use std::sync::{Mutex, Weak};
use std::time::Duration;

use ringcap_sys as sys;

use crate::stats::EndReason;
use crate::stop::{Inner, StopHandle};
use crate::Result;

/// How often the watcher looks at the handlers' flag: well below a human's notice, and the
/// capture's own wake-ups (100 ms at most) dominate anyway.
const WATCH_INTERVAL: Duration = Duration::from_millis(20);

struct Watch {
    installed: bool,
    fired: Option<i32>,
    handles: Vec<Weak<Inner>>,
}

static WATCH: Mutex<Watch> = Mutex::new(Watch {
    installed: false,
    fired: None,
    handles: Vec::new(),
});

fn lock() -> std::sync::MutexGuard<'static, Watch> {
    WATCH.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes SIGINT, SIGTERM and SIGHUP stop `handle` with [`EndReason::Signal`]. Installs the
/// handlers and the watcher on first use. Handles are held weakly: a finished capture's handle
/// is simply forgotten.
pub fn stop_on_signal(handle: &StopHandle) -> Result<()> {
    let mut w = lock();
    if !w.installed {
        sys::install_stop_handlers()?;
        std::thread::Builder::new()
            .name("ringcap-signals".into())
            .spawn(watch)
            .map_err(|e| crate::Error::Config(format!("cannot start the signal watcher: {e}")))?;
        w.installed = true;
    }
    if let Some(sig) = w.fired {
        handle.stop(EndReason::Signal(sig));
        return Ok(());
    }
    w.handles.retain(|h| h.strong_count() > 0);
    w.handles.push(handle.downgrade());
    Ok(())
}

/// The stop signal that arrived, if one did (e.g. to exit with 128 + its number).
pub fn received() -> Option<i32> {
    lock().fired.or_else(sys::stop_signal)
}

fn watch() {
    loop {
        std::thread::sleep(WATCH_INTERVAL);
        let Some(sig) = sys::stop_signal() else {
            continue;
        };
        let mut w = lock();
        w.fired = Some(sig);
        for h in w.handles.drain(..) {
            if let Some(inner) = h.upgrade() {
                StopHandle::from_inner(inner).stop(EndReason::Signal(sig));
            }
        }
        return;
    }
}
