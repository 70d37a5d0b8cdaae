//! Start: a container's init or an exec.

use containerd_shim::api::{StartRequest, StartResponse};
use containerd_shim::TtrpcResult;

use super::{process, TaskService};
use crate::errors::to_ttrpc;

impl TaskService {
    pub(super) async fn do_start(&self, r: StartRequest) -> TtrpcResult<StartResponse> {
        let pid = self
            .sandbox()?
            .start(process(&r.id, &r.exec_id))
            .await
            .map_err(to_ttrpc)?;
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }
}
