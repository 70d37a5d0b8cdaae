//! An async QMP client over a Unix socket. One reader task routes replies to callers by request id
//! and broadcasts events, so commands may be issued concurrently and events are never lost in
//! between replies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{broadcast, oneshot};

use super::commands::{arguments, QmpCapabilities, QmpCommand};
use super::message::{parse_message, QmpEvent, QmpMessage, QmpParseError};

/// Longest QMP line accepted; a longer one closes the connection.
pub const MAX_LINE: u64 = 16 * 1024 * 1024;

/// Default time to wait for a reply.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot connect to qmp socket {path}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no qmp greeting on {path}: {reason}")]
    Greeting { path: PathBuf, reason: String },
    #[error("qmp i/o failed")]
    Io(#[source] std::io::Error),
    #[error("cannot encode arguments of qmp command {command}")]
    Encode {
        command: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("qmp command {command} failed: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
    #[error("cannot decode reply of qmp command {command}")]
    Decode {
        command: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no reply to qmp command {command} within {after:?}")]
    Timeout { command: String, after: Duration },
    #[error("qmp connection closed")]
    Disconnected,
}

type Reply = Result<Value, QmpError>;

#[derive(Default)]
struct Pending {
    waiters: HashMap<u64, (String, oneshot::Sender<Reply>)>,
    closed: bool,
}

struct Inner {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    events: broadcast::Sender<QmpEvent>,
    reply_timeout: Duration,
}

impl Inner {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self) {
        let mut pending = self.pending();
        pending.closed = true;
        for (_, (_, tx)) in pending.waiters.drain() {
            let _ = tx.send(Err(QmpError::Disconnected));
        }
    }
}

/// A connected QMP session (capabilities already negotiated). Cheap to clone.
#[derive(Clone)]
pub struct QmpClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for QmpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QmpClient").finish_non_exhaustive()
    }
}

async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
) -> std::io::Result<bool> {
    buf.clear();
    let n = reader.take(MAX_LINE).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') && n as u64 == MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "qmp line too long",
        ));
    }
    Ok(true)
}

