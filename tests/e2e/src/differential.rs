//! Differential runs: every scenario goes through runc and kata-rs in the same containerd, and what
//! a user sees of it (output, exit code, task status, events, files on the host) must be the same.
//! Where runc cannot be the oracle, the expected outcome is Kata's documented behaviour.
//!
//! A [`Probe`] runs once per runtime on a [`Side`] (the runtime, a scratch directory, ids that are
//! cleaned up afterwards) and returns an [`Outcome`] per scenario it observes; [`Differential`]
//! runs every probe, compares, and reports every mismatch at the end.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{CtrOutput, PrivateContainerd};

/// The runtime a [`Side`] drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Runc,
    Kata,
}

impl Runtime {
    /// The containerd runtime name (`ctr run --runtime`).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "io.containerd.runc.v2",
            Runtime::Kata => crate::RUNTIME,
        }
    }

    /// A short tag: `runc` or `kata`.
    pub fn tag(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Kata => "kata",
        }
    }
}

/// What one scenario observed: named values, compared one by one, and notes (stderr, timings)
/// that are shown when the scenario mismatches but never compared.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    values: BTreeMap<String, String>,
    notes: Vec<String>,
}

/// The outcomes of a probe, by scenario name.
pub type Observed = BTreeMap<&'static str, Outcome>;

impl Outcome {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `what` = `value` (compared).
    pub fn set(&mut self, what: &str, value: impl Display) -> &mut Self {
        self.values.insert(what.to_string(), value.to_string());
        self
    }

    /// [`Self::set`] by value, for chaining.
    pub fn with(mut self, what: &str, value: impl Display) -> Self {
        self.set(what, value);
        self
    }

    /// Records a note (shown on mismatch, not compared).
    pub fn note(&mut self, text: impl Display) -> &mut Self {
        self.notes.push(text.to_string());
        self
    }

    /// Exit code, stdout and stderr of a `ctr` invocation.
    pub fn of(out: &CtrOutput) -> Self {
        Self::new()
            .with("exit", exit_code(out))
            .with("stdout", format!("{:?}", out.stdout_text()))
            .with("stderr", format!("{:?}", out.stderr))
    }

    /// The exit code and stdout of a `ctr` invocation; stderr (an error message worded by each
    /// runtime) as a note.
    pub fn of_exit_and_stdout(out: &CtrOutput) -> Self {
        let mut o = Self::new()
            .with("exit", exit_code(out))
            .with("stdout", format!("{:?}", out.stdout_text()));
        o.note(format!("stderr: {:?}", out.stderr));
        o
    }

    /// The value recorded for `what`.
    pub fn get(&self, what: &str) -> Option<&str> {
        self.values.get(what).map(String::as_str)
    }

    /// `what: expected | actual` for every value that differs.
    fn differences(&self, actual: &Outcome, oracle: &str) -> Vec<String> {
        let keys: BTreeSet<&String> = self.values.keys().chain(actual.values.keys()).collect();
        fn shown(v: Option<&String>) -> &str {
            v.map(String::as_str).unwrap_or("<not observed>")
        }
        keys.into_iter()
            .filter(|k| self.values.get(*k) != actual.values.get(*k))
            .map(|k| {
                format!(
                    "{k}:\n        {oracle:<10} {}\n        {:<10} {}",
                    shown(self.values.get(k)),
                    "kata-rs",
                    shown(actual.values.get(k))
                )
            })
            .collect()
    }
}

/// A `ctr` exit code as text (`killed` when `ctr` ended on a signal).
pub fn exit_code(out: &CtrOutput) -> String {
    out.code
        .map(|c| c.to_string())
        .unwrap_or_else(|| "killed".into())
}

type RunFn<'a> = Box<dyn Fn(&Side) -> anyhow::Result<Observed> + 'a>;

/// Something run once per runtime, observing one or more scenarios.
pub struct Probe<'a> {
    scenarios: Vec<&'static str>,
    documented: Option<Observed>,
    run: RunFn<'a>,
}

