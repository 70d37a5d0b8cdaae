//! Errors of daemon supervision; each names the binary and the socket at fault.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{name} not found at {default} nor in $PATH")]
    BinaryNotFound {
        name: &'static str,
        default: PathBuf,
    },
    #[error("configured {name} binary {path} does not exist")]
    ConfiguredBinaryMissing { name: &'static str, path: PathBuf },
    #[error("cannot remove stale socket {socket} before starting {binary}")]
    StaleSocket {
        binary: PathBuf,
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {binary}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{binary} exited before creating socket {socket} ({exit}); stderr: {stderr}")]
    EarlyExit {
        binary: PathBuf,
        socket: PathBuf,
        exit: String,
        stderr: String,
    },
    #[error("{binary} did not create socket {socket} within {after:?}")]
    SocketTimeout {
        binary: PathBuf,
        socket: PathBuf,
        after: Duration,
    },
    #[error("cannot prepare the confinement of {binary}")]
    Confine {
        binary: PathBuf,
        #[source]
        source: crate::confine::ConfineError,
    },
    #[error("cannot let {binary} connect to {socket}")]
    AllowConnect {
        binary: PathBuf,
        socket: PathBuf,
        #[source]
        source: crate::user::UserError,
    },
    #[error("invalid {what} {value:?} for {binary}")]
    InvalidArgument {
        binary: PathBuf,
        what: &'static str,
        value: String,
    },
}
