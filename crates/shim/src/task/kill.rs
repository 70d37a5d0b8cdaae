//! Kill: signal a process in the guest.

use containerd_shim::api::{Empty, KillRequest};
use containerd_shim::TtrpcResult;

use super::{process, TaskService};
use crate::errors::to_ttrpc;

impl TaskService {
    pub(super) async fn do_kill(&self, r: KillRequest) -> TtrpcResult<Empty> {
        self.sandbox()?
            .kill(process(&r.id, &r.exec_id), r.signal)
            .await
            .map_err(to_ttrpc)?;
        Ok(Empty::new())
    }
}
