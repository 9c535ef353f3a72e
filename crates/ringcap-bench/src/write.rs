//! `--write`: ringcap's whole capture-to-file path, measured. Every piece of the bench's
//! write mode is here: the program's file output plugged in, the run, and its check.
//!
//! The bench does not write files its own way: the program gives it the pipeline
//! `capture -w` uses ([`FileOutput`]), so the figures are those of `capture -w`.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use ringcap::{Batch, Capture, Flow, Handler, WorkerReport};

use crate::ringcap_run::{drive, Driven};
use crate::run::Written;
use crate::session::Ctx;

/// The program's `-w` pipeline (the CLI's output module).
pub trait FileOutput {
    /// Opens one handler per worker of `cap` writing `path` (and the output threads behind
    /// them) as `capture -w` does, each ready to write.
    fn open(&self, path: &Path, cap: &Capture) -> Result<FileSinks, String>;

    /// Starts measuring what `dir`'s disk takes with the output's own O_DIRECT write pattern:
    /// after `delay`, for `dur`, on `cpu` unless the output places its threads elsewhere (see
    /// [`crate::disk`]). The thread gives bytes per second, or why the directory takes no
    /// O_DIRECT. None: this output has no probe.
    fn disk_probe(
        &self,
        _dir: &Path,
        _delay: Duration,
        _dur: Duration,
        _cpu: Option<usize>,
        _stop: Box<dyn Fn() -> bool + Send>,
    ) -> Option<std::io::Result<JoinHandle<DiskRate>>> {
        None
    }
}

/// What a disk probe measured: bytes per second, or why it could not.
pub type DiskRate = std::io::Result<Result<f64, String>>;

/// The handlers of one `--write` run and how to tell, afterwards, whether they wrote
/// everything.
pub struct FileSinks {
    pub handlers: Vec<Box<dyn Handler>>,
    /// Called once the capture has ended (it closes the output): what was written, or why the
    /// files are not complete.
    pub check: Box<dyn FnOnce() -> Result<Written, String>>,
    /// `--compress zstd:LEVEL`: the level (a `--replay` run compares the `zstd` tool's).
    pub zstd_level: Option<i32>,
}

/// A boxed handler as the engine's one handler type (one indirect call per batch).
struct DynSink(Box<dyn Handler>);

impl Handler for DynSink {
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        self.0.batch(batch)
    }

    fn finish(&mut self, report: &WorkerReport) -> Result<(), String> {
        self.0.finish(report)
    }
}

/// Runs `cap` writing pcap files on the scratch space while the traffic flows. A file output
/// that cannot open fails the run before it starts (`Err` holds why); files left incomplete
/// fail it after (in [`Driven::failure`]).
pub(crate) fn capture_writing(
    ctx: &Ctx<'_>,
    out: &dyn FileOutput,
    cap: Capture,
) -> crate::Result<Result<Driven, String>> {
    let path = ctx.scratch.dir.join("ringcap.pcap");
    let sinks = match out.open(&path, &cap) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("opening {}: {e}", path.display()))),
    };
    let handlers: Vec<DynSink> = sinks.handlers.into_iter().map(DynSink).collect();
    let mut driven = drive(ctx, cap, handlers)?;
    match (sinks.check)() {
        Ok(mut w) => {
            if let Some(level) = sinks.zstd_level.filter(|_| ctx.settings.replay.is_some()) {
                if crate::replay::zstd_tool() {
                    match crate::replay::zstd_reference(&ctx.scratch.dir, level) {
                        Ok(z) => w.zstd_cli = Some(z),
                        Err(e) => driven.failure = Some(format!("the zstd reference: {e}")),
                    }
                }
            }
            driven.written = Some(w);
        }
        Err(e) => driven.failure = Some(format!("writing the files failed: {e}")),
    }
    Ok(Ok(driven))
}
