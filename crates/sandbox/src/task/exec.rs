//! Exec: register a process in a running container (it starts with `Start`).

use super::actor::SandboxTask;
use super::process::Process;
use crate::error::{Error, Result};
use crate::types::{Event, ExecProcess, ProcessState};

impl SandboxTask {
    pub(crate) fn add_exec(&mut self, req: ExecProcess) -> Result<()> {
        if req.exec_id.is_empty() {
            return Err(Error::InvalidArgument {
                what: "exec id".into(),
                reason: "empty".into(),
            });
        }
        self.agent()?;
        let c = self
            .containers
            .get_mut(&req.container_id)
            .ok_or_else(|| Error::ContainerNotFound(req.container_id.clone()))?;
        if c.init.state != ProcessState::Running {
            return Err(Error::BadState {
                id: req.container_id,
                state: c.init.state.as_str(),
                action: "exec",
            });
        }
        if c.execs.contains_key(&req.exec_id) {
            return Err(Error::ProcessExists {
                container_id: req.container_id,
                exec_id: req.exec_id,
            });
        }
        c.execs
            .insert(req.exec_id.clone(), Process::new(req.io, Some(req.process)));
        self.emit(Event::ExecAdded {
            container_id: req.container_id,
            exec_id: req.exec_id,
        });
        Ok(())
    }
}
