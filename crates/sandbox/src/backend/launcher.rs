//! [`VmLauncher`] with QEMU: vhost-device-vsock (hybrid vsock), virtiofsd for the shared
//! directory, QEMU itself, then the agent connection (`CONNECT 1024`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kata_agent_client::{AgentAddress, AgentClient, DialOptions, ReadyListener};
use kata_config::{Config, KernelParam, KernelParams};
use kata_hypervisor::{Accelerator, AgentChannel, BootSpec, CpuSpec, MemorySpec, SharedFs, VmSpec};
use kata_qemu::QemuVm;
use kata_vm_daemons::{
    first_exit, DaemonWatch, VirtioFsConfig, VirtioFsDaemon, VsockConfig, VsockDaemon,
};
use tokio::sync::Mutex;

use super::agent::KataAgent;
use crate::host::cleanup::CleanupStep;
use crate::host::layout::SHARED_FS_TAG;
use crate::vm::{LaunchPlan, Launched, StepLog, VmControl, VmLauncher};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The agent's vsock port.
pub const AGENT_PORT: u32 = 1024;
/// Guest context id; each VM has its own vhost-device-vsock, so it never clashes.
const GUEST_CID: u32 = 3;

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

/// KVM when the CPU has vmx/svm and /dev/kvm works, else TCG (with a warning).
fn accelerator() -> Accelerator {
    let host = kata_hostinfo::Host::system();
    let flag = host.cpuinfo().ok().and_then(|c| c.virt_flag);
    let support = kata_hostinfo::decide(flag, &host.kvm());
    match support.accelerator {
        kata_hostinfo::Accelerator::Kvm => Accelerator::Kvm,
        kata_hostinfo::Accelerator::Tcg => {
            tracing::warn!(
                reason = %support.reason,
                "pods run under software emulation (TCG): a weaker isolation boundary than KVM"
            );
            Accelerator::tcg()
        }
    }
}

pub(super) fn vm_spec(
    config: &Config,
    plan: &LaunchPlan,
    vsock: &VsockConfig,
    fs_socket: &std::path::Path,
) -> VmSpec {
    let h = &config.hypervisor;
    let mut spec = VmSpec::minimal(
        plan.sandbox_id.clone(),
        h.path.clone(),
        h.kernel.clone(),
        plan.vm_dir.clone(),
        accelerator(),
    );
    if !h.machine_type.is_empty() {
        spec.machine_type = h.machine_type.clone();
    }
    let vcpus = h.default_vcpus.max(1);
    // TODO(hotplug): max_vcpus/max memory from default_maxvcpus/default_maxmemory.
    spec.cpu = CpuSpec {
        vcpus,
        max_vcpus: vcpus,
        model: None,
    };
    let mem = h.default_memory.max(256);
    spec.memory = MemorySpec {
        size_mib: mem,
        slots: 0,
        max_mib: mem,
        force_shared: true,
    };
    spec.boot = BootSpec {
        kernel: h.kernel.clone(),
        initrd: h.initrd.clone(),
        image: h.image.clone(),
        kernel_params: guest_kernel_params(h.enable_debug, vcpus)
            .merge(&h.kernel_params)
            .merge(&h.user_kernel_params)
            .to_string(),
    };
    spec.console_log = Some(plan.vm_dir.join("console.log"));
    spec.agent_channel = Some(AgentChannel::HybridVsock {
        vhost_user_socket: vsock.vhost_user_socket.clone(),
        uds_path: vsock.uds_path.clone(),
        guest_cid: vsock.guest_cid,
    });
    spec.shared_fs = Some(SharedFs::VirtioFs {
        socket: fs_socket.to_owned(),
        tag: SHARED_FS_TAG.into(),
    });
    // QEMU's own seccomp filter; an empty `seccompsandbox` installs none (as Kata).
    spec.seccomp_sandbox = Some(h.seccompsandbox.trim().to_string()).filter(|v| !v.is_empty());
    spec
}

/// What the QEMU driver always gives the guest kernel (as Kata's QEMU driver does), before the
/// configuration's parameters, which win on the same key: a quick, quiet boot that powers off
/// instead of hanging on a panic.
const QEMU_GUEST_PARAMS: &str = "tsc=reliable no_timer_check rcupdate.rcu_expedited=1 \
    i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k \
    cryptomgr.notests net.ifnames=0 pci=lastbus=0 panic=1";

fn guest_kernel_params(debug: bool, max_vcpus: u32) -> KernelParams {
    let mut params = KernelParams::parse(QEMU_GUEST_PARAMS).unwrap_or_default();
    params.push(KernelParam::new("nr_cpus", max_vcpus.to_string()));
    if !debug {
        params.push(KernelParam::flag("quiet"));
    }
    params
}

fn record(log: &mut StepLog, name: &str, pid: Option<u32>) {
    if let Some(pid) = pid {
        log.push(CleanupStep::kill_process(name, pid));
    }
}

