//! `QemuVm`: boot, watch and stop one QEMU process.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kata_hypervisor::{VmExit, VmSpec};
use tokio::process::Command;

use crate::cmdline;
use crate::console::Console;
use crate::error::QemuError;
use crate::hotplug::Plugged;
use crate::process::{describe, Supervised};
use crate::qmp::commands::Quit;
use crate::qmp::{QmpClient, DEFAULT_REPLY_TIMEOUT};

/// File name of the QMP socket inside the spec's run directory.
pub const QMP_SOCKET: &str = "qmp.sock";

/// Timeouts of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From spawn until QMP answers.
    pub start: Duration,
    /// Grace after QMP `quit` before SIGKILL.
    pub stop: Duration,
    /// Per QMP command.
    pub reply: Duration,
    /// For the guest to release an unplugged device.
    pub unplug: Duration,
    /// For a template's state to be saved or restored ([`QemuVm::save_template`],
    /// [`QemuVm::restore`]); both take well under a second under TCG (MACHINE.md).
    pub migration: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            start: Duration::from_secs(10),
            stop: Duration::from_secs(5),
            reply: DEFAULT_REPLY_TIMEOUT,
            unplug: Duration::from_secs(10),
            migration: Duration::from_secs(30),
        }
    }
}

/// A running QEMU. Dropping it kills QEMU (SIGKILL) and removes the QMP socket; call
/// [`QemuVm::stop`] for an orderly shutdown.
#[derive(Debug)]
pub struct QemuVm {
    id: String,
    process: std::sync::Arc<Supervised>,
    /// Set by [`QemuVm::detach`]: the QMP socket stays for whoever takes the VM over.
    detached: bool,
    qmp: QmpClient,
    qmp_socket: PathBuf,
    timeouts: Timeouts,
    hotplug_bus: Option<String>,
    pub(crate) plugged: Plugged,
    /// Room for vCPU and memory hotplug ([`crate::resize`]).
    pub(crate) room: crate::resize::Room,
}

fn require_file(what: &'static str, path: &Path) -> Result<(), QemuError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(QemuError::MissingFile {
            what,
            path: path.to_path_buf(),
        })
    }
}

fn check_files(spec: &VmSpec) -> Result<(), QemuError> {
    require_file("qemu binary", &spec.hypervisor_path)?;
    require_file("kernel", &spec.boot.kernel)?;
    if let Some(initrd) = &spec.boot.initrd {
        require_file("initrd", initrd)?;
    }
    if let Some(image) = &spec.boot.image {
        require_file("image", image)?;
    }
    Ok(())
}

/// Opens the tap character devices (macvtap) the spec hands QEMU as descriptors, each with the
/// number the command line names.
fn open_tap_devices(spec: &VmSpec) -> Result<Vec<(std::fs::File, i32)>, QemuError> {
    cmdline::net::inherited_taps(spec)
        .into_iter()
        .map(|(path, fd)| {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|source| QemuError::TapDevice {
                    path: path.to_path_buf(),
                    source,
                })?;
            Ok((file, fd))
        })
        .collect()
}

fn remove_socket(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove socket"),
    }
}

impl QemuVm {
    /// Boots `spec` with default timeouts. See [`QemuVm::start_with`].
    pub async fn start(spec: VmSpec) -> Result<Self, QemuError> {
        Self::start_with(spec, Timeouts::default()).await
    }

    /// Boots `spec`: checks its files, spawns QEMU as a child, waits for QMP and negotiates it.
    /// On error QEMU is killed and reaped and the QMP socket removed.
    pub async fn start_with(spec: VmSpec, timeouts: Timeouts) -> Result<Self, QemuError> {
        check_files(&spec)?;
        std::fs::create_dir_all(&spec.run_dir).map_err(|source| QemuError::RunDir {
            path: spec.run_dir.clone(),
            source,
        })?;
        let qmp_socket = spec.run_dir.join(QMP_SOCKET);
        remove_socket(&qmp_socket);
        let args = cmdline::build(&spec, &qmp_socket).map_err(|source| QemuError::Spec {
            id: spec.id.clone(),
            source,
        })?;
        tracing::info!(id = %spec.id, binary = %spec.hypervisor_path.display(), ?args, "starting qemu");
        let mut cmd = Command::new(&spec.hypervisor_path);
        cmd.args(&args);
        // Before run_as: entering a network namespace needs the privileges it drops.
        if let Some(netns) = &spec.netns {
            crate::process::enter_netns(&mut cmd, netns).map_err(|source| QemuError::Spawn {
                binary: spec.hypervisor_path.clone(),
                source,
            })?;
        }
        if let Some(who) = &spec.run_as {
            crate::process::run_as(&mut cmd, who);
        }
        let console_error = |path: &Path| {
            let path = path.to_owned();
            move |source| QemuError::Console { path, source }
        };
        let console = match &spec.console_log {
            Some(log) => Some(Console::prepare(&mut cmd, log).map_err(console_error(log))?),
            None => None,
        };
        let taps = open_tap_devices(&spec)?;
        crate::process::pass_fds(&mut cmd, taps);
        let process = Supervised::spawn(cmd).map_err(|source| QemuError::Spawn {
            binary: spec.hypervisor_path.clone(),
            source,
        })?;
        if let (Some(console), Some(log)) = (console, &spec.console_log) {
            if let Err(e) = console.start(spec.id.clone()) {
                process.kill().await;
                return Err(console_error(log)(e));
            }
        }
        match connect_qmp(&spec, &process, &qmp_socket, &timeouts).await {
            Ok(qmp) => Ok(QemuVm::running(&spec, process, qmp, qmp_socket, timeouts)),
            Err(e) => {
                process.kill().await;
                remove_socket(&qmp_socket);
                Err(e)
            }
        }
    }

