//! Standard streams, as containerd's runc shim keeps them: containerd's FIFOs (or a log URI's
//! file or logging binary) pumped to and from the agent's `WriteStdin`/`ReadStdout`/
//! `ReadStderr`, and the watcher that reports a process's exit.
//!
//! - stdin not requested: the process reads end of file at once (runc gives it `/dev/null`).
//! - stdin a FIFO: the shim holds a write end of its own, so the process's stdin stays open after
//!   the client detaches, until `CloseIO` (containerd's runc shim `openStdin`).
//! - the exit is reported once stdout and stderr are drained, or after [`OUTPUT_GRACE`] when a
//!   child that outlives the process still holds them (`sh -c 'sleep 60 &'`); the copy then goes
//!   on until the process is deleted (containerd's runc shim waits 2 s for its copy in delete).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use super::actor::Internal;
use crate::agent::Agent;
use crate::types::{LogSink, ProcessIo, ProcessRef, VM_DIED_EXIT_CODE};

const CHUNK: u32 = 32 * 1024;

/// How long after a process exits its output may still be copied before the exit is reported
/// anyway (containerd's runc shim: 2 s).
pub(crate) const OUTPUT_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Where one output stream is written.
enum Target {
    Fifo(PathBuf),
    File(PathBuf),
    Pipe(Arc<OwnedFd>),
}

/// What a started process's stream copies leave in its record; dropping it (the process is
/// deleted) stops the copies and closes the host ends.
pub(crate) struct IoPumps {
    /// Our write end of the stdin FIFO; dropped by `CloseIO`.
    stdin_keeper: Option<pipe::Sender>,
    /// Whether a stdin copy runs (it closes the guest's stdin at the FIFO's end of file).
    has_stdin: bool,
    outputs: Vec<AbortHandle>,
}

impl IoPumps {
    /// `CloseIO`: lets the stdin copy see end of file once the client's writers are gone too.
    /// Returns false when no stdin copy runs (the caller closes the guest's stdin itself).
    pub fn close_stdin(&mut self) -> bool {
        self.stdin_keeper = None;
        self.has_stdin
    }
}

impl Drop for IoPumps {
    fn drop(&mut self) {
        for h in &self.outputs {
            h.abort();
        }
    }
}

/// Starts the copies and the exit watcher of a started process.
pub(crate) fn spawn_process_io(
    agent: Arc<dyn Agent>,
    process: ProcessRef,
    exec_id: String,
    io: &ProcessIo,
    internal: mpsc::UnboundedSender<Internal>,
) -> IoPumps {
    let cid = process.container_id.clone();
    let mut copies: Vec<JoinHandle<()>> = Vec::new();
    for stream in [Stream::Stdout, Stream::Stderr] {
        if let Some(target) = target(io, stream) {
            copies.push(tokio::spawn(pump_out(
                agent.clone(),
                cid.clone(),
                exec_id.clone(),
                target,
                stream,
            )));
        }
    }
    let stdin = io.stdin.as_deref().filter(|p| !p.as_os_str().is_empty());
    let (stdin_keeper, has_stdin) = match stdin.map(open_stdin) {
        Some(Ok((fifo, keeper))) => {
            tokio::spawn(pump_in(agent.clone(), cid.clone(), exec_id.clone(), fifo));
            (Some(keeper), true)
        }
        Some(Err(e)) => {
            tracing::warn!(container = %cid, error = %e, "cannot open the stdin fifo");
            (None, false)
        }
        None => (None, false),
    };
    if !has_stdin && !io.terminal {
        // No stdin: the process must read end of file, not wait forever on an open pipe.
        let (agent, cid, eid) = (agent.clone(), cid.clone(), exec_id.clone());
        tokio::spawn(async move {
            if let Err(e) = agent.close_stdin(&cid, &eid).await {
                tracing::debug!(container = %cid, exec = %eid, error = %e, "closing stdin");
            }
        });
    }
    let outputs = copies.iter().map(JoinHandle::abort_handle).collect();
    tokio::spawn(async move {
        let code = match agent.wait_process(&cid, &exec_id).await {
            Ok(status) => u32::try_from(status).unwrap_or(VM_DIED_EXIT_CODE),
            Err(e) => {
                tracing::warn!(container = %cid, exec = %exec_id, error = %e, "wait failed");
                VM_DIED_EXIT_CODE
            }
        };
        let drained = async {
            for c in copies {
                let _ = c.await;
            }
        };
        if tokio::time::timeout(OUTPUT_GRACE, drained).await.is_err() {
            tracing::debug!(
                container = %cid, exec = %exec_id,
                "output still held open after the exit; copying on until delete"
            );
        }
        let _ = internal.send(Internal::Exited { process, code });
    });
    IoPumps {
        stdin_keeper,
        has_stdin,
        outputs,
    }
}

