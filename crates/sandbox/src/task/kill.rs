//! Kill: `SignalProcess`; SIGKILL/SIGTERM of a finished process is a no-op (CRI idempotency).

use super::actor::SandboxTask;
use crate::error::{Error, Result};
use crate::types::{ProcessRef, ProcessState};

const SIGKILL: u32 = 9;
const SIGTERM: u32 = 15;

impl SandboxTask {
    pub(crate) async fn kill(&mut self, p: ProcessRef, signal: u32) -> Result<()> {
        let proc_ = self.process(&p)?;
        let idempotent = signal == SIGKILL || signal == SIGTERM;
        if proc_.state == ProcessState::Stopped || self.vm_dead {
            return if idempotent {
                Ok(())
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
        let agent = self.agent()?;
        agent
            .signal_process(&p.container_id, &Self::agent_exec_id(&p), signal)
            .await
            .map_err(Error::agent("SignalProcess"))
    }
}
