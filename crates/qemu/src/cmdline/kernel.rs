//! `-kernel`, `-initrd`, `-append`. An uncompressed ELF vmlinux is booted directly (PVH entry).

use kata_hypervisor::VmSpec;

use super::console;

/// The kernel command line QEMU passes: the spec's parameters, plus the serial console when a
/// console log is captured and the parameters name no console.
pub fn kernel_params(spec: &VmSpec) -> String {
    let mut params = spec.boot.kernel_params.trim().to_string();
    if spec.console_log.is_some() && !params.split_whitespace().any(|p| p.starts_with("console=")) {
        if !params.is_empty() {
            params.push(' ');
        }
        params.push_str(console::KERNEL_CONSOLE);
    }
    params
}

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    let mut args = vec![
        "-kernel".into(),
        spec.boot.kernel.to_string_lossy().into_owned(),
    ];
    if let Some(initrd) = &spec.boot.initrd {
        args.extend(["-initrd".into(), initrd.to_string_lossy().into_owned()]);
    }
    let params = kernel_params(spec);
    if !params.is_empty() {
        args.extend(["-append".into(), params]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn kernel_initrd_and_params() {
        let mut s = test_spec();
        s.boot.initrd = Some("/k/initrd.img".into());
        s.boot.kernel_params = "quiet panic=1".into();
        let a = args(&s);
        assert_eq!(values_of(&a, "-kernel"), ["/k/vmlinux"]);
        assert_eq!(values_of(&a, "-initrd"), ["/k/initrd.img"]);
        assert_eq!(values_of(&a, "-append"), ["quiet panic=1"]);
    }

    #[test]
    fn console_param_is_added_with_a_console_log() {
        let mut s = test_spec();
        s.boot.kernel_params = "quiet".into();
        s.console_log = Some("/tmp/console.log".into());
        assert_eq!(kernel_params(&s), "quiet console=ttyS0");
        s.boot.kernel_params = "console=hvc0".into();
        assert_eq!(kernel_params(&s), "console=hvc0");
    }

    #[test]
    fn no_append_without_params() {
        assert!(values_of(&args(&test_spec()), "-append").is_empty());
    }
}
