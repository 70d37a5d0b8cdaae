//! Boot: shared directories, VM with its daemons, `CreateSandbox`, watchers.

use std::sync::Arc;

use super::actor::{Internal, SandboxTask};
use super::deadline::with_deadline;
use super::oom::{spawn_oom_watch, OomLimits};
use super::BootRequest;
use crate::agent::{SandboxRequest, Storage};
use crate::error::{Error, Result};
use crate::host::cleanup::{run_steps, CleanupStep};
use crate::host::layout::{GUEST_SHARED_DIR, SHARED_FS_TAG};
use crate::host::{mount, shared};
use crate::vm::{LaunchPlan, StepLog, VmControl};

/// The shared directory as the agent mounts it: virtio-fs, or 9p with `msize` (the options of
/// Kata's `kata_agent.go`).
pub(crate) fn shared_fs_storage(ninep_msize: Option<u32>) -> Storage {
    match ninep_msize {
        None => Storage {
            driver: "virtio-fs".into(),
            source: SHARED_FS_TAG.into(),
            fstype: "virtiofs".into(),
            mount_point: GUEST_SHARED_DIR.into(),
            ..Default::default()
        },
        Some(msize) => Storage {
            driver: "9p".into(),
            source: SHARED_FS_TAG.into(),
            fstype: "9p".into(),
            options: vec![
                "trans=virtio,version=9p2000.L,cache=mmap".into(),
                "nodev".into(),
                format!("msize={msize}"),
            ],
            mount_point: GUEST_SHARED_DIR.into(),
            ..Default::default()
        },
    }
}

impl SandboxTask {
    pub(crate) async fn boot(&mut self, req: BootRequest) -> Result<u32> {
        if self.vm.is_some() && !self.vm_dead {
            return Ok(self.pid());
        }
        if self.torn_down {
            return Err(Error::SandboxGone);
        }
        // The state is what lets `shim delete` clean up after a killed shim: with no room for
        // it (a full /run), take nothing and say why.
        if let Err(e) = self.state.save(&self.layout.state_dir()) {
            let _ = std::fs::remove_dir_all(self.layout.state_dir());
            return Err(e);
        }
        let mut steps = Vec::new();
        let result = self.boot_steps(req, &mut steps).await;
        if let Err(e) = &result {
            tracing::error!(error = %crate::error::chain(&e), "boot failed, rolling back");
            if let Some(vm) = self.vm.take() {
                vm.stop().await;
            }
            self.agent = None;
            let failures = run_steps(&steps).await;
            if failures.is_empty() {
                self.state.sandbox_steps.clear();
                let _ = std::fs::remove_dir_all(self.layout.state_dir());
            } else {
                self.state.sandbox_steps = steps;
                self.persist();
            }
        }
        result
    }

    async fn boot_steps(&mut self, req: BootRequest, steps: &mut Vec<CleanupStep>) -> Result<u32> {
        shared::setup_shared_dirs(&self.layout, steps)?;
        let vm_dir = self.layout.vm_dir();
        for made in mount::create_dirs(&vm_dir)? {
            // Only the sandbox's own directory is removed with its content; parents are shared
            // with other sandboxes and only removed when empty.
            steps.push(if made == vm_dir {
                CleanupStep::RemoveTree { path: made }
            } else {
                CleanupStep::RemoveDir { path: made }
            });
        }
        self.state.sandbox_steps = steps.clone();
        self.persist();

        let plan = LaunchPlan {
            sandbox_id: self.layout.sandbox_id.clone(),
            shared_dir: self.layout.shared_dir(),
            vm_dir,
            netns: req.netns.clone(),
            new_netns: req.new_netns,
            cgroups_path: req.cgroups_path.clone(),
        };
        let mut log = StepLog::new(self.state.clone(), self.layout.state_dir());
        let launch_began = std::time::Instant::now();
        let launched = self.launcher.launch(&plan, &mut log).await;
        self.state = log.into_state();
        steps.clone_from(&self.state.sandbox_steps);
        self.persist();
        let launched = launched.map_err(|source| Error::Boot {
            sandbox_id: self.layout.sandbox_id.clone(),
            source,
        })?;
        let vm: Arc<dyn VmControl> = Arc::from(launched.vm);
        self.vm = Some(vm.clone());
        self.agent = Some(launched.agent.clone());
        self.channel = Some(launched.channel.clone());
        self.vm_dead = false;
        self.state.hypervisor_pid = Some(vm.pid());
        self.persist();

        let request = SandboxRequest {
            sandbox_id: self.layout.sandbox_id.clone(),
            hostname: req.hostname,
            dns: req.dns,
            storages: vec![shared_fs_storage(self.options.shared_fs_9p_msize)],
            sandbox_pidns: self.options.sandbox_pidns,
            guest_hook_path: self.options.guest_hook_path.clone(),
            kernel_modules: self.options.kernel_modules.clone(),
        };
        let after = self.options.timeouts.request;
        let sandbox_id = self.layout.sandbox_id.clone();
        let call = launched.agent.create_sandbox(request);
        with_deadline("CreateSandbox", &sandbox_id, after, call).await?;
        // The last host phase of a boot (the launcher logs the earlier ones).
        tracing::info!(
            sandbox = %sandbox_id,
            created_ms = launch_began.elapsed().as_millis(),
            "sandbox created (ms since the launch began)"
        );

        let tx = self.internal.clone();
        tokio::spawn(async move {
            vm.exited().await;
            let _ = tx.send(Internal::VmExited);
        });
        let watch = spawn_oom_watch(launched.agent, self.internal.clone(), OomLimits::default());
        self.oom_watch = Some(watch);
        Ok(self.pid())
    }
}
