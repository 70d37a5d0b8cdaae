//! Delete: a stopped exec or container (the sandbox's own container takes the VM with it); a
//! container's `poststop` hooks run after it.

use containerd_shim::api::{DeleteRequest, DeleteResponse};
use containerd_shim::TtrpcResult;

use super::{process, TaskService};
use crate::errors::to_ttrpc;
use crate::events::timestamp;
use kata_sandbox::host::hooks::HookPoint;

impl TaskService {
    pub(super) async fn do_delete(&self, r: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        let deleted = self
            .sandbox()?
            .delete(process(&r.id, &r.exec_id))
            .await
            .map_err(to_ttrpc)?;
        if r.exec_id.is_empty() {
            let hooks = self.hooks.lock().ok().and_then(|mut h| h.remove(&r.id));
            if let Some(h) = hooks {
                // The process is gone: no pid in the state (as runc).
                h.run_logged(HookPoint::Poststop, None).await;
            }
        }
        Ok(DeleteResponse {
            pid: deleted.pid,
            exit_status: deleted.exit.map(|e| e.code).unwrap_or_default(),
            exited_at: deleted.exit.map(|e| timestamp(e.exited_at)).into(),
            ..Default::default()
        })
    }
}
