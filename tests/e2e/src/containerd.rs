//! A private containerd for one test binary, driven through `ctr`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{ensure, Context};

use crate::leaks::HostSnapshot;
use crate::paths::{repo_root, test_config};

/// A containerd with its own root, state and socket; stopped (and its state removed) on drop.
pub struct PrivateContainerd {
    dir: tempfile::TempDir,
    env_path: String,
    config: PathBuf,
}

/// What a `ctr` invocation printed and how it ended.
#[derive(Debug)]
pub struct CtrOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl CtrOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl PrivateContainerd {
    /// Starts containerd with the freshly built shim first in `PATH` and `KATA_CONF_FILE` set to a
    /// configuration using the freshly built guest image.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_edited(|text| text)
    }

    /// [`Self::start`] with the test configuration's text passed through `edit` first (enable
    /// annotations, change a path...).
    pub fn start_edited(edit: impl FnOnce(String) -> String) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("kata-e2e-")
            .tempdir_in("/tmp")?;
        let config = test_config(dir.path())?;
        let edited = edit(std::fs::read_to_string(&config)?);
        std::fs::write(&config, edited)?;
        let bin_dir = shim_dir()?;
        let env_path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let this = Self {
            dir,
            env_path,
            config,
        };
        this.start_daemon()?;
        Ok(this)
    }

    /// (Re)starts containerd on this root, state and socket; a restarted containerd reloads the
    /// shims it finds in its state directory.
    pub fn start_daemon(&self) -> anyhow::Result<()> {
        let out = Command::new(repo_root().join("scripts/private-containerd.sh"))
            .arg("start")
            .arg(self.dir.path())
            .env("PATH", &self.env_path)
            .env("KATA_CONF_FILE", &self.config)
            .output()
            .context("running scripts/private-containerd.sh")?;
        ensure!(
            out.status.success(),
            "private containerd did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Stops containerd alone with `signal` (`TERM` as a service manager does, `KILL` for a
    /// crash) and waits up to 10 s for it to be gone; its shims, root and state stay, as in a
    /// restart of the service.
    pub fn stop_daemon(&self, signal: &str) -> anyhow::Result<()> {
        let pid_file = self.dir.path().join("containerd.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {}", pid_file.display()))?
            .trim()
            .to_string();
        let status = Command::new("kill").args(["-s", signal, &pid]).status()?;
        ensure!(status.success(), "kill -s {signal} {pid} failed");
        let proc_dir = Path::new("/proc").join(&pid);
        for _ in 0..100 {
            // Gone, or a zombie of the script's shell that nobody waits for.
            let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
            if state.is_empty() || state.contains(") Z") {
                std::fs::remove_file(&pid_file)?;
                // The next start truncates the log: keep this one's for `log`.
                let log = self.dir.path().join("containerd.log");
                let mut kept = std::fs::read(&log).unwrap_or_default();
                let older = self.dir.path().join("containerd.log.old");
                let mut all = std::fs::read(&older).unwrap_or_default();
                all.append(&mut kept);
                std::fs::write(&older, all)?;
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        anyhow::bail!("containerd {pid} still runs 10 s after SIG{signal}")
    }

    /// A guard that, when dropped, kills whatever shim of this containerd is still running
    /// (with its children): a failed test must not leave an orphan for the next one. Drop it
    /// after the baseline check, so that the check sees the orphan first.
    pub fn orphan_reaper(&self) -> OrphanReaper {
        OrphanReaper {
            address: self.socket().display().to_string(),
        }
    }

    /// containerd's log so far, across restarts (the shims' logs are copied into it).
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        let mut text = read("containerd.log.old").unwrap_or_default();
        text.push_str(&read("containerd.log").unwrap_or_default());
        text
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    /// The `PATH` containerd runs with (the built shim first).
    pub fn env_path(&self) -> &str {
        &self.env_path
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Runs `ctr --address <sock> ARGS` with a hard time limit, feeding `stdin`.
    pub fn ctr(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        timeout_secs: u32,
    ) -> anyhow::Result<CtrOutput> {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", &timeout_secs.to_string(), "ctr", "--address"])
            .arg(self.socket())
            .args(args)
            .env("PATH", &self.env_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().context("spawning ctr")?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let data = data.to_vec();
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = pipe.write_all(&data);
            });
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output()?;
        Ok(CtrOutput {
            code: status.code(),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Checks nothing of an earlier sandbox is left (waiting up to `grace`), then starts;
    /// panics with the reason, as tests want.
    pub fn start_clean(grace: std::time::Duration) -> Self {
        crate::assert_no_leftovers(grace);
        Self::start().unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// As [`Self::start_clean`], also returning the host as it was before containerd started:
    /// after the test, `drop` the containerd and call [`HostSnapshot::assert_restored`].
    pub fn start_with_baseline(grace: std::time::Duration) -> (Self, HostSnapshot) {
        crate::assert_no_leftovers(grace);
        let baseline = HostSnapshot::take();
        let this = Self::start().unwrap_or_else(|e| panic!("{e:#}"));
        (this, baseline)
    }

    /// The STATUS column of `ctr task ls` for task `id` (`None`: no such task).
    pub fn task_status(&self, id: &str) -> Option<String> {
        self.task_column(id, 2)
    }

    /// The PID column of `ctr task ls` for task `id` (the hypervisor's, for a VM runtime);
    /// panics when there is none.
    pub fn task_pid(&self, id: &str) -> u32 {
        self.task_column(id, 1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid for task {id} in ctr task ls"))
    }

    /// Column `n` of task `id`'s line of `ctr task ls`.
    fn task_column(&self, id: &str, n: usize) -> Option<String> {
        let out = self.ctr(&["task", "ls"], None, 10).ok()?;
        out.stdout_text()
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(n).map(str::to_string))
    }

    /// Polls `task_status` every 500 ms, up to `tries` times, until `accept` takes it.
    pub fn wait_task(&self, id: &str, tries: u32, accept: impl Fn(Option<&str>) -> bool) -> bool {
        for _ in 0..tries {
            if accept(self.task_status(id).as_deref()) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        false
    }

    /// `ctr run --rm --runtime io.containerd.kata.v2 [extra] busybox ID CMD...`
    pub fn run_rm(&self, id: &str, extra: &[&str], cmd: &[&str]) -> anyhow::Result<CtrOutput> {
        let mut args = vec!["run", "--rm", "--runtime", "io.containerd.kata.v2"];
        args.extend_from_slice(extra);
        args.push("docker.io/library/busybox:latest");
        args.push(id);
        args.extend_from_slice(cmd);
        self.ctr(&args, None, 180)
    }
}

impl PrivateContainerd {
    /// Force-removes every task and container, so a failed test does not leave its VMs behind.
    fn remove_everything(&self) {
        let ids = |what: &str| {
            self.ctr(&[what, "ls", "-q"], None, 10)
                .map(|o| {
                    o.stdout_text()
                        .lines()
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        for task in ids("task") {
            let task = task
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let _ = self.ctr(&["task", "delete", "--force", &task], None, 60);
        }
        for container in ids("container") {
            let _ = self.ctr(&["container", "delete", &container], None, 30);
        }
    }
}

impl Drop for PrivateContainerd {
    fn drop(&mut self) {
        self.remove_everything();
        let _ = Command::new(repo_root().join("scripts/private-containerd.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// The directory holding the built `containerd-shim-kata-v2` (debug build first, then release).
fn shim_dir() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    for profile in ["debug", "release"] {
        let dir = target.join(profile);
        if dir.join("containerd-shim-kata-v2").exists() {
            return Ok(dir);
        }
    }
    anyhow::bail!(
        "containerd-shim-kata-v2 is not built: run `cargo build -p containerd-shim-kata-v2`"
    )
}

/// See [`PrivateContainerd::orphan_reaper`].
pub struct OrphanReaper {
    address: String,
}

impl Drop for OrphanReaper {
    fn drop(&mut self) {
        let shims: Vec<u32> = crate::pids_named("containerd-shim-kata-v2")
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains(&self.address))
                    .unwrap_or(false)
            })
            .collect();
        let mut victims = shims.clone();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                let pid = entry.file_name().to_string_lossy().parse::<u32>().ok();
                if let (Some(pid), Some(ppid)) = (pid, ppid) {
                    if shims.contains(&ppid) {
                        victims.push(pid);
                    }
                }
            }
        }
        for pid in victims {
            eprintln!("killing orphan {pid} of {}", self.address);
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}
