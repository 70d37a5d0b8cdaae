//! A private containerd with its CRI plugin for one test: own root, state, sockets, CNI network,
//! kubelet-like directories and pod cgroups, all torn down (and checked) at the end.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ImageSpec, KeyValue, LinuxPodSandboxConfig,
    Mount, PodSandboxConfig, PodSandboxMetadata,
};

use crate::census::NetCensus;
use crate::client::CriClient;
use crate::config::{cni_conflist, containerd_toml, Layout, BRIDGE};
use crate::images::{build_images, BUSYBOX_IMAGE, PAUSE_IMAGE};

/// How long teardown may take before leftovers count as leaked.
pub const TEARDOWN_GRACE: Duration = Duration::from_secs(30);

/// A pod run through CRI.
#[derive(Debug, Clone)]
pub struct Pod {
    pub id: String,
    pub uid: String,
    pub handler: String,
    pub config: PodSandboxConfig,
}

/// The private containerd (CRI enabled) of one test. Call [`CriHarness::finish`] at the end of
/// the test: it removes every pod, stops containerd and fails the test if anything is left. If
/// the test fails first, `Drop` does the same cleanup without asserting.
pub struct CriHarness {
    dir: tempfile::TempDir,
    containerd: Option<Child>,
    cri: Option<CriClient>,
    socket: PathBuf,
    kubelet_root: PathBuf,
    cgroup_top: String,
    census: NetCensus,
    pods: Cell<u32>,
}

impl CriHarness {
    /// Checks that no earlier sandbox is left (waiting up to [`TEARDOWN_GRACE`]), then starts;
    /// panics with the reason, as tests want.
    pub fn start_clean() -> Self {
        kata_e2e_tests::assert_no_leftovers(TEARDOWN_GRACE);
        Self::start().unwrap_or_else(|e| panic!("the CRI harness did not start: {e:#}"))
    }

    /// Writes the configurations, builds the images, starts containerd and waits until its CRI
    /// plugin is ready (runtime and network) with both images known.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("kata-cri-")
            .tempdir_in("/tmp")
            .context("creating the harness directory")?;
        let base = dir.path().to_path_buf();
        let root = base.join("root");
        let state = base.join("state");
        let cni_conf_dir = base.join("cni/net.d");
        let ipam_dir = base.join("cni/ipam");
        let kubelet_root = base.join("kubelet");
        for d in [&root, &state, &cni_conf_dir, &ipam_dir, &kubelet_root] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let kata_config = kata_e2e_tests::test_config(&base)?;
        let socket = base.join("containerd.sock");
        std::fs::write(
            cni_conf_dir.join("10-kata-cri-tests.conflist"),
            cni_conflist(&ipam_dir),
        )?;
        let config = base.join("config.toml");
        let layout = Layout {
            root: &root,
            state: &state,
            socket: &socket,
            cni_conf_dir: &cni_conf_dir,
            kata_config: &kata_config,
        };
        std::fs::write(&config, containerd_toml(&layout, PAUSE_IMAGE))?;
        let (busybox_tar, pause_tar) = build_images(&base, &kata_e2e_tests::repo_root())?;

