//! Errors of the management socket client.

use std::path::PathBuf;
use std::time::Duration;

/// Why a request to a shim's management socket failed; each names the socket, and the
/// endpoint when one was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid sandbox id {0:?}")]
    InvalidSandboxId(String),
    #[error("no sandbox {sandbox_id}: {} not found", socket.display())]
    NoSandbox { sandbox_id: String, socket: PathBuf },
    #[error("cannot connect to {}", socket.display())]
    Connect {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("GET {endpoint} on {}", socket.display())]
    Http {
        socket: PathBuf,
        endpoint: String,
        #[source]
        source: hyper::Error,
    },
    #[error("GET {endpoint} on {}: bad request", socket.display())]
    Request {
        socket: PathBuf,
        endpoint: String,
        #[source]
        source: hyper::http::Error,
    },
    #[error("GET {endpoint} on {}: reading the body", socket.display())]
    Body {
        socket: PathBuf,
        endpoint: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("GET {endpoint} on {}: the body is not UTF-8", socket.display())]
    NotUtf8 { socket: PathBuf, endpoint: String },
    #[error("GET {endpoint} on {}: no answer within {after:?}", socket.display())]
    Timeout {
        socket: PathBuf,
        endpoint: String,
        after: Duration,
    },
    #[error("GET {endpoint} on {}: status {status}: {body}", socket.display())]
    Status {
        socket: PathBuf,
        endpoint: String,
        status: u16,
        body: String,
    },
}
