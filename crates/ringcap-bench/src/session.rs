//! A bench from start to end, in named steps: check the settings, plan the CPUs and the
//! line-up, build the network ([`Bench::prepare`]), run every contender once per round
//! ([`Bench::run`]), sum up ([`Results`]), and take the network down ([`Bench::finish`]).

use std::path::PathBuf;

use ringcap::config::format_cpu_list;
use ringcap::StopHandle;
use ringcap_netns::PrivateNet;

use crate::busy::{self, Baseline};
use crate::error::{Error, Result};
use crate::machine::Machine;
use crate::plan::{lineup, Contender, ModeSpec, Plan};
use crate::run::Run;
use crate::scratch::Scratch;
use crate::summary::{self, Ratio, Row};
use crate::tools::Tool;
use crate::write::FileOutput;
use crate::{ringcap_run, tool_run};

/// Everything a bench is asked to do.
pub struct Settings {
    /// Seconds of traffic per run.
    pub seconds: f64,
    /// Rounds: every contender once per round.
    pub runs: usize,
    /// Frame size (60 = minimum-size SYN frames; larger: UDP).
    pub size: usize,
    /// Generator rate (0 = as fast as it goes).
    pub pps: u64,
    /// Ring modes' wake-up coalescing.
    pub coalesce_ms: u64,
    pub modes: Vec<ModeSpec>,
    pub threads: Option<usize>,
    pub gen_threads: Option<usize>,
    pub gen_cpus: Option<Vec<usize>>,
    pub cpus: Option<Vec<usize>>,
    /// Capture to files (the program's `-w` pipeline, see [`FileOutput`]).
    pub write: bool,
    /// With `write`: the files go here instead of a private tmpfs.
    pub write_dir: Option<PathBuf>,
    /// With `write_dir`: the last run's files stay there (in `ringcap-bench-PID`).
    pub keep_files: bool,
    /// Send this capture file instead of the flood ([`crate::replay`]).
    pub replay: Option<crate::replay::ReplaySpec>,
    pub filter: Option<Filter>,
    /// The compared tools, in order.
    pub tools: Vec<&'static Tool>,
    /// The `ringcap` binary whose `gen` sends the traffic.
    pub generator: PathBuf,
    /// The command line as typed, for the chart's caption and the JSON.
    pub command: String,
    /// Told of each of ringcap's captures just before it runs (e.g. to export its live
    /// counters with `--metrics`).
    pub on_capture: Option<fn(&ringcap::Capture)>,
}

/// A filter expression attached to every capture (and given to the compared tools as typed).
pub struct Filter {
    pub expr: String,
    /// Compiled for the kernel's sockets (recv and ring modes).
    pub live: ringcap_filter::Program,
    /// Compiled for AF_XDP's user-space run over each frame's bytes.
    pub xdp: ringcap_filter::Program,
}

impl Settings {
    /// The defaults of `ringcap bench`, sending with `generator`.
    pub fn new(generator: PathBuf) -> Settings {
        Settings {
            seconds: 3.0,
            runs: 3,
            size: 60,
            pps: 0,
            coalesce_ms: 20,
            modes: vec![
                ModeSpec::Recv1,
                ModeSpec::RecvN,
                ModeSpec::Ring1,
                ModeSpec::RingN,
            ],
            threads: None,
            gen_threads: None,
            gen_cpus: None,
            cpus: None,
            write: false,
            write_dir: None,
            keep_files: false,
            replay: None,
            filter: None,
            tools: Vec::new(),
            generator,
            command: "ringcap bench".into(),
            on_capture: None,
        }
    }

    /// The settings' own consistency: a usage error in one line.
    pub fn check(&self) -> std::result::Result<(), String> {
        if !(self.seconds > 0.0 && self.seconds <= 3600.0) {
            return Err(format!(
                "--seconds {} must be between 0 and 3600",
                self.seconds
            ));
        }
        if !(60..=9000).contains(&self.size) {
            return Err(format!("--size {} is out of range (60..9000)", self.size));
        }
        if self.coalesce_ms > 1000 {
            return Err(format!("--coalesce-ms {} is above 1000", self.coalesce_ms));
        }
        if self.write_dir.is_some() && !self.write {
            return Err("--write-dir needs --write".into());
        }
        if self.keep_files && self.write_dir.is_none() {
            return Err("--keep-files needs --write-dir".into());
        }
        if self.runs == 0 || self.runs > 100 {
            return Err("--runs must be between 1 and 100".into());
        }
        if self.modes.is_empty() && self.tools.is_empty() {
            return Err("nothing to measure: --modes is empty and no tool is compared".into());
        }
        if self.threads == Some(0) || self.gen_threads == Some(0) {
            return Err("--threads and --gen-threads must be at least 1".into());
        }
        Ok(())
    }
}

