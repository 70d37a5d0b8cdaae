//! Create: rootfs and volumes on the host, the guest spec, `CreateContainer`.

use std::collections::BTreeMap;

use super::actor::SandboxTask;
use super::process::{Container, Process};
use crate::agent::ContainerRequest;
use crate::error::{Error, Result};
use crate::guest_spec::guest_spec;
use crate::host::cleanup::{run_steps, CleanupStep};
use crate::host::layout::is_safe_id;
use crate::host::{rootfs, volumes};
use crate::types::{CreateContainer, Event};

impl SandboxTask {
    pub(crate) async fn create(&mut self, req: CreateContainer) -> Result<u32> {
        if !is_safe_id(&req.id) {
            return Err(Error::InvalidArgument {
                what: "container id".into(),
                reason: format!("{:?} cannot name a directory", req.id),
            });
        }
        if self.containers.contains_key(&req.id) {
            return Err(Error::ContainerExists(req.id));
        }
        let agent = self.agent()?;
        let spec = kata_oci::load_spec(&req.bundle).map_err(Error::Spec)?;

        let mut steps = Vec::new();
        let prepared = self.prepare(&req, &spec, &mut steps);
        self.state.containers.insert(req.id.clone(), steps.clone());
        self.persist();
        let result = match prepared {
            Ok(request) => agent
                .create_container(request)
                .await
                .map_err(Error::agent("CreateContainer")),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.release_container_steps(&req.id, &steps).await;
            return Err(e);
        }

        self.containers.insert(
            req.id.clone(),
            Container {
                bundle: req.bundle.clone(),
                init: Process::new(req.io.clone(), None),
                execs: BTreeMap::new(),
            },
        );
        let pid = self.pid();
        self.emit(Event::Created {
            container_id: req.id,
            bundle: req.bundle,
            io: req.io,
            pid,
        });
        Ok(pid)
    }

    fn prepare(
        &self,
        req: &CreateContainer,
        spec: &oci_spec::runtime::Spec,
        steps: &mut Vec<CleanupStep>,
    ) -> Result<ContainerRequest> {
        let root = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_else(|| "rootfs".into());
        let bundle_rootfs = if root.is_absolute() {
            root
        } else {
            req.bundle.join(root)
        };
        rootfs::mount_rootfs(&self.layout, &req.id, &req.rootfs, &bundle_rootfs, steps)?;
        let classified = kata_oci::classify_mounts(spec);
        let guest = volumes::apply(&self.layout, &req.id, &classified, steps)?;
        Ok(ContainerRequest {
            container_id: req.id.clone(),
            exec_id: req.id.clone(),
            spec: guest_spec(spec, &req.id, guest.mounts),
            storages: guest.storages,
        })
    }

    /// Undoes a container's host steps and forgets them.
    pub(crate) async fn release_container_steps(&mut self, id: &str, steps: &[CleanupStep]) {
        let failures = run_steps(steps).await;
        if failures.is_empty() {
            self.state.containers.remove(id);
        } else {
            tracing::warn!(container = id, ?failures, "container cleanup incomplete");
        }
        self.persist();
    }
}
