//! Start: a container's init (then its `poststart` hooks) or an exec.

use containerd_shim::api::{StartRequest, StartResponse};
use containerd_shim::TtrpcResult;

use super::{process, TaskService};
use crate::errors::to_ttrpc;
use kata_sandbox::host::hooks::HookPoint;

impl TaskService {
    pub(super) async fn do_start(&self, r: StartRequest) -> TtrpcResult<StartResponse> {
        let sandbox = self.sandbox()?;
        let hooks = Some(&r.exec_id)
            .filter(|e| e.is_empty())
            .and_then(|_| self.hooks_of(&r.id));
        let pid = sandbox
            .start(process(&r.id, &r.exec_id))
            .await
            .map_err(to_ttrpc)?;
        if let Some(h) = hooks {
            h.run_logged(HookPoint::Poststart, Some(pid)).await;
        }
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }
}
