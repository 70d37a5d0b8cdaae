//! Process environment variables.

use serde::Serialize;

use crate::error::{Error, Result};

/// One `NAME=VALUE` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// Splits `NAME=VALUE` strings; a string without `=` or with an empty name is an error.
///
/// Everything after the first `=` is the value, with surrounding single quotes and spaces
/// trimmed (as Kata does for values quoted by shell-like tooling).
pub fn validate_env<S: AsRef<str>>(env: &[S]) -> Result<Vec<EnvVar>> {
    env.iter()
        .map(|entry| {
            let entry = entry.as_ref();
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| Error::EnvNoEquals(entry.to_owned()))?;
            if name.is_empty() {
                return Err(Error::EnvEmptyName(entry.to_owned()));
            }
            Ok(EnvVar {
                name: name.to_owned(),
                value: value.trim_matches(|c| c == '\'' || c == ' ').to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_first_equals() {
        let v = validate_env(&["PATH=/usr/bin:/bin", "A=b=c", "EMPTY=", "Q=' x '"]).expect("ok");
        assert_eq!(v[0].name, "PATH");
        assert_eq!(v[0].value, "/usr/bin:/bin");
        assert_eq!((v[1].name.as_str(), v[1].value.as_str()), ("A", "b=c"));
        assert_eq!(v[2].value, "");
        assert_eq!(v[3].value, "x");
    }

    #[test]
    fn missing_equals_names_the_variable() {
        let err = validate_env(&["GOOD=1", "NOEQUALS"]).expect_err("bad");
        assert!(matches!(err, Error::EnvNoEquals(ref v) if v == "NOEQUALS"));
        assert!(err.to_string().contains("NOEQUALS"));
    }

    #[test]
    fn empty_name_names_the_variable() {
        let err = validate_env(&["=value"]).expect_err("bad");
        assert!(matches!(err, Error::EnvEmptyName(_)));
        assert!(err.to_string().contains("=value"));
    }

    #[test]
    fn empty_list_is_fine() {
        assert!(validate_env::<&str>(&[]).expect("ok").is_empty());
    }
}
