//! The OCI spec as the guest gets it: root and mounts pointing into the shared directory,
//! host-only parts (hooks, network namespace, namespace paths) removed.
//!
//! The PID namespace keeps its path: a path there means "the pod's sandbox PID namespace"
//! (`shareProcessNamespace`), which the request conversion turns into
//! `CreateContainerRequest.sandbox_pidns` (the host path itself means nothing in the guest).
//! `linux.devices` are kept: the conversion refuses those the guest cannot provide.

use oci_spec::runtime::{Hooks, LinuxNamespaceType, Mount, RootBuilder, Spec};

use crate::host::layout::guest_rootfs;

/// Per-mount flags and propagation a bind mount keeps in the guest (the guest binds the share,
/// so the container's own mount must carry them, as runc's does).
const BIND_FLAGS: &[&str] = &[
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "nosymfollow",
    "symfollow",
    "private",
    "rprivate",
    "slave",
    "rslave",
    "shared",
    "rshared",
    "unbindable",
    "runbindable",
];

fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
}

/// Adds to each guest bind mount the flags its spec mount (same destination) asks for.
fn carry_bind_flags(original: &[Mount], guest: &mut [Mount]) {
    for g in guest.iter_mut().filter(|g| is_bind(g)) {
        let Some(o) = original
            .iter()
            .rev()
            .find(|o| o.destination() == g.destination())
        else {
            continue;
        };
        let mut opts = g.options().clone().unwrap_or_default();
        for flag in o.options().as_deref().unwrap_or_default() {
            if BIND_FLAGS.contains(&flag.as_str()) && !opts.contains(flag) {
                opts.push(flag.clone());
            }
        }
        g.set_options(Some(opts));
    }
}

/// The `createContainer` and `startContainer` hooks alone, if there are any.
fn container_hooks(h: &Hooks) -> Option<Hooks> {
    if h.create_container().is_none() && h.start_container().is_none() {
        return None;
    }
    let mut kept = Hooks::default();
    kept.set_create_container(h.create_container().clone());
    kept.set_start_container(h.start_container().clone());
    Some(kept)
}

/// Rewrites `spec` for container `container_id` with the guest `mounts`.
pub fn guest_spec(spec: &Spec, container_id: &str, mut mounts: Vec<Mount>) -> Spec {
    carry_bind_flags(spec.mounts().as_deref().unwrap_or_default(), &mut mounts);
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
    // The runtime-namespace hooks run on the host (`host::hooks`); the guest keeps only those
    // that belong to the container's namespaces, which libcontainer runs there, as runc does.
    s.set_hooks(spec.hooks().as_ref().and_then(container_hooks));
    if let Some(linux) = s.linux_mut() {
        if let Some(namespaces) = linux.namespaces().clone() {
            let kept = namespaces
                .into_iter()
                .filter(|ns| ns.typ() != LinuxNamespaceType::Network)
                .map(|mut ns| {
                    if ns.typ() != LinuxNamespaceType::Pid {
                        ns.set_path(None);
                    }
                    ns
                })
                .collect();
            linux.set_namespaces(Some(kept));
        }
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
                    {"type": "pid", "path": "/proc/42/ns/pid"},
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
        let with_container_hooks: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                "hooks": {"prestart": [{"path": "/a"}], "startContainer": [{"path": "/b"}]}}"#,
        )
        .expect("spec");
        let kept = guest_spec(&with_container_hooks, "c1", Vec::new());
        let hooks = kept.hooks().as_ref().expect("hooks kept");
        assert!(hooks.prestart().is_none());
        assert_eq!(hooks.start_container().as_ref().map(Vec::len), Some(1));
        let linux = g.linux().as_ref().expect("linux");
        let ns = linux.namespaces().as_ref().expect("namespaces");
        assert_eq!(ns.len(), 2);
        let path = |t| ns.iter().find(|n| n.typ() == t).map(|n| n.path().is_some());
        assert_eq!(path(LinuxNamespaceType::Ipc), Some(false));
        // Kept as the "share the sandbox PID namespace" marker.
        assert_eq!(path(LinuxNamespaceType::Pid), Some(true));
        assert!(ns.iter().all(|n| n.typ() != LinuxNamespaceType::Network));
        let devices = linux.devices().as_ref().expect("devices");
        assert_eq!(devices[0].path().to_str(), Some("/dev/fuse"));
    }

    #[test]
    fn bind_mounts_keep_their_flags_and_propagation() {
        let json = r#"{
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [{"destination": "/vol", "type": "bind", "source": "/srv/vol",
                        "options": ["rbind", "ro", "nosuid", "nodev", "noexec", "rslave"]},
                       {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                        "options": ["nosuid", "size=1k"]}]
        }"#;
        let spec: Spec = serde_json::from_str(json).expect("spec");
        let guest: Vec<Mount> = serde_json::from_str(
            r#"[{"destination": "/vol", "type": "bind",
                 "source": "/run/kata-containers/shared/containers/c1-vol", "options": ["rbind", "ro"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "size=1k"]}]"#,
        )
        .expect("mounts");
        let g = guest_spec(&spec, "c1", guest);
        let mounts = g.mounts().as_ref().expect("mounts");
        assert_eq!(
            mounts[0].options().as_deref(),
            Some(&["rbind", "ro", "nosuid", "nodev", "noexec", "rslave"].map(String::from)[..])
        );
        assert_eq!(
            mounts[1].options().as_deref(),
            Some(&["nosuid", "size=1k"].map(String::from)[..])
        );
    }
}