    /// The sandbox id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// QEMU's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// The QMP session.
    pub fn qmp(&self) -> &QmpClient {
        &self.qmp
    }

    /// Path of the QMP socket.
    pub fn qmp_socket(&self) -> &Path {
        &self.qmp_socket
    }

    /// Resolves as soon as QEMU has exited (for any reason) and been reaped.
    pub async fn exited(&self) -> VmExit {
        self.process.exited().await
    }

    /// The exit, if QEMU has exited.
    pub fn exit_status(&self) -> Option<VmExit> {
        self.process.exit()
    }

    /// The end of QEMU's stderr.
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }

    pub(crate) fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    pub(crate) fn hotplug_bus(&self) -> Option<&str> {
        self.hotplug_bus.as_deref()
    }

    /// Stops QEMU: QMP `quit`, SIGKILL if it is still there after the stop timeout; reaps it and
    /// removes the QMP socket. Idempotent.
    pub async fn stop(&self) -> Result<VmExit, QemuError> {
        if self.process.exit().is_none() {
            match tokio::time::timeout(self.timeouts.stop, self.qmp.execute(&Quit)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::debug!(id = %self.id, error = %e, "qmp quit failed"),
                Err(_) => tracing::debug!(id = %self.id, "qmp quit timed out"),
            }
        }
        let exit = match tokio::time::timeout(self.timeouts.stop, self.process.exited()).await {
            Ok(exit) => exit,
            Err(_) => {
                tracing::warn!(id = %self.id, "qemu ignored quit, killing it");
                self.process.kill().await
            }
        };
        remove_socket(&self.qmp_socket);
        tracing::info!(id = %self.id, exit = %describe(&exit), "qemu stopped");
        Ok(exit)
    }

    /// Fails with `NotRunning` when QEMU has exited.
    pub(crate) fn ensure_running(&self) -> Result<(), QemuError> {
        if self.process.exit().is_some() {
            Err(QemuError::NotRunning {
                id: self.id.clone(),
            })
        } else {
            Ok(())
        }
    }
}

impl Drop for QemuVm {
    fn drop(&mut self) {
        // The supervisor task kills QEMU when the handle goes; the socket is ours to remove.
        if !self.detached {
            remove_socket(&self.qmp_socket);
        }
    }
}

/// A QEMU whose QMP session was closed by [`QemuVm::detach`] for another process to take over
/// ([`QemuVm::adopt`]): this handle still reaps it and keeps its console copy, and never kills it.
/// Dropping it kills QEMU as the [`QemuVm`] would; the VMCache server forgets handed-over VMs
/// with [`std::mem::forget`] or ends its process without running destructors.
#[derive(Debug)]
pub struct DetachedQemu {
    process: std::sync::Arc<Supervised>,
}

impl DetachedQemu {
    /// Resolves once QEMU has ended and been reaped.
    pub async fn exited(&self) -> VmExit {
        self.process.exited().await
    }

    /// QEMU's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Kills QEMU (SIGKILL) and waits for it to be reaped.
    pub async fn kill(&self) -> VmExit {
        self.process.kill().await
    }
}

impl QemuVm {
    /// Closes the QMP session (QEMU serves one client at a time) and leaves the QMP socket in
    /// place, so that another process can [`QemuVm::adopt`] the VM; the returned handle still
    /// reaps QEMU. Kata's VMCache hands out VMs this way (virtcontainers/vm.go `ToGrpc`).
    pub async fn detach(mut self) -> DetachedQemu {
        self.qmp.disconnect().await;
        self.detached = true;
        DetachedQemu {
            process: std::sync::Arc::clone(&self.process),
        }
    }

    /// Takes over a running QEMU that was booted from `spec` by another process (the VMCache
    /// server) and detached there: watches `pid` through a pidfd (its exit status stays
    /// unknown: only its parent learns it) and opens a QMP session on `<spec.run_dir>/qmp.sock`.
    /// Errors: the process is gone (`Spawn` with ESRCH), or QMP does not answer in time.
    pub async fn adopt(spec: &VmSpec, pid: u32, timeouts: Timeouts) -> Result<Self, QemuError> {
        let process = Supervised::adopt(pid).map_err(|source| QemuError::Spawn {
            binary: spec.hypervisor_path.clone(),
            source,
        })?;
        let qmp_socket = spec.run_dir.join(QMP_SOCKET);
        let qmp = connect_qmp(spec, &process, &qmp_socket, &timeouts).await?;
        Ok(QemuVm::running(spec, process, qmp, qmp_socket, timeouts))
    }

