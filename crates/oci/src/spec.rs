//! Reading a bundle's `config.json`.

use std::path::Path;

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// Reads and parses `<bundle>/config.json`; errors name the file. A relative mount destination
/// is taken relative to the container's `/`, as runc does (with a warning: the runtime spec
/// requires absolute destinations).
pub fn load_spec(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::ReadSpec {
        path: path.clone(),
        source,
    })?;
    let mut spec: Spec =
        serde_json::from_str(&text).map_err(|source| Error::ParseSpec { path, source })?;
    absolute_destinations(&mut spec);
    Ok(spec)
}

fn absolute_destinations(spec: &mut Spec) {
    let Some(mut mounts) = spec.mounts().clone() else {
        return;
    };
    let mut changed = false;
    for m in &mut mounts {
        let dest = m.destination().clone();
        if !dest.as_os_str().is_empty() && dest.is_relative() {
            tracing::warn!(
                destination = %dest.display(),
                "relative mount destination taken relative to / (as runc does)"
            );
            m.set_destination(Path::new("/").join(dest));
            changed = true;
        }
    }
    if changed {
        spec.set_mounts(Some(mounts));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_bundle() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"ociVersion":"1.0.2","hostname":"pod","root":{"path":"rootfs"}}"#,
        )
        .expect("write");
        let spec = load_spec(dir.path()).expect("load");
        assert_eq!(spec.hostname().as_deref(), Some("pod"));
    }

    #[test]
    fn a_relative_mount_destination_is_taken_from_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
                "mounts":[{"destination":"mnt","type":"tmpfs","source":"t"},
                          {"destination":"/abs","type":"tmpfs","source":"t"}]}"#,
        )
        .expect("write");
        let spec = load_spec(dir.path()).expect("load");
        let dests: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(dests, ["/mnt", "/abs"]);
    }

    #[test]
    fn missing_file_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load_spec(dir.path()).expect_err("missing");
        assert!(matches!(err, Error::ReadSpec { .. }));
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn broken_json_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.json"), "{ not json").expect("write");
        let err = load_spec(dir.path()).expect_err("broken");
        assert!(matches!(err, Error::ParseSpec { .. }));
        assert!(err.to_string().contains("config.json"), "{err}");
    }
}

/// The path of the network namespace the spec joins (`linux.namespaces[type=network].path`, what
/// CNI set up for a CRI pod or `ctr run --with-ns network:<path>` names); `None` when it asks for
/// a new namespace or none.
pub fn network_namespace(spec: &Spec) -> Option<std::path::PathBuf> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .as_ref()?
        .iter()
        .find(|ns| ns.typ() == oci_spec::runtime::LinuxNamespaceType::Network)?
        .path()
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
}

/// Whether the spec asks for a new network namespace (a `network` entry without a path).
pub fn wants_new_network_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|nss| {
            nss.iter().any(|ns| {
                ns.typ() == oci_spec::runtime::LinuxNamespaceType::Network
                    && ns.path().as_ref().is_none_or(|p| p.as_os_str().is_empty())
            })
        })
}

#[cfg(test)]
mod netns_tests {
    use super::*;

    #[test]
    fn the_network_namespace_path_is_read_from_the_spec() {
        let with = r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"},
            {"type":"network","path":"/var/run/netns/cni-1"}]}}"#;
        let spec: Spec = serde_json::from_str(with).expect("spec");
        assert_eq!(
            network_namespace(&spec),
            Some(std::path::PathBuf::from("/var/run/netns/cni-1"))
        );
        let new = r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"network"}]}}"#;
        let spec: Spec = serde_json::from_str(new).expect("spec");
        assert_eq!(network_namespace(&spec), None);
        assert!(wants_new_network_namespace(&spec));
    }
}
