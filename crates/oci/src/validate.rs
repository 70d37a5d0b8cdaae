//! Checks of OCI fields the runtime relies on.

use oci_spec::runtime::{LinuxDeviceType, Spec};

use crate::env::validate_env;
use crate::error::{Error, Result};

/// Every mount needs a non-empty, absolute destination.
pub fn validate_mounts(spec: &Spec) -> Result<()> {
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination();
        if dest.as_os_str().is_empty() {
            return Err(Error::MountEmptyDestination {
                index,
                source_path: m
                    .source()
                    .as_ref()
                    .map(|s| s.display().to_string())
                    .unwrap_or_default(),
            });
        }
        if !dest.is_absolute() {
            return Err(Error::MountRelativeDestination {
                index,
                destination: dest.clone(),
            });
        }
    }
    Ok(())
}

/// Every Linux device needs a path and a type among c, b, u, p.
pub fn validate_devices(spec: &Spec) -> Result<()> {
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (index, d) in devices.into_iter().flatten().enumerate() {
        if d.path().as_os_str().is_empty() {
            return Err(Error::DeviceEmptyPath { index });
        }
        if d.typ() == LinuxDeviceType::A {
            return Err(Error::DeviceType {
                path: d.path().clone(),
                typ: d.typ().as_str().to_owned(),
            });
        }
    }
    Ok(())
}

/// Everything a container needs: a root path, a process with a valid environment, valid mounts
/// and devices.
pub fn validate_spec(spec: &Spec) -> Result<()> {
    let root_ok = spec
        .root()
        .as_ref()
        .is_some_and(|r| !r.path().as_os_str().is_empty());
    if !root_ok {
        return Err(Error::MissingRoot);
    }
    let process = spec.process().as_ref().ok_or(Error::MissingProcess)?;
    validate_env(process.env().as_deref().unwrap_or_default())?;
    validate_mounts(spec)?;
    validate_devices(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("valid spec json")
    }

    const GOOD: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"cwd":"/","args":["sh"],"env":["PATH=/bin"],"user":{"uid":0,"gid":0}},
        "mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
        "linux":{"devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229}]}}"#;

    #[test]
    fn a_good_spec_passes() {
        validate_spec(&spec(GOOD)).expect("valid");
    }

    #[test]
    fn empty_destination_is_an_error() {
        let s = spec(r#"{"mounts":[{"destination":"","type":"bind","source":"/src"}]}"#);
        let err = validate_mounts(&s).expect_err("empty dest");
        assert!(matches!(err, Error::MountEmptyDestination { index: 0, .. }));
        assert!(err.to_string().contains("/src"), "{err}");
    }

    #[test]
    fn relative_destination_is_an_error_naming_it() {
        let s = spec(
            r#"{"mounts":[{"destination":"/ok","type":"tmpfs"},{"destination":"data","type":"tmpfs"}]}"#,
        );
        let err = validate_mounts(&s).expect_err("relative dest");
        assert!(matches!(
            err,
            Error::MountRelativeDestination { index: 1, .. }
        ));
        assert!(err.to_string().contains("data"), "{err}");
    }

    #[test]
    fn device_type_a_is_rejected() {
        let s = spec(r#"{"linux":{"devices":[{"path":"/dev/x","type":"a"}]}}"#);
        let err = validate_devices(&s).expect_err("type a");
        assert!(err.to_string().contains("/dev/x"), "{err}");
    }

    #[test]
    fn device_without_path_is_rejected() {
        let s = spec(r#"{"linux":{"devices":[{"path":"","type":"b","major":8,"minor":0}]}}"#);
        assert!(matches!(
            validate_devices(&s),
            Err(Error::DeviceEmptyPath { index: 0 })
        ));
    }

    #[test]
    fn missing_root_or_process_is_an_error() {
        let no_root = GOOD.replace(r#""root":{"path":"rootfs"},"#, "");
        assert!(matches!(
            validate_spec(&spec(&no_root)),
            Err(Error::MissingRoot)
        ));
        let mut s = spec(GOOD);
        s.set_process(None);
        assert!(matches!(validate_spec(&s), Err(Error::MissingProcess)));
    }

    #[test]
    fn bad_env_fails_the_spec() {
        let bad = GOOD.replace("PATH=/bin", "PATH");
        assert!(matches!(
            validate_spec(&spec(&bad)),
            Err(Error::EnvNoEquals(_))
        ));
    }
}