/// What every run needs.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub settings: &'a Settings,
    pub plan: &'a Plan,
    pub net: &'a PrivateNet,
    pub scratch: &'a Scratch,
    /// The program's file output, on `--write` runs.
    pub output: Option<&'a dyn FileOutput>,
    /// The bench was interrupted (Ctrl-C): the run under way ends and is not counted.
    pub stop: &'a StopHandle,
    /// The generator's destination MAC when not its template's: the `xdp+filter` rows address
    /// the capture end, so the frames the filter passes reach its IP layer.
    pub dst_mac: Option<&'a str>,
    /// `--flows`: the round's baseline (the generator alone), for the tools' marginal CPU.
    pub baseline: Option<&'a Baseline>,
}

/// A prepared bench: its network is up until [`Bench::finish`] (or drop).
pub struct Bench {
    settings: Settings,
    plan: Plan,
    lineup: Vec<Contender>,
    notes: Vec<String>,
    machine: Machine,
    output: Option<Box<dyn FileOutput>>,
    // Dropped in this order: files and mount first, then the network.
    scratch: Scratch,
    net: PrivateNet,
}

/// Every run, and what they sum up to.
pub struct Results {
    /// `runs[i]`: contender i's runs, in round order.
    pub runs: Vec<Vec<Run>>,
    /// One row per contender that ran.
    pub rows: Vec<Row>,
    pub ratios: Vec<Ratio>,
    /// `--flows`: each round's baseline, in round order.
    pub baselines: Vec<Baseline>,
    /// `--write-dir`: each round's probe of the disk (see [`crate::disk`]), or why the last
    /// one could not measure.
    pub disk: Vec<crate::disk::DiskProbe>,
    pub disk_failure: Option<String>,
    /// Ctrl-C ended the bench early.
    pub interrupted: bool,
}

impl Results {
    /// Some run failed or did not add up.
    pub fn failed(&self) -> bool {
        self.runs.iter().flatten().any(|r| !r.adds_up())
    }
}

impl Bench {
    /// Plans the CPUs and the line-up, builds the network (needs root) and the scratch space.
    /// `output` is the program's `-w` pipeline, used by `--write` runs.
    pub fn prepare(settings: Settings, output: Option<Box<dyn FileOutput>>) -> Result<Bench> {
        if settings.write && output.is_none() {
            return Err(Error::NoFileOutput);
        }
        let allowed = ringcap::process::allowed_cpus()?;
        let plan = Plan::new(
            &allowed,
            settings.gen_cpus.clone(),
            settings.cpus.clone(),
            settings.gen_threads,
            settings.threads,
        )
        .ok_or(Error::NoCpu)?;
        let (lineup, note) = lineup(&settings.modes, plan.threads, &settings.tools);
        let net = PrivateNet::new().map_err(Error::Build)?;
        // Receive work of the capture end on the capture CPUs (RPS), as IRQ spreading does.
        net.set_rps(plan.rps_mask())?;
        let scratch = Scratch::new(settings.write_dir.as_deref(), settings.keep_files)?;
        Ok(Bench {
            notes: note.into_iter().collect(),
            output: if settings.write { output } else { None },
            settings,
            plan,
            lineup,
            machine: Machine::here(),
            scratch,
            net,
        })
    }

