//! [`VmLauncher`] with QEMU: vhost-device-vsock (hybrid vsock), virtiofsd for the shared
//! directory, QEMU itself, then the agent connection (`CONNECT 1024`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kata_agent_client::{AgentAddress, AgentClient, DialOptions, ReadyListener};
use kata_config::Config;
use kata_config::InterNetworkingModel;
use kata_hypervisor::{Accelerator, NetDevice, VmSpec};
use kata_qemu::pidfd::PidFd;
use kata_qemu::QemuVm;
use kata_vm_daemons::{first_exit, DaemonWatch, VirtioFsDaemon, VsockConfig, VsockDaemon};
use tokio::sync::Mutex;

use super::agent::KataAgent;
use crate::agent::Agent;
use crate::host::cgroup;
use crate::host::cleanup::CleanupStep;
use crate::host::network::{self, PodNetwork};
use crate::vm::{GuestChannel, LaunchPlan, Launched, StepLog, VmControl, VmLauncher};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The agent's vsock port.
pub const AGENT_PORT: u32 = 1024;
/// The port the agent sends its log to (Kata's `agent.log_vport`).
pub const LOG_PORT: u32 = 1025;
/// The debug console's port (Kata's `agent.debug_console_vport` default).
pub const DEBUG_CONSOLE_PORT: u32 = 1026;
/// Guest context id; each VM has its own vhost-device-vsock, so it never clashes.
pub(super) const GUEST_CID: u32 = 3;

pub struct QemuLauncher {
    config: Arc<Config>,
}

impl QemuLauncher {
    pub fn new(config: Config) -> Self {
        Self {
            config: Arc::new(config),
        }
    }
}

fn record(log: &mut StepLog, name: &str, pid: Option<u32>) {
    if let Some(pid) = pid {
        log.push(CleanupStep::kill_process(name, pid));
    }
}

#[async_trait]
impl VmLauncher for QemuLauncher {
    async fn launch(&self, plan: &LaunchPlan, log: &mut StepLog) -> Result<Launched, BoxError> {
        // Made first: with `sandbox_cgroup_only` the shim joins it, and the daemons and QEMU it
        // starts next start there too (`host::cgroup`).
        let pod_cgroup = pod_cgroup(plan, log);
        if let (Some(cgroup), true) = (&pod_cgroup, self.config.runtime.sandbox_cgroup_only) {
            let root = std::path::Path::new(cgroup::CGROUP_ROOT);
            for refused in cgroup::join_self(root, cgroup) {
                tracing::warn!(sandbox = %plan.sandbox_id, "the shim left out of the pod cgroup: {refused}");
            }
        }
        let started = std::time::Instant::now();
        let booted = match self.take_cached(plan, log).await? {
            Some(booted) => Some(booted),
            None => self.clone_template(plan, log).await?,
        };
        let booted = match booted {
            Some(booted) => booted,
            None => self.boot(plan, log, started).await?,
        };
        let Booted {
            control,
            client,
            address,
            network,
            own_netns,
            source,
            daemons_at,
            qmp_at,
        } = booted;
        if let Some(cgroup) = &pod_cgroup {
            for pid in control.pids() {
                for refused in cgroup::join(cgroup, pid) {
                    tracing::warn!(sandbox = %plan.sandbox_id, pid, "left out of the pod cgroup: {refused}");
                }
            }
        }
        // The host's side of the boot phases (the guest logs its own: "guest boot timeline").
        tracing::info!(
            sandbox = %plan.sandbox_id,
            source,
            daemons_ms = daemons_at.as_millis(),
            qmp_ms = qmp_at.as_millis(),
            agent_ms = started.elapsed().as_millis(),
            "vm boot timeline (ms since the launch began)"
        );
        // The agent's log port is reached through hybrid vsock only.
        if let AgentAddress::HybridVsock { uds_path, .. } = &address {
            let log_forwarder =
                super::agent_log::spawn(plan.sandbox_id.clone(), uds_path.clone(), LOG_PORT);
            *control.log_forwarder.lock().await = Some(log_forwarder);
        }
        let agent = Arc::new(
            KataAgent::new(client)
                .with_create_container_timeout(Duration::from_secs(
                    self.config.runtime.create_container_timeout,
                ))
                .with_disable_guest_seccomp(self.config.runtime.disable_guest_seccomp),
        );
        if let Err(e) = configure_guest_network(agent.as_ref(), &network).await {
            control.stop().await;
            return Err(e);
        }
        let model = self.config.runtime.internetworking_model;
        if let Some(netns) = own_netns.filter(|_| model != InterNetworkingModel::None) {
            let how = network::Attach {
                model,
                owner: None,
                dev_dir: plan.vm_dir.clone(),
            };
            let watch = super::hotplug::NetWatch::new(
                plan.sandbox_id.clone(),
                netns,
                how,
                Arc::downgrade(&control.vm),
                agent.clone(),
            );
            let watcher = watch.spawn();
            *control.net_watch.lock().await = Some(watch);
            *control.hotplug.lock().await = Some(watcher);
        }
        let channel = GuestChannel {
            agent_url: address.to_string(),
            // The console is a vsock port: a template's clone (serial channel) has none.
            debug_console_vport: (self.config.agent.debug_console_enabled
                && address.port().is_some())
            .then_some(DEBUG_CONSOLE_PORT),
        };
        Ok(Launched {
            channel,
            vm: Box::new(control),
            agent,
        })
    }
}

