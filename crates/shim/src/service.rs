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
    /// The ttRPC socket this shim serves, removed on exit.
    socket: Arc<ShimSocket>,
    namespace: String,
    exit: Arc<ExitSignal>,
}

#[async_trait]
impl Shim for KataShim {
    type T = TaskService;

    async fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        KataShim {
            id: args.id.clone(),
            socket: Arc::new(ShimSocket::new(&args.socket)),
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
        // The management socket goes first: the pod is gone.
        crate::monitor::stop();
        // Give the publisher a moment to forward the last events (TaskExit, TaskDelete).
        tokio::time::sleep(EVENT_GRACE).await;
        // containerd may have removed the bundle (and its `address` file) already, so the
        // library cannot find the socket to remove: do it here, unless `Shutdown` did (a new
        // shim for the same id may own that path by now).
        self.socket.remove_once();
    }

    async fn create_task_service(&self, publisher: RemotePublisher) -> TaskService {
        TaskService::new(
            publisher,
            self.namespace.clone(),
            self.exit.clone(),
            self.socket.clone(),
        )
    }
}

/// The path of the ttRPC socket this shim serves (`unix://` stripped), removed once: by
/// `Shutdown` before it answers, so that containerd can start a new shim for the same id at
/// once (containerd's runc shim does the same), or on exit.
pub struct ShimSocket {
    path: std::path::PathBuf,
    removed: std::sync::atomic::AtomicBool,
}

impl ShimSocket {
    pub fn new(address: &str) -> Self {
        Self {
            path: address.trim_start_matches("unix://").into(),
            removed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Unlinks the socket (only a socket) the first time it is called; later calls do nothing.
    pub fn remove_once(&self) {
        if self.path.as_os_str().is_empty()
            || self.removed.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ShimSocket;

    #[test]
    fn the_socket_is_removed_once_and_only_if_it_is_a_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let socket = ShimSocket::new(&format!("unix://{}", path.display()));
        socket.remove_once();
        assert!(!path.exists());
        // A new shim's socket at the same path stays.
        let again = std::os::unix::net::UnixListener::bind(&path).expect("rebind");
        socket.remove_once();
        assert!(path.exists());
        drop((listener, again));
        let file = dir.path().join("f");
        std::fs::write(&file, b"").expect("file");
        ShimSocket::new(file.to_str().expect("utf-8")).remove_once();
        assert!(file.exists());
    }
}
