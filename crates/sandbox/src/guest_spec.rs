//! The OCI spec as the guest gets it: root and mounts pointing into the shared directory,
//! host-only parts (hooks, network namespace, host devices, namespace paths) removed.

use oci_spec::runtime::{LinuxNamespaceType, Mount, RootBuilder, Spec};

use crate::host::layout::guest_rootfs;

/// Rewrites `spec` for container `container_id` with the guest `mounts`.
pub fn guest_spec(spec: &Spec, container_id: &str, mounts: Vec<Mount>) -> Spec {
    let mut s = spec.clone();
    let readonly = spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    if let Ok(root) = RootBuilder::default()
        .path(guest_rootfs(container_id))
        .readonly(readonly)
        .build()
    {
        s.set_root(Some(root));
    }
    s.set_mounts(Some(mounts));
    // Host hooks run on the host; the guest must not see them.
    s.set_hooks(None);
    if let Some(linux) = s.linux_mut() {
        if let Some(namespaces) = linux.namespaces().clone() {
            let kept = namespaces
                .into_iter()
                .filter(|ns| ns.typ() != LinuxNamespaceType::Network)
                .map(|mut ns| {
                    ns.set_path(None);
                    ns
                })
                .collect();
            linux.set_namespaces(Some(kept));
        }
        linux.set_devices(None);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_parts_are_removed_and_root_points_to_the_share() {
        let json = r#"{
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": true},
            "hooks": {"prestart": [{"path": "/usr/bin/hook"}]},
            "linux": {
                "namespaces": [
                    {"type": "pid"},
                    {"type": "network", "path": "/var/run/netns/cni-1"},
                    {"type": "ipc", "path": "/proc/1/ns/ipc"}
                ],
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }"#;
        let spec: Spec = serde_json::from_str(json).expect("spec");
        let g = guest_spec(&spec, "c1", Vec::new());
        let root = g.root().as_ref().expect("root");
        assert_eq!(
            root.path().to_str(),
            Some("/run/kata-containers/shared/containers/c1/rootfs")
        );
        assert_eq!(root.readonly(), Some(true));
        assert!(g.hooks().is_none());
        let linux = g.linux().as_ref().expect("linux");
        let ns = linux.namespaces().as_ref().expect("namespaces");
        assert_eq!(ns.len(), 2);
        assert!(ns.iter().all(|n| n.path().is_none()));
        assert!(ns.iter().all(|n| n.typ() != LinuxNamespaceType::Network));
        assert!(linux.devices().is_none());
    }
}