/// A VM up with its agent answering, before the sandbox's part of the launch.
struct Booted {
    control: QemuControl,
    client: AgentClient,
    address: AgentAddress,
    network: PodNetwork,
    own_netns: Option<std::path::PathBuf>,
    /// `direct` or `vmcache`, for the boot timeline.
    source: &'static str,
    daemons_at: Duration,
    qmp_at: Duration,
}

impl QemuLauncher {
    /// A VM from the VMCache server when `[factory] vm_cache_number > 0` and it can serve this
    /// sandbox; `None` (with a warning naming why) means a direct boot. A VM taken but not made
    /// the sandbox's is an error: what was taken is in `log`.
    async fn take_cached(
        &self,
        plan: &LaunchPlan,
        log: &mut StepLog,
    ) -> Result<Option<Booted>, BoxError> {
        if self.config.factory.vm_cache_number == 0 {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let cached = match super::cached_vm::obtain(&self.config, plan).await {
            Ok(cached) => cached,
            Err(e) => {
                tracing::warn!(
                    sandbox = %plan.sandbox_id,
                    endpoint = %self.config.factory.vm_cache_endpoint.display(),
                    "VM cache not used, booting directly: {e}"
                );
                return Ok(None);
            }
        };
        let adopted = super::cached_vm::adopt(&self.config, plan, cached, log).await?;
        let qmp_at = started.elapsed();
        let vm = Arc::new(adopted.vm);
        let control = QemuControl::new(vm, None, Some(adopted.virtiofsd), Some(adopted.vsock));
        Ok(Some(Booted {
            control,
            client: adopted.client,
            address: adopted.address,
            network: PodNetwork::default(),
            own_netns: adopted.own_netns,
            source: "vmcache",
            daemons_at: Duration::ZERO,
            qmp_at,
        }))
    }

    /// A clone of the VM template when `[factory] enable_template = true` and a template made
    /// from this configuration exists; `None` (with a warning naming why) means a direct boot.
    async fn clone_template(
        &self,
        plan: &LaunchPlan,
        log: &mut StepLog,
    ) -> Result<Option<Booted>, BoxError> {
        if !self.config.factory.enable_template {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let (dir, template) = match super::template::usable(&self.config) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(sandbox = %plan.sandbox_id, "VM template not used, booting directly: {e}");
                return Ok(None);
            }
        };
        let own_netns = own_netns(plan, log)?;
        // The NICs go in after the restore: the template's machine has none.
        let mut nics = template.spec.clone();
        nics.net_devices.clear();
        let network = connect_network(&self.config, plan, own_netns.as_deref(), &mut nics, log)?;
        let restored = super::template::restore(
            &self.config,
            plan,
            &dir,
            nics.netns.clone(),
            nics.net_devices,
        )
        .await?;
        let qmp_at = started.elapsed();
        record(log, "qemu", restored.vm.pid());
        let vm = Arc::new(restored.vm);
        let control = QemuControl::new(vm, None, None, None);
        Ok(Some(Booted {
            control,
            client: restored.client,
            address: restored.address,
            network,
            own_netns,
            source: "template",
            daemons_at: Duration::ZERO,
            qmp_at,
        }))
    }