    /// The handle of a QEMU booted (or adopted) from `spec` with its QMP session.
    fn running(
        spec: &VmSpec,
        process: Supervised,
        qmp: QmpClient,
        qmp_socket: PathBuf,
        timeouts: Timeouts,
    ) -> Self {
        QemuVm {
            id: spec.id.clone(),
            process: std::sync::Arc::new(process),
            detached: false,
            qmp,
            qmp_socket,
            timeouts,
            hotplug_bus: (spec.pci_bridges > 0).then(|| "pci-bridge-0".to_string()),
            plugged: Plugged::default(),
            room: crate::resize::Room::from_spec(spec),
        }
    }
}

/// Connects to the QMP socket, retrying every 10 ms while it refuses connections until
/// `deadline`: QEMU binds the socket file before it listens on it, and a connection in between is
/// refused (seen by the churn test, tests/e2e/tests/churn.rs, with 8 VMs starting at once).
async fn connect_once_listening(
    socket: &Path,
    reply: Duration,
    deadline: Instant,
) -> Result<QmpClient, crate::qmp::QmpError> {
    loop {
        match QmpClient::connect(socket, reply).await {
            Err(crate::qmp::QmpError::Connect { source, .. })
                if source.kind() == std::io::ErrorKind::ConnectionRefused
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

async fn connect_qmp(
    spec: &VmSpec,
    process: &Supervised,
    socket: &Path,
    timeouts: &Timeouts,
) -> Result<QmpClient, QemuError> {
    let deadline = Instant::now() + timeouts.start;
    let early_exit = |exit: VmExit| QemuError::EarlyExit {
        binary: spec.hypervisor_path.clone(),
        exit: describe(&exit),
        stderr: process.stderr(),
    };
    loop {
        if let Some(exit) = process.exit() {
            // Let the stderr reader drain what QEMU printed before dying.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(early_exit(exit));
        }
        if socket.exists() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(QemuError::QmpSocketTimeout {
                socket: socket.to_path_buf(),
                after: timeouts.start,
            });
        }
        tokio::select! {
            exit = process.exited() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(early_exit(exit));
            }
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    let connect = connect_once_listening(socket, timeouts.reply, deadline);
    match tokio::time::timeout(remaining.max(Duration::from_secs(1)), connect).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => {
            // QEMU serves QMP before loading the kernel; a QMP failure is often QEMU dying.
            let died = tokio::time::timeout(Duration::from_millis(500), process.exited()).await;
            if let Ok(exit) = died {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(early_exit(exit));
            }
            Err(QemuError::Qmp {
                socket: socket.to_path_buf(),
                source,
            })
        }
        Err(_) => Err(QemuError::QmpSocketTimeout {
            socket: socket.to_path_buf(),
            after: timeouts.start,
        }),
    }
}

#[cfg(test)]
mod qmp_connect_tests {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    /// A Unix socket bound at `path` but not listening yet (as QEMU's QMP socket is for a moment).
    fn bound_not_listening(path: &Path) -> OwnedFd {
        // SAFETY: plain socket(2); the result is checked and owned right away.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_un is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_os_str().as_bytes();
        assert!(bytes.len() < addr.sun_path.len());
        for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        // SAFETY: addr is a valid sockaddr_un and the length is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::addr_of!(addr).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        fd
    }

    #[tokio::test]
    async fn a_socket_that_listens_late_is_still_reached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("qmp.sock");
        let fd = bound_not_listening(&path);
        let raw = fd.as_raw_fd();
        let server = tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: raw is the bound socket owned by `fd`, alive for this closure.
            assert_eq!(unsafe { libc::listen(raw, 1) }, 0);
            let listener = std::os::unix::net::UnixListener::from(fd);
            let (mut conn, _) = listener.accept().expect("accept");
            use std::io::Write;
            conn.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
                .expect("greeting");
            // qmp_capabilities, then its empty return.
            let mut line = String::new();
            let mut reader = std::io::BufReader::new(conn.try_clone().expect("clone"));
            std::io::BufRead::read_line(&mut reader, &mut line).expect("command");
            let cmd: serde_json::Value = serde_json::from_str(&line).expect("json command");
            let reply = serde_json::json!({ "return": {}, "id": cmd["id"] });
            conn.write_all(format!("{reply}\r\n").as_bytes())
                .expect("return");
            std::thread::sleep(Duration::from_millis(300));
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let refused = QmpClient::connect(&path, Duration::from_secs(1)).await;
        assert!(
            refused.is_err(),
            "a bound socket that does not listen refuses"
        );
        connect_once_listening(&path, Duration::from_secs(1), deadline)
            .await
            .expect("connected once it listens");
        server.await.expect("server");
    }
}
