//! A process the agent started inside a container (the init or an exec'd one) and its stdio.

use std::os::fd::OwnedFd;

use tokio::sync::{watch, Mutex, Notify};

use super::io::FdStream;
use crate::error::{AgentError, Result};

/// Which output stream to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The agent's ends of a process's stdio.
pub struct Stdio {
    pub stdin: Option<FdStream>,
    pub stdout: Option<FdStream>,
    pub stderr: Option<FdStream>,
    /// The pty master of a terminal process (kept for TtyWinResize).
    pub tty: Option<OwnedFd>,
}

pub struct Process {
    pub exec_id: String,
    pub pid: i32,
    stdin: Mutex<Option<FdStream>>,
    stdout: Mutex<Option<FdStream>>,
    stderr: Mutex<Option<FdStream>>,
    tty: Option<OwnedFd>,
    exit: watch::Receiver<Option<i32>>,
    /// Signalled whenever an output stream reaches end of file.
    eof: Notify,
}

impl Process {
    pub fn new(
        exec_id: String,
        pid: i32,
        stdio: Stdio,
        exit: watch::Receiver<Option<i32>>,
    ) -> Self {
        Process {
            exec_id,
            pid,
            stdin: Mutex::new(stdio.stdin),
            stdout: Mutex::new(stdio.stdout),
            stderr: Mutex::new(stdio.stderr),
            tty: stdio.tty,
            exit,
            eof: Notify::new(),
        }
    }

    /// The exit code if the process has exited.
    pub fn exit_code(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    /// Waits for the exit code (128 + N for a signal).
    pub async fn wait(&self) -> i32 {
        let mut rx = self.exit.clone();
        let waited = rx.wait_for(|c| c.is_some()).await.map(|v| *v);
        let code = match waited {
            Ok(v) => v,
            Err(_) => *rx.borrow(),
        };
        code.unwrap_or(255)
    }

    /// Reads a chunk of output; end of file is an error, as Kata's agent reports it.
    pub async fn read(&self, which: Stream, len: usize) -> Result<Vec<u8>> {
        let slot = match which {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        };
        let mut guard = slot.lock().await;
        let Some(stream) = guard.as_ref() else {
            return Err(AgentError::FailedPrecondition("eof".into()));
        };
        let data = stream
            .read(len)
            .await
            .map_err(|e| AgentError::io("reading output of", format!("pid {}", self.pid), e))?;
        if data.is_empty() {
            // Release the fd: the stream is over.
            *guard = None;
            self.eof.notify_waiters();
            return Err(AgentError::FailedPrecondition("eof".into()));
        }
        Ok(data)
    }

    /// Whether every output stream has been read to the end (a reader in progress counts as not).
    pub fn drained(&self) -> bool {
        let done = |m: &Mutex<Option<FdStream>>| m.try_lock().map(|g| g.is_none()).unwrap_or(false);
        done(&self.stdout) && done(&self.stderr)
    }

    /// Resolves at the next end of file of an output stream.
    pub async fn eof_notified(&self) {
        self.eof.notified().await
    }

    /// Writes to stdin; returns the number of bytes written.
    pub async fn write_stdin(&self, data: &[u8]) -> Result<usize> {
        let guard = self.stdin.lock().await;
        let stream = guard
            .as_ref()
            .ok_or_else(|| AgentError::FailedPrecondition("stdin is closed".into()))?;
        stream
            .write_all(data)
            .await
            .map_err(|e| AgentError::io("writing stdin of", format!("pid {}", self.pid), e))
    }

    /// Closes stdin so that the process reads end of file. For a terminal, sends EOF (^D) instead,
    /// since the master also carries output.
    pub async fn close_stdin(&self) -> Result<()> {
        let mut guard = self.stdin.lock().await;
        if self.tty.is_some() {
            if let Some(stream) = guard.as_ref() {
                let _ = stream.write_all(&[4]).await;
            }
        }
        *guard = None;
        Ok(())
    }

    /// Resizes the terminal of a terminal process.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        use std::os::fd::AsRawFd;
        let tty = self.tty.as_ref().ok_or_else(|| {
            AgentError::FailedPrecondition(format!("process {} has no terminal", self.pid))
        })?;
        super::io::set_winsize(tty.as_raw_fd(), rows, cols)
    }
}
