//! The QEMU child process: one task owns it, reaps it, and publishes its exit; a kill request or
//! the drop of the handle kills it. Its stderr is kept (bounded) for error messages.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use kata_hypervisor::{RunAs, VmExit};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::{mpsc, watch};

/// Bytes of stderr kept (the last ones).
const STDERR_KEEP: usize = 8 * 1024;

pub(crate) fn vm_exit(status: std::io::Result<ExitStatus>) -> VmExit {
    match status {
        Ok(s) => VmExit {
            code: s.code(),
            signal: s.signal(),
        },
        Err(e) => {
            tracing::warn!(error = %e, "waiting for qemu failed");
            VmExit {
                code: None,
                signal: None,
            }
        }
    }
}

/// Describes an exit for messages.
pub(crate) fn describe(exit: &VmExit) -> String {
    match (exit.code, exit.signal) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".to_string(),
    }
}

/// Makes `cmd` run as `who`: exactly `who.groups` as supplementary groups, then real, effective
/// and saved gid and uid set to `who.gid`/`who.uid`, in the child before exec (so QEMU never
/// holds root, unlike QEMU's own `-runas`, which drops it after opening its files). Needs a root
/// caller; the spawn fails with the `setgroups`/`setresgid`/`setresuid` error otherwise.
pub(crate) fn run_as(cmd: &mut Command, who: &RunAs) {
    let groups: Vec<libc::gid_t> = who.groups.clone();
    let (uid, gid) = (who.uid, who.gid);
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // system calls on memory allocated before the fork (`groups` is moved in, not reallocated).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes `cmd` run in the network namespace at `path`: the namespace is opened now (errors name
/// it) and entered in the child before exec, so the caller's threads never change namespace.
pub(crate) fn enter_netns(cmd: &mut Command, path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("network namespace {}: {e}", path.display()),
        )
    })?;
    // SAFETY: setns is async-signal-safe; the descriptor is owned by the closure, which lives
    // until the command is dropped, so it is open in the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// A supervised child process.
#[derive(Debug)]
pub(crate) struct Supervised {
    pid: Option<u32>,
    exit_rx: watch::Receiver<Option<VmExit>>,
    kill_tx: mpsc::Sender<()>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Supervised {
    /// Spawns `cmd` (stdin and stdout discarded, stderr captured).
    pub(crate) fn spawn(mut cmd: Command) -> std::io::Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(pipe) = child.stderr.take() {
            tokio::spawn(collect_stderr(pipe, Arc::clone(&stderr)));
        }
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = mpsc::channel(1);
        tokio::spawn(own_child(child, kill_rx, exit_tx));
        Ok(Supervised {
            pid,
            exit_rx,
            kill_tx,
            stderr,
        })
    }

    /// Watches `pid`, a process that is not our child (a VM handed over by the VMCache
    /// server), through a pidfd: its end is published with an unknown status (only its parent
    /// learns it), and a kill request or the drop of the handle sends SIGKILL.
    pub(crate) fn adopt(pid: u32) -> std::io::Result<Self> {
        let pidfd = crate::pidfd::PidFd::open(pid)?;
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = mpsc::channel(1);
        tokio::spawn(own_adopted(pidfd, kill_rx, exit_tx));
        Ok(Supervised {
            pid: Some(pid),
            exit_rx,
            kill_tx,
            stderr: Arc::default(),
        })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.exit().is_none().then_some(self.pid).flatten()
    }

    /// The exit, if the process has exited and was reaped.
    pub(crate) fn exit(&self) -> Option<VmExit> {
        *self.exit_rx.borrow()
    }

    /// Resolves once the process has been reaped.
    pub(crate) async fn exited(&self) -> VmExit {
        let mut rx = self.exit_rx.clone();
        loop {
            if let Some(exit) = *rx.borrow_and_update() {
                return exit;
            }
            if rx.changed().await.is_err() {
                // The owner task is gone without publishing: the runtime is shutting down.
                return VmExit {
                    code: None,
                    signal: None,
                };
            }
        }
    }

    /// Sends SIGKILL (through the owner task, so a reaped pid is never signalled) and waits.
    pub(crate) async fn kill(&self) -> VmExit {
        let _ = self.kill_tx.try_send(());
        self.exited().await
    }

    /// The end of the process's stderr, lossily decoded.
    pub(crate) fn stderr(&self) -> String {
        let buf = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).trim().to_string()
    }
}

