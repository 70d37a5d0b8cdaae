//! The shim object containerd-shim drives: `delete`, waiting for exit, the task service.

use std::sync::Arc;

use async_trait::async_trait;
use containerd_shim::api::DeleteResponse;
use containerd_shim::asynchronous::{ExitSignal, Shim};
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{Config, Error, Flags, StartOpts};

use crate::task::TaskService;

/// How long an exiting shim leaves its queued events to be forwarded.
const EVENT_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

pub struct KataShim {
    id: String,
    /// The ttRPC socket this shim serves (`unix://...`), removed on exit.
    socket: String,
    namespace: String,
    exit: Arc<ExitSignal>,
}

#[async_trait]
impl Shim for KataShim {
    type T = TaskService;

    async fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        KataShim {
            id: args.id.clone(),
            socket: args.socket.clone(),
            namespace: args.namespace.clone(),
            exit: Arc::new(ExitSignal::default()),
        }
    }

    async fn start_shim(&mut self, _opts: StartOpts) -> Result<String, Error> {
        // `start` is served in main() before the runtime exists (fork before async).
        Err(Error::Unimplemented(
            "start runs before the async runtime".into(),
        ))
    }

    async fn delete_shim(&mut self) -> Result<DeleteResponse, Error> {
        Ok(crate::delete::delete(&self.id).await)
    }

    async fn wait(&mut self) {
        self.exit.wait().await;
        // Give the publisher a moment to forward the last events (TaskExit, TaskDelete).
        tokio::time::sleep(EVENT_GRACE).await;
        // containerd may have removed the bundle (and its `address` file) already, so the
        // library cannot find the socket to remove: do it here.
        let path = self.socket.trim_start_matches("unix://");
        if !path.is_empty() {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    async fn create_task_service(&self, publisher: RemotePublisher) -> TaskService {
        TaskService::new(publisher, self.namespace.clone(), self.exit.clone())
    }
}
