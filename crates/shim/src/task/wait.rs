//! Wait: block until a process exits.

use containerd_shim::api::{WaitRequest, WaitResponse};
use containerd_shim::TtrpcResult;

use super::{process, TaskService};
use crate::errors::to_ttrpc;
use crate::events::timestamp;

impl TaskService {
    pub(super) async fn do_wait(&self, r: WaitRequest) -> TtrpcResult<WaitResponse> {
        let handle = self.sandbox()?.clone();
        let exit = handle
            .wait(process(&r.id, &r.exec_id))
            .await
            .map_err(to_ttrpc)?;
        Ok(WaitResponse {
            exit_status: exit.code,
            exited_at: Some(timestamp(exit.exited_at)).into(),
            ..Default::default()
        })
    }
}