impl<'a> Probe<'a> {
    /// Several scenarios observed in one run (one container, or one container and its execs);
    /// runc is the oracle. `run` must return an outcome for each of `scenarios`.
    pub fn group(
        scenarios: &[&'static str],
        run: impl Fn(&Side) -> anyhow::Result<Observed> + 'a,
    ) -> Self {
        Self {
            scenarios: scenarios.to_vec(),
            documented: None,
            run: Box::new(run),
        }
    }

    /// One scenario; runc is the oracle.
    pub fn single(name: &'static str, run: impl Fn(&Side) -> anyhow::Result<Outcome> + 'a) -> Self {
        Self::group(&[name], move |side| {
            Ok(Observed::from([(name, run(side)?)]))
        })
    }

    /// One scenario runc cannot answer (Kata's configuration): run on kata-rs alone and compared
    /// with `expected`, Kata's documented behaviour.
    pub fn documented(
        name: &'static str,
        expected: Outcome,
        run: impl Fn(&Side) -> anyhow::Result<Outcome> + 'a,
    ) -> Self {
        let mut probe = Self::single(name, run);
        probe.documented = Some(Observed::from([(name, expected)]));
        probe
    }
}

/// When set, only the probes observing a scenario whose name contains its value run.
pub const FILTER_VAR: &str = "KATA_DIFF_FILTER";
/// When set, every scenario's outcomes are printed, not only the mismatches'.
pub const VERBOSE_VAR: &str = "KATA_DIFF_VERBOSE";

struct Verdict {
    scenario: &'static str,
    differences: Vec<String>,
    notes: Vec<String>,
    secs: f64,
}

/// Runs probes through runc and kata-rs on one containerd and collects every mismatch.
pub struct Differential<'c> {
    containerd: &'c PrivateContainerd,
    scratch: tempfile::TempDir,
    verdicts: Vec<Verdict>,
    runs: usize,
    started: Instant,
}

impl<'c> Differential<'c> {
    pub fn new(containerd: &'c PrivateContainerd) -> anyhow::Result<Self> {
        let scratch = tempfile::Builder::new()
            .prefix("kata-diff-")
            .tempdir_in("/tmp")?;
        Ok(Self {
            containerd,
            scratch,
            verdicts: Vec::new(),
            runs: 0,
            started: Instant::now(),
        })
    }

    /// Runs `probe` on runc (unless its expectation is documented) and on kata-rs, cleans up
    /// what each run left, and records a verdict per scenario. Never panics. Skipped when
    /// `KATA_DIFF_FILTER` is set and matches none of its scenarios.
    pub fn run(&mut self, probe: Probe) {
        if let Ok(filter) = std::env::var(FILTER_VAR) {
            if !probe.scenarios.iter().any(|s| s.contains(filter.as_str())) {
                return;
            }
        }
        let started = Instant::now();
        let (expected, oracle) = match &probe.documented {
            Some(doc) => (Ok(doc.clone()), "documented"),
            None => (self.observe(&probe, Runtime::Runc), "runc"),
        };
        let actual = self.observe(&probe, Runtime::Kata);
        let secs = started.elapsed().as_secs_f64();
        for &scenario in &probe.scenarios {
            let mut differences = Vec::new();
            let mut notes = Vec::new();
            let expected = match &expected {
                Ok(obs) => obs.get(scenario).cloned().unwrap_or_else(|| {
                    differences.push(format!("the {oracle} run did not observe it"));
                    Outcome::new()
                }),
                Err(e) => {
                    differences.push(format!("the {oracle} run failed: {e}"));
                    Outcome::new()
                }
            };
            let actual = match &actual {
                Ok(obs) => obs
                    .get(scenario)
                    .cloned()
                    .unwrap_or_else(|| Outcome::new().with("observed", "nothing")),
                Err(e) => Outcome::new().with("probe", format!("failed: {e}")),
            };
            differences.extend(expected.differences(&actual, oracle));
            if !differences.is_empty() {
                notes.extend(expected.notes.iter().map(|n| format!("{oracle}: {n}")));
                notes.extend(actual.notes.iter().map(|n| format!("kata-rs: {n}")));
            }
            eprintln!(
                "[differential] {:<34} {} ({secs:.1} s for its probe)",
                scenario,
                if differences.is_empty() {
                    "same"
                } else {
                    "DIFFERENT"
                }
            );
            if std::env::var_os(VERBOSE_VAR).is_some() {
                eprintln!(
                    "  {oracle}: {:?}\n  kata-rs: {:?}",
                    expected.values, actual.values
                );
            }
            self.verdicts.push(Verdict {
                scenario,
                differences,
                notes,
                secs,
            });
        }
    }

