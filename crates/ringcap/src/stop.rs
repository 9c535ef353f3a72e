//! Asking a capture to stop, from any thread, without a process-global flag.
//!
//! A [`StopHandle`] belongs to one capture ([`crate::Capture::stop_handle`]); whoever holds a
//! clone can end that capture through its normal path (stop intake, drain, final statistics).
//! The engine never looks at signals itself: a program that wants Ctrl-C to end a capture
//! connects the two with [`crate::signals::stop_on_signal`], and a program that embeds the
//! library keeps its own signal handling.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::stats::EndReason;

/// A cloneable "stop now, because …". The first reason given wins; later ones are ignored.
#[derive(Clone, Default)]
pub struct StopHandle(Arc<Inner>);

#[derive(Default)]
pub(crate) struct Inner {
    flag: AtomicBool,
    reason: Mutex<Option<EndReason>>,
}

impl StopHandle {
    pub fn new() -> StopHandle {
        StopHandle::default()
    }

    /// Ends the capture (or loop) this handle belongs to. Only the first reason is kept.
    pub fn stop(&self, reason: EndReason) {
        let mut r = self.0.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(reason);
        }
        self.0.flag.store(true, Ordering::Release);
    }

    /// Whether [`stop`](StopHandle::stop) was called. One relaxed load: cheap enough for a
    /// per-batch check.
    #[inline]
    pub fn is_stopped(&self) -> bool {
        self.0.flag.load(Ordering::Relaxed)
    }

    /// Why it stopped, if it did.
    pub fn reason(&self) -> Option<EndReason> {
        self.0
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The flag itself, for libraries that take a plain `&AtomicBool` (ringcap-gen's
    /// `Generator::run`). Setting it directly stops without a reason.
    pub fn flag(&self) -> &AtomicBool {
        &self.0.flag
    }

    pub(crate) fn downgrade(&self) -> Weak<Inner> {
        Arc::downgrade(&self.0)
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> StopHandle {
        StopHandle(inner)
    }
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle")
            .field("stopped", &self.is_stopped())
            .field("reason", &self.reason())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins_and_clones_share_it() {
        let h = StopHandle::new();
        let c = h.clone();
        assert!(!c.is_stopped());
        assert_eq!(c.reason(), None);
        h.stop(EndReason::Duration);
        c.stop(EndReason::Count);
        assert!(c.is_stopped());
        assert_eq!(c.reason(), Some(EndReason::Duration));
    }
}
