//! QEMU's own seccomp filter (`-sandbox`), Kata's `seccompsandbox` key.
//!
//! The value is QEMU's option string as the configuration gives it, e.g.
//! `on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny`. An absent or empty
//! value adds no `-sandbox` (Kata's Go runtime does the same with an empty `seccompsandbox`).
//! QEMU installs the filter once its devices are set up, before it runs the guest: a QEMU
//! compromised by the guest afterwards cannot execve, fork, change its ids or call obsolete
//! system calls. Under `spawn=deny`, QMP commands that run programs (`migrate exec:`) fail.

use kata_hypervisor::VmSpec;

use super::CmdlineError;

pub(super) fn args(spec: &VmSpec) -> Result<Vec<String>, CmdlineError> {
    let Some(value) = spec.seccomp_sandbox.as_deref().map(str::trim) else {
        return Ok(Vec::new());
    };
    if value.is_empty() {
        return Ok(Vec::new());
    }
    // The first element switches the filter: `on` or `off` (QEMU refuses anything else).
    let first = value.split(',').next().unwrap_or_default();
    if !matches!(first, "on" | "off") || value.chars().any(char::is_whitespace) {
        return Err(CmdlineError::InvalidSandbox {
            value: value.to_string(),
        });
    }
    Ok(vec!["-sandbox".into(), value.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{build, test_spec, values_of};
    use std::path::Path;

    const KATA: &str = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

    #[test]
    fn sandbox_value_reaches_qemu() {
        let mut s = test_spec();
        s.seccomp_sandbox = Some(KATA.into());
        let a = build(&s, Path::new("/q")).expect("build");
        assert_eq!(values_of(&a, "-sandbox"), [KATA]);
    }

    #[test]
    fn absent_or_empty_value_means_no_sandbox() {
        let mut s = test_spec();
        assert!(args(&s).expect("args").is_empty());
        s.seccomp_sandbox = Some(String::new());
        assert!(args(&s).expect("args").is_empty());
    }

    #[test]
    fn a_value_qemu_would_refuse_is_an_error_naming_it() {
        let mut s = test_spec();
        s.seccomp_sandbox = Some("yes please".into());
        let err = build(&s, Path::new("/q")).expect_err("refused");
        assert!(err.to_string().contains("yes please"), "{err}");
    }
}
