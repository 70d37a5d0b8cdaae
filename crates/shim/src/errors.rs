//! Domain errors to ttRPC statuses with their real codes.

use containerd_shim::protos::ttrpc::{self, Code};
use kata_sandbox::{Error, ErrorKind};

/// The ttRPC code of a sandbox error kind.
pub fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::NotFound => Code::NOT_FOUND,
        ErrorKind::AlreadyExists => Code::ALREADY_EXISTS,
        ErrorKind::InvalidArgument => Code::INVALID_ARGUMENT,
        ErrorKind::FailedPrecondition => Code::FAILED_PRECONDITION,
        ErrorKind::Unimplemented => Code::UNIMPLEMENTED,
        ErrorKind::Unavailable => Code::UNAVAILABLE,
        ErrorKind::DeadlineExceeded => Code::DEADLINE_EXCEEDED,
        ErrorKind::Internal => Code::INTERNAL,
    }
}

/// The message with its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        cur = s.source();
    }
    msg
}

/// A ttRPC status for `e`.
pub fn status(code: Code, msg: impl Into<String>) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.into()))
}

/// Converts a sandbox error into a ttRPC status.
pub fn to_ttrpc(e: Error) -> ttrpc::Error {
    status(code_of(e.kind()), chain(&e))
}

pub fn invalid(msg: impl Into<String>) -> ttrpc::Error {
    status(Code::INVALID_ARGUMENT, msg)
}

pub fn unimplemented(what: &str) -> ttrpc::Error {
    status(
        Code::UNIMPLEMENTED,
        format!("{what} is not supported by kata"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: ttrpc::Error) -> Code {
        match e {
            ttrpc::Error::RpcStatus(s) => s.code(),
            other => panic!("not a status: {other:?}"),
        }
    }

    #[test]
    fn domain_errors_keep_their_code() {
        assert_eq!(
            code(to_ttrpc(Error::ContainerNotFound("c".into()))),
            Code::NOT_FOUND
        );
        assert_eq!(
            code(to_ttrpc(Error::ContainerExists("c".into()))),
            Code::ALREADY_EXISTS
        );
        assert_eq!(
            code(to_ttrpc(Error::InvalidArgument {
                what: "exec id".into(),
                reason: "empty".into()
            })),
            Code::INVALID_ARGUMENT
        );
        assert_eq!(
            code(to_ttrpc(Error::VmNotRunning)),
            Code::FAILED_PRECONDITION
        );
        assert_eq!(code(to_ttrpc(Error::Unsupported("x"))), Code::UNIMPLEMENTED);
        assert_eq!(code(to_ttrpc(Error::SandboxGone)), Code::UNAVAILABLE);
        assert_eq!(code(unimplemented("checkpoint")), Code::UNIMPLEMENTED);
    }

    #[test]
    fn agent_codes_and_causes_pass_through() {
        let e = Error::Agent {
            call: "StartContainer",
            source: kata_sandbox::AgentError::new(ErrorKind::NotFound, "no container c1"),
        };
        match to_ttrpc(e) {
            ttrpc::Error::RpcStatus(s) => {
                assert_eq!(s.code(), Code::NOT_FOUND);
                assert_eq!(
                    s.message(),
                    "agent call StartContainer failed: no container c1"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
