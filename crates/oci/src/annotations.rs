//! The `io.katacontainers.*` annotations of a spec, the input of the config crate's overrides.

use std::collections::HashMap;

use kata_config::{Config, HostFacts};
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// Prefix of every annotation Kata interprets.
pub const KATA_ANNOTATION_PREFIX: &str = "io.katacontainers.";

/// The annotations of `spec` that start with `io.katacontainers.`.
///
/// This map is what the configuration crate applies (against its allowlist) to the sandbox
/// configuration; other annotations (CRI, OCI) never reach it.
pub fn kata_annotations(spec: &Spec) -> HashMap<String, String> {
    spec.annotations()
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(KATA_ANNOTATION_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Applies the spec's `io.katacontainers.*` annotations to a sandbox configuration (through the
/// configuration crate's allowlist) and returns the warnings of its re-check.
///
/// On error the configuration may be partly changed: discard it.
pub fn apply_annotations(
    spec: &Spec,
    config: &mut Config,
    host: &HostFacts,
) -> Result<Vec<String>> {
    kata_config::annotations::apply_with(config, &kata_annotations(spec), host)
        .map_err(|e| Error::Annotation(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config_and_host() -> (Config, HostFacts) {
        let host = HostFacts::fake(
            4,
            [
                ("/usr/bin/qemu-system-x86_64", 1u64),
                ("/k/vmlinux", 1),
                ("/k/initrd", 1),
                ("/usr/bin/virtiofsd", 1),
            ],
        );
        let toml = r#"
[hypervisor.qemu]
path = "/usr/bin/qemu-system-x86_64"
kernel = "/k/vmlinux"
initrd = "/k/initrd"
virtio_fs_daemon = "/usr/bin/virtiofsd"
enable_annotations = ["default_memory"]
"#;
        let loaded =
            Config::from_toml_str(toml, Path::new("/test.toml"), &host).expect("fixture config");
        (loaded.config, host)
    }

    fn spec_with(pairs: &[(&str, &str)]) -> Spec {
        let mut spec = Spec::default();
        spec.set_annotations(Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
        spec
    }

    #[test]
    fn enabled_annotation_changes_the_config() {
        let (mut config, host) = config_and_host();
        let spec = spec_with(&[
            ("io.katacontainers.config.hypervisor.default_memory", "1024"),
            ("io.kubernetes.cri.container-type", "sandbox"),
        ]);
        apply_annotations(&spec, &mut config, &host).expect("allowed");
        assert_eq!(config.hypervisor.default_memory, 1024);
    }

    #[test]
    fn annotation_not_enabled_is_an_error_naming_it() {
        let (mut config, host) = config_and_host();
        let spec = spec_with(&[("io.katacontainers.config.hypervisor.path", "/bin/sh")]);
        let err = apply_annotations(&spec, &mut config, &host).expect_err("refused");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert!(
            source.is_some_and(|s| s.contains("hypervisor.path")),
            "{err:?}"
        );
    }

    #[test]
    fn keeps_only_kata_annotations() {
        let spec: Spec = serde_json::from_str(
            r#"{"annotations":{
                "io.katacontainers.config.hypervisor.default_memory":"1024",
                "io.kubernetes.cri.container-type":"sandbox",
                "io.katacontainersX":"no"}}"#,
        )
        .expect("spec");
        let a = kata_annotations(&spec);
        assert_eq!(a.len(), 1);
        assert_eq!(
            a.get("io.katacontainers.config.hypervisor.default_memory")
                .map(String::as_str),
            Some("1024")
        );
    }

    #[test]
    fn no_annotations_is_empty() {
        assert!(kata_annotations(&Spec::default()).is_empty());
    }
}
