//! One supervised daemon: spawned, awaited until its socket exists, signalled through the task
//! that owns (and alone reaps) the child, stopped with SIGTERM then SIGKILL. Its sockets are
//! removed on stop and on drop; dropping it kills the daemon.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use crate::confine::Confinement;
use crate::error::DaemonError;
use crate::watch::DaemonWatch;

/// How a daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl std::fmt::Display for DaemonExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(s)) => write!(f, "signal {s}"),
            _ => f.write_str("unknown status"),
        }
    }
}

const STDERR_KEEP: usize = 8 * 1024;

#[derive(Debug)]
pub(crate) struct Daemon {
    name: &'static str,
    binary: PathBuf,
    pid: Option<u32>,
    sockets: Vec<PathBuf>,
    exit_rx: watch::Receiver<Option<DaemonExit>>,
    signal_tx: mpsc::Sender<Signal>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

fn remove_socket(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Daemon {
    /// Spawns `binary args` (known as `name` in logs), removing stale `sockets` first, and waits
    /// until `wait_socket` exists.
    pub(crate) async fn start(
        name: &'static str,
        binary: &Path,
        args: &[String],
        wait_socket: &Path,
        sockets: Vec<PathBuf>,
        timeout: Duration,
    ) -> Result<Self, DaemonError> {
        Self::start_confined(name, binary, args, wait_socket, sockets, timeout, None).await
    }

    /// [`Daemon::start`], with the child confined before exec when `confine` is given.
    pub(crate) async fn start_confined(
        name: &'static str,
        binary: &Path,
        args: &[String],
        wait_socket: &Path,
        sockets: Vec<PathBuf>,
        timeout: Duration,
        confine: Option<Confinement>,
    ) -> Result<Self, DaemonError> {
        for socket in &sockets {
            remove_socket(socket).map_err(|source| DaemonError::StaleSocket {
                binary: binary.to_path_buf(),
                socket: socket.clone(),
                source,
            })?;
        }
        tracing::info!(binary = %binary.display(), ?args, "starting daemon");
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(confine) = confine {
            confine.apply(&mut cmd);
        }
        let mut child = cmd.spawn().map_err(|source| DaemonError::Spawn {
            binary: binary.to_path_buf(),
            source,
        })?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let keep = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut chunk = [0u8; 1024];
                while let Ok(n) = pipe.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    let mut buf = keep.lock().unwrap_or_else(|p| p.into_inner());
                    buf.extend_from_slice(&chunk[..n]);
                    let excess = buf.len().saturating_sub(STDERR_KEEP);
                    buf.drain(..excess);
                }
            });
        }
        let pid = child.id();
        let (exit_tx, exit_rx) = watch::channel(None);
        let (signal_tx, signal_rx) = mpsc::channel(4);
        tokio::spawn(own_child(child, signal_rx, exit_tx));
        let daemon = Daemon {
            name,
            binary: binary.to_path_buf(),
            pid,
            sockets,
            exit_rx,
            signal_tx,
            stderr,
        };
        daemon.wait_for_socket(wait_socket, timeout).await?;
        Ok(daemon)
    }

    async fn wait_for_socket(&self, socket: &Path, timeout: Duration) -> Result<(), DaemonError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(exit) = self.exit() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(DaemonError::EarlyExit {
                    binary: self.binary.clone(),
                    socket: socket.to_path_buf(),
                    exit: exit.to_string(),
                    stderr: self.stderr(),
                });
            }
            if socket.exists() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // Drop kills and reaps.
                return Err(DaemonError::SocketTimeout {
                    binary: self.binary.clone(),
                    socket: socket.to_path_buf(),
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.exit().is_none().then_some(self.pid).flatten()
    }

    pub(crate) fn exit(&self) -> Option<DaemonExit> {
        *self.exit_rx.borrow()
    }

    pub(crate) fn stderr(&self) -> String {
        let buf = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).trim().to_string()
    }

    /// A view of this daemon's end that can be kept apart from the handle.
    pub(crate) fn watch(&self) -> DaemonWatch {
        DaemonWatch::new(
            self.name,
            self.pid,
            self.exit_rx.clone(),
            Arc::clone(&self.stderr),
        )
    }

    pub(crate) async fn exited(&self) -> DaemonExit {
        self.watch().exited().await
    }

    /// SIGTERM, then SIGKILL after `grace`; reaps and removes the sockets.
    pub(crate) async fn stop(&self, grace: Duration) -> DaemonExit {
        let _ = self.signal_tx.send(Signal::SIGTERM).await;
        let exit = match tokio::time::timeout(grace, self.exited()).await {
            Ok(exit) => exit,
            Err(_) => {
                tracing::warn!(binary = %self.binary.display(), "daemon ignored SIGTERM, killing it");
                let _ = self.signal_tx.send(Signal::SIGKILL).await;
                self.exited().await
            }
        };
        self.remove_sockets();
        exit
    }

    fn remove_sockets(&self) {
        for socket in &self.sockets {
            if let Err(e) = remove_socket(socket) {
                tracing::warn!(socket = %socket.display(), error = %e, "cannot remove socket");
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Closing the signal channel makes the owner task kill and reap the daemon.
        self.remove_sockets();
    }
}

async fn own_child(
    mut child: Child,
    mut signal_rx: mpsc::Receiver<Signal>,
    exit_tx: watch::Sender<Option<DaemonExit>>,
) {
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            signal = signal_rx.recv() => match signal {
                Some(signal) => {
                    // The child is not reaped while we hold it un-waited, so its pid is still ours.
                    if let (Ok(None), Some(pid)) = (child.try_wait(), child.id()) {
                        if let Ok(pid) = i32::try_from(pid) {
                            let _ = kill(Pid::from_raw(pid), signal);
                        }
                    }
                }
                None => {
                    let _ = child.start_kill();
                    break child.wait().await;
                }
            },
        }
    };
    let exit = match status {
        Ok(s) => DaemonExit {
            code: s.code(),
            signal: s.signal(),
        },
        Err(_) => DaemonExit {
            code: None,
            signal: None,
        },
    };
    let _ = exit_tx.send(Some(exit));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["-c".into(), script.into()]
    }

    #[tokio::test]
    async fn waits_for_the_socket_and_stops_with_sigterm() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("d.sock");
        let script = format!("sleep 0.2; touch {}; exec sleep 100", sock.display());
        let d = Daemon::start(
            "sh",
            Path::new("/bin/sh"),
            &sh(&script),
            &sock,
            vec![sock.clone()],
            Duration::from_secs(5),
        )
        .await
        .expect("start");
        assert!(sock.exists());
        let pid = d.pid().expect("pid");
        let exit = d.stop(Duration::from_secs(5)).await;
        assert_eq!(exit.signal, Some(libc_sigterm()));
        assert!(!sock.exists());
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    fn libc_sigterm() -> i32 {
        Signal::SIGTERM as i32
    }

    #[tokio::test]
    async fn sigkill_when_sigterm_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("d.sock");
        let script = format!(
            "trap '' TERM; touch {}; while :; do sleep 0.05; done",
            sock.display()
        );
        let d = Daemon::start(
            "sh",
            Path::new("/bin/sh"),
            &sh(&script),
            &sock,
            vec![sock.clone()],
            Duration::from_secs(5),
        )
        .await
        .expect("start");
        let exit = d.stop(Duration::from_millis(300)).await;
        assert_eq!(exit.signal, Some(Signal::SIGKILL as i32));
    }

    #[tokio::test]
    async fn a_watch_sees_a_sigkill_from_outside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("d.sock");
        let script = format!("echo started >&2; touch {}; exec sleep 100", sock.display());
        let d = Daemon::start(
            "sh",
            Path::new("/bin/sh"),
            &sh(&script),
            &sock,
            vec![sock.clone()],
            Duration::from_secs(5),
        )
        .await
        .expect("start");
        let w = d.watch();
        assert_eq!(w.exit(), None);
        let pid = i32::try_from(d.pid().expect("pid")).expect("pid fits");
        kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill");
        let exit = tokio::time::timeout(Duration::from_secs(5), w.exited())
            .await
            .expect("the watch resolves");
        assert_eq!(exit.signal, Some(Signal::SIGKILL as i32));
        assert_eq!(w.name(), "sh");
        assert_eq!(w.exit(), Some(exit));
        assert_eq!(d.pid(), None, "a dead daemon has no pid");
        assert!(w.stderr().contains("started"), "{}", w.stderr());
    }

    #[tokio::test]
    async fn early_exit_reports_binary_socket_and_stderr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("d.sock");
        let err = Daemon::start(
            "sh",
            Path::new("/bin/sh"),
            &sh("echo broken >&2; exit 2"),
            &sock,
            vec![sock.clone()],
            Duration::from_secs(5),
        )
        .await
        .expect_err("must fail");
        let text = err.to_string();
        assert!(
            text.contains("/bin/sh") && text.contains("d.sock"),
            "{text}"
        );
        assert!(
            text.contains("broken") && text.contains("exit code 2"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn socket_timeout_kills_the_daemon() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("d.sock");
        let marker = dir.path().join("pid");
        let script = format!("echo $$ > {}; exec sleep 100", marker.display());
        let err = Daemon::start(
            "sh",
            Path::new("/bin/sh"),
            &sh(&script),
            &sock,
            vec![sock.clone()],
            Duration::from_millis(300),
        )
        .await
        .expect_err("must time out");
        assert!(matches!(err, DaemonError::SocketTimeout { .. }), "{err}");
        let pid = std::fs::read_to_string(&marker).expect("pid file");
        let proc_dir = format!("/proc/{}", pid.trim());
        for _ in 0..100 {
            if !Path::new(&proc_dir).exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!Path::new(&proc_dir).exists(), "daemon still alive");
    }
}