async fn own_child(
    mut child: Child,
    mut kill_rx: mpsc::Receiver<()>,
    exit_tx: watch::Sender<Option<VmExit>>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        // A kill request, or the handle was dropped.
        _ = kill_rx.recv() => {
            if let Err(e) = child.start_kill() {
                tracing::warn!(error = %e, "cannot kill qemu");
            }
            child.wait().await
        }
    };
    let exit = vm_exit(status);
    tracing::debug!(?exit, "qemu reaped");
    let _ = exit_tx.send(Some(exit));
}

async fn own_adopted(
    pidfd: crate::pidfd::PidFd,
    mut kill_rx: mpsc::Receiver<()>,
    exit_tx: watch::Sender<Option<VmExit>>,
) {
    tokio::select! {
        _ = pidfd.exited() => {}
        // A kill request, or the handle was dropped.
        _ = kill_rx.recv() => {
            if let Err(e) = pidfd.signal(libc::SIGKILL) {
                tracing::warn!(pid = pidfd.pid(), error = %e, "cannot kill qemu");
            }
            pidfd.exited().await;
        }
    }
    tracing::debug!(pid = pidfd.pid(), "adopted qemu ended");
    let _ = exit_tx.send(Some(VmExit {
        code: None,
        signal: None,
    }));
}

async fn collect_stderr(mut pipe: ChildStderr, keep: Arc<Mutex<Vec<u8>>>) {
    let mut chunk = [0u8; 1024];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let mut buf = keep.lock().unwrap_or_else(|p| p.into_inner());
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > STDERR_KEEP {
            let excess = buf.len() - STDERR_KEEP;
            buf.drain(..excess);
        }
    }
}

/// Makes `cmd` inherit each open file of `files` at the descriptor number given with it (the
/// parent's copies stay close-on-exec and close when the command is dropped). Every source is
/// first moved above the targets, so no target overwrites a source still to be placed.
pub(crate) fn pass_fds(cmd: &mut Command, files: Vec<(std::fs::File, i32)>) {
    use std::os::fd::AsRawFd;
    if files.is_empty() {
        return;
    }
    let above = files.iter().map(|(_, to)| *to).max().unwrap_or(0) + 1;
    // SAFETY: the closure runs in the forked child before exec and makes only async-signal-safe
    // calls (fcntl, dup2) on descriptors the closure owns (open until the command is dropped);
    // the Vec of moved descriptors is allocated before the fork, never in the child.
    unsafe {
        let mut moved: Vec<i32> = Vec::with_capacity(files.len());
        cmd.pre_exec(move || {
            moved.clear();
            for (file, _) in &files {
                let fd = libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                moved.push(fd);
            }
            for (fd, (_, to)) in moved.iter().zip(&files) {
                if libc::dup2(*fd, *to) != *to {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exit_is_published_and_stderr_kept() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo oops >&2; exit 3"]);
        let p = Supervised::spawn(cmd).expect("spawn");
        let exit = p.exited().await;
        assert_eq!(exit.code, Some(3));
        assert_eq!(p.pid(), None);
        // stderr reader may lag the exit slightly.
        for _ in 0..100 {
            if !p.stderr().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(p.stderr(), "oops");
    }

    #[tokio::test]
    async fn run_as_sets_uid_gid_and_only_the_given_groups() {
        if !nix_is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "id -u >&2; id -g >&2; id -G >&2; exit 1"]);
        run_as(
            &mut cmd,
            &RunAs {
                uid: 65534,
                gid: 65533,
                groups: vec![65532],
            },
        );
        let p = Supervised::spawn(cmd).expect("spawn");
        assert_eq!(p.exited().await.code, Some(1));
        for _ in 0..100 {
            if p.stderr().lines().count() >= 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let out = p.stderr();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"65534"), "{out}");
        assert_eq!(lines.get(1), Some(&"65533"), "{out}");
        let mut groups: Vec<&str> = lines.get(2).copied().unwrap_or("").split(' ').collect();
        groups.sort_unstable();
        assert_eq!(groups, ["65532", "65533"], "{out}");
    }

    fn nix_is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    #[tokio::test]
    async fn kill_reaps() {
        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("100");
        let p = Supervised::spawn(cmd).expect("spawn");
        let pid = p.pid().expect("pid");
        let exit = p.kill().await;
        assert_eq!(exit.signal, Some(libc::SIGKILL));
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[tokio::test]
    async fn dropping_the_handle_kills() {
        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("100");
        let p = Supervised::spawn(cmd).expect("spawn");
        let pid = p.pid().expect("pid");
        let mut rx = p.exit_rx.clone();
        drop(p);
        let _ = rx.wait_for(Option::is_some).await;
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
