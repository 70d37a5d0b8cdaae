//! Create: the pod's first container boots the sandbox; later ones join it.

use std::path::PathBuf;

use containerd_shim::api::{CreateTaskRequest, CreateTaskResponse};
use containerd_shim::protos::ttrpc::Code;
use containerd_shim::TtrpcResult;
use kata_oci::{ContainerKind, SandboxRef};
use kata_sandbox::host::hooks::{ContainerHooks, HookPoint};
use kata_sandbox::host::layout::{Layout, Roots};
use kata_sandbox::{spawn_sandbox, BootRequest, CreateContainer, ProcessRef, RootfsMount};

use super::io::process_io;
use super::TaskService;
use crate::errors::{invalid, status, to_ttrpc};

impl TaskService {
    pub(super) async fn do_create(&self, r: CreateTaskRequest) -> TtrpcResult<CreateTaskResponse> {
        if !r.checkpoint.is_empty() || !r.parent_checkpoint.is_empty() {
            return Err(crate::errors::unimplemented("restore from a checkpoint"));
        }
        // The ids become host paths (`mounts/<cid>`, `/run/vc/sbs/<sid>`): containerd's rule first.
        kata_oci::validate_id("container id", &r.id).map_err(|e| invalid(e.to_string()))?;
        let bundle = PathBuf::from(&r.bundle);
        let spec = kata_oci::load_spec(&bundle).map_err(|e| invalid(e.to_string()))?;
        // A broken field is refused here, naming it, before anything is taken.
        kata_oci::validate_spec(&spec)
            .map_err(|e| invalid(format!("config.json of container {}: {e}", r.id)))?;
        // What the guest cannot be given (a block device, a seccomp listener...) is refused now,
        // before a VM is booted for it.
        kata_sandbox::backend::convert::spec_to_pb(&spec, Default::default())
            .map_err(|e| invalid(format!("container {}: {}", r.id, e.message)))?;
        for (field, why) in kata_oci::left_out_fields(&spec) {
            tracing::warn!(container = %r.id, field = %field, "not applied in the guest: {why}");
        }
        let sandbox = SandboxRef::from_spec(&spec, &r.id).map_err(|e| invalid(e.to_string()))?;
        let request = CreateContainer {
            id: r.id.clone(),
            bundle: bundle.clone(),
            rootfs: r
                .rootfs
                .iter()
                .map(|m| RootfsMount {
                    fs_type: m.type_.clone(),
                    source: m.source.clone(),
                    options: m.options.clone(),
                })
                .collect(),
            io: process_io(
                &self.namespace,
                &r.id,
                &r.stdin,
                &r.stdout,
                &r.stderr,
                r.terminal,
            )
            .await?,
        };

        let handle = match sandbox.kind {
            ContainerKind::PodSandbox => {
                if self.sandbox.initialized() {
                    return Err(status(
                        Code::ALREADY_EXISTS,
                        format!("this shim already serves sandbox {}", sandbox.sandbox_id),
                    ));
                }
                let config_path = crate::runtime_options::config_path(r.options.as_ref())
                    .map_err(|e| invalid(e.to_string()))?;
                let (launcher, options) =
                    kata_sandbox::backend::from_config_path(&spec, config_path.as_deref())
                        .map_err(to_ttrpc)?;
                crate::logging::set_debug(options.debug, options.agent_debug);
                let layout = Layout::new(sandbox.sandbox_id.clone(), Roots::default());
                let handle = spawn_sandbox(layout, options, launcher, self.events.clone());
                let boot = BootRequest {
                    hostname: spec.hostname().clone().unwrap_or_default(),
                    dns: Vec::new(),
                    netns: kata_oci::network_namespace(&spec),
                    new_netns: kata_oci::wants_new_network_namespace(&spec),
                    cgroups_path: spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()),
                };
                let mut abandoned = AbandonedBoot {
                    handle: Some(handle.clone()),
                    exit: self.exit.clone(),
                };
                let booted = handle.boot(boot).await;
                // Finished (either way): containerd got the answer and drives what follows.
                abandoned.handle = None;
                booted.map_err(to_ttrpc)?;
                crate::monitor::start(handle.clone(), &Roots::default().state);
                let _ = self.sandbox.set(handle);
                self.sandbox()?
            }
            ContainerKind::PodContainer => {
                let handle = self.sandbox()?;
                if handle.id() != sandbox.sandbox_id {
                    return Err(status(
                        Code::FAILED_PRECONDITION,
                        format!(
                            "container {} belongs to sandbox {}, this shim serves {}",
                            r.id,
                            sandbox.sandbox_id,
                            handle.id()
                        ),
                    ));
                }
                handle
            }
        };
        let pid = handle.create_container(request).await.map_err(to_ttrpc)?;
        if let Some(hooks) = ContainerHooks::from_spec(&spec, &r.id, &bundle) {
            for point in [HookPoint::Prestart, HookPoint::CreateRuntime] {
                if let Err(e) = hooks.run(point, Some(pid)).await {
                    // Nothing of a container whose hook failed stays (nor its VM, if first).
                    if let Err(d) = handle.delete(ProcessRef::new(r.id.clone(), None)).await {
                        tracing::warn!(container = %r.id, error = %d, "removing after a failed hook");
                    }
                    return Err(status(Code::FAILED_PRECONDITION, e.to_string()));
                }
            }
            if let Ok(mut all) = self.hooks.lock() {
                all.insert(r.id.clone(), hooks);
            }
        }
        Ok(CreateTaskResponse {
            pid,
            ..Default::default()
        })
    }
}

/// Armed while the first container's `Create` boots the VM. When containerd goes away in the
/// middle (killed, restarted), the call is dropped unanswered and the restarted containerd
/// never learns of this shim's task: once the sandbox task has finished the boot, it is torn
/// down and the shim exits, so that containerd sees a dead shim (and runs `shim delete`)
/// instead of an orphan staying forever.
struct AbandonedBoot {
    handle: Option<kata_sandbox::SandboxHandle>,
    exit: std::sync::Arc<containerd_shim::asynchronous::ExitSignal>,
}

impl Drop for AbandonedBoot {
    fn drop(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        tracing::warn!(
            sandbox = handle.id(),
            "create abandoned by containerd while booting: tearing down and exiting"
        );
        let exit = self.exit.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                // Queued behind the boot: answered once the sandbox is torn down.
                let _ = handle.shutdown().await;
                exit.signal();
            });
        } else {
            exit.signal();
        }
    }
}
