//! Start: a container's init (between its `startContainer` and `poststart` hooks) or an exec.

use containerd_shim::api::{StartRequest, StartResponse};
use containerd_shim::TtrpcResult;

use super::{process, TaskService};
use crate::errors::{status, to_ttrpc};
use containerd_shim::protos::ttrpc::Code;
use kata_sandbox::host::hooks::HookPoint;

impl TaskService {
    pub(super) async fn do_start(&self, r: StartRequest) -> TtrpcResult<StartResponse> {
        let sandbox = self.sandbox()?;
        let hooks = Some(&r.exec_id)
            .filter(|e| e.is_empty())
            .and_then(|_| self.hooks_of(&r.id));
        if let Some(h) = &hooks {
            let pid = sandbox.state(process(&r.id, "")).await.ok().map(|s| s.pid);
            h.run(HookPoint::StartContainer, pid)
                .await
                .map_err(|e| status(Code::FAILED_PRECONDITION, e.to_string()))?;
        }
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
