//! Domain errors of the agent. The ttRPC edge (`rpc::status`) maps each kind to a ttRPC code.

use std::path::PathBuf;

/// What went wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A container, process or storage named in the request does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The object to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The request itself is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The object is in a state that does not allow the operation.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// A path would leave the directory it is confined to.
    #[error("path {path} escapes {root}")]
    PathEscape { path: PathBuf, root: PathBuf },
    /// The operation is not implemented by this agent.
    #[error("{0} is not implemented")]
    Unimplemented(&'static str),
    /// A system call or file operation failed.
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// libcontainer refused or failed.
    #[error("container {id}: {what}")]
    Container {
        id: String,
        what: &'static str,
        #[source]
        source: Box<libcontainer::error::LibcontainerError>,
    },
    /// A field of the OCI spec cannot be honoured (names the container, the field and why).
    #[error("container {id}: {field} {value}: {cause}")]
    Spec {
        id: String,
        field: String,
        value: String,
        cause: String,
    },
    /// A device did not show up in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl AgentError {
    /// An I/O error on `path` while doing `what`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AgentError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// libcontainer failed doing `what` for container `id`.
    pub fn container(
        id: &str,
        what: &'static str,
        source: libcontainer::error::LibcontainerError,
    ) -> Self {
        AgentError::Container {
            id: id.to_string(),
            what,
            source: Box::new(source),
        }
    }

    /// A nix errno error on `path` while doing `what`.
    pub fn errno(what: &'static str, path: impl Into<PathBuf>, errno: nix::errno::Errno) -> Self {
        Self::io(what, path, std::io::Error::from(errno))
    }
}

pub type Result<T, E = AgentError> = std::result::Result<T, E>;
