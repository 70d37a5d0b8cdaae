//! VMs booted ahead of any sandbox, for the VMCache server (`kata-runtime factory init` with
//! `[factory] vm_cache_number > 0`): QEMU and its vhost-device-vsock in `/run/vc/vm/<vm id>`,
//! in a network namespace of their own, with the agent answering; no share and no NIC (those
//! are the sandbox's, added when a shim takes the VM: [`super::cached_vm`]).
//!
//! [`CachedVm`] is the serialisable form sent in `GrpcVM.hypervisor` (seed 002's `VM.ToGrpc`:
//! the hypervisor's state as JSON): the spec the VM was booted from and the processes and
//! sockets a shim needs to take it over.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kata_agent_client::{AgentAddress, AgentClient, DialOptions, ReadyListener};
use kata_config::Config;
use kata_factory::{BaseVm, BoxError, GrpcVm, GrpcVmConfig, HandedOver, VmBooter};
use kata_hypervisor::VmSpec;
use kata_qemu::{DetachedQemu, QemuVm};
use kata_vm_daemons::{VsockConfig, VsockDaemon};
use serde::{Deserialize, Serialize};

use super::launcher::{AGENT_PORT, GUEST_CID};
use crate::vm::LaunchPlan;

/// Where base VMs live, as Kata's (`/run/vc/vm/<vm id>`).
pub const VM_ROOT: &str = "/run/vc/vm";

/// The file in a base VM's directory while the VM belongs to the cache (its [`CachedVm`]).
const MARKER: &str = "cached-vm.json";

/// The cached VMs of the server on `endpoint` that are still marked as the cache's:
/// `/run/vc/vm/*/cached-vm.json` naming that endpoint.
pub fn leftovers(endpoint: &Path) -> Vec<(PathBuf, CachedVm)> {
    let Ok(entries) = std::fs::read_dir(VM_ROOT) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let dir = entry.path();
            let json = std::fs::read(dir.join(MARKER)).ok()?;
            let cached = serde_json::from_slice::<CachedVm>(&json).ok()?;
            (cached.endpoint == endpoint).then_some((dir, cached))
        })
        .collect()
}

/// Stops the cached VMs a VMCache server on `endpoint` left behind (killed without `Quit`;
/// call only when no server answers there): every [`leftovers`] entry names QEMU and
/// vhost-device-vsock, which are killed when they still are those processes (their command
/// line names the VM's directory), and the directory goes. VMs handed to sandboxes carry no
/// marker and are left alone. Returns the VM ids stopped.
pub fn stop_leftovers(endpoint: &Path) -> Vec<String> {
    let mut stopped = Vec::new();
    for (dir, cached) in leftovers(endpoint) {
        for pid in [cached.qemu_pid, cached.vsock_pid] {
            if runs_from(pid, &dir) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for pid in [cached.qemu_pid, cached.vsock_pid] {
            for _ in 0..100 {
                if !runs_from(pid, &dir) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        remove_netns(&dir.join("netns"));
        let _ = std::fs::remove_dir_all(&dir);
        stopped.push(cached.id);
    }
    stopped
}

/// True when `pid` is a live process whose command line names `dir` (not a reused pid).
fn runs_from(pid: u32, dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // A zombie (state Z) has ended; its parent reaps it.
    let state = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.starts_with('Z'));
    if state == Some(true) {
        return false;
    }
    let needle = dir.as_os_str().as_encoded_bytes();
    cmdline.windows(needle.len()).any(|w| w == needle)
}

/// A cached VM as a shim receives it (JSON in `GrpcVM.hypervisor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedVm {
    /// The VM's id (`vm-<hex>`), also its directory's name.
    pub id: String,
    /// `/run/vc/vm/<id>`: QMP, vsock and console sockets.
    pub dir: PathBuf,
    /// What QEMU was started with (no share, no NIC).
    pub spec: VmSpec,
    pub qemu_pid: u32,
    pub vsock_pid: u32,
    /// vhost-device-vsock's hybrid vsock socket (`CONNECT <port>`).
    pub vsock_uds: PathBuf,
    /// The endpoint of the server that booted it (`factory destroy` of that endpoint stops it).
    #[serde(default)]
    pub endpoint: PathBuf,
}

/// What `Config` answers and a shim compares with its own configuration: the hypervisor and
/// agent sections, as JSON (seed 002's `VMConfig.ToGrpc`).
pub fn grpc_config(config: &Config) -> Result<GrpcVmConfig, serde_json::Error> {
    Ok(GrpcVmConfig {
        data: serde_json::to_vec(&config.hypervisor)?,
        agent_config: serde_json::to_vec(&config.agent)?,
    })
}

/// How two configurations (`Config` answers) differ, for a message: up to three keys of the
/// `[hypervisor]` and `[agent]` sections as `section.key: <made with> -> <this one>`.
pub fn config_difference(made_with: &GrpcVmConfig, ours: &GrpcVmConfig) -> String {
    let sections = [
        ("hypervisor", &made_with.data, &ours.data),
        ("agent", &made_with.agent_config, &ours.agent_config),
    ];
    let mut found = Vec::new();
    for (name, a, b) in sections {
        let a: serde_json::Value = serde_json::from_slice(a).unwrap_or_default();
        let b: serde_json::Value = serde_json::from_slice(b).unwrap_or_default();
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            if a != b {
                found.push(format!("the [{name}] section"));
            }
            continue;
        };
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for key in keys {
            let (x, y) = (a.get(key), b.get(key));
            if x != y {
                let show = |v: Option<&serde_json::Value>| {
                    v.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into())
                };
                found.push(format!("{name}.{key}: {} -> {}", show(x), show(y)));
            }
        }
    }
    let more = found.len().saturating_sub(3);
    let mut text = found.into_iter().take(3).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Boots base VMs from a configuration.