    /// Boots the sandbox's VM: vhost-device-vsock, virtiofsd, QEMU, then the agent.
    async fn boot(
        &self,
        plan: &LaunchPlan,
        log: &mut StepLog,
        started: std::time::Instant,
    ) -> Result<Booted, BoxError> {
        let vsock_cfg = VsockConfig::in_dir(&plan.vm_dir, GUEST_CID);
        let vsock = VsockDaemon::start(vsock_cfg.clone()).await?;
        record(log, "vhost-device-vsock", vsock.pid());

        let fs_socket = plan.vm_dir.join("virtiofsd.sock");
        // No virtiofsd with 9p (QEMU serves the share itself).
        let virtiofsd = match super::vm_spec::virtio_fs_config(&self.config, plan, &fs_socket) {
            Some(fs_cfg) => {
                let daemon = VirtioFsDaemon::start(fs_cfg).await?;
                record(log, "virtiofsd", daemon.pid());
                Some(daemon)
            }
            None => None,
        };

        let mut spec = super::vm_spec::vm_spec(&self.config, plan, &vsock_cfg, &fs_socket);
        if self.config.hypervisor.rootless {
            let kvm = matches!(spec.accelerator, Accelerator::Kvm);
            let who = super::rootless::qemu_identity(kvm)?;
            let sockets = [vsock_cfg.vhost_user_socket.as_path(), fs_socket.as_path()];
            let console = spec.console_log.clone();
            let extra: Vec<&std::path::Path> = console.iter().map(|p| p.as_path()).collect();
            super::rootless::grant(&plan.vm_dir, &sockets, &extra, &who)?;
            tracing::info!(uid = who.uid, gid = who.gid, groups = ?who.groups, "rootless: qemu runs unprivileged");
            spec.run_as = Some(who);
        }
        let own_netns = own_netns(plan, log)?;
        let network = connect_network(&self.config, plan, own_netns.as_deref(), &mut spec, log)?;
        // Bound before QEMU starts: the agent's "I listen" connection must find it (see
        // kata_agent_client::ReadyListener for the vhost-device-vsock stall this avoids).
        let ready = ReadyListener::bind(&vsock_cfg.uds_path)?;
        // vhost-device-vsock runs unprivileged: open the root-bound listener to it.
        vsock.allow_connect(ready.path())?;
        let daemons_at = started.elapsed();
        let vm = QemuVm::start(spec).await?;
        let qmp_at = started.elapsed();
        record(log, "qemu", vm.pid());
        let control = QemuControl::new(Arc::new(vm), Some(vsock), virtiofsd, None);
        let address = AgentAddress::HybridVsock {
            uds_path: vsock_cfg.uds_path.clone(),
            port: AGENT_PORT,
        };
        // `[agent.kata] dial_timeout` as given (0 is Kata's 45 s, resolved at load).
        let timeout = Duration::from_secs(u64::from(self.config.agent.dial_timeout));
        let dial = DialOptions::with_timeout(timeout);
        let connected = tokio::select! {
            c = AgentClient::connect_when_ready(&address, ready, &dial) => c,
            exit = control.vm.exited() => {
                let stderr = control.vm.stderr();
                let stderr = stderr.trim();
                let exit = match (exit.code, exit.signal) {
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(signal)) => format!("signal {signal}"),
                    _ => "unknown status".to_string(),
                };
                let msg = format!(
                    "qemu exited while the agent was dialled ({exit}){}{}",
                    if stderr.is_empty() { String::new() } else { format!(": {stderr}") },
                    console_tail(plan)
                );
                control.stop().await;
                return Err(msg.into());
            }
        };
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("{e}{}", console_tail(plan));
                control.stop().await;
                return Err(msg.into());
            }
        };
        if let Err(e) = client.check(Duration::from_secs(10)).await {
            control.stop().await;
            return Err(Box::new(e));
        }
        Ok(Booted {
            control,
            client,
            address,
            network,
            own_netns,
            source: "direct",
            daemons_at,
            qmp_at,
        })
    }
}

