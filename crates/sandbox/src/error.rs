//! Errors of sandbox operations, each with the [`ErrorKind`] a caller maps to a wire status.

use std::path::PathBuf;

/// The class of an error, as the shim reports it to containerd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidArgument,
    FailedPrecondition,
    Unimplemented,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

/// An error reported by the agent in the guest (or by the channel to it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    /// The status class the agent answered with.
    pub kind: ErrorKind,
    pub message: String,
}

/// Longest agent error message kept, in bytes: the guest writes these messages and they end up
/// in the shim's log and in containerd's errors.
pub const AGENT_MESSAGE_MAX: usize = 1024;

impl AgentError {
    /// An error of class `kind`; `message` is cut to [`AGENT_MESSAGE_MAX`] bytes.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > AGENT_MESSAGE_MAX {
            let mut end = AGENT_MESSAGE_MAX;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("... (truncated)");
        }
        Self { kind, message }
    }
}

/// A failed sandbox operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container {0} not found")]
    ContainerNotFound(String),
    #[error("process {exec_id} of container {container_id} not found")]
    ProcessNotFound {
        container_id: String,
        exec_id: String,
    },
    #[error("container {0} already exists")]
    ContainerExists(String),
    #[error("process {exec_id} already exists in container {container_id}")]
    ProcessExists {
        container_id: String,
        exec_id: String,
    },
    #[error("process {0} already finished")]
    ProcessFinished(String),
    #[error("invalid {what}: {reason}")]
    InvalidArgument { what: String, reason: String },
    #[error("process {id} is {state}: cannot {action}")]
    BadState {
        id: String,
        state: &'static str,
        action: &'static str,
    },
    #[error("the sandbox vm is not running")]
    VmNotRunning,
    #[error("the sandbox task has stopped")]
    SandboxGone,
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    #[error("agent call {call} failed")]
    Agent {
        call: &'static str,
        #[source]
        source: AgentError,
    },
    /// The agent did not answer a call within its deadline (see `AgentTimeouts`).
    #[error("agent call {call} for container {container_id} got no answer within {after:?}")]
    AgentDeadline {
        call: &'static str,
        container_id: String,
        after: std::time::Duration,
    },
    #[error("cannot boot the vm of sandbox {sandbox_id}")]
    Boot {
        sandbox_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Growing or shrinking the VM (vCPU/memory hotplug) for its containers' resources failed.
    #[error("cannot resize the vm of sandbox {sandbox_id}")]
    Resize {
        sandbox_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot load the configuration")]
    Config(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot read the oci spec")]
    Spec(#[source] kata_oci::Error),
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to follow the symlink {0}")]
    Symlink(PathBuf),
    #[error("cannot parse the state file {path}")]
    StateParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// The status class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ContainerNotFound(_)
            | Error::ProcessNotFound { .. }
            | Error::ProcessFinished(_) => ErrorKind::NotFound,
            Error::ContainerExists(_) | Error::ProcessExists { .. } => ErrorKind::AlreadyExists,
            Error::InvalidArgument { .. } | Error::Spec(_) | Error::Symlink(_) => {
                ErrorKind::InvalidArgument
            }
            Error::BadState { .. } | Error::VmNotRunning => ErrorKind::FailedPrecondition,
            Error::SandboxGone => ErrorKind::Unavailable,
            Error::Unsupported(_) => ErrorKind::Unimplemented,
            Error::Agent { source, .. } => source.kind,
            Error::AgentDeadline { .. } => ErrorKind::DeadlineExceeded,
            Error::Boot { .. }
            | Error::Resize { .. }
            | Error::Config(_)
            | Error::Io { .. }
            | Error::StateParse { .. } => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn agent(call: &'static str) -> impl FnOnce(AgentError) -> Error {
        move |source| Error::Agent { call, source }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// `e` with its causes, `outer: inner: innermost`, for logs (an error's `Display` names only
/// itself).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_agent_message_is_cut() {
        let e = AgentError::new(ErrorKind::Internal, "é".repeat(4 << 20));
        assert!(
            e.message.len() <= AGENT_MESSAGE_MAX + 20,
            "{}",
            e.message.len()
        );
        assert!(e.message.ends_with("(truncated)"));
        assert_eq!(
            AgentError::new(ErrorKind::Internal, "short").message,
            "short"
        );
    }

    #[test]
    fn kinds_follow_the_variant() {
        assert_eq!(
            Error::ContainerNotFound("c".into()).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            Error::ContainerExists("c".into()).kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            Error::BadState {
                id: "c".into(),
                state: "running",
                action: "delete"
            }
            .kind(),
            ErrorKind::FailedPrecondition
        );
        let agent = Error::Agent {
            call: "WaitProcess",
            source: AgentError::new(ErrorKind::NotFound, "no such process"),
        };
        assert_eq!(agent.kind(), ErrorKind::NotFound);
        assert_eq!(
            Error::Unsupported("checkpoint").kind(),
            ErrorKind::Unimplemented
        );
    }
}
