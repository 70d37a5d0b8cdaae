//! `linux.devices` in a guest: a node can only be given to the container when the guest kernel
//! itself provides that device. Block devices would need hot-plugging (not supported yet).

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::diagnose::spec_error;
use crate::error::Result;

/// Whether `spec` is a privileged container's: `CAP_SYS_ADMIN` in the bounding set and a device
/// cgroup rule allowing every device (what `--privileged` and CRI's `privileged` give).
fn privileged(spec: &Spec) -> bool {
    let sys_admin = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .is_some_and(|b| b.contains(&oci_spec::runtime::Capability::SysAdmin));
    let all = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_ref())
        .is_some_and(|rules| {
            rules.iter().any(|r| {
                r.allow()
                    && matches!(r.typ(), None | Some(LinuxDeviceType::A))
                    && r.major().is_none()
                    && r.minor().is_none()
            })
        });
    sys_admin && all
}

/// Refuses, naming the device path, each device of `spec` the guest cannot provide. `sysfs` is
/// the guest's `/sys` (the kernel lists its character devices in `dev/char/<major>:<minor>`).
/// A privileged container gets the host's devices: those the guest lacks are left out (logged)
/// and it sees the guest's own, as with Kata's `privileged_without_host_devices`.
pub fn fit_devices(id: &str, sysfs: &Path, spec: &mut Spec) -> Result<()> {
    if privileged(spec) {
        if let Some(linux) = spec.linux_mut() {
            if let Some(devices) = linux.devices().clone() {
                let (kept, left): (Vec<_>, Vec<_>) = devices.into_iter().partition(|d| {
                    matches!(d.typ(), LinuxDeviceType::C | LinuxDeviceType::U)
                        && sysfs
                            .join(format!("dev/char/{}:{}", d.major(), d.minor()))
                            .exists()
                        || d.typ() == LinuxDeviceType::P
                });
                if !left.is_empty() {
                    tracing::warn!(
                        container = id,
                        devices = left.len(),
                        "privileged container: host devices the guest lacks are left out"
                    );
                }
                linux.set_devices(Some(kept));
            }
        }
    }
    check_devices(id, sysfs, spec)
}

fn check_devices(id: &str, sysfs: &Path, spec: &Spec) -> Result<()> {
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for d in devices {
        let (major, minor) = (d.major(), d.minor());
        match d.typ() {
            LinuxDeviceType::P => {}
            LinuxDeviceType::C | LinuxDeviceType::U => {
                if !sysfs.join(format!("dev/char/{major}:{minor}")).exists() {
                    return Err(spec_error(
                        id,
                        "linux.devices",
                        d.path(),
                        &format!(
                            "the guest kernel has no character device {major}:{minor} \
                             (only devices the guest VM provides can be passed)"
                        ),
                    ));
                }
            }
            LinuxDeviceType::B => {
                return Err(spec_error(
                    id,
                    "linux.devices",
                    d.path(),
                    &format!(
                        "block device {major}:{minor}: block device passthrough is not \
                         supported yet"
                    ),
                ))
            }
            LinuxDeviceType::A => {
                return Err(spec_error(
                    id,
                    "linux.devices",
                    d.path(),
                    "type \"a\" is only valid in device cgroup rules",
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(devices: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion": "1.0.2", "linux": {{"devices": {devices}}}}}"#
        ))
        .expect("spec")
    }

    fn sysfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("dev/char/10:229")).expect("mkdir");
        dir
    }

    #[test]
    fn char_devices_the_guest_has_pass() {
        let s = spec(
            r#"[{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
                {"path": "/dev/myfifo", "type": "p"}]"#,
        );
        check_devices("c1", sysfs().path(), &s).expect("accepted");
    }

    #[test]
    fn unknown_char_device_is_refused_naming_its_path() {
        let s = spec(r#"[{"path": "/dev/kvm", "type": "c", "major": 10, "minor": 232}]"#);
        let e = check_devices("c1", sysfs().path(), &s).expect_err("refused");
        assert!(
            e.to_string()
                .starts_with("container c1: linux.devices /dev/kvm: the guest kernel has no"),
            "{e}"
        );
    }

    #[test]
    fn block_device_is_refused_as_unsupported() {
        let s = spec(r#"[{"path": "/dev/sdb", "type": "b", "major": 8, "minor": 16}]"#);
        let e = check_devices("c1", sysfs().path(), &s).expect_err("refused");
        let msg = e.to_string();
        assert!(msg.contains("/dev/sdb"), "{msg}");
        assert!(
            msg.contains("block device passthrough is not supported yet"),
            "{msg}"
        );
    }
}
