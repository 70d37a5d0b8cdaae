//! Kill: signal a process in the guest, or with `all` every process of the container.

use containerd_shim::api::{Empty, KillRequest};
use containerd_shim::TtrpcResult;

use super::{process, TaskService};
use crate::errors::to_ttrpc;

impl TaskService {
    pub(super) async fn do_kill(&self, r: KillRequest) -> TtrpcResult<Empty> {
        let sandbox = self.sandbox()?;
        let p = process(&r.id, &r.exec_id);
        if r.all {
            sandbox.kill_all(p, r.signal).await
        } else {
            sandbox.kill(p, r.signal).await
        }
        .map_err(to_ttrpc)?;
        Ok(Empty::new())
    }
}
