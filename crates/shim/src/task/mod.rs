//! The containerd Task service (task v2). Protocol types are converted to sandbox commands
//! here and stop at this edge; one file per verb.

mod create;
mod delete;
mod exec;
mod io;
mod kill;
mod logger;
mod misc;
mod start;
mod state;
mod stats;
mod wait;

use std::sync::Arc;

use async_trait::async_trait;
use containerd_shim::api::{self, Empty};
use containerd_shim::asynchronous::ExitSignal;
use containerd_shim::protos::shim_async::Task;
use containerd_shim::protos::ttrpc::r#async::TtrpcContext;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::TtrpcResult;
use kata_sandbox::host::hooks::ContainerHooks;
use kata_sandbox::{Event, ProcessRef, SandboxHandle};
use tokio::sync::{mpsc, OnceCell};

use crate::errors::{status, unimplemented};
use containerd_shim::protos::ttrpc::Code;

pub struct TaskService {
    namespace: String,
    socket: Arc<crate::service::ShimSocket>,
    exit: Arc<ExitSignal>,
    sandbox: OnceCell<SandboxHandle>,
    events: mpsc::UnboundedSender<Event>,
    /// The OCI hooks of each container that has some, run on the host.
    hooks: std::sync::Mutex<std::collections::HashMap<String, ContainerHooks>>,
}

impl TaskService {
    pub fn new(
        publisher: RemotePublisher,
        namespace: String,
        exit: Arc<ExitSignal>,
        socket: Arc<crate::service::ShimSocket>,
    ) -> Self {
        let (events, rx) = mpsc::unbounded_channel();
        crate::events::spawn_forwarder(publisher, namespace.clone(), rx);
        Self {
            namespace,
            socket,
            exit,
            sandbox: OnceCell::new(),
            events,
            hooks: Default::default(),
        }
    }

    fn sandbox(&self) -> TtrpcResult<&SandboxHandle> {
        self.sandbox
            .get()
            .ok_or_else(|| status(Code::NOT_FOUND, "no sandbox in this shim yet"))
    }
}

impl TaskService {
    /// The hooks of container `id`, if it has any.
    fn hooks_of(&self, id: &str) -> Option<ContainerHooks> {
        self.hooks
            .lock()
            .map(|h| h.get(id).cloned())
            .unwrap_or_default()
    }
}

fn process(id: &str, exec_id: &str) -> ProcessRef {
    ProcessRef::new(id, Some(exec_id.to_owned()))
}

#[async_trait]
impl Task for TaskService {
    async fn state(
        &self,
        _c: &TtrpcContext,
        r: api::StateRequest,
    ) -> TtrpcResult<api::StateResponse> {
        self.do_state(r).await
    }

    async fn create(
        &self,
        _c: &TtrpcContext,
        r: api::CreateTaskRequest,
    ) -> TtrpcResult<api::CreateTaskResponse> {
        self.do_create(r).await
    }

    async fn start(
        &self,
        _c: &TtrpcContext,
        r: api::StartRequest,
    ) -> TtrpcResult<api::StartResponse> {
        self.do_start(r).await
    }

    async fn delete(
        &self,
        _c: &TtrpcContext,
        r: api::DeleteRequest,
    ) -> TtrpcResult<api::DeleteResponse> {
        self.do_delete(r).await
    }

    async fn pids(&self, _c: &TtrpcContext, r: api::PidsRequest) -> TtrpcResult<api::PidsResponse> {
        self.do_pids(r).await
    }

    async fn pause(&self, _c: &TtrpcContext, r: api::PauseRequest) -> TtrpcResult<Empty> {
        self.do_pause(r).await
    }

    async fn resume(&self, _c: &TtrpcContext, r: api::ResumeRequest) -> TtrpcResult<Empty> {
        self.do_resume(r).await
    }

    async fn checkpoint(
        &self,
        _c: &TtrpcContext,
        _r: api::CheckpointTaskRequest,
    ) -> TtrpcResult<Empty> {
        Err(unimplemented("checkpoint"))
    }

    async fn kill(&self, _c: &TtrpcContext, r: api::KillRequest) -> TtrpcResult<Empty> {
        self.do_kill(r).await
    }

    async fn exec(&self, _c: &TtrpcContext, r: api::ExecProcessRequest) -> TtrpcResult<Empty> {
        self.do_exec(r).await
    }

    async fn resize_pty(&self, _c: &TtrpcContext, r: api::ResizePtyRequest) -> TtrpcResult<Empty> {
        self.do_resize_pty(r).await
    }

    async fn close_io(&self, _c: &TtrpcContext, r: api::CloseIORequest) -> TtrpcResult<Empty> {
        self.do_close_io(r).await
    }

    async fn update(&self, _c: &TtrpcContext, r: api::UpdateTaskRequest) -> TtrpcResult<Empty> {
        self.do_update(r).await
    }

    async fn wait(&self, _c: &TtrpcContext, r: api::WaitRequest) -> TtrpcResult<api::WaitResponse> {
        self.do_wait(r).await
    }

    async fn stats(
        &self,
        _c: &TtrpcContext,
        r: api::StatsRequest,
    ) -> TtrpcResult<api::StatsResponse> {
        self.do_stats(r).await
    }

    async fn connect(
        &self,
        _c: &TtrpcContext,
        r: api::ConnectRequest,
    ) -> TtrpcResult<api::ConnectResponse> {
        self.do_connect(r).await
    }

    async fn shutdown(&self, _c: &TtrpcContext, r: api::ShutdownRequest) -> TtrpcResult<Empty> {
        self.do_shutdown(r).await
    }
}
