//! The seam to the VM: boot it with its helper daemons, watch it, stop it.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::agent::Agent;
use crate::host::cleanup::CleanupStep;
use crate::host::state::SandboxState;

/// What the sandbox asks the launcher to boot.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    pub sandbox_id: String,
    /// Host directory exported to the guest with virtio-fs (tag `kataShared`).
    pub shared_dir: PathBuf,
    /// Directory for the VM's sockets (`/run/vc/vm/<sid>`).
    pub vm_dir: PathBuf,
    /// The pod's network namespace (the OCI spec's `linux.namespaces` network path, made by CNI):
    /// QEMU runs in it and its interfaces are connected to the VM. `None`: no pod network.
    pub netns: Option<PathBuf>,
    /// No namespace path but a new network namespace asked for (plain `ctr run`, `ctr run --cni`):
    /// the sandbox makes its own for QEMU and hot-plugs what appears in it.
    pub new_netns: bool,
    /// The sandbox container's `linux.cgroupsPath`: QEMU runs in that cgroup on the host.
    pub cgroups_path: Option<PathBuf>,
}

/// A booted VM with a connected agent.
pub struct Launched {
    pub vm: Box<dyn VmControl>,
    pub agent: Arc<dyn Agent>,
    /// How the host reaches the guest's vsock ports (what the shim's `/agent-url` answers).
    pub channel: GuestChannel,
}

/// The host's way to the guest's vsock ports, and the ports the guest serves besides the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestChannel {
    /// The agent's URL in Kata's form (`hvsock://<unix socket>:<port>`, `vsock://<cid>:<port>`);
    /// empty when unknown.
    pub agent_url: String,
    /// Port of the guest's debug console (`agent.debug_console_vport`), when enabled.
    pub debug_console_vport: Option<u32>,
}

/// The sandbox's cleanup list while the VM boots: each step is persisted as it is recorded, so
/// that a shim killed half-way through a boot still leaves a complete state for `shim delete`.
pub struct StepLog {
    state: SandboxState,
    state_dir: PathBuf,
}

impl StepLog {
    pub fn new(state: SandboxState, state_dir: PathBuf) -> Self {
        Self { state, state_dir }
    }

    /// Records (and persists) a resource just taken.
    pub fn push(&mut self, step: CleanupStep) {
        self.state.sandbox_steps.push(step);
        if let Err(e) = self.state.save(&self.state_dir) {
            tracing::warn!(error = %e, "cannot persist the sandbox state");
        }
    }

    /// Every sandbox step so far, in acquisition order.
    pub fn steps(&self) -> &[CleanupStep] {
        &self.state.sandbox_steps
    }

    pub fn into_state(self) -> SandboxState {
        self.state
    }
}

/// Boots VMs. The launcher records every resource it takes in `log` as soon as it takes it, so
/// that a failure half-way (or a killed shim) still releases everything.
#[async_trait]
pub trait VmLauncher: Send + Sync + 'static {
    async fn launch(
        &self,
        plan: &LaunchPlan,
        log: &mut StepLog,
    ) -> Result<Launched, Box<dyn std::error::Error + Send + Sync>>;
}

/// A running VM.
#[async_trait]
pub trait VmControl: Send + Sync + 'static {
    /// The hypervisor's pid (what containerd sees as every task's pid).
    fn pid(&self) -> u32;
    /// Resolves once the hypervisor has exited; may be called again after that.
    async fn exited(&self);
    /// Stops the VM and its daemons (graceful first, then by force).
    async fn stop(&self);
    /// Connects what appeared in the VM's own network namespace since the last look, before a
    /// container starts (`ctr run --cni` runs CNI between task create and start). The default
    /// does nothing.
    async fn sync_network(&self) {}
    /// Brings the VM to `vcpus` vCPUs within the room it booted with (vCPU hotplug); the counts
    /// before and after. `None`: this VM cannot resize (the default).
    async fn resize_vcpus(
        &self,
        vcpus: u32,
    ) -> Result<Option<kata_hypervisor::Resized>, Box<dyn std::error::Error + Send + Sync>> {
        let _ = vcpus;
        Ok(None)
    }
    /// Grows guest memory towards `mib` MiB in blocks of `block_mib` (memory hotplug); MiB
    /// before and after. `None`: this VM cannot resize (the default).
    async fn resize_memory(
        &self,
        mib: u32,
        block_mib: u32,
    ) -> Result<Option<kata_hypervisor::Resized>, Box<dyn std::error::Error + Send + Sync>> {
        let _ = (mib, block_mib);
        Ok(None)
    }
}