    /// The lines that say what is about to run.
    pub fn intro(&self) -> Vec<String> {
        let s = &self.settings;
        let mut lines = self.notes.clone();
        let traffic = match &s.replay {
            Some(r) => r.describe(),
            None => format!(
                "{}-byte {} frames",
                s.size,
                if s.size <= 60 { "SYN" } else { "UDP" }
            ),
        };
        lines.push(format!(
            "bench: {} s per run, {} run(s), {traffic}; generator {} thread(s) on CPU {}, capture on CPU {} (RPS {:x}); namespace {}",
            s.seconds,
            s.runs,
            self.plan.gen_threads,
            format_cpu_list(&self.plan.gen_cpus),
            format_cpu_list(&self.plan.cap_cpus),
            self.plan.rps_mask(),
            self.net.ns()
        ));
        if s.write {
            lines.push(format!("bench: --write: {}", self.scratch.what));
        }
        if s.tools.iter().any(|t| t.flows) {
            lines.push(
                "bench: --flows: user/sys/cpu are each tool's rusage, which holds whatever receive softirq fired while it ran; \
                 marginal CPU is the machine's busy time (all CPUs, other users' processes, the generator and the collector aside) \
                 from the traffic's start to the tool's exit, minus the same for the round's baseline (a run of a tool that does nothing): what the tool adds"
                    .into(),
            );
        }
        if s.write && s.replay.is_some() && !crate::replay::zstd_tool() {
            lines.push(
                "bench: --replay: the zstd tool is not installed, so --compress has no zstd -L ratio beside it".into(),
            );
        }
        lines
    }

    /// Row names, in the order they run.
    pub fn names(&self) -> Vec<String> {
        self.lineup.iter().map(|c| self.row_name(c)).collect()
    }

    fn row_name(&self, c: &Contender) -> String {
        c.row_name(self.settings.write, &self.scratch.label)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Runs every contender once per round, interleaved, calling `on_run` after each run (in
    /// the order they ran). `stop` (Ctrl-C) ends the run under way, uncounted, and the bench.
    /// An error of the bench's own machinery (the network, the generator) ends it too.
    pub fn run(&self, stop: &StopHandle, mut on_run: impl FnMut(&Run)) -> Result<Results> {
        let base = Ctx {
            settings: &self.settings,
            plan: &self.plan,
            net: &self.net,
            scratch: &self.scratch,
            output: self.output.as_deref(),
            stop,
            dst_mac: None,
            baseline: None,
        };
        // Flow exporters are measured against a baseline run at the start of every round.
        let flows = self
            .lineup
            .iter()
            .any(|c| matches!(c, Contender::Tool(t) if t.flows));
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); self.lineup.len()];
        let mut baselines = Vec::new();
        let (mut disk, mut disk_failure) = (Vec::new(), None);
        'rounds: for round in 0..self.settings.runs {
            let mut ctx = base;
            if flows {
                match busy::baseline(&ctx, round)? {
                    Some(b) if !stop.is_stopped() => baselines.push(b),
                    _ => break 'rounds,
                }
                ctx.baseline = baselines.last();
            }
            for (i, c) in self.lineup.iter().enumerate() {
                if stop.is_stopped() {
                    break 'rounds;
                }
                self.scratch.clear();
                let name = self.row_name(c);
                let run = match c {
                    Contender::Ringcap(m) => ringcap_run::run(&ctx, m, name, round)?,
                    Contender::Tool(t) => tool_run::run(&ctx, t, name, round)?,
                };
                // A run that Ctrl-C cut short measured nothing (a Ctrl-C typed at a terminal
                // also reaches the generator and the tools, which may end it first).
                let Some(run) = run.filter(|_| !stop.is_stopped()) else {
                    break 'rounds;
                };
                on_run(&run);
                runs[i].push(run);
            }
            if stop.is_stopped() {
                break;
            }
            // Beside the round's files (`--keep-files` keeps the last run's): the probe
            // removes its own.
            match crate::disk::probe_round(&ctx, round)? {
                Some(Ok(p)) => disk.push(p),
                Some(Err(why)) => disk_failure = Some(why),
                None => {}
            }
        }
        Ok(Results {
            rows: runs.iter().filter_map(|r| summary::row(r)).collect(),
            ratios: summary::paired_ratios(&runs),
            baselines,
            disk,
            disk_failure,
            interrupted: stop.is_stopped(),
            runs,
        })
    }

    /// Removes the scratch files and the network, reporting a failure to remove it.
    pub fn finish(self) -> Result<()> {
        let Bench { scratch, net, .. } = self;
        drop(scratch);
        net.destroy()?;
        Ok(())
    }
}