/// Where `stream` goes: the log sink if any, else its FIFO; a terminal has no stderr.
fn target(io: &ProcessIo, stream: Stream) -> Option<Target> {
    if io.terminal && matches!(stream, Stream::Stderr) {
        return None;
    }
    match (&io.log, stream) {
        (Some(LogSink::File(path)), _) => Some(Target::File(path.clone())),
        (Some(LogSink::Pipes { stdout, .. }), Stream::Stdout) => Some(Target::Pipe(stdout.clone())),
        (Some(LogSink::Pipes { stderr, .. }), Stream::Stderr) => Some(Target::Pipe(stderr.clone())),
        (None, Stream::Stdout) => io.stdout.clone().map(Target::Fifo),
        (None, Stream::Stderr) => io.stderr.clone().map(Target::Fifo),
    }
    .filter(|t| !matches!(t, Target::Fifo(p) | Target::File(p) if p.as_os_str().is_empty()))
}

type Writer = Box<dyn AsyncWrite + Send + Unpin>;

async fn open_target(target: &Target) -> std::io::Result<Writer> {
    Ok(match target {
        // Read-write, as containerd's own shims keep a read end: opening write-only blocks until
        // a reader comes, and a detached client (`ctr run -d`) may already be gone.
        Target::Fifo(path) if is_fifo(path) => Box::new(
            pipe::OpenOptions::new()
                .read_write(true)
                .open_sender(path)?,
        ),
        Target::Fifo(path) => Box::new(tokio::fs::OpenOptions::new().write(true).open(path).await?),
        Target::File(path) => Box::new(
            tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await?,
        ),
        Target::Pipe(fd) => Box::new(pipe::Sender::from_owned_fd(fd.try_clone()?)?),
    })
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

async fn pump_out(agent: Arc<dyn Agent>, cid: String, eid: String, target: Target, s: Stream) {
    let mut out = match open_target(&target).await {
        Ok(w) => Some(w),
        Err(e) => {
            let name = match &target {
                Target::Fifo(p) | Target::File(p) => p.display().to_string(),
                Target::Pipe(_) => "logging binary pipe".into(),
            };
            tracing::warn!(output = %name, error = %e, "cannot open the output");
            None
        }
    };
    loop {
        let data = match s {
            Stream::Stdout => agent.read_stdout(&cid, &eid, CHUNK).await,
            Stream::Stderr => agent.read_stderr(&cid, &eid, CHUNK).await,
        };
        let data = match data {
            Ok(d) if !d.is_empty() => d,
            _ => break,
        };
        if let Some(w) = out.as_mut() {
            // A reader that went away must not block the process: keep draining.
            if w.write_all(&data).await.is_err() {
                out = None;
            }
        }
    }
    if let Some(mut w) = out {
        let _ = w.flush().await;
    }
}

/// Opens the stdin FIFO for reading, and a write end of our own that keeps it open until
/// `CloseIO` (opened second: a FIFO's write end opens without blocking only once it has a reader).
fn open_stdin(path: &Path) -> std::io::Result<(pipe::Receiver, pipe::Sender)> {
    let reader = pipe::OpenOptions::new().open_receiver(path)?;
    let keeper = pipe::OpenOptions::new().open_sender(path)?;
    Ok((reader, keeper))
}

async fn pump_in(agent: Arc<dyn Agent>, cid: String, eid: String, mut fifo: pipe::Receiver) {
    let mut buf = vec![0u8; CHUNK as usize];
    loop {
        let n = match fifo.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut sent = 0;
        while sent < n {
            match agent.write_stdin(&cid, &eid, &buf[sent..n]).await {
                Ok(0) | Err(_) => return,
                Ok(w) => sent += w,
            }
        }
    }
    let _ = agent.close_stdin(&cid, &eid).await;
}
