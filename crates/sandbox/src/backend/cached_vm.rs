//! Taking a VM from the VMCache server for a sandbox (`[factory] vm_cache_number > 0`), as
//! Kata's `assignSandbox` and `VM.ReseedRNG`/`SyncTime` do (seed 002): the VM's QEMU is adopted
//! (pidfd + QMP), the sandbox's share is hot-plugged with a virtiofsd of its own, the VM's network
//! namespace becomes the sandbox's, the guest clock is set and its RNG reseeded with fresh host
//! bytes, then the agent is dialled on the VM's own hybrid vsock socket. Any reason the cache
//! cannot serve (no server, another configuration, a pod network namespace) is returned as an
//! error for the launcher to log before it boots directly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kata_agent_client::{AgentAddress, AgentClient, DialOptions};
use kata_config::{Config, InterNetworkingModel};
use kata_factory::client::CacheClient;
use kata_qemu::pidfd::PidFd;
use kata_qemu::{QemuVm, Timeouts};
use kata_vm_daemons::VirtioFsDaemon;

use super::base_vm::{grpc_config, CachedVm};
use super::launcher::AGENT_PORT;
use crate::host::cleanup::CleanupStep;
use crate::host::layout::SHARED_FS_TAG;
use crate::vm::{LaunchPlan, StepLog};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long the shim waits for the VMCache server to answer before booting directly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A cached VM, adopted and ready for the sandbox.
pub(super) struct Adopted {
    pub vm: QemuVm,
    pub vsock: Arc<PidFd>,
    pub virtiofsd: VirtioFsDaemon,
    pub client: AgentClient,
    pub address: AgentAddress,
    pub own_netns: Option<PathBuf>,
}

/// Why a sandbox cannot take a cached VM, before asking the server for one.
fn unsuitable(config: &Config, plan: &LaunchPlan) -> Option<&'static str> {
    if plan.netns.is_some() && config.runtime.internetworking_model != InterNetworkingModel::None {
        return Some("the pod brings its own network namespace, and cached VMs run in theirs");
    }
    if config.hypervisor.rootless {
        return Some("cached VMs do not run rootless (rootless = true)");
    }
    None
}

/// Asks the server on `[factory] vm_cache_endpoint` for a VM when this sandbox can use one.
/// Errors (nothing taken, nothing left behind): the sandbox cannot use a cached VM, no server
/// answers, its VMs come from another configuration, or it has none to give.
pub(super) async fn obtain(config: &Config, plan: &LaunchPlan) -> Result<CachedVm, BoxError> {
    if let Some(reason) = unsuitable(config, plan) {
        return Err(reason.into());
    }
    let endpoint = &config.factory.vm_cache_endpoint;
    let mut client = CacheClient::connect(endpoint, CONNECT_TIMEOUT).await?;
    let theirs = client.config().await?;
    let ours = grpc_config(config)?;
    if theirs != ours {
        return Err(format!(
            "the VMCache server on {} booted its VMs from another configuration ({}; \
             annotations count)",
            endpoint.display(),
            super::base_vm::config_difference(&theirs, &ours)
        )
        .into());
    }
    let grpc = client.get_base_vm().await?;
    serde_json::from_slice(&grpc.hypervisor)
        .map_err(|e| format!("VM {} from the VMCache server: bad form: {e}", grpc.id).into())
}

/// Makes `cached` the sandbox's; every process and file it involves is recorded in `log` first,
/// so a failure part-way leaves nothing once the log is run.
pub(super) async fn adopt(
    config: &Config,
    plan: &LaunchPlan,
    cached: CachedVm,
    log: &mut StepLog,
) -> Result<Adopted, BoxError> {
    // Steps run last to first: the directory goes once the processes using it have.
    log.push(CleanupStep::RemoveTree {
        path: cached.dir.clone(),
    });
    log.push(CleanupStep::kill_process(
        "vhost-device-vsock",
        cached.vsock_pid,
    ));
    log.push(CleanupStep::kill_process("qemu", cached.qemu_pid));
    tracing::info!(sandbox = %plan.sandbox_id, vm = %cached.id, qemu_pid = cached.qemu_pid, "VM taken from the VMCache");
    let vm = QemuVm::adopt(&cached.spec, cached.qemu_pid, Timeouts::default()).await?;
    let vsock = Arc::new(
        PidFd::open(cached.vsock_pid)
            .map_err(|e| format!("vhost-device-vsock (pid {}): {e}", cached.vsock_pid))?,
    );
    let own_netns = if plan.netns.is_none() && plan.new_netns {
        Some(bind_netns(
            cached.qemu_pid,
            &plan.vm_dir.join("netns"),
            log,
        )?)
    } else {
        None
    };

    let fs_socket = plan.vm_dir.join("virtiofsd.sock");
    let fs_cfg = super::vm_spec::virtio_fs_config(config, plan, &fs_socket)
        .ok_or("virtio-fs is not configured")?;
    let virtiofsd = VirtioFsDaemon::start(fs_cfg).await?;
    if let Some(pid) = virtiofsd.pid() {
        log.push(CleanupStep::kill_process("virtiofsd", pid));
    }
    vm.hotplug_virtio_fs(
        &fs_socket,
        SHARED_FS_TAG,
        config.hypervisor.virtio_fs_queue_size,
    )
    .await?;

    let address = AgentAddress::HybridVsock {
        uds_path: cached.vsock_uds.clone(),
        port: AGENT_PORT,
    };
    let timeout = Duration::from_secs(u64::from(config.agent.dial_timeout));
    let client = AgentClient::connect_with(&address, &DialOptions::with_timeout(timeout)).await?;
    client.check(Duration::from_secs(10)).await?;
    super::assign::sync_time_and_reseed(&client).await?;
    Ok(Adopted {
        vm,
        vsock,
        virtiofsd,
        client,
        address,
        own_netns,
    })
}

/// Binds the network namespace QEMU runs in at `path`: the sandbox's own from now on.
fn bind_netns(qemu_pid: u32, path: &Path, log: &mut StepLog) -> Result<PathBuf, BoxError> {
    let source = format!("/proc/{qemu_pid}/ns/net");
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    log.push(CleanupStep::RemoveFile {
        path: path.to_owned(),
    });
    nix::mount::mount(
        Some(source.as_str()),
        path,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("binding {source} at {}: {e}", path.display()))?;
    log.push(CleanupStep::Unmount {
        path: path.to_owned(),
    });
    Ok(path.to_owned())
}
