//! An HTTP/1.1 GET over a shim's management socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::error::ClientError;

/// How long a request may take, connection included, unless [`ShimClient::with_timeout`] says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest body read from a shim (bytes): its metrics are a few hundred kilobytes at most.
const MAX_BODY: usize = 16 << 20;

/// A status and a text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// The client of one sandbox's management socket.
#[derive(Debug, Clone)]
pub struct ShimClient {
    sandbox_id: String,
    socket: PathBuf,
    timeout: Duration,
}

impl ShimClient {
    /// The client of sandbox `sandbox_id`'s socket under `sbs_root` (`/run/vc/sbs` outside tests).
    /// Errors: an id that would leave `sbs_root`.
    pub fn new(sbs_root: &Path, sandbox_id: &str) -> Result<Self, ClientError> {
        if !crate::is_valid_sandbox_id(sandbox_id) {
            return Err(ClientError::InvalidSandboxId(sandbox_id.to_owned()));
        }
        Ok(Self {
            sandbox_id: sandbox_id.to_owned(),
            socket: crate::socket_path(sbs_root, sandbox_id),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Replaces the whole-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn sandbox_id(&self) -> &str {
        &self.sandbox_id
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET endpoint`: any status, the body as text. Errors: no socket (no such sandbox), the
    /// connection or the exchange failing, no answer within the timeout, a non-UTF-8 body.
    pub async fn get(&self, endpoint: &str) -> Result<Response, ClientError> {
        match tokio::time::timeout(self.timeout, self.exchange(endpoint)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout {
                socket: self.socket.clone(),
                endpoint: endpoint.to_owned(),
                after: self.timeout,
            }),
        }
    }

    /// [`Self::get`], and only a 200 is a success: another status is [`ClientError::Status`].
    pub async fn get_text(&self, endpoint: &str) -> Result<String, ClientError> {
        let r = self.get(endpoint).await?;
        if r.status == 200 {
            Ok(r.body)
        } else {
            Err(ClientError::Status {
                socket: self.socket.clone(),
                endpoint: endpoint.to_owned(),
                status: r.status,
                body: r.body.trim_end().to_owned(),
            })
        }
    }

    async fn exchange(&self, endpoint: &str) -> Result<Response, ClientError> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ClientError::NoSandbox {
                    sandbox_id: self.sandbox_id.clone(),
                    socket: self.socket.clone(),
                }
            } else {
                ClientError::Connect {
                    socket: self.socket.clone(),
                    source,
                }
            }
        })?;
        let http = |source| ClientError::Http {
            socket: self.socket.clone(),
            endpoint: endpoint.to_owned(),
            source,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        // Drives the connection while the answer is read; stopped with this call (and on timeout).
        let driver = AbortOnDrop(tokio::spawn(conn));
        let request = hyper::Request::get(endpoint)
            .header(hyper::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .map_err(|source| ClientError::Request {
                socket: self.socket.clone(),
                endpoint: endpoint.to_owned(),
                source,
            })?;
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|source| ClientError::Body {
                socket: self.socket.clone(),
                endpoint: endpoint.to_owned(),
                source,
            })?
            .to_bytes();
        drop(driver);
        let body = String::from_utf8(body.to_vec()).map_err(|_| ClientError::NotUtf8 {
            socket: self.socket.clone(),
            endpoint: endpoint.to_owned(),
        })?;
        Ok(Response { status, body })
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