impl QmpClient {
    /// Connects to `path`, reads the greeting and negotiates capabilities.
    pub async fn connect(path: &Path, reply_timeout: Duration) -> Result<Self, QmpError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| QmpError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let (read, write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut line = Vec::new();
        let greeting = tokio::time::timeout(reply_timeout, read_line(&mut reader, &mut line))
            .await
            .map_err(|_| QmpError::Greeting {
                path: path.to_path_buf(),
                reason: format!("nothing within {reply_timeout:?}"),
            })?;
        let reason = match greeting {
            Ok(true) => match parse_message(&line) {
                Ok(QmpMessage::Greeting { .. }) => None,
                Ok(other) => Some(format!("unexpected message {other:?}")),
                Err(e) => Some(e.to_string()),
            },
            Ok(false) => Some("connection closed".to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = reason {
            return Err(QmpError::Greeting {
                path: path.to_path_buf(),
                reason,
            });
        }
        let (events, _) = broadcast::channel(64);
        let inner = Arc::new(Inner {
            writer: tokio::sync::Mutex::new(write),
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU64::new(1),
            events,
            reply_timeout,
        });
        tokio::spawn(read_loop(reader, Arc::clone(&inner)));
        let client = QmpClient { inner };
        client.execute(&QmpCapabilities).await?;
        Ok(client)
    }

    /// Events from now on (`SHUTDOWN`, `DEVICE_DELETED`, ...).
    pub fn events(&self) -> broadcast::Receiver<QmpEvent> {
        self.inner.events.subscribe()
    }

    /// Ends the session: shuts the connection's write side, so QEMU closes it and serves the
    /// next client (its QMP monitor serves one at a time); waits up to `reply_timeout` for that.
    pub async fn disconnect(&self) {
        use tokio::io::AsyncWriteExt;
        let _ = self.inner.writer.lock().await.shutdown().await;
        let deadline = tokio::time::Instant::now() + self.inner.reply_timeout;
        while !self.is_closed() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.pending().closed
    }

    /// Runs a typed command and decodes its reply.
    pub async fn execute<C: QmpCommand>(&self, cmd: &C) -> Result<C::Reply, QmpError> {
        let args = arguments(cmd).map_err(|source| QmpError::Encode {
            command: C::NAME,
            source,
        })?;
        let value = self.execute_raw(C::NAME, args).await?;
        serde_json::from_value(value).map_err(|source| QmpError::Decode {
            command: C::NAME.to_string(),
            source,
        })
    }

    /// Runs any command with JSON arguments and returns the raw `return` value.
    pub async fn execute_raw(&self, command: &str, arguments: Option<Value>) -> Reply {
        self.request(command, arguments, None).await
    }

    /// Hands QEMU the open descriptor `fd` under `name` (`getfd`, the descriptor travels as
    /// `SCM_RIGHTS` with the command), for a later command to name it (`netdev_add tap,fd=name`).
    /// QEMU keeps its own copy; the caller may close `fd` afterwards.
    pub async fn send_fd(
        &self,
        name: &str,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> Result<(), QmpError> {
        self.request("getfd", Some(json!({ "fdname": name })), Some(fd))
            .await
            .map(|_| ())
    }

    async fn request(
        &self,
        command: &str,
        arguments: Option<Value>,
        fd: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Reply {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.inner.pending();
            if pending.closed {
                return Err(QmpError::Disconnected);
            }
            pending.waiters.insert(id, (command.to_string(), tx));
        }
        let mut request = json!({ "execute": command, "id": id });
        if let Some(args) = arguments {
            request["arguments"] = args;
        }
        let mut bytes = request.to_string().into_bytes();
        bytes.push(b'\n');
        let written = {
            let mut writer = self.inner.writer.lock().await;
            match fd {
                Some(fd) => write_with_fd(&mut writer, &bytes, fd).await,
                None => writer.write_all(&bytes).await,
            }
        };
        if let Err(e) = written {
            self.inner.pending().waiters.remove(&id);
            return Err(QmpError::Io(e));
        }
        match tokio::time::timeout(self.inner.reply_timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(QmpError::Disconnected),
            Err(_) => {
                self.inner.pending().waiters.remove(&id);
                Err(QmpError::Timeout {
                    command: command.to_string(),
                    after: self.inner.reply_timeout,
                })
            }
        }
    }
}

/// Writes `bytes` with `fd` attached to the first byte (`SCM_RIGHTS`), the rest plainly.
async fn write_with_fd(
    writer: &mut OwnedWriteHalf,
    bytes: &[u8],
    fd: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::os::fd::AsRawFd;
    let raw = [fd.as_raw_fd()];
    let stream: &UnixStream = writer.as_ref();
    let sent = loop {
        stream.writable().await?;
        let attempt = stream.try_io(tokio::io::Interest::WRITABLE, || {
            sendmsg::<()>(
                stream.as_raw_fd(),
                &[std::io::IoSlice::new(bytes)],
                &[ControlMessage::ScmRights(&raw)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .map_err(std::io::Error::from)
        });
        match attempt {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    };
    writer.write_all(&bytes[sent..]).await
}

fn dispatch(inner: &Inner, line: &[u8]) -> Result<(), QmpParseError> {
    let (id, reply) = match parse_message(line)? {
        QmpMessage::Event(ev) => {
            // No subscriber is fine.
            let _ = inner.events.send(ev);
            return Ok(());
        }
        QmpMessage::Greeting { .. } => return Ok(()),
        QmpMessage::Return { id, value } => (id, Ok(value)),
        QmpMessage::Error { id, class, desc } => (id, Err((class, desc))),
    };
    let Some(id) = id else {
        tracing::warn!("qmp reply without id ignored");
        return Ok(());
    };
    let waiter = inner.pending().waiters.remove(&id);
    if let Some((command, tx)) = waiter {
        let reply = reply.map_err(|(class, desc)| QmpError::Command {
            command,
            class,
            desc,
        });
        let _ = tx.send(reply);
    }
    Ok(())
}

async fn read_loop<R: AsyncRead + Unpin>(mut reader: BufReader<R>, inner: Arc<Inner>) {
    let mut line = Vec::new();
    loop {
        match read_line(&mut reader, &mut line).await {
            Ok(true) => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let Err(e) = dispatch(&inner, &line) {
                    tracing::warn!(error = %e, "unparsable qmp message ignored");
                }
            }
            Ok(false) => break,
            // QEMU going away resets the socket: the end of every VM, not a fault.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                tracing::debug!(error = %e, "qmp connection closed by qemu");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "qmp read failed");
                break;
            }
        }
    }
    inner.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qmp::commands::{DeviceDel, QueryStatus, Quit};
    use tokio::net::UnixListener;

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}"#;

    /// A scripted QMP server: answers each request with `respond(name, id)`; `None` = no answer.
    async fn fake_server(
        dir: &Path,
        respond: impl Fn(&str, u64) -> Vec<String> + Send + 'static,
    ) -> (PathBuf, tokio::task::JoinHandle<Vec<Value>>) {
        let path = dir.join("qmp.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let handle = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let (read, mut write) = stream.into_split();
            write
                .write_all(format!("{GREETING}\n").as_bytes())
                .await
                .expect("greet");
            let mut lines = BufReader::new(read).lines();
            let mut seen = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let req: Value = serde_json::from_str(&line).expect("request is json");
                let name = req["execute"].as_str().unwrap_or_default().to_string();
                let id = req["id"].as_u64().unwrap_or_default();
                seen.push(req);
                for out in respond(&name, id) {
                    if write
                        .write_all(format!("{out}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                if name == "quit" {
                    break;
                }
            }
            seen
        });
        (path, handle)
    }

    fn ok(id: u64, value: &str) -> String {
        format!(r#"{{"return": {value}, "id": {id}}}"#)
    }

    #[tokio::test]
    async fn negotiates_and_runs_typed_commands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, server) = fake_server(dir.path(), |name, id| match name {
            "query-status" => vec![
                // An event between request and reply must not confuse the client.
                r#"{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}"#.into(),
                ok(id, r#"{"running": true, "status": "running"}"#),
            ],
            _ => vec![ok(id, "{}")],
        })
        .await;
        let client = QmpClient::connect(&path, Duration::from_secs(5))
            .await
            .expect("connect");
        let mut events = client.events();
        let status = client.execute(&QueryStatus).await.expect("query-status");
        assert!(status.running);
        assert_eq!(status.status, "running");
        assert_eq!(events.recv().await.expect("event").name, "RESUME");
        client.execute(&Quit).await.expect("quit");
        let seen = server.await.expect("server");
        let names: Vec<_> = seen.iter().map(|r| r["execute"].clone()).collect();
        assert_eq!(
            names,
            [
                json!("qmp_capabilities"),
                json!("query-status"),
                json!("quit")
            ]
        );
        assert!(seen[1].get("arguments").is_none());
    }

    #[tokio::test]
    async fn error_replies_carry_class_and_description() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _server) = fake_server(dir.path(), |name, id| match name {
            "device_del" => vec![format!(
                r#"{{"id": {id}, "error": {{"class": "DeviceNotFound", "desc": "Device 'nope' not found"}}}}"#
            )],
            _ => vec![ok(id, "{}")],
        })
        .await;
        let client = QmpClient::connect(&path, Duration::from_secs(5))
            .await
            .expect("connect");
        let err = client
            .execute(&DeviceDel { id: "nope".into() })
            .await
            .expect_err("must fail");
        let text = err.to_string();
        assert!(
            text.contains("device_del") && text.contains("DeviceNotFound"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn missing_reply_times_out_and_close_fails_pending() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, server) = fake_server(dir.path(), |name, id| match name {
            "qmp_capabilities" => vec![ok(id, "{}")],
            _ => vec![],
        })
        .await;
        let client = QmpClient::connect(&path, Duration::from_millis(200))
            .await
            .expect("connect");
        let err = client.execute(&QueryStatus).await.expect_err("timeout");
        assert!(matches!(err, QmpError::Timeout { .. }), "{err}");
        // The server stops after `quit`; the client then sees the connection closed.
        let _ = client.execute(&Quit).await;
        server.await.expect("server");
        for _ in 0..50 {
            if client.is_closed() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(client.is_closed());
        assert!(matches!(
            client.execute(&QueryStatus).await,
            Err(QmpError::Disconnected)
        ));
    }

    #[tokio::test]
    async fn non_qmp_peer_is_refused_at_greeting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let _ = stream.write_all(b"hello\n").await;
        });
        let err = QmpClient::connect(&path, Duration::from_secs(5))
            .await
            .expect_err("must fail");
        assert!(matches!(err, QmpError::Greeting { .. }), "{err}");
    }

    #[tokio::test]
    async fn missing_socket_names_the_path() {
        let err = QmpClient::connect(Path::new("/nonexistent/qmp.sock"), Duration::from_secs(1))
            .await
            .expect_err("must fail");
        assert!(err.to_string().contains("/nonexistent/qmp.sock"));
    }
}
