//! Start: `StartContainer` for an init, `ExecProcess` for an exec; then the stream pumps.

use super::actor::SandboxTask;
use super::io::spawn_process_io;
use crate::error::{Error, Result};
use crate::types::{Event, ProcessRef, ProcessState};

impl SandboxTask {
    pub(crate) async fn start(&mut self, p: ProcessRef) -> Result<u32> {
        let agent = self.agent()?;
        let proc_ = self.process(&p)?;
        if proc_.state != ProcessState::Created {
            return Err(Error::BadState {
                id: p.id().to_owned(),
                state: proc_.state.as_str(),
                action: "start",
            });
        }
        let io = proc_.io.clone();
        let exec_id = Self::agent_exec_id(&p);
        match &p.exec_id {
            None => agent
                .start_container(&p.container_id)
                .await
                .map_err(Error::agent("StartContainer"))?,
            Some(eid) => {
                let spec = proc_.spec.clone().ok_or_else(|| Error::InvalidArgument {
                    what: format!("exec {eid}"),
                    reason: "no process spec".into(),
                })?;
                agent
                    .exec_process(&p.container_id, eid, spec)
                    .await
                    .map_err(Error::agent("ExecProcess"))?;
            }
        }
        let pid = self.pid();
        let event = match &p.exec_id {
            None => Event::Started {
                container_id: p.container_id.clone(),
                pid,
            },
            Some(eid) => Event::ExecStarted {
                container_id: p.container_id.clone(),
                exec_id: eid.clone(),
                pid,
            },
        };
        self.emit(event);
        let has_stdin = spawn_process_io(agent, p.clone(), exec_id, &io, self.internal.clone());
        let proc_ = self.process_mut(&p)?;
        proc_.state = ProcessState::Running;
        proc_.has_stdin_pump = has_stdin;
        proc_.spec = None;
        Ok(pid)
    }
}