/// Connects the pod's network namespace to the VM as `internetworking_model` says: QEMU runs in
/// the namespace, and with `tcfilter` every interface there gets a tap (recorded in `log` for
/// teardown) and a virtio-net device with the interface's MAC.
fn connect_network(
    config: &Config,
    plan: &LaunchPlan,
    own_netns: Option<&std::path::Path>,
    spec: &mut VmSpec,
    log: &mut StepLog,
) -> Result<PodNetwork, BoxError> {
    if let Some(own) = own_netns {
        // Empty at boot: what CNI adds later is hot-plugged (`super::hotplug`).
        spec.netns = Some(own.to_owned());
        return Ok(PodNetwork::default());
    }
    let Some(netns) = &plan.netns else {
        return Ok(PodNetwork::default());
    };
    spec.netns = Some(netns.clone());
    let model = config.runtime.internetworking_model;
    if model == InterNetworkingModel::None {
        return Ok(PodNetwork::default());
    }
    let how = network::Attach {
        model,
        owner: spec.run_as.as_ref().map(|who| (who.uid, who.gid)),
        dev_dir: plan.vm_dir.clone(),
    };
    let network = network::attach(netns, &how)?;
    let made = network.made();
    log.push(CleanupStep::DetachNetwork {
        netns: netns.clone(),
        taps: made.taps,
        interfaces: made.interfaces,
        restore: made.restore,
    });
    for (n, endpoint) in network.endpoints.iter().enumerate() {
        spec.net_devices.push(NetDevice {
            id: format!("net{n}"),
            tap: endpoint.tap.clone(),
            mac: endpoint.interface.hw_addr.clone(),
            vhost: false,
            tap_device: endpoint.device.clone(),
        });
    }
    if !network.endpoints.is_empty() {
        tracing::info!(
            sandbox = %plan.sandbox_id,
            netns = %netns.display(),
            interfaces = ?network.endpoints.iter().map(|e| &e.interface.name).collect::<Vec<_>>(),
            model = model.as_str(),
            "pod network connected"
        );
    }
    Ok(network)
}

/// The sandbox's own network namespace (`<vm dir>/netns`) when the spec asks for a new one (with
/// every `internetworking_model`: `none` leaves it unconnected); recorded for teardown.
fn own_netns(plan: &LaunchPlan, log: &mut StepLog) -> Result<Option<std::path::PathBuf>, BoxError> {
    // Whatever the model: QEMU never stays in the host's namespace when the spec asks for a new one.
    if plan.netns.is_some() || !plan.new_netns {
        return Ok(None);
    }
    let path = plan.vm_dir.join("netns");
    network::create_netns(&path).map_err(|e| {
        format!(
            "making the sandbox's network namespace {}: {e}",
            path.display()
        )
    })?;
    log.push(CleanupStep::RemoveFile { path: path.clone() });
    log.push(CleanupStep::Unmount { path: path.clone() });
    Ok(Some(path))
}

/// Makes the pod's cgroup on the host (the sandbox's `linux.cgroupsPath`), recording each
/// directory made; `None` (with a log line) when there is none or it cannot be made.
fn pod_cgroup(plan: &LaunchPlan, log: &mut StepLog) -> Option<cgroup::PodCgroup> {
    let path = plan.cgroups_path.as_ref()?;
    if !path.is_absolute() {
        tracing::info!(sandbox = %plan.sandbox_id, path = %path.display(), "systemd cgroup paths are not handled: qemu stays in the shim's cgroup");
        return None;
    }
    let made = cgroup::create(std::path::Path::new(cgroup::CGROUP_ROOT), path);
    match made {
        Ok(pod) => {
            for dir in &pod.created {
                log.push(CleanupStep::RemoveCgroup { path: dir.clone() });
            }
            Some(pod)
        }
        Err(e) => {
            tracing::warn!(sandbox = %plan.sandbox_id, path = %path.display(), error = %e, "no pod cgroup on the host");
            None
        }
    }
}

/// Gives the guest the pod's interfaces (same MAC, name, MTU, addresses) and routes, as Kata's
/// runtime does before `CreateSandbox`.
async fn configure_guest_network(agent: &dyn Agent, network: &PodNetwork) -> Result<(), BoxError> {
    for endpoint in &network.endpoints {
        agent
            .update_interface(&endpoint.interface)
            .await
            .map_err(|e| format!("UpdateInterface {}: {e}", endpoint.interface.name))?;
    }
    if !network.routes.is_empty() {
        agent
            .update_routes(&network.routes)
            .await
            .map_err(|e| format!("UpdateRoutes: {e}"))?;
    }
    if !network.neighbors.is_empty() {
        agent
            .add_arp_neighbors(&network.neighbors)
            .await
            .map_err(|e| format!("AddARPNeighbors: {e}"))?;
    }
    Ok(())
}

