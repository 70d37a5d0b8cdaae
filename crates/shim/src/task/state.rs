//! State: the process's status; its pid is the hypervisor's.

use containerd_shim::api::{StateRequest, StateResponse, Status};
use containerd_shim::TtrpcResult;
use kata_sandbox::ProcessState;

use super::{process, TaskService};
use crate::errors::to_ttrpc;
use crate::events::timestamp;

pub fn status_of(state: ProcessState) -> Status {
    match state {
        ProcessState::Created => Status::CREATED,
        ProcessState::Running => Status::RUNNING,
        ProcessState::Paused => Status::PAUSED,
        ProcessState::Stopped => Status::STOPPED,
    }
}

fn path(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

impl TaskService {
    pub(super) async fn do_state(&self, r: StateRequest) -> TtrpcResult<StateResponse> {
        let info = self
            .sandbox()?
            .state(process(&r.id, &r.exec_id))
            .await
            .map_err(to_ttrpc)?;
        Ok(StateResponse {
            id: info.id,
            bundle: info.bundle.display().to_string(),
            pid: info.pid,
            status: status_of(info.state).into(),
            stdin: path(&info.io.stdin),
            stdout: path(&info.io.stdout),
            stderr: path(&info.io.stderr),
            terminal: info.io.terminal,
            exit_status: info.exit.map(|e| e.code).unwrap_or_default(),
            exited_at: info.exit.map(|e| timestamp(e.exited_at)).into(),
            exec_id: r.exec_id,
            ..Default::default()
        })
    }
}
