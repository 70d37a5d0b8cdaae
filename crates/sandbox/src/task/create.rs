//! Create: rootfs and volumes on the host, the guest spec, `CreateContainer`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::actor::{reply, Done, SandboxTask};
use super::deadline::with_deadline;
use super::process::{Container, Process};
use super::resources::Demand;
use super::Reply;
use crate::agent::{Agent, ContainerRequest};
use crate::error::{Error, Result};
use crate::guest_spec::guest_spec;
use crate::host::cleanup::{run_steps, CleanupStep};
use crate::host::layout::is_safe_id;
use crate::host::{rootfs, volumes};
use crate::types::{CreateContainer, Event, ProcessRef};

impl SandboxTask {
    /// Checks and mounts on the host, then sends `CreateContainer` off the loop (deadline:
    /// [`super::AgentTimeouts::create_container`]); [`Self::finish_create`] ends it.
    pub(crate) fn create(&mut self, req: CreateContainer, r: Reply<u32>) {
        let agent = match self.check_create(&req) {
            Ok(agent) => agent,
            Err(e) => return reply(r, Err(e)),
        };
        let spec = match kata_oci::load_spec(&req.bundle) {
            Ok(spec) => spec,
            Err(e) => return reply(r, Err(Error::Spec(e))),
        };

        let mut steps = Vec::new();
        let prepared = self.prepare(&req, &spec, &mut steps);
        self.state.containers.insert(req.id.clone(), steps.clone());
        // Seals made inside other containers' writable volumes go before those volumes do.
        for (owner, step) in self.shares.take_foreign_steps() {
            if let Some(list) = self.state.containers.get_mut(&owner) {
                list.push(step);
            }
        }
        self.persist();
        // The VM grows first for what the container may use (vCPU/memory hotplug).
        let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
        self.resizer.set(&req.id, Demand::of(resources));
        let resize = self.resize_job();
        let after = self.options.timeouts.create_container;
        let key = ProcessRef::new(req.id.clone(), None);
        self.spawn_call(Some(key), async move {
            let result = match prepared {
                Ok(request) => {
                    let resized = match &resize {
                        Some(job) => job.run().await,
                        None => Ok(()),
                    };
                    match resized {
                        Ok(()) => {
                            let call = agent.create_container(request);
                            with_deadline("CreateContainer", &req.id, after, call).await
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            Done::Created {
                req,
                steps,
                result,
                reply: r,
            }
        });
    }

    /// A guest that missed the deadline may still create the container: ask it to drop it
    /// (best effort, off the loop, quick deadline).
    fn forget_in_guest(&mut self, id: &str) {
        let Ok(agent) = self.agent() else { return };
        let id = id.to_owned();
        let after = self.options.timeouts.quick;
        self.spawn_call(None, async move {
            let call = agent.remove_container(&id, 0);
            if let Err(e) = with_deadline("RemoveContainer", &id, after, call).await {
                tracing::debug!(container = %id, error = %e, "cannot remove a late container");
            }
            Done::Replied
        });
    }

    fn check_create(&self, req: &CreateContainer) -> Result<Arc<dyn Agent>> {
        if !is_safe_id(&req.id) {
            return Err(Error::InvalidArgument {
                what: "container id".into(),
                reason: format!("{:?} cannot name a directory", req.id),
            });
        }
        if self.containers.contains_key(&req.id) {
            return Err(Error::ContainerExists(req.id.clone()));
        }
        self.agent()
    }

    /// Records the created container and emits `Created`; on failure (or a VM gone meanwhile)
    /// undoes the host steps.
    pub(crate) async fn finish_create(
        &mut self,
        req: CreateContainer,
        steps: Vec<CleanupStep>,
        result: Result<()>,
    ) -> Result<u32> {
        let result = result.and_then(|()| self.agent().map(|_| ()));
        if let Err(e) = result {
            // What grew for it stays (memory is never taken back, as in Kata).
            self.resizer.remove(&req.id);
            if matches!(e, Error::AgentDeadline { .. }) {
                self.forget_in_guest(&req.id);
            }
            // The recorded list may have grown (seals made by later containers).
            let steps = self.state.containers.get(&req.id).cloned().unwrap_or(steps);
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
        &mut self,
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
        rootfs::mount_rootfs(
            &self.layout,
            &req.id,
            &req.rootfs,
            &bundle_rootfs,
            spec,
            steps,
        )?;
        self.shares.add_rootfs(&req.id, &req.rootfs, &bundle_rootfs);
        let classified = kata_oci::classify_mounts(spec);
        let guest = volumes::apply(&self.layout, &req.id, &classified, &mut self.shares, steps)?;
        Ok(ContainerRequest {
            container_id: req.id.clone(),
            exec_id: req.id.clone(),
            spec: guest_spec(spec, &req.id, guest.mounts),
            storages: guest.storages,
        })
    }

    /// Undoes a container's host steps and forgets them.
    pub(crate) async fn release_container_steps(&mut self, id: &str, steps: &[CleanupStep]) {
        self.shares.remove_container(id);
        let failures = run_steps(steps).await;
        if failures.is_empty() {
            self.state.containers.remove(id);
        } else {
            tracing::warn!(container = id, ?failures, "container cleanup incomplete");
        }
        self.persist();
    }
}
