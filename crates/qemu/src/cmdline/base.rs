//! Flags every VM gets: no default devices, no display, no user config, exit instead of reboot.

use kata_hypervisor::VmSpec;

use super::{escape, CmdlineError};

pub(super) fn args(spec: &VmSpec) -> Result<Vec<String>, CmdlineError> {
    if spec.id.is_empty() {
        return Err(CmdlineError::Empty { what: "sandbox id" });
    }
    Ok(vec![
        "-name".into(),
        format!("sandbox-{}", escape(&spec.id)),
        "-nodefaults".into(),
        "-nographic".into(),
        "-no-user-config".into(),
        "-no-reboot".into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn name_carries_the_sandbox_id() {
        let a = args(&test_spec()).expect("args");
        assert_eq!(values_of(&a, "-name"), ["sandbox-pod1"]);
    }

    #[test]
    fn empty_id_is_refused() {
        let mut s = test_spec();
        s.id.clear();
        assert!(args(&s).is_err());
    }
}