pub struct CacheBooter {
    config: Arc<Config>,
}

impl CacheBooter {
    /// Refuses configurations a cached VM cannot serve (rootless QEMU: the VMs are the
    /// server's, not a sandbox's user's).
    pub fn new(config: Config) -> Result<Self, BoxError> {
        if config.hypervisor.rootless {
            return Err(
                "[hypervisor.qemu] rootless = true: the VM cache does not boot rootless VMs".into(),
            );
        }
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 8];
    if let Ok(f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = (&f).read_exact(&mut bytes);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("vm-{hex}")
}

#[async_trait]
impl VmBooter for CacheBooter {
    async fn boot(&self) -> Result<Box<dyn BaseVm>, BoxError> {
        let id = random_id();
        let dir = Path::new(VM_ROOT).join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("making {}: {e}", dir.display()))?;
        match boot_in(&self.config, &id, &dir).await {
            Ok(vm) => Ok(Box::new(vm)),
            Err(e) => {
                remove_netns(&dir.join("netns"));
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }
}

async fn boot_in(config: &Config, id: &str, dir: &Path) -> Result<Booted, BoxError> {
    let plan = LaunchPlan {
        sandbox_id: id.to_string(),
        shared_dir: dir.join("shared"),
        vm_dir: dir.to_owned(),
        netns: None,
        new_netns: false,
        cgroups_path: None,
    };
    let vsock_cfg = VsockConfig::in_dir(dir, GUEST_CID);
    let vsock = VsockDaemon::start(vsock_cfg.clone()).await?;
    let netns = dir.join("netns");
    let mut spec = super::vm_spec::vm_spec(config, &plan, &vsock_cfg, &dir.join("virtiofsd.sock"));
    // The sandbox's share is hot-plugged when a shim takes the VM.
    spec.shared_fs = None;
    crate::host::network::create_netns(&netns)
        .map_err(|e| format!("making the VM's network namespace {}: {e}", netns.display()))?;
    spec.netns = Some(netns);
    let ready = ReadyListener::bind(&vsock_cfg.uds_path)?;
    vsock.allow_connect(ready.path())?;
    let qemu = QemuVm::start(spec.clone()).await?;
    let address = AgentAddress::HybridVsock {
        uds_path: vsock_cfg.uds_path.clone(),
        port: AGENT_PORT,
    };
    let timeout = Duration::from_secs(u64::from(config.agent.dial_timeout));
    let dial = DialOptions::with_timeout(timeout);
    let dialled = tokio::select! {
        c = AgentClient::connect_when_ready(&address, ready, &dial) => c.map_err(BoxError::from),
        _ = qemu.exited() => Err(format!("qemu exited while the agent was dialled: {}", qemu.stderr()).into()),
    };
    let checked = match dialled {
        Ok(client) => client
            .check(Duration::from_secs(10))
            .await
            .map_err(BoxError::from),
        Err(e) => Err(e),
    };
    if let Err(e) = checked {
        let _ = qemu.stop().await;
        vsock.stop().await;
        return Err(e);
    }
    let cached = CachedVm {
        id: id.to_string(),
        dir: dir.to_owned(),
        qemu_pid: qemu.pid().unwrap_or(0),
        vsock_pid: vsock.pid().unwrap_or(0),
        vsock_uds: vsock_cfg.uds_path.clone(),
        endpoint: config.factory.vm_cache_endpoint.clone(),
        spec,
    };
    // Marks the VM as the cache's until it is handed out: `factory destroy` stops what a killed
    // server left behind by these files ([`stop_leftovers`]).
    if let Ok(json) = serde_json::to_vec(&cached) {
        if let Err(e) = std::fs::write(dir.join(MARKER), json) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot write the cached VM's marker");
        }
    }
    tracing::info!(vm = id, qemu_pid = cached.qemu_pid, "base VM booted");
    Ok(Booted {
        cached,
        cpu: config.hypervisor.default_vcpus,
        memory: config.hypervisor.default_memory,
        qemu,
        vsock,
    })
}

/// Unmounts and removes a network namespace file (the namespace lives on while QEMU is in it).
fn remove_netns(path: &Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

/// A base VM in the server's pool.
struct Booted {
    cached: CachedVm,
    cpu: u32,
    memory: u32,
    qemu: QemuVm,
    vsock: VsockDaemon,
}

#[async_trait]
impl BaseVm for Booted {
    fn grpc(&self) -> GrpcVm {
        GrpcVm {
            id: self.cached.id.clone(),
            hypervisor: serde_json::to_vec(&self.cached).unwrap_or_default(),
            proxy_pid: 0,
            proxy_url: AgentAddress::HybridVsock {
                uds_path: self.cached.vsock_uds.clone(),
                port: AGENT_PORT,
            }
            .to_string(),
            cpu: self.cpu,
            memory: self.memory,
            cpu_delta: 0,
        }
    }

    fn pid(&self) -> u32 {
        self.cached.qemu_pid
    }

    fn is_alive(&self) -> bool {
        self.qemu.exit_status().is_none() && self.vsock.watch().exit().is_none()
    }

    async fn hand_over(self: Box<Self>) -> Box<dyn HandedOver> {
        // The namespace stays while QEMU is in it; the shim binds it from /proc/<pid>/ns/net.
        remove_netns(&self.cached.dir.join("netns"));
        let _ = std::fs::remove_file(self.cached.dir.join(MARKER));
        Box::new(Released {
            qemu: self.qemu.detach().await,
            vsock: Some(self.vsock),
        })
    }

    async fn stop(self: Box<Self>) {
        let _ = self.qemu.stop().await;
        self.vsock.stop().await;
        remove_netns(&self.cached.dir.join("netns"));
        if let Err(e) = std::fs::remove_dir_all(&self.cached.dir) {
            tracing::warn!(dir = %self.cached.dir.display(), error = %e, "cannot remove a cached VM's directory");
        }
        tracing::info!(vm = %self.cached.id, "cached VM stopped");
    }
}

/// A VM given to a shim: reaped here, stopped by the shim.
struct Released {
    qemu: DetachedQemu,
    vsock: Option<VsockDaemon>,
}

#[async_trait]
impl HandedOver for Released {
    async fn ended(&self) {
        let _ = self.qemu.exited().await;
        if let Some(vsock) = &self.vsock {
            // The shim stops vhost-device-vsock after QEMU; reap it when it goes.
            let _ = tokio::time::timeout(Duration::from_secs(30), vsock.exited()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_difference_names_the_keys() {
        let made = GrpcVmConfig {
            data: br#"{"default_memory":512,"default_vcpus":1,"path":"/q"}"#.to_vec(),
            agent_config: br#"{"dial_timeout":45}"#.to_vec(),
        };
        let ours = GrpcVmConfig {
            data: br#"{"default_memory":768,"default_vcpus":1,"path":"/q"}"#.to_vec(),
            agent_config: br#"{"dial_timeout":10}"#.to_vec(),
        };
        assert_eq!(
            config_difference(&made, &ours),
            "hypervisor.default_memory: 512 -> 768, agent.dial_timeout: 45 -> 10"
        );
        assert_eq!(config_difference(&made, &made), "");
    }
}
