//! The shim's management server, as Kata's Go shim has it (`shim_management.go`): HTTP/1.1 on
//! `/run/vc/sbs/<sandbox-id>/shim-monitor.sock` (mode 0600), started once the sandbox has
//! booted and removed when the shim exits (the sandbox's teardown removes the whole state
//! directory, the socket with it). Endpoints: `/agent-url`, `/debug-console` (ours) and
//! `/metrics` (see [`routes`]).

mod host_metrics;
mod routes;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kata_sandbox::SandboxHandle;
use tokio::net::UnixListener;

/// The server of this shim (a shim serves one sandbox), stopped by [`stop`].
static SERVER: Mutex<Option<Server>> = Mutex::new(None);

struct Server {
    path: PathBuf,
    /// Inode of the socket this shim bound: only that file is removed.
    inode: u64,
    task: tokio::task::JoinHandle<()>,
}

/// Serves `handle`'s management socket under `sbs_root` (`/run/vc/sbs`). A failure is logged,
/// never fatal: the pod runs without its management socket.
pub fn start(handle: SandboxHandle, sbs_root: &Path) {
    let path = kata_shim_interface::socket_path(sbs_root, handle.id());
    let sandbox_id = handle.id().to_owned();
    match Server::spawn(&sandbox_id, handle, path.clone()) {
        Ok(server) => {
            tracing::info!(socket = %path.display(), "management socket serving");
            let old = SERVER.lock().map(|mut s| s.replace(server));
            if let Ok(Some(old)) = old {
                old.stop();
            }
        }
        Err(e) => tracing::warn!(
            socket = %path.display(),
            error = %e,
            "cannot serve the management socket (no metrics, agent-url)"
        ),
    }
}

/// Stops the server and removes its socket (only the one it bound). Idempotent.
pub fn stop() {
    if let Ok(Some(server)) = SERVER.lock().map(|mut s| s.take()) {
        server.stop();
    }
}

impl Server {
    /// Binds `path` and serves `view` there.
    fn spawn<V: routes::SandboxView>(
        sandbox_id: &str,
        view: V,
        path: PathBuf,
    ) -> std::io::Result<Self> {
        let (listener, inode) = bind(&path)?;
        let routes = Arc::new(routes::Routes::new(sandbox_id, view));
        let task = tokio::spawn(accept_loop(listener, routes));
        Ok(Server { path, inode, task })
    }

    fn stop(self) {
        self.task.abort();
        remove_if_ours(&self.path, self.inode);
    }
}

/// Binds `path` with mode 0600; a stale socket (not a directory or file) is replaced.
///
/// The socket is bound in a private (0700) directory beside `path`, made 0600 there and only then
/// renamed into place, so no other user can connect in the moment between `bind` and `chmod`.
fn bind(path: &Path) -> std::io::Result<(UnixListener, u64)> {
    use std::os::unix::fs::DirBuilderExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            std::fs::remove_file(path)?;
        }
    }
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    let private = parent.join(format!(".monitor-bind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let bound = (|| -> std::io::Result<UnixListener> {
        let staged = private.join("s");
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    let listener = bound?;
    let inode = std::fs::symlink_metadata(path)?.ino();
    Ok((listener, inode))
}

fn remove_if_ours(path: &Path, inode: u64) {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.ino() == inode && std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn accept_loop<V: routes::SandboxView>(
    listener: UnixListener,
    routes: Arc<routes::Routes<V>>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "management socket: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let routes = routes.clone();
        tokio::spawn(async move {
            let handler = move |get: kata_shim_interface::http::Get| {
                let routes = routes.clone();
                async move { routes.answer(get).await }
            };
            if let Err(e) = kata_shim_interface::http::serve_connection(stream, handler).await {
                tracing::debug!(error = %e, "management socket: connection ended");
            }
        });
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
