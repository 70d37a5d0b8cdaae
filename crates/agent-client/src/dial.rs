//! Opening the byte stream to the agent: kernel vsock, hybrid vsock or a hypervisor's serial
//! channel socket, with retries until the guest agent listens.

use std::io;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::{timeout_at, Instant};
use tokio_vsock::{VsockAddr, VsockStream};
use ttrpc::r#async::transport::Socket;

use crate::address::AgentAddress;
use crate::error::{Error, Result};

/// Longest handshake reply accepted (`OK <port>\n` is a dozen bytes).
const MAX_REPLY_LEN: usize = 128;

/// How hard [`dial`] tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialOptions {
    /// Overall deadline for reaching the agent.
    pub timeout: Duration,
    /// Upper bound of one attempt (connect plus handshake). A hybrid vsock
    /// device holds a `CONNECT` the guest never answers (e.g. a reset the
    /// guest dropped while its driver came up); a fresh attempt after this
    /// long is cheaper than waiting for it. Over hybrid vsock, dial only after
    /// the guest's readiness signal ([`crate::ReadyListener`]): attempts made
    /// earlier can stall vhost-device-vsock for good.
    pub attempt_timeout: Duration,
    /// Pause after the first failed attempt; doubled after each failure.
    pub initial_backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
}

impl DialOptions {
    /// Defaults suited to a VM booting under TCG, with the given deadline.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            attempt_timeout: Duration::from_secs(2),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
        }
    }
}

/// A connected stream, before ttRPC is layered on it.
pub(crate) enum AgentStream {
    Unix(UnixStream),
    Vsock(VsockStream),
}

impl From<AgentStream> for Socket {
    fn from(s: AgentStream) -> Self {
        match s {
            AgentStream::Unix(s) => Socket::new(s),
            AgentStream::Vsock(s) => Socket::new(s),
        }
    }
}

/// Dials `addr` until it answers or `opts.timeout` passes.
pub(crate) async fn dial(addr: &AgentAddress, opts: &DialOptions) -> Result<AgentStream> {
    let deadline = Instant::now() + opts.timeout;
    let mut backoff = opts.initial_backoff;
    let mut attempts = 0u32;
    let mut last: Option<Error> = None;

    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out(addr, opts, attempts, last));
        }
        attempts += 1;
        let attempt_deadline = deadline.min(now + opts.attempt_timeout);
        match dial_once(addr, attempt_deadline).await {
            Ok(stream) => {
                tracing::debug!(%addr, attempts, "agent channel connected");
                return Ok(stream);
            }
            Err(err) if is_permanent(&err) => return Err(err),
            Err(err) => {
                tracing::trace!(%addr, attempts, error = %err, "agent not reachable yet");
                last = Some(err);
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out(addr, opts, attempts, last));
        }
        tokio::time::sleep(backoff.min(deadline - now)).await;
        backoff = (backoff * 2).min(opts.max_backoff);
    }
}

fn timed_out(addr: &AgentAddress, opts: &DialOptions, attempts: u32, last: Option<Error>) -> Error {
    Error::Timeout {
        addr: addr.to_string(),
        timeout: opts.timeout,
        attempts,
        last: last.map(Box::new),
    }
}

/// No retry helps when the host has no `AF_VSOCK` at all.
fn is_permanent(err: &Error) -> bool {
    matches!(err, Error::VsockConnect { source, .. }
        if source.raw_os_error() == Some(libc::EAFNOSUPPORT))
}

/// One attempt: connect and, for hybrid vsock, handshake, all before
/// `deadline`.
pub(crate) async fn dial_once(addr: &AgentAddress, deadline: Instant) -> Result<AgentStream> {
    match addr {
        AgentAddress::Vsock { cid, port } => {
            let connect = VsockStream::connect(VsockAddr::new(*cid, *port));
            let stream = timeout_at(deadline, connect)
                .await
                .unwrap_or_else(|_| Err(timeout_io("vsock connect")))
                .map_err(|source| Error::VsockConnect {
                    cid: *cid,
                    port: *port,
                    source,
                })?;
            Ok(AgentStream::Vsock(stream))
        }
        AgentAddress::HybridVsock { uds_path, port } => {
            let mut stream = timeout_at(deadline, UnixStream::connect(uds_path))
                .await
                .unwrap_or_else(|_| Err(timeout_io("unix connect")))
                .map_err(|source| Error::ConnectError {
                    path: uds_path.clone(),
                    port: *port,
                    source,
                })?;
            timeout_at(deadline, hybrid_handshake(&mut stream, uds_path, *port))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Handshake {
                        path: uds_path.clone(),
                        port: *port,
                        source: timeout_io("handshake reply"),
                    })
                })?;
            Ok(AgentStream::Unix(stream))
        }
        AgentAddress::Serial { path } => {
            let stream = timeout_at(deadline, UnixStream::connect(path))
                .await
                .unwrap_or_else(|_| Err(timeout_io("unix connect")))
                .map_err(|source| Error::SerialConnect {
                    path: path.clone(),
                    source,
                })?;
            Ok(AgentStream::Unix(stream))
        }
    }
}

fn timeout_io(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// Runs the hybrid vsock handshake on `stream`: sends `CONNECT <port>\n` and
/// requires a reply line starting with `OK `. Reads byte by byte so that no
/// byte after the newline (already ttRPC) is consumed.
pub async fn hybrid_handshake<S>(stream: &mut S, path: &Path, port: u32) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io_err = |source| Error::Handshake {
        path: path.to_path_buf(),
        port,
        source,
    };
    stream
        .write_all(format!("CONNECT {port}\n").as_bytes())
        .await
        .map_err(io_err)?;
    stream.flush().await.map_err(io_err)?;

    let mut line = Vec::with_capacity(16);
    loop {
        let byte = stream.read_u8().await.map_err(io_err)?;
        if byte == b'\n' {
            break;
        }
        line.push(byte);
        if line.len() > MAX_REPLY_LEN {
            return Err(io_err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply longer than {MAX_REPLY_LEN} bytes without newline"),
            )));
        }
    }
    let reply = String::from_utf8_lossy(&line).into_owned();
    if reply.starts_with("OK ") {
        Ok(())
    } else {
        Err(Error::HandshakeRejected {
            path: path.to_path_buf(),
            port,
            reply,
        })
    }
}
