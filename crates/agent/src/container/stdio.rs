//! Wiring a new process's stdio: three pipes, or a pty received over a console socket.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use super::io::{pipe, FdStream};
use super::process::Stdio;
use crate::error::{AgentError, Result};

/// The container's ends, handed to libcontainer.
pub struct ChildStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// What to give the builder and how to finish once the process exists.
pub enum Pending {
    Pipes {
        child: Option<ChildStdio>,
        ours: Stdio,
    },
    Console {
        listener: UnixListener,
        path: PathBuf,
    },
}

impl Pending {
    /// Pipes for a plain process, a console socket at `dir/<name>` for a terminal one.
    pub fn prepare(terminal: bool, dir: &Path, name: &str) -> Result<Pending> {
        if terminal {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path)
                .map_err(|e| AgentError::io("binding console socket", &path, e))?;
            return Ok(Pending::Console { listener, path });
        }
        let (in_r, in_w) = pipe()?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        Ok(Pending::Pipes {
            child: Some(ChildStdio {
                stdin: in_r,
                stdout: out_w,
                stderr: err_w,
            }),
            ours: Stdio {
                stdin: Some(FdStream::new(in_w)?),
                stdout: Some(FdStream::new(out_r)?),
                stderr: Some(FdStream::new(err_r)?),
                tty: None,
            },
        })
    }

    /// The container's ends of the pipes (taken once), or `None` for a terminal.
    pub fn take_child(&mut self) -> Option<ChildStdio> {
        match self {
            Pending::Pipes { child, .. } => child.take(),
            Pending::Console { .. } => None,
        }
    }

    /// The console socket path for libcontainer, if this is a terminal.
    pub fn console_path(&self) -> Option<&Path> {
        match self {
            Pending::Console { path, .. } => Some(path),
            Pending::Pipes { .. } => None,
        }
    }

    /// After the process was created: our ends of the pipes, or the pty master from the socket.
    /// Takes the container side's stdio; a terminal gets `size` (rows, columns) at once, so the
    /// process never sees a 0x0 window.
    pub fn finish(self, size: Option<(u16, u16)>) -> Result<Stdio> {
        match self {
            Pending::Pipes { ours, .. } => Ok(ours),
            Pending::Console { listener, path } => {
                let master = receive_master(&listener, &path);
                let _ = std::fs::remove_file(&path);
                let master = master?;
                if let Some((rows, cols)) = size {
                    super::io::set_winsize(master.as_raw_fd(), rows, cols)?;
                }
                let dup = |fd: &OwnedFd| {
                    fd.try_clone()
                        .map_err(|e| AgentError::io("duplicating pty master", &path, e))
                };
                Ok(Stdio {
                    stdin: Some(FdStream::new(dup(&master)?)?),
                    stdout: Some(FdStream::new(dup(&master)?)?),
                    stderr: None,
                    tty: Some(master),
                })
            }
        }
    }
}

/// Accepts the connection libcontainer made during creation and takes the fd it sent.
fn receive_master(listener: &UnixListener, path: &Path) -> Result<OwnedFd> {
    listener
        .set_nonblocking(true)
        .map_err(|e| AgentError::io("configuring console socket", path, e))?;
    let (conn, _) = listener
        .accept()
        .map_err(|e| AgentError::io("accepting on console socket", path, e))?;
    conn.set_nonblocking(false)
        .map_err(|e| AgentError::io("configuring console socket", path, e))?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .map_err(|e| AgentError::io("configuring console socket", path, e))?;
    let mut buf = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| AgentError::errno("receiving pty master on", path, e))?;
    for c in msg
        .cmsgs()
        .map_err(|e| AgentError::errno("reading control message on", path, e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us; we own it from here on.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(AgentError::Internal(format!(
        "no pty master received on {}",
        path.display()
    )))
}

/// The window size (rows, columns) an OCI process asks for, clamped to what a tty holds.
pub fn console_size(process: Option<&oci_spec::runtime::Process>) -> Option<(u16, u16)> {
    let b = process?.console_size()?;
    let clamp = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
    Some((clamp(b.height()), clamp(b.width())))
}
