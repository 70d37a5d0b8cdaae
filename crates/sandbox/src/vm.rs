//! The seam to the VM: boot it with its helper daemons, watch it, stop it.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::agent::Agent;
use crate::host::cleanup::CleanupStep;

/// What the sandbox asks the launcher to boot.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    pub sandbox_id: String,
    /// Host directory exported to the guest with virtio-fs (tag `kataShared`).
    pub shared_dir: PathBuf,
    /// Directory for the VM's sockets (`/run/vc/vm/<sid>`).
    pub vm_dir: PathBuf,
}

/// A booted VM with a connected agent.
pub struct Launched {
    pub vm: Box<dyn VmControl>,
    pub agent: Arc<dyn Agent>,
}

/// Boots VMs. The launcher records every resource it takes in `cleanup` as soon as it takes
/// it, so that a failure half-way (or a killed shim) still releases everything.
#[async_trait]
pub trait VmLauncher: Send + Sync + 'static {
    async fn launch(
        &self,
        plan: &LaunchPlan,
        cleanup: &mut Vec<CleanupStep>,
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
}
