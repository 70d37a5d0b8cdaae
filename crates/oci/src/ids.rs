//! Sandbox, container and exec ids, checked before they name host paths (`/run/vc/sbs/<sid>`,
//! `/run/kata-containers/shared/sandboxes/<sid>/mounts/<cid>`, ...).
//!
//! The rule is containerd's (`identifiers.Validate` of containerd 1.x): runs of ASCII letters
//! and digits joined by single `.`, `_` or `-`, at most 76 characters. Such an id is never empty,
//! never `.` or `..`, and holds no `/`, so it is always exactly one path component.

/// Longest id containerd 1.x accepts, in bytes (all allowed characters are ASCII).
pub const MAX_ID_LEN: usize = 76;

/// What was wrong with an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} {id:?} is longer than {MAX_ID_LEN} characters")]
    TooLong { what: &'static str, id: String },
    #[error(
        "{what} {id:?} must be letters and digits joined by single '.', '_' or '-' \
         (containerd's identifier rule)"
    )]
    Invalid { what: &'static str, id: String },
}

/// Checks `id` against containerd's identifier rule; `what` names it in the error
/// (`"sandbox id"`, `"container id"`, `"exec id"`).
pub fn validate_id(what: &'static str, id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty { what });
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            what,
            id: id.to_owned(),
        });
    }
    let is_sep = |b: u8| matches!(b, b'.' | b'_' | b'-');
    let bytes = id.as_bytes();
    let chars_ok = bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || is_sep(b));
    let ends_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    let no_double_sep = !bytes.windows(2).any(|w| is_sep(w[0]) && is_sep(w[1]));
    if chars_ok && ends_ok && no_double_sep {
        Ok(())
    } else {
        Err(IdError::Invalid {
            what,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_ids_pass() {
        for id in [
            "a",
            "0",
            "pod1",
            "pod1-app",
            "my_pod.v2-3",
            "7f3e9c0d5b1a4e2f8c6d0a9b3e5f7c1d2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d",
            &"x".repeat(MAX_ID_LEN),
        ] {
            assert_eq!(validate_id("container id", id), Ok(()), "{id}");
        }
    }

    #[test]
    fn path_like_ids_fail_naming_the_id() {
        for id in [
            "../x",
            "a/b",
            "..",
            ".",
            "/etc",
            "../../etc",
            "a..b",
            "-a",
            "a-",
            "a b",
            "a\0b",
            "é",
        ] {
            let err = validate_id("sandbox id", id).expect_err(id);
            assert!(err.to_string().contains("sandbox id"), "{err}");
            assert!(err.to_string().contains(&format!("{id:?}")), "{err}");
        }
    }

    #[test]
    fn empty_and_77_characters_fail() {
        assert_eq!(
            validate_id("exec id", ""),
            Err(IdError::Empty { what: "exec id" })
        );
        let long = "x".repeat(MAX_ID_LEN + 1);
        let err = validate_id("exec id", &long).expect_err("too long");
        assert!(matches!(err, IdError::TooLong { .. }), "{err}");
    }
}