#[async_trait]
impl VmLauncher for QemuLauncher {
    async fn launch(&self, plan: &LaunchPlan, log: &mut StepLog) -> Result<Launched, BoxError> {
        let vsock_cfg = VsockConfig::in_dir(&plan.vm_dir, GUEST_CID);
        let vsock = VsockDaemon::start(vsock_cfg.clone()).await?;
        record(log, "vhost-device-vsock", vsock.pid());

        let fs_socket = plan.vm_dir.join("virtiofsd.sock");
        let mut fs_cfg = VirtioFsConfig::new(&fs_socket, &plan.shared_dir);
        if !self.config.hypervisor.virtio_fs_daemon.is_empty() {
            fs_cfg.binary = Some(self.config.hypervisor.virtio_fs_daemon.clone().into());
        }
        fs_cfg.extra_args = self.config.hypervisor.virtio_fs_extra_args.clone();
        let virtiofsd = VirtioFsDaemon::start(fs_cfg).await?;
        record(log, "virtiofsd", virtiofsd.pid());

        let mut spec = vm_spec(&self.config, plan, &vsock_cfg, &fs_socket);
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
        // Bound before QEMU starts: the agent's "I listen" connection must find it (see
        // kata_agent_client::ReadyListener for the vhost-device-vsock stall this avoids).
        let ready = ReadyListener::bind(&vsock_cfg.uds_path)?;
        // vhost-device-vsock runs unprivileged: open the root-bound listener to it.
        vsock.allow_connect(ready.path())?;
        let vm = QemuVm::start(spec).await?;
        record(log, "qemu", vm.pid());
        let pid = vm.pid().unwrap_or(0);

        let control = QemuControl {
            vm,
            pid,
            watches: vec![vsock.watch(), virtiofsd.watch()],
            stopping: AtomicBool::new(false),
            daemons: Mutex::new((Some(vsock), Some(virtiofsd))),
        };
        let address = AgentAddress::HybridVsock {
            uds_path: vsock_cfg.uds_path.clone(),
            port: AGENT_PORT,
        };
        let timeout = Duration::from_secs(u64::from(self.config.agent.dial_timeout.max(30)));
        let dial = DialOptions::with_timeout(timeout);
        let connected = tokio::select! {
            c = AgentClient::connect_when_ready(&address, ready, &dial) => c,
            exit = control.vm.exited() => {
                log_console_tail(plan);
                let msg = format!("qemu exited while the agent was dialled: {exit:?}: {}", control.vm.stderr());
                control.stop().await;
                return Err(msg.into());
            }
        };
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                log_console_tail(plan);
                control.stop().await;
                return Err(Box::new(e));
            }
        };
        if let Err(e) = client.check(Duration::from_secs(10)).await {
            control.stop().await;
            return Err(Box::new(e));
        }
        Ok(Launched {
            vm: Box::new(control),
            agent: Arc::new(
                KataAgent::new(client)
                    .with_create_container_timeout(Duration::from_secs(
                        self.config.runtime.create_container_timeout,
                    ))
                    .with_disable_guest_seccomp(self.config.runtime.disable_guest_seccomp),
            ),
        })
    }
}

/// The end of the guest console, for a boot that failed (the VM directory is removed next).
fn log_console_tail(plan: &LaunchPlan) {
    let path = plan.vm_dir.join("console.log");
    if let Ok(text) = std::fs::read(&path) {
        let tail = &text[text.len().saturating_sub(4096)..];
        tracing::error!(console = %String::from_utf8_lossy(tail), "guest console of the failed boot");
    }
}

/// A running QEMU with its daemons.
struct QemuControl {
    vm: QemuVm,
    pid: u32,
    /// The daemons' ends: one dying unasked takes the VM down (see `exited`).
    watches: Vec<DaemonWatch>,
    /// Set by `stop`: daemons ending from then on are expected.
    stopping: AtomicBool,
    daemons: Mutex<(Option<VsockDaemon>, Option<VirtioFsDaemon>)>,
}

#[async_trait]
impl VmControl for QemuControl {
    fn pid(&self) -> u32 {
        self.pid
    }

    /// QEMU's end, or a daemon's: without virtiofsd or vhost-device-vsock the guest has lost its
    /// share or its agent, so a daemon dying unasked stops QEMU and counts as the VM dying.
    async fn exited(&self) {
        tokio::select! {
            _ = self.vm.exited() => {}
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
    }
}

#[cfg(test)]
mod guest_params_tests {
    use super::*;

    #[test]
    fn qemu_guest_params_parse_and_the_configuration_wins() {
        let base = guest_kernel_params(false, 2);
        assert_eq!(base.get("panic"), Some(Some("1")));
        assert_eq!(base.get("nr_cpus"), Some(Some("2")));
        assert_eq!(base.get("quiet"), Some(None));
        assert_eq!(guest_kernel_params(true, 1).get("quiet"), None);
        let user = KernelParams::parse("panic=0 agent.log=debug").expect("parse");
        let merged = base.merge(&user);
        assert_eq!(merged.get("panic"), Some(Some("0")));
        assert_eq!(merged.get("agent.log"), Some(Some("debug")));
    }
}
