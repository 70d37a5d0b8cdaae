//! The guest's "I listen" signal over hybrid vsock, awaited before the host's first `CONNECT`.
//!
//! Why: vhost-device-vsock 0.3.0 (rust-vmm/vhost-device, the hybrid vsock backend used here)
//! handles every host-side socket event (a new connection on its Unix socket, a `CONNECT` line,
//! a close) by processing its TX queue. Between QEMU's `SET_MEM_TABLE` (sent when the guest's
//! virtio-vsock driver sets DRIVER_OK) and the `SET_VRING_KICK` that makes the TX ring ready,
//! that processing fails with "queue not ready"; the error ends the daemon's only vring worker
//! thread, and from then on nothing on the device is served: the agent listens, yet no
//! `CONNECT` is ever answered. A host that dials while the guest boots hits that window now and
//! then (1 boot in 20 here, more under load).
//!
//! A connection the guest opens can only travel through the TX ring, so it can only arrive
//! once both rings are ready. The agent, once its ttRPC listener is bound, connects to host
//! port [`AGENT_READY_PORT`]; vhost-device-vsock forwards a guest connection to host port P to
//! the Unix socket `<uds_path>_<P>`, where [`ReadyListener`] accepts it. Only then does the host
//! touch the device's own socket.

use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use tokio::time::{timeout_at, Instant};

use crate::error::{Error, Result};

/// Host vsock port the agent connects to once it listens (a kata-rs convention; Kata's agent
/// has no such signal). Kata uses 1024 for ttRPC and 1026 for the debug console.
pub const AGENT_READY_PORT: u32 = 1027;

/// Host end of the readiness signal: a Unix listener at `<uds_path>_<port>`. Bind it before the
/// VM starts; dropping it closes the listener and removes the socket file, after which the
/// device answers any further guest connection to that port with a reset.
#[derive(Debug)]
pub struct ReadyListener {
    listener: UnixListener,
    path: PathBuf,
}

impl ReadyListener {
    /// Binds the listener for [`AGENT_READY_PORT`] next to the device's socket `uds_path`
    /// (removing a stale socket file first). Must run inside a tokio runtime.
    pub fn bind(uds_path: &Path) -> Result<Self> {
        Self::bind_port(uds_path, AGENT_READY_PORT)
    }

    /// Like [`ReadyListener::bind`] for another guest-to-host `port`.
    pub fn bind_port(uds_path: &Path, port: u32) -> Result<Self> {
        let mut name = uds_path.as_os_str().to_owned();
        name.push(format!("_{port}"));
        let path = PathBuf::from(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::ReadyBind { path, source: e });
            }
            _ => {}
        }
        let listener = UnixListener::bind(&path).map_err(|source| Error::ReadyBind {
            path: path.clone(),
            source,
        })?;
        Ok(Self { listener, path })
    }

    /// The socket file the device connects to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the guest connects (the connection is closed at once, nothing is read) or
    /// `deadline` passes ([`Error::NotReady`]).
    pub async fn wait(&self, deadline: Instant) -> Result<()> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match timeout_at(deadline, self.listener.accept()).await {
            Ok(Ok((stream, _))) => {
                drop(stream);
                Ok(())
            }
            Ok(Err(source)) => Err(Error::ReadyAccept {
                path: self.path.clone(),
                source,
            }),
            Err(_) => Err(Error::NotReady {
                path: self.path.clone(),
                timeout,
            }),
        }
    }
}

impl Drop for ReadyListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn accepts_one_connection_and_removes_its_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let uds = dir.path().join("kata.hvsock");
        let ready = ReadyListener::bind(&uds).expect("bind");
        assert_eq!(ready.path(), dir.path().join("kata.hvsock_1027"));
        let path = ready.path().to_path_buf();
        let client = tokio::spawn(async move { tokio::net::UnixStream::connect(path).await });
        ready
            .wait(Instant::now() + Duration::from_secs(5))
            .await
            .expect("signal");
        client.await.expect("join").expect("connect");
        let path = ready.path().to_path_buf();
        drop(ready);
        assert!(!path.exists(), "socket file left behind");
    }

    #[tokio::test]
    async fn no_signal_is_an_error_naming_the_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ready = ReadyListener::bind_port(&dir.path().join("v.sock"), 77).expect("bind");
        let err = ready
            .wait(Instant::now() + Duration::from_millis(50))
            .await
            .expect_err("nobody connects");
        assert!(
            matches!(&err, Error::NotReady { path, .. } if path.ends_with("v.sock_77")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_stale_socket_file_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let uds = dir.path().join("kata.hvsock");
        let stale = std::os::unix::net::UnixListener::bind(dir.path().join("kata.hvsock_1027"))
            .expect("stale");
        drop(stale);
        ReadyListener::bind(&uds).expect("bind over a stale file");
    }
}