    fn observe(&mut self, probe: &Probe, runtime: Runtime) -> Result<Observed, String> {
        self.runs += 1;
        let dir = self
            .scratch
            .path()
            .join(format!("{}-{}", self.runs, runtime.tag()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return Err(format!("creating {}: {e}", dir.display()));
        }
        let side = Side {
            containerd: self.containerd,
            runtime,
            dir,
            ids: RefCell::new(Vec::new()),
            execs: Cell::new(0),
        };
        let result = catch_unwind(AssertUnwindSafe(|| (probe.run)(&side)));
        side.cleanup();
        match result {
            Ok(Ok(observed)) => Ok(observed),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(panic) => Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into())),
        }
    }

    /// Prints a table of every scenario, then panics listing each mismatch (with notes) if any.
    pub fn finish(self) {
        let total = self.started.elapsed().as_secs_f64();
        let failed: Vec<&Verdict> = self
            .verdicts
            .iter()
            .filter(|v| !v.differences.is_empty())
            .collect();
        eprintln!(
            "\n[differential] {} scenarios in {total:.0} s: {} same, {} different",
            self.verdicts.len(),
            self.verdicts.len() - failed.len(),
            failed.len()
        );
        for v in &self.verdicts {
            eprintln!(
                "  {:<9} {:<34} {:>5.1} s",
                if v.differences.is_empty() {
                    "same"
                } else {
                    "DIFFERENT"
                },
                v.scenario,
                v.secs
            );
        }
        if failed.is_empty() {
            return;
        }
        let mut report = format!(
            "{} of {} scenarios differ from the oracle:\n",
            failed.len(),
            self.verdicts.len()
        );
        for v in failed {
            report.push_str(&format!("\n  {}:\n", v.scenario));
            for d in &v.differences {
                report.push_str(&format!("    {d}\n"));
            }
            for n in &v.notes {
                report.push_str(&format!("    note {n}\n"));
            }
        }
        panic!("{report}");
    }
}

/// One runtime's run of a probe: `ctr` steps with `--runtime` set, container ids made unique
/// per runtime (and removed, with their tasks, when the probe is done), a scratch directory.
pub struct Side<'c> {
    containerd: &'c PrivateContainerd,
    runtime: Runtime,
    dir: PathBuf,
    ids: RefCell<Vec<(String, String)>>,
    execs: Cell<u32>,
}

