//! The QEMU command line, one small module per device family. Each module turns its part of a
//! [`VmSpec`] into arguments; [`build`] validates the spec and concatenates them in a fixed order.

mod accel;
mod balloon;
mod base;
mod block;
mod bridge;
mod console;
mod cpu;
mod kernel;
mod machine;
mod mem_backend;
mod memory;
pub(crate) mod net;
mod qmp;
mod rng;
mod sandbox;
mod serial;
mod sharedfs;
mod template;
mod vsock;

use std::path::Path;

use kata_hypervisor::VmSpec;

pub use block::{block_device_args, blockdev_add_args};
pub use machine::root_bus;
pub use net::net_device_args;

/// A spec the command line cannot express.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CmdlineError {
    #[error("invalid device id {id:?}: must start with a letter and hold only letters, digits, '-', '.', '_'")]
    InvalidId { id: String },
    #[error("duplicate device id {id:?}")]
    DuplicateId { id: String },
    #[error("invalid vcpus {vcpus} (max vcpus {max_vcpus}): need 1 <= vcpus <= max vcpus")]
    InvalidVcpus { vcpus: u32, max_vcpus: u32 },
    #[error("invalid memory size {size_mib} MiB (max {max_mib} MiB)")]
    InvalidMemory { size_mib: u32, max_mib: u32 },
    #[error("invalid mac address {mac:?} for device {id:?}")]
    InvalidMac { id: String, mac: String },
    #[error("empty {what} is not allowed")]
    Empty { what: &'static str },
    #[error("invalid seccompsandbox value {value:?}: must be a qemu -sandbox option string starting with on or off")]
    InvalidSandbox { value: String },
    #[error("guest ram mapped private copy-on-write (a template clone) cannot be shared with vhost-user devices")]
    PrivateMemoryShared,
}

/// Escapes a value for a QEMU `key=value,...` option string (a comma is written twice).
pub fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

/// Escapes a path for a QEMU option string.
pub fn escape_path(path: &Path) -> String {
    escape(&path.to_string_lossy())
}

/// Checks a QEMU object/device id: a letter, then letters, digits, `-`, `.`, `_`.
pub fn check_id(id: &str) -> Result<(), CmdlineError> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(CmdlineError::InvalidId { id: id.to_string() })
    }
}

fn check_unique_ids(spec: &VmSpec) -> Result<(), CmdlineError> {
    let mut seen = std::collections::HashSet::new();
    let ids = spec
        .block_devices
        .iter()
        .map(|b| b.id.as_str())
        .chain(spec.net_devices.iter().map(|n| n.id.as_str()));
    for id in ids {
        check_id(id)?;
        if !seen.insert(id) {
            return Err(CmdlineError::DuplicateId { id: id.to_string() });
        }
    }
    Ok(())
}

/// Builds QEMU's arguments (without the program) for `spec`, with QMP served on `qmp_socket`.
pub fn build(spec: &VmSpec, qmp_socket: &Path) -> Result<Vec<String>, CmdlineError> {
    check_unique_ids(spec)?;
    let mut args = base::args(spec)?;
    args.extend(sandbox::args(spec)?);
    args.extend(machine::args(spec)?);
    args.extend(accel::args(spec));
    args.extend(with_cpu_features(cpu::args(spec)?, &spec.cpu_features));
    args.extend(memory::args(spec)?);
    args.extend(kernel::args(spec));
    args.extend(console::args(spec));
    args.extend(qmp::args(qmp_socket));
    args.extend(bridge::args(spec));
    args.extend(vsock::args(spec));
    args.extend(serial::args(spec));
    args.extend(sharedfs::args(spec));
    args.extend(block::args(spec));
    args.extend(net::args(spec)?);
    args.extend(rng::args(spec));
    args.extend(balloon::args(spec));
    args.extend(template::args(spec));
    args.extend(spec.extra_args.iter().cloned());
    Ok(args)
}

/// Appends `features` (Kata's `cpu_features`, `key=value,...`) to the model of `-cpu`, as
/// Kata's QEMU driver does whatever the model.
fn with_cpu_features(mut args: Vec<String>, features: &str) -> Vec<String> {
    let features = features.trim().trim_matches(',');
    if features.is_empty() {
        return args;
    }
    let model = args
        .iter()
        .position(|a| a == "-cpu")
        .and_then(|i| args.get_mut(i + 1));
    if let Some(model) = model {
        model.push(',');
        model.push_str(features);
    }
    args
}

/// Finds `flag` in `args` and returns the argument that follows each occurrence.
#[cfg(test)]
pub(crate) fn values_of<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

#[cfg(test)]
pub(crate) fn test_spec() -> VmSpec {
    VmSpec::minimal(
        "pod1",
        "/usr/bin/qemu-system-x86_64",
        "/k/vmlinux",
        "/run/kata/pod1",
        kata_hypervisor::Accelerator::tcg(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kata_hypervisor::{BlockDevice, DiskFormat};

    #[test]
    fn escape_doubles_commas() {
        assert_eq!(escape("a,b"), "a,,b");
        assert_eq!(escape_path(Path::new("/x,y/z")), "/x,,y/z");
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("blk-0.a_b").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id("0abc").is_err());
        assert!(check_id("a,b").is_err());
    }

    #[test]
    fn minimal_spec_has_the_fixed_flags() {
        let args = build(&test_spec(), Path::new("/run/q.sock")).expect("build");
        for flag in ["-nodefaults", "-nographic", "-no-user-config", "-no-reboot"] {
            assert!(args.iter().any(|a| a == flag), "{flag} missing in {args:?}");
        }
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let mut spec = test_spec();
        let disk = BlockDevice {
            id: "d".into(),
            path: "/x".into(),
            format: DiskFormat::Raw,
            read_only: false,
        };
        spec.block_devices = vec![disk.clone(), disk];
        assert_eq!(
            build(&spec, Path::new("/q")),
            Err(CmdlineError::DuplicateId { id: "d".into() })
        );
    }

    #[test]
    fn cpu_features_follow_the_model() {
        let mut spec = test_spec();
        spec.cpu_features = "pmu=off,+x2apic".into();
        let args = build(&spec, Path::new("/q")).expect("build");
        assert_eq!(values_of(&args, "-cpu"), ["qemu64,pmu=off,+x2apic"]);
        spec.cpu_features = " ".into();
        let args = build(&spec, Path::new("/q")).expect("build");
        assert_eq!(values_of(&args, "-cpu"), ["qemu64"]);
    }

    #[test]
    fn machine_accelerators_follow_the_machine_type() {
        let mut spec = test_spec();
        spec.machine_options = "smm=off".into();
        let args = build(&spec, Path::new("/q")).expect("build");
        assert_eq!(values_of(&args, "-machine"), ["q35,smm=off"]);
    }

    #[test]
    fn extra_args_come_last() {
        let mut spec = test_spec();
        spec.extra_args = vec!["-S".into()];
        let args = build(&spec, Path::new("/q")).expect("build");
        assert_eq!(args.last().map(String::as_str), Some("-S"));
    }
}