        let census = NetCensus::take();
        let cgroup_top = format!(
            "cri-tests-{}",
            base.file_name()
                .map(|n| n.to_string_lossy().replace("kata-cri-", ""))
                .unwrap_or_default()
        );
        let mut this = Self {
            dir,
            containerd: None,
            cri: None,
            socket,
            kubelet_root,
            cgroup_top,
            census,
            pods: Cell::new(0),
        };
        this.spawn_containerd(&config, &kata_config)?;
        this.import(&busybox_tar)?;
        this.import(&pause_tar)?;
        this.wait_ready()?;
        Ok(this)
    }

    fn spawn_containerd(&mut self, config: &Path, kata_config: &Path) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.path().join("containerd.log"))?;
        let path = format!(
            "{}:{}",
            shim_dir()?.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new("containerd")
            .arg("--config")
            .arg(config)
            .env("PATH", path)
            .env("KATA_CONF_FILE", kata_config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning containerd")?;
        self.containerd = Some(child);
        let cri = CriClient::connect(&self.socket)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match cri.version() {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    bail!(
                        "containerd's CRI did not answer within 30 s: {e}; log:\n{}",
                        self.log()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        self.cri = Some(cri);
        Ok(())
    }

    fn import(&self, tar: &Path) -> anyhow::Result<()> {
        let out = Command::new("timeout")
            .args(["-k", "5", "60", "ctr", "--address"])
            .arg(&self.socket)
            .args(["--namespace", "k8s.io", "images", "import"])
            .arg(tar)
            .output()
            .context("running ctr images import")?;
        ensure!(
            out.status.success(),
            "ctr images import {} failed: {}",
            tar.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Waits until the CRI plugin knows both images and reports its network ready (it loads the
    /// CNI configuration asynchronously).
    fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let images = [BUSYBOX_IMAGE, PAUSE_IMAGE]
                .iter()
                .all(|i| matches!(self.cri().image_status(i), Ok(Some(_))));
            let status = self.cri().status()?;
            let conditions = status.status.map(|s| s.conditions).unwrap_or_default();
            let network = conditions
                .iter()
                .any(|c| c.r#type == "NetworkReady" && c.status);
            if images && network {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "CRI not ready after 30 s (images known: {images}, conditions: {conditions:?})"
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The CRI client of this containerd.
    pub fn cri(&self) -> &CriClient {
        match &self.cri {
            Some(c) => c,
            None => unreachable!("the client exists from start to teardown"),
        }
    }

    /// The CRI socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The harness's directory (removed at teardown).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The kubelet-like root (`pods/<uid>/volumes/<plugin>/<name>` live under it).
    pub fn kubelet_root(&self) -> &Path {
        &self.kubelet_root
    }

    /// containerd's log so far (the shims' logs are copied into it).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// A pod's configuration as kubelet would write it: unique uid, log directory, a cgroup
    /// parent of this harness.
    pub fn pod_config(&self, name: &str) -> PodSandboxConfig {
        let n = self.pods.get() + 1;
        self.pods.set(n);
        let uid = format!("{}-{n}", self.cgroup_top);
        let log_directory = self.dir.path().join("logs").join(&uid);
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.to_string(),
                uid: uid.clone(),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: name.to_string(),
            log_directory: log_directory.display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/{}/pod{uid}", self.cgroup_top),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Runs a pod named `name` with runtime handler `handler`.
    pub fn run_pod(&self, name: &str, handler: &str) -> anyhow::Result<Pod> {
        let config = self.pod_config(name);
        self.run_pod_with(config, handler)
    }

    /// Runs a pod of configuration `config` with runtime handler `handler`.
    pub fn run_pod_with(&self, config: PodSandboxConfig, handler: &str) -> anyhow::Result<Pod> {
        let uid = config
            .metadata
            .as_ref()
            .map(|m| m.uid.clone())
            .unwrap_or_default();
        std::fs::create_dir_all(&config.log_directory)?;
        let id = self
            .cri()
            .run_pod_sandbox(&config, handler)
            .with_context(|| format!("RunPodSandbox with handler {handler}"))?;
        Ok(Pod {
            id,
            uid,
            handler: handler.to_string(),
            config,
        })
    }

    /// Creates and starts a container of `pod` and waits until it runs; returns its id.
    /// The pod's address as CRI reports it; panics (naming the pod) without one, and unless it
    /// is in the CNI subnet 10.88.77.0/24.
    pub fn pod_ip(&self, pod: &Pod) -> std::net::Ipv4Addr {
        let status = self
            .cri()
            .pod_sandbox_status(&pod.id)
            .expect("PodSandboxStatus")
            .status
            .expect("a status");
        let ip = status.network.map(|n| n.ip).unwrap_or_default();
        let ip: std::net::Ipv4Addr = ip
            .parse()
            .unwrap_or_else(|e| panic!("pod {} has no IPv4 address ({ip:?}): {e}", pod.id));
        assert_eq!(
            &ip.octets()[..3],
            &[10, 88, 77],
            "pod address {ip} outside 10.88.77.0/24"
        );
        ip
    }

    pub fn start_container(&self, pod: &Pod, config: &ContainerConfig) -> anyhow::Result<String> {
        let name = config
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let id = self
            .cri()
            .create_container(&pod.id, config, &pod.config)
            .with_context(|| format!("CreateContainer {name} in pod {}", pod.id))?;
        self.cri()
            .start_container(&id)
            .with_context(|| format!("StartContainer {name} ({id})"))?;
        self.wait_running(&id)?;
        Ok(id)
    }

    /// Waits up to 60 s until container `id` runs.
    pub fn wait_running(&self, id: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.cri().container_status(id)?;
            if status.state == ContainerState::ContainerRunning as i32 {
                return Ok(());
            }
            if status.state == ContainerState::ContainerExited as i32 {
                bail!(
                    "container {id} exited ({}: {} {})",
                    status.exit_code,
                    status.reason,
                    status.message
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "container {id} not running after 60 s (state {})",
                    status.state
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops and removes a pod (its containers with it).
    pub fn remove_pod(&self, pod: &Pod) -> anyhow::Result<()> {
        self.cri()
            .stop_pod_sandbox(&pod.id)
            .with_context(|| format!("StopPodSandbox {}", pod.id))?;
        self.cri()
            .remove_pod_sandbox(&pod.id)
            .with_context(|| format!("RemovePodSandbox {}", pod.id))?;
        Ok(())
    }

    /// Removes every pod, stops containerd, removes the bridge, mounts and cgroups it left, then
    /// fails if anything of the run is still there (processes, mounts and directories of a
    /// sandbox, network namespaces, network devices, shims).
    pub fn finish(mut self) {
        let problems = self.teardown();
        assert!(
            problems.is_empty(),
            "teardown found leftovers:\n  {}",
            problems.join("\n  ")
        );
        kata_e2e_tests::assert_no_leftovers(TEARDOWN_GRACE);
    }

    /// Best-effort teardown; returns what was left behind (and has now been cleaned up).
    fn teardown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(cri) = &self.cri {
            for pod in cri.list_pod_sandbox().unwrap_or_default() {
                if let Err(e) = cri.stop_pod_sandbox(&pod.id) {
                    problems.push(format!("StopPodSandbox {} at teardown: {e}", pod.id));
                }
                if let Err(e) = cri.remove_pod_sandbox(&pod.id) {
                    problems.push(format!("RemovePodSandbox {} at teardown: {e}", pod.id));
                }
            }
        }
        self.cri = None;
        // Shims end on their own once their last task is deleted, in their own time.
        let t0 = Instant::now();
        while !self.shims().is_empty() && t0.elapsed() < TEARDOWN_GRACE {
            std::thread::sleep(Duration::from_millis(100));
        }
        if t0.elapsed() > Duration::from_millis(500) {
            eprintln!(
                "cri harness: shims took {:?} to exit after the last pod",
                t0.elapsed()
            );
        }
        if let Some(mut child) = self.containerd.take() {
            stop_child(&mut child);
        }
        problems.extend(self.reap_shims());
        // A pod's VM or container may need a moment after RemovePodSandbox answered.
        let deadline = Instant::now() + TEARDOWN_GRACE;
        let mut left = self.census.new_items();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            left = self.census.new_items();
        }
        problems.extend(left.iter().map(|l| format!("left behind: {l}")));
        self.census.remove_new_items();
        delete_link(BRIDGE);
        unmount_under(self.dir.path());
        problems.extend(remove_cgroups(&self.cgroup_top));
        problems
    }

    /// The shims serving this containerd: (pid, name).
    fn shims(&self) -> Vec<(u32, &'static str)> {
        let address = self.socket.display().to_string();
        let mut found = Vec::new();
        for name in ["containerd-shim-kata-v2", "containerd-shim-runc-v2"] {
            for pid in kata_e2e_tests::pids_named(name) {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&address) {
                    found.push((pid, name));
                }
            }
        }
        found
    }

    /// Kills shims still serving this containerd (they would keep VMs or containers); returns
    /// one line per shim killed.
    fn reap_shims(&self) -> Vec<String> {
        self.shims()
            .into_iter()
            .map(|(pid, name)| {
                // SAFETY: kill(2) with a pid and a signal number; no memory is shared.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                format!("shim {pid} ({name}) still running, killed")
            })
            .collect()
    }

    /// Times one pod start with `handler`: RunPodSandbox, then CreateContainer and
    /// StartContainer of a sleeping busybox container, until CRI reports it running. The pod
    /// is removed afterwards (not timed).
    pub fn time_pod_start(&self, handler: &str) -> anyhow::Result<PodStartTiming> {
        let t0 = Instant::now();
        let pod = self.run_pod("bench", handler)?;
        let sandbox = t0.elapsed();
        let app = container_config("app", &["sleep", "3600"], Vec::new());
        let started = self.start_container(&pod, &app);
        let total = t0.elapsed();
        let removed = self.remove_pod(&pod);
        started?;
        removed?;
        Ok(PodStartTiming {
            run_pod_sandbox: sandbox,
            container_running: total,
        })
    }
}

impl Drop for CriHarness {
    fn drop(&mut self) {
        if self.containerd.is_some() || self.cri.is_some() {
            for p in self.teardown() {
                eprintln!("cri harness cleanup: {p}");
            }
        }
    }
}

/// How long a pod took to start (see [`CriHarness::time_pod_start`]).
#[derive(Debug, Clone, Copy)]
pub struct PodStartTiming {
    /// RunPodSandbox alone.
    pub run_pod_sandbox: Duration,
    /// From RunPodSandbox's call to the container reported running.
    pub container_running: Duration,
}

/// A busybox container named `name` running `command`, logging to `<name>.log` in the pod's log
/// directory.
pub fn container_config(name: &str, command: &[&str], mounts: Vec<Mount>) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.to_string(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: BUSYBOX_IMAGE.to_string(),
            ..Default::default()
        }),
        command: command.iter().map(|s| s.to_string()).collect(),
        envs: vec![KeyValue {
            key: "KATA_CRI_TEST".into(),
            value: name.to_string(),
        }],
        mounts,
        log_path: format!("{name}.log"),
        ..Default::default()
    }
}

/// A bind mount of `host` at `container` for a container config.
pub fn mount(host: &Path, container: &str, readonly: bool) -> Mount {
    Mount {
        container_path: container.to_string(),
        host_path: host.display().to_string(),
        readonly,
        ..Default::default()
    }
}

/// SIGTERM, up to 10 s, then SIGKILL; reaps the child.
fn stop_child(child: &mut Child) {
    // SAFETY: kill(2) with a pid and a signal number; no memory is shared.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn delete_link(name: &str) {
    if Path::new("/sys/class/net").join(name).exists() {
        let _ = Command::new("ip").args(["link", "delete", name]).status();
    }
}

/// Unmounts every mount point under `dir`, deepest first (lazily: a busy mount must not stop
/// the teardown).
fn unmount_under(dir: &Path) {
    let prefix = format!("{}/", dir.display());
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort();
    points.dedup();
    for p in points.iter().rev() {
        if let Ok(c) = std::ffi::CString::new(p.as_str()) {
            // SAFETY: umount2(2) with a NUL-terminated path that outlives the call.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// `/proc/self/mountinfo` escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(char::from(v));
                i += 4;
                continue;
            }
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    out
}

/// Removes this harness's pod cgroups (`/<top>/...` in every v1 hierarchy, or under the v2
/// root), deepest first; returns the ones that could not be removed.
fn remove_cgroups(top: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup").join(top)];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            roots.push(e.path().join(top));
        }
    }
    for root in roots {
        if !root.is_dir() {
            continue;
        }
        let mut dirs = Vec::new();
        collect_dirs(&root, &mut dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            if let Err(e) = std::fs::remove_dir(&d) {
                problems.push(format!("cgroup {} not removable: {e}", d.display()));
            }
        }
    }
    problems
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// The directory holding the built `containerd-shim-kata-v2` (debug build first, then release).
fn shim_dir() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| kata_e2e_tests::repo_root().join("target"));
    for profile in ["debug", "release"] {
        let dir = target.join(profile);
        if dir.join("containerd-shim-kata-v2").exists() {
            return Ok(dir);
        }
    }
    bail!("containerd-shim-kata-v2 is not built: run `cargo build -p containerd-shim-kata-v2`")
}
