//! Pids, Pause, Resume, ResizePty, CloseIO, Connect, Shutdown.

use containerd_shim::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, Empty, PauseRequest, PidsRequest,
    PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest,
};
use containerd_shim::protos::types::task::ProcessInfo;
use containerd_shim::TtrpcResult;
use kata_sandbox::ProcessRef;

use super::{process, TaskService};
use crate::errors::to_ttrpc;

impl TaskService {
    pub(super) async fn do_pids(&self, r: PidsRequest) -> TtrpcResult<PidsResponse> {
        let pids = self.sandbox()?.pids(r.id).await.map_err(to_ttrpc)?;
        Ok(PidsResponse {
            processes: pids
                .into_iter()
                .map(|pid| ProcessInfo {
                    pid,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    pub(super) async fn do_pause(&self, r: PauseRequest) -> TtrpcResult<Empty> {
        self.sandbox()?.pause(r.id).await.map_err(to_ttrpc)?;
        Ok(Empty::new())
    }

    pub(super) async fn do_resume(&self, r: ResumeRequest) -> TtrpcResult<Empty> {
        self.sandbox()?.resume(r.id).await.map_err(to_ttrpc)?;
        Ok(Empty::new())
    }

    pub(super) async fn do_resize_pty(&self, r: ResizePtyRequest) -> TtrpcResult<Empty> {
        self.sandbox()?
            .resize_pty(process(&r.id, &r.exec_id), r.height, r.width)
            .await
            .map_err(to_ttrpc)?;
        Ok(Empty::new())
    }

    pub(super) async fn do_close_io(&self, r: CloseIORequest) -> TtrpcResult<Empty> {
        if r.stdin {
            self.sandbox()?
                .close_io(process(&r.id, &r.exec_id))
                .await
                .map_err(to_ttrpc)?;
        }
        Ok(Empty::new())
    }

    pub(super) async fn do_connect(&self, r: ConnectRequest) -> TtrpcResult<ConnectResponse> {
        // A restarted containerd reloads its shims with Connect under a deadline of a few
        // seconds: answer at once even while the sandbox task is busy booting the VM, or the
        // shim is taken for dead and left running, orphaned.
        let task_pid = match self.sandbox.get() {
            Some(h) => tokio::time::timeout(
                std::time::Duration::from_millis(500),
                h.state(ProcessRef::new(r.id, None)),
            )
            .await
            .ok()
            .and_then(Result::ok)
            .map(|i| i.pid)
            .unwrap_or_default(),
            None => 0,
        };
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
    }

    /// Exits the shim once its pod is gone; a no-op while containers remain.
    pub(super) async fn do_shutdown(&self, _r: ShutdownRequest) -> TtrpcResult<Empty> {
        let gone = match self.sandbox.get() {
            Some(h) => h.shutdown().await.unwrap_or(true),
            None => true,
        };
        if gone {
            tracing::info!(namespace = %self.namespace, "pod gone, shim exiting");
            // Freed before the answer: containerd may start a shim for the same id right away.
            self.socket.remove_once();
            self.exit.signal();
        }
        Ok(Empty::new())
    }
}
