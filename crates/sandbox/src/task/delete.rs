//! Delete: forget an exec, or remove a container (guest, then host mounts); deleting the
//! sandbox's own container tears the sandbox down.

use super::actor::SandboxTask;
use super::Deleted;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{Event, ProcessRef, ProcessState};

impl SandboxTask {
    pub(crate) async fn delete(&mut self, p: ProcessRef) -> Result<Deleted> {
        let pid = self.pid();
        let proc_ = self.process(&p)?;
        let alive = matches!(proc_.state, ProcessState::Running | ProcessState::Paused);
        if alive && !self.vm_dead {
            return Err(Error::BadState {
                id: p.id().to_owned(),
                state: proc_.state.as_str(),
                action: "delete",
            });
        }
        let exit = proc_.exit;
        if let Some(eid) = &p.exec_id {
            if let Some(c) = self.containers.get_mut(&p.container_id) {
                c.execs.remove(eid);
            }
            return Ok(Deleted { pid, exit });
        }

        let cid = p.container_id.clone();
        if let Ok(agent) = self.agent() {
            let timeout = self.options.remove_timeout_secs;
            if let Err(e) = agent.remove_container(&cid, timeout).await {
                if e.kind != ErrorKind::NotFound {
                    tracing::warn!(container = %cid, error = %e, "RemoveContainer failed");
                }
            }
        }
        let steps = self.state.containers.get(&cid).cloned().unwrap_or_default();
        self.release_container_steps(&cid, &steps).await;
        if let Some(mut c) = self.containers.remove(&cid) {
            // Nobody waits on a deleted process forever.
            for (_, mut e) in std::mem::take(&mut c.execs) {
                e.waiters.clear();
            }
        }
        if cid == self.layout.sandbox_id {
            self.teardown().await;
        }
        self.emit(Event::Deleted {
            container_id: cid,
            pid,
            status: exit,
        });
        Ok(Deleted { pid, exit })
    }
}
