//! Standard streams: containerd FIFOs on the host pumped to and from the agent's
//! `WriteStdin`/`ReadStdout`/`ReadStderr`, and the watcher that reports an exit only after
//! stdout and stderr are flushed and closed.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::actor::Internal;
use crate::agent::Agent;
use crate::types::{ProcessIo, ProcessRef, VM_DIED_EXIT_CODE};

const CHUNK: u32 = 32 * 1024;

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Starts the pumps and the exit watcher of a started process; returns whether stdin is pumped.
pub(crate) fn spawn_process_io(
    agent: Arc<dyn Agent>,
    process: ProcessRef,
    exec_id: String,
    io: &ProcessIo,
    internal: mpsc::UnboundedSender<Internal>,
) -> bool {
    let cid = process.container_id.clone();
    let out = io
        .stdout
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|path| {
            tokio::spawn(pump_out(
                agent.clone(),
                cid.clone(),
                exec_id.clone(),
                path,
                Stream::Stdout,
            ))
        });
    let err = io
        .stderr
        .clone()
        .filter(|p| !io.terminal && !p.as_os_str().is_empty())
        .map(|path| {
            tokio::spawn(pump_out(
                agent.clone(),
                cid.clone(),
                exec_id.clone(),
                path,
                Stream::Stderr,
            ))
        });
    let stdin = io.stdin.clone().filter(|p| !p.as_os_str().is_empty());
    let has_stdin = stdin.is_some();
    if let Some(path) = stdin {
        tokio::spawn(pump_in(agent.clone(), cid.clone(), exec_id.clone(), path));
    }
    tokio::spawn(async move {
        let code = match agent.wait_process(&cid, &exec_id).await {
            Ok(status) => u32::try_from(status).unwrap_or(VM_DIED_EXIT_CODE),
            Err(e) => {
                tracing::warn!(container = %cid, exec = %exec_id, error = %e, "wait failed");
                VM_DIED_EXIT_CODE
            }
        };
        join(out).await;
        join(err).await;
        let _ = internal.send(Internal::Exited { process, code });
    });
    has_stdin
}

async fn join(handle: Option<JoinHandle<()>>) {
    if let Some(h) = handle {
        let _ = h.await;
    }
}

async fn pump_out(agent: Arc<dyn Agent>, cid: String, eid: String, path: PathBuf, s: Stream) {
    // Opened read-write, as containerd's own shims keep a read end: opening write-only blocks
    // until a reader comes, and a detached client (`ctr run -d`) may already be gone, which
    // would hold back the exit forever.
    let mut fifo = match tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .await
    {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot open output fifo");
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
        if let Some(f) = fifo.as_mut() {
            // A reader that went away must not block the process: keep draining.
            if f.write_all(&data).await.is_err() {
                fifo = None;
            }
        }
    }
    if let Some(mut f) = fifo {
        let _ = f.flush().await;
    }
}

async fn pump_in(agent: Arc<dyn Agent>, cid: String, eid: String, path: PathBuf) {
    let mut fifo = match tokio::fs::OpenOptions::new().read(true).open(&path).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot open stdin fifo");
            return;
        }
    };
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
