//! Domain errors to ttRPC status codes.

use ttrpc::Code;

use crate::error::AgentError;

/// The ttRPC code for `err`.
pub fn code_of(err: &AgentError) -> Code {
    match err {
        AgentError::NotFound(_) => Code::NOT_FOUND,
        AgentError::AlreadyExists(_) => Code::ALREADY_EXISTS,
        AgentError::InvalidArgument(_)
        | AgentError::PathEscape { .. }
        | AgentError::Spec { .. } => Code::INVALID_ARGUMENT,
        AgentError::FailedPrecondition(_) => Code::FAILED_PRECONDITION,
        AgentError::Unimplemented(_) => Code::UNIMPLEMENTED,
        AgentError::Timeout(_) => Code::DEADLINE_EXCEEDED,
        AgentError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Code::NOT_FOUND
        }
        AgentError::Io { .. } | AgentError::Container { .. } | AgentError::Internal(_) => {
            Code::INTERNAL
        }
    }
}

/// Converts a domain error into the error a ttRPC handler returns, with the full cause chain.
pub fn to_ttrpc(err: AgentError) -> ttrpc::Error {
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    ttrpc::Error::RpcStatus(ttrpc::get_status(code_of(&err), msg))
}

/// Shorthand for handler results.
pub type RpcResult<T> = ttrpc::Result<T>;

/// Maps a domain result to a handler result.
pub fn map<T>(r: crate::error::Result<T>) -> RpcResult<T> {
    r.map_err(to_ttrpc)
}

/// The answer of an RPC this agent does not implement.
pub fn unimplemented<T>(rpc: &'static str) -> RpcResult<T> {
    Err(to_ttrpc(AgentError::Unimplemented(rpc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(err: AgentError) -> Code {
        match to_ttrpc(err) {
            ttrpc::Error::RpcStatus(s) => s.code(),
            other => panic!("not a status: {other:?}"),
        }
    }

    #[test]
    fn kinds_map_to_codes() {
        assert_eq!(
            code(AgentError::NotFound("container x".into())),
            Code::NOT_FOUND
        );
        assert_eq!(
            code(AgentError::AlreadyExists("container x".into())),
            Code::ALREADY_EXISTS
        );
        assert_eq!(
            code(AgentError::InvalidArgument("bad".into())),
            Code::INVALID_ARGUMENT
        );
        assert_eq!(
            code(AgentError::PathEscape {
                path: "/etc".into(),
                root: "/run".into()
            }),
            Code::INVALID_ARGUMENT
        );
        assert_eq!(
            code(AgentError::Unimplemented("AddSwap")),
            Code::UNIMPLEMENTED
        );
        assert_eq!(
            code(AgentError::FailedPrecondition("eof".into())),
            Code::FAILED_PRECONDITION
        );
        assert_eq!(
            code(AgentError::Timeout("disk".into())),
            Code::DEADLINE_EXCEEDED
        );
        assert_eq!(
            code(AgentError::io(
                "x",
                "/p",
                std::io::Error::from(std::io::ErrorKind::PermissionDenied)
            )),
            Code::INTERNAL
        );
    }

    #[test]
    fn message_carries_the_cause() {
        let err = AgentError::io(
            "reading",
            "/etc/x",
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        match to_ttrpc(err) {
            ttrpc::Error::RpcStatus(s) => {
                assert!(s.message().contains("/etc/x"), "{}", s.message());
                assert!(s.message().contains("denied"), "{}", s.message());
            }
            other => panic!("not a status: {other:?}"),
        }
    }
}
