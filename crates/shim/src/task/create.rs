//! Create: the pod's first container boots the sandbox; later ones join it.

use std::path::PathBuf;

use containerd_shim::api::{CreateTaskRequest, CreateTaskResponse};
use containerd_shim::protos::ttrpc::Code;
use containerd_shim::TtrpcResult;
use kata_oci::{ContainerKind, SandboxRef};
use kata_sandbox::host::layout::{Layout, Roots};
use kata_sandbox::{spawn_sandbox, BootRequest, CreateContainer, RootfsMount};

use super::io::process_io;
use super::TaskService;
use crate::errors::{invalid, status, to_ttrpc};

impl TaskService {
    pub(super) async fn do_create(&self, r: CreateTaskRequest) -> TtrpcResult<CreateTaskResponse> {
        if !r.checkpoint.is_empty() || !r.parent_checkpoint.is_empty() {
            return Err(crate::errors::unimplemented("restore from a checkpoint"));
        }
        let bundle = PathBuf::from(&r.bundle);
        let spec = kata_oci::load_spec(&bundle).map_err(|e| invalid(e.to_string()))?;
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
            io: process_io(&r.stdin, &r.stdout, &r.stderr, r.terminal)?,
        };

        let handle = match sandbox.kind {
            ContainerKind::PodSandbox => {
                if self.sandbox.initialized() {
                    return Err(status(
                        Code::ALREADY_EXISTS,
                        format!("this shim already serves sandbox {}", sandbox.sandbox_id),
                    ));
                }
                let (launcher, options) =
                    kata_sandbox::backend::from_config(&spec).map_err(to_ttrpc)?;
                let layout = Layout::new(sandbox.sandbox_id.clone(), Roots::default());
                let handle = spawn_sandbox(layout, options, launcher, self.events.clone());
                let boot = BootRequest {
                    hostname: spec.hostname().clone().unwrap_or_default(),
                    dns: Vec::new(),
                };
                handle.boot(boot).await.map_err(to_ttrpc)?;
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
        Ok(CreateTaskResponse {
            pid,
            ..Default::default()
        })
    }
}
