//! The serial console, captured to a log file for diagnostics.

use kata_hypervisor::VmSpec;

use super::escape_path;

/// The kernel parameter that sends the console to the first serial port.
pub const KERNEL_CONSOLE: &str = "console=ttyS0";

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    match &spec.console_log {
        Some(log) => vec![
            "-chardev".into(),
            format!("file,id=console0,path={}", escape_path(log)),
            "-serial".into(),
            "chardev:console0".into(),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn serial_goes_to_a_file() {
        let mut s = test_spec();
        s.console_log = Some("/run/a,b/console.log".into());
        let a = args(&s);
        assert_eq!(
            values_of(&a, "-chardev"),
            ["file,id=console0,path=/run/a,,b/console.log"]
        );
        assert_eq!(values_of(&a, "-serial"), ["chardev:console0"]);
    }

    #[test]
    fn no_console_without_a_log() {
        assert!(args(&test_spec()).is_empty());
    }
}