/// Lines of the guest console a failed boot's error carries.
const CONSOLE_TAIL_LINES: usize = 15;
/// Bytes of the guest console a failed boot's error carries, at most.
const CONSOLE_TAIL_BYTES: usize = 2048;

/// The end of the guest console, for the error of a boot that failed (the VM directory is removed
/// next): `"; guest console (last lines): ..."`, or nothing when the console is empty. A kernel
/// panic's own line leads when its stack trace pushed it out of the tail.
fn console_tail(plan: &LaunchPlan) -> String {
    let text = std::fs::read(plan.vm_dir.join("console.log")).unwrap_or_default();
    let tail = tail_lines(&text, CONSOLE_TAIL_LINES, CONSOLE_TAIL_BYTES);
    if tail.is_empty() {
        return String::new();
    }
    match panic_line(&text).filter(|p| !tail.contains(p.as_str())) {
        Some(panic) => format!("; guest console: {panic} | ... | {tail}"),
        None => format!("; guest console (last lines): {tail}"),
    }
}

/// The last `Kernel panic` line of the console, if any.
fn panic_line(text: &[u8]) -> Option<String> {
    String::from_utf8_lossy(text)
        .lines()
        .rev()
        .find(|l| l.contains("Kernel panic"))
        .map(|l| l.trim().to_string())
}

/// The last `lines` non-empty lines of `text` (at most `max_bytes`), joined with " | ".
fn tail_lines(text: &[u8], lines: usize, max_bytes: usize) -> String {
    let text = String::from_utf8_lossy(&text[text.len().saturating_sub(max_bytes)..]);
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // Escaped: the tail goes into an error a user's terminal prints (firmware resets, colours).
    super::agent_log::escape_controls(&kept[kept.len().saturating_sub(lines)..].join(" | "))
}

/// A running QEMU with its daemons.
struct QemuControl {
    vm: Arc<QemuVm>,
    pid: u32,
    /// The daemons' ends: one dying unasked takes the VM down (see `exited`).
    watches: Vec<DaemonWatch>,
    /// Set by `stop`: daemons ending from then on are expected.
    stopping: AtomicBool,
    daemons: Mutex<(Option<VsockDaemon>, Option<VirtioFsDaemon>)>,
    /// vhost-device-vsock of a VM taken from the VMCache (the server is its parent).
    adopted_vsock: Option<Arc<PidFd>>,
    /// The agent's log copy ([`super::agent_log`]); it ends with the VM, or is stopped with it.
    log_forwarder: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The watch for interfaces added to the sandbox's own netns ([`super::hotplug`]).
    hotplug: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The same watch, looked through once more before a container starts.
    net_watch: Mutex<Option<Arc<super::hotplug::NetWatch>>>,
}

impl QemuControl {
    /// A running VM with the daemons it depends on, each watched from now on.
    fn new(
        vm: Arc<QemuVm>,
        vsock: Option<VsockDaemon>,
        virtiofsd: Option<VirtioFsDaemon>,
        adopted_vsock: Option<Arc<PidFd>>,
    ) -> Self {
        QemuControl {
            pid: vm.pid().unwrap_or(0),
            vm,
            watches: vsock
                .iter()
                .map(VsockDaemon::watch)
                .chain(virtiofsd.iter().map(VirtioFsDaemon::watch))
                .collect(),
            stopping: AtomicBool::new(false),
            daemons: Mutex::new((vsock, virtiofsd)),
            adopted_vsock,
            log_forwarder: Mutex::new(None),
            hotplug: Mutex::new(None),
            net_watch: Mutex::new(None),
        }
    }

    /// QEMU's and the daemons' pids (for the pod cgroup).
    fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.pid];
        pids.extend(self.watches.iter().filter_map(DaemonWatch::pid));
        pids.extend(self.adopted_vsock.as_ref().map(|v| v.pid()));
        pids
    }

    /// Resolves when the adopted vhost-device-vsock ends; never without one.
    async fn adopted_vsock_ended(&self) {
        match &self.adopted_vsock {
            Some(vsock) => vsock.exited().await,
            None => std::future::pending().await,
        }
    }
}

