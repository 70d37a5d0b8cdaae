//! Delete: forget an exec, or remove a container (guest, then host mounts); deleting the
//! sandbox's own container tears the sandbox down.

use std::time::Duration;

use super::actor::{reply, Done, SandboxTask};
use super::deadline::with_deadline;
use super::{Deleted, Reply};
use crate::error::{Error, ErrorKind, Result};
use crate::types::{Event, ExitStatus, ProcessRef, ProcessState};

impl SandboxTask {
    /// Forgets an exec at once; for a container, sends `RemoveContainer` off the loop (deadline:
    /// the request deadline plus the removal timeout), then [`Self::finish_delete`] unmounts.
    pub(crate) async fn delete(&mut self, p: ProcessRef, r: Reply<Deleted>) {
        let pid = self.pid();
        let exit = match self.check_delete(&p) {
            Ok(exit) => exit,
            Err(e) => return reply(r, Err(e)),
        };
        if let Some(eid) = &p.exec_id {
            if let Some(c) = self.containers.get_mut(&p.container_id) {
                c.execs.remove(eid);
            }
            return reply(r, Ok(Deleted { pid, exit }));
        }
        let Ok(agent) = self.agent() else {
            self.finish_delete(&p.container_id, pid, exit).await;
            return reply(r, Ok(Deleted { pid, exit }));
        };
        let timeout = self.options.remove_timeout_secs;
        let after = self.options.timeouts.request + Duration::from_secs(u64::from(timeout));
        self.spawn_call(Some(p.clone()), async move {
            let cid = &p.container_id;
            let call = agent.remove_container(cid, timeout);
            if let Err(e) = with_deadline("RemoveContainer", cid, after, call).await {
                if e.kind() != ErrorKind::NotFound {
                    tracing::warn!(container = %cid, error = %e, "RemoveContainer failed");
                }
            }
            Done::Removed {
                process: p,
                pid,
                exit,
                reply: r,
            }
        });
    }

    /// The exit of a process that may be deleted.
    fn check_delete(&self, p: &ProcessRef) -> Result<Option<ExitStatus>> {
        let proc_ = self.process(p)?;
        let alive = matches!(proc_.state, ProcessState::Running | ProcessState::Paused);
        if alive && !self.vm_dead {
            return Err(Error::BadState {
                id: p.id().to_owned(),
                state: proc_.state.as_str(),
                action: "delete",
            });
        }
        Ok(proc_.exit)
    }

    /// Host side of a container's removal; the sandbox's own container tears the sandbox down.
    pub(crate) async fn finish_delete(&mut self, cid: &str, pid: u32, exit: Option<ExitStatus>) {
        let steps = self.state.containers.get(cid).cloned().unwrap_or_default();
        self.release_container_steps(cid, &steps).await;
        self.give_back_resources(cid);
        if let Some(mut c) = self.containers.remove(cid) {
            // Nobody waits on a deleted process forever.
            for (_, mut e) in std::mem::take(&mut c.execs) {
                e.waiters.clear();
            }
        }
        if cid == self.layout.sandbox_id {
            self.teardown().await;
        }
        self.emit(Event::Deleted {
            container_id: cid.to_owned(),
            pid,
            status: exit,
        });
    }
}
