//! Kill: `SignalProcess`; SIGKILL/SIGTERM of a finished process is a no-op (CRI idempotency).

use std::sync::Arc;

use super::actor::{reply, Done, SandboxTask};
use super::deadline::with_deadline;
use super::Reply;
use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::types::{ProcessRef, ProcessState};

const SIGKILL: u32 = 9;
const SIGTERM: u32 = 15;

impl SandboxTask {
    /// Sends `SignalProcess` off the loop (quick deadline); the call's task replies.
    pub(crate) fn kill(&mut self, p: ProcessRef, signal: u32, r: Reply<()>) {
        let agent = match self.check_kill(&p, signal) {
            Ok(Some(agent)) => agent,
            Ok(None) => return reply(r, Ok(())),
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.quick;
        let exec_id = Self::agent_exec_id(&p);
        self.spawn_call(None, async move {
            let cid = &p.container_id;
            let call = agent.signal_process(cid, &exec_id, signal);
            reply(r, with_deadline("SignalProcess", cid, after, call).await);
            Done::Replied
        });
    }

    /// The agent to signal, or `None` when there is nothing to do.
    fn check_kill(&self, p: &ProcessRef, signal: u32) -> Result<Option<Arc<dyn Agent>>> {
        let proc_ = self.process(p)?;
        let idempotent = signal == SIGKILL || signal == SIGTERM;
        if proc_.state == ProcessState::Stopped || self.vm_dead {
            return if idempotent {
                Ok(None)
            } else {
                Err(Error::ProcessFinished(p.id().to_owned()))
            };
        }
        if proc_.state == ProcessState::Created && p.exec_id.is_some() {
            return Err(Error::BadState {
                id: p.id().to_owned(),
                state: "created",
                action: "signal",
            });
        }
        self.agent().map(Some)
    }
}
