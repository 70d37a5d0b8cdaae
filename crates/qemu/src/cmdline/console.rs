//! The serial console: a socket QEMU finds on a descriptor the driver passes (see
//! [`crate::console`], which keeps the output bounded in the spec's `console_log`).

use kata_hypervisor::VmSpec;

use crate::console::CONSOLE_FD;

/// The kernel parameter that sends the console to the first serial port.
pub const KERNEL_CONSOLE: &str = "console=ttyS0";

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    match &spec.console_log {
        Some(_) => vec![
            "-chardev".into(),
            format!("socket,id=console0,fd={CONSOLE_FD}"),
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
    fn serial_goes_to_the_passed_socket_never_to_a_file() {
        let mut s = test_spec();
        s.console_log = Some("/run/a,b/console.log".into());
        let a = args(&s);
        assert_eq!(values_of(&a, "-chardev"), ["socket,id=console0,fd=3"]);
        assert_eq!(values_of(&a, "-serial"), ["chardev:console0"]);
        assert!(!a.iter().any(|x| x.contains("file,")), "{a:?}");
    }

    #[test]
    fn no_console_without_a_log() {
        assert!(args(&test_spec()).is_empty());
    }
}
