//! Kill: `SignalProcess`; SIGKILL/SIGTERM of a finished process is a no-op (CRI idempotency).
//!
//! A SIGKILL the agent does not take (no answer within the quick deadline, or a broken
//! channel) is followed by a health check (`grpc.Health/Check`, [`AgentTimeouts::health`]);
//! an agent that misses it too is taken for dead and the shim stops the VM, as Kata's runtime
//! stops the sandbox when its agent is gone: every process of the pod then exits with
//! [`crate::types::VM_DIED_EXIT_CODE`] and the kill succeeds. A guest can starve its agent, but
//! it can never keep its pod from being removed.
//!
//! [`AgentTimeouts::health`]: super::AgentTimeouts::health

use std::sync::Arc;

use super::actor::{reply, Done, SandboxTask};
use super::deadline::with_deadline;
use super::Reply;
use crate::agent::Agent;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{ProcessRef, ProcessState};

const SIGKILL: u32 = 9;
const SIGTERM: u32 = 15;

/// Whether `e` says the agent did not answer (deadline) or cannot be reached (broken channel),
/// rather than that it refused the call.
fn agent_silent(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::DeadlineExceeded | ErrorKind::Unavailable
    )
}

impl SandboxTask {
    /// Sends `SignalProcess` off the loop (quick deadline); the call's task replies, except for
    /// a SIGKILL neither it nor the health check that follows gets an answer to: then the loop
    /// stops the VM ([`Done::AgentUnresponsive`]) and the kill succeeds.
    pub(crate) fn kill(&mut self, p: ProcessRef, signal: u32, all: bool, r: Reply<()>) {
        let agent = match self.check_kill(&p, signal) {
            Ok(Some(agent)) => agent,
            Ok(None) => return reply(r, Ok(())),
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.quick;
        let health = self.options.timeouts.health;
        // Kata's wire rule: the container id names the init alone, an empty id the init and
        // every other process of the container.
        let exec_id = match (&p.exec_id, all) {
            (None, true) => String::new(),
            _ => Self::agent_exec_id(&p),
        };
        self.spawn_call(None, async move {
            let cid = &p.container_id;
            let call = agent.signal_process(cid, &exec_id, signal);
            let result = with_deadline("SignalProcess", cid, after, call).await;
            match result {
                Err(e) if signal == SIGKILL && agent_silent(&e) => {
                    if let Err(why) = with_deadline("Check", cid, health, agent.check(health)).await
                    {
                        return Done::AgentUnresponsive {
                            process: p,
                            cause: format!("{e}; health check: {why}"),
                            reply: r,
                        };
                    }
                    reply(r, Err(e));
                }
                other => reply(r, other),
            }
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