impl Side<'_> {
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    pub fn containerd(&self) -> &PrivateContainerd {
        self.containerd
    }

    /// A directory of this run alone (removed with the suite's scratch directory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The container id for `base` in this run (`base-runc`, `base-kata`), removed at the end.
    pub fn id(&self, base: &str) -> String {
        let id = format!("{base}-{}", self.runtime.tag());
        self.ids.borrow_mut().push((base.to_string(), id.clone()));
        id
    }

    /// `text` with this run's container ids replaced by their base names.
    pub fn neutral(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (base, id) in self.ids.borrow().iter() {
            text = text.replace(id.as_str(), base);
        }
        text
    }

    /// `ctr ARGS` with a time limit.
    pub fn ctr(&self, args: &[&str], stdin: Option<&[u8]>, secs: u32) -> anyhow::Result<CtrOutput> {
        self.containerd.ctr(args, stdin, secs)
    }

    /// The arguments of `ctr run MODE --runtime R FLAGS busybox ID CMD`.
    pub fn run_args<'a>(
        &'a self,
        mode: &'a str,
        id: &'a str,
        flags: &[&'a str],
        cmd: &[&'a str],
    ) -> Vec<&'a str> {
        let mut args = vec!["run", mode, "--runtime", self.runtime.name()];
        args.extend_from_slice(flags);
        args.push(crate::IMAGE);
        args.push(id);
        args.extend_from_slice(cmd);
        args
    }

    /// `ctr run --rm --runtime R FLAGS busybox ID CMD` (two minutes at most).
    pub fn run(&self, id: &str, flags: &[&str], cmd: &[&str]) -> anyhow::Result<CtrOutput> {
        self.ctr(&self.run_args("--rm", id, flags, cmd), None, 120)
    }

    /// [`Self::run`] with `stdin` fed to `ctr`.
    pub fn run_stdin(
        &self,
        id: &str,
        flags: &[&str],
        cmd: &[&str],
        stdin: &[u8],
    ) -> anyhow::Result<CtrOutput> {
        self.ctr(&self.run_args("--rm", id, flags, cmd), Some(stdin), 120)
    }

    /// `ctr run -d ...`, which must succeed.
    pub fn run_detached(&self, id: &str, flags: &[&str], cmd: &[&str]) -> anyhow::Result<()> {
        let out = self.ctr(&self.run_args("-d", id, flags, cmd), None, 120)?;
        anyhow::ensure!(
            out.code == Some(0),
            "ctr run -d {id} exited {}: {}",
            exit_code(&out),
            out.stderr
        );
        Ok(())
    }

    /// `ctr run --rm ...` left running in the background; see [`crate::Background`].
    pub fn spawn_run(
        &self,
        id: &str,
        flags: &[&str],
        cmd: &[&str],
    ) -> anyhow::Result<crate::Background> {
        crate::Background::spawn(self.containerd, &self.run_args("--rm", id, flags, cmd))
    }

    /// `ctr run --rm --runtime R FLAGS --config DIR/ID.json ID`: the spec as it is.
    pub fn run_config(
        &self,
        id: &str,
        spec: &serde_json::Value,
        flags: &[&str],
    ) -> anyhow::Result<CtrOutput> {
        let path = self.dir.join(format!("{id}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(spec)?)?;
        let path = path.display().to_string();
        let mut args = vec!["run", "--rm", "--runtime", self.runtime.name()];
        args.extend_from_slice(flags);
        args.extend(["--config", &path, id]);
        self.ctr(&args, None, 120)
    }

    /// `ctr task exec FLAGS --exec-id EXEC ID CMD`.
    pub fn exec(
        &self,
        id: &str,
        exec_id: &str,
        flags: &[&str],
        cmd: &[&str],
        stdin: Option<&[u8]>,
    ) -> anyhow::Result<CtrOutput> {
        let mut args = vec!["task", "exec"];
        args.extend_from_slice(flags);
        args.extend(["--exec-id", exec_id, id]);
        args.extend_from_slice(cmd);
        self.ctr(&args, stdin, 120)
    }

    /// `ctr ARGS` inside a pseudo-terminal (`script`), as `ctr -t` needs; stdout and stderr
    /// merged, `\r\n` turned into `\n`.
    pub fn ctr_in_terminal(&self, args: &[&str], secs: u32) -> anyhow::Result<CtrOutput> {
        crate::background::ctr_in_terminal(self.containerd, args, secs)
    }

    /// The STATUS column of `ctr task ls` for `id`.
    pub fn status(&self, id: &str) -> Option<String> {
        self.containerd.task_status(id)
    }

    /// Polls the status of `id` for up to `secs` seconds until it is `want` (`None`: no task);
    /// returns the last status seen, `none` for no task.
    pub fn wait_status(&self, id: &str, want: Option<&str>, secs: u32) -> String {
        let last = RefCell::new(None);
        self.containerd.wait_task(id, secs * 2, |s| {
            *last.borrow_mut() = s.map(str::to_string);
            s == want
        });
        last.into_inner().unwrap_or_else(|| "none".into())
    }

    /// Waits until task `id` runs and `marker` exists in it (its command touches it once set up).
    pub fn wait_ready(&self, id: &str, marker: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.wait_status(id, Some("RUNNING"), 90) == "RUNNING",
            "task {id} never ran"
        );
        let n = self.execs.get() + 1;
        self.execs.set(n);
        let script = format!(
            "i=0; until [ -e {marker} ]; do sleep 0.1; i=$((i+1)); [ $i -lt 600 ] || exit 1; done"
        );
        let out = self.exec(id, &format!("ready{n}"), &[], &["sh", "-c", &script], None)?;
        anyhow::ensure!(
            out.code == Some(0),
            "{marker} never appeared in {id}: {}",
            out.stderr
        );
        Ok(())
    }

    /// Starts `ctr events` (stopped and read with [`crate::EventWatch::stop`]).
    pub fn watch_events(&self) -> anyhow::Result<crate::EventWatch> {
        crate::EventWatch::start(self.containerd)
    }

    /// Removes the tasks and containers of every id this run made.
    fn cleanup(&self) {
        for (_, id) in self.ids.borrow().iter() {
            let task = self.status(id).is_some();
            if task {
                let _ = self.ctr(&["task", "delete", "--force", id], None, 60);
            }
            let _ = self.ctr(&["container", "delete", id], None, 30);
        }
    }
}