#[async_trait]
impl VmControl for QemuControl {
    fn pid(&self) -> u32 {
        self.pid
    }

    async fn sync_network(&self) {
        let watch = self.net_watch.lock().await.clone();
        if let Some(watch) = watch {
            watch.scan().await;
        }
    }

    async fn resize_vcpus(&self, vcpus: u32) -> Result<Option<kata_hypervisor::Resized>, BoxError> {
        Ok(Some(self.vm.resize_vcpus(vcpus).await?))
    }

    async fn resize_memory(
        &self,
        mib: u32,
        block_mib: u32,
    ) -> Result<Option<kata_hypervisor::Resized>, BoxError> {
        Ok(Some(self.vm.resize_memory(mib, block_mib).await?))
    }

    /// QEMU's end, or a daemon's: without virtiofsd or vhost-device-vsock the guest has lost its
    /// share or its agent, so a daemon dying unasked stops QEMU and counts as the VM dying.
    async fn exited(&self) {
        tokio::select! {
            _ = self.vm.exited() => {}
            _ = self.adopted_vsock_ended() => {
                if !self.stopping.load(Ordering::SeqCst) {
                    tracing::error!("vhost-device-vsock died: stopping the vm");
                    if let Err(e) = self.vm.stop().await {
                        tracing::warn!(error = %e, "cannot stop qemu");
                    }
                }
                let _ = self.vm.exited().await;
            }
            (daemon, exit) = first_exit(&self.watches) => {
                if !self.stopping.load(Ordering::SeqCst) {
                    tracing::error!(
                        daemon = daemon.name(),
                        pid = ?daemon.pid(),
                        exit = %exit,
                        stderr = %daemon.stderr(),
                        "{} died ({exit}): stopping the vm", daemon.name()
                    );
                    if let Err(e) = self.vm.stop().await {
                        tracing::warn!(error = %e, "cannot stop qemu");
                    }
                }
                let _ = self.vm.exited().await;
            }
        }
    }

    async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(watch) = self.hotplug.lock().await.take() {
            watch.abort();
        }
        if let Err(e) = self.vm.stop().await {
            tracing::warn!(error = %e, "cannot stop qemu");
        }
        let (vsock, fs) = {
            let mut d = self.daemons.lock().await;
            (d.0.take(), d.1.take())
        };
        if let Some(fs) = fs {
            fs.stop().await;
        }
        if let Some(v) = vsock {
            v.stop().await;
        }
        if let Some(v) = &self.adopted_vsock {
            let _ = v.signal(libc::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(2), v.exited())
                .await
                .is_err()
            {
                let _ = v.signal(libc::SIGKILL);
                v.exited().await;
            }
        }
        if let Some(forwarder) = self.log_forwarder.lock().await.take() {
            // The guest is gone: give the copy a moment to write out the last records it has.
            let abort = forwarder.abort_handle();
            if tokio::time::timeout(Duration::from_millis(500), forwarder)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

#[cfg(test)]
mod guest_params_tests {
    use super::*;

    #[test]
    fn a_failed_boot_carries_the_console_tail() {
        let text = b"boot 1\n\nboot 2\nKernel panic - not syncing: VFS\n";
        assert_eq!(
            tail_lines(text, 2, 4096),
            "boot 2 | Kernel panic - not syncing: VFS"
        );
        assert_eq!(tail_lines(b"", 2, 4096), "");
        assert_eq!(tail_lines(b"abcdef", 5, 3), "def");
        let panic =
            b"[ 1.3] Kernel panic - not syncing: VFS\n[ 1.4] Call Trace:\n[ 1.5] panic+0x1\n";
        assert_eq!(
            panic_line(panic).as_deref(),
            Some("[ 1.3] Kernel panic - not syncing: VFS")
        );
        assert_eq!(panic_line(b"all well\n"), None);
        assert_eq!(
            tail_lines(b"\x1bc\x1b[2JSeaBIOS\n", 5, 4096),
            "\\u{1b}c\\u{1b}[2JSeaBIOS"
        );
    }
}
