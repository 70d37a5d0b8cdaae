//! The container root file system on the host: containerd's rootfs mounts (usually overlay)
//! mounted at `mounts/<cid>/rootfs`, or a bind of the bundle's `rootfs` when there are none.
//!
//! A read-only rootfs (`root.readonly` in the spec) is read-only on the host too, in every copy
//! the guest can reach: it is mounted on a host-private staging directory first, its mount
//! points are made there, and it is then attached as a sealed read-only tree
//! ([`crate::host::readonly`]). The exception is the sandbox (pause) container of a CRI pod
//! whose rootfs is a snapshot: as in Kata, its rootfs holds the pod's `local` emptyDirs, which
//! the guest creates later; that snapshot is its own and is discarded with it.

use std::path::Path;

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::host::cleanup::CleanupStep;
use crate::host::layout::Layout;
use crate::host::{mount, mountpoints, readonly};
use crate::types::RootfsMount;

/// Mounts the rootfs of `container_id` described by `spec`; `bundle_rootfs` is the spec's
/// `root.path` resolved against the bundle.
pub fn mount_rootfs(
    layout: &Layout,
    container_id: &str,
    mounts: &[RootfsMount],
    bundle_rootfs: &Path,
    spec: &Spec,
    steps: &mut Vec<CleanupStep>,
) -> Result<()> {
    let target = layout.rootfs_host(container_id);
    for made in mount::create_dirs(&target)? {
        steps.push(CleanupStep::RemoveDir { path: made });
    }
    let readonly = spec.root().as_ref().and_then(|r| r.readonly()) == Some(true);
    // The sandbox container of a CRI pod (not a single `ctr run` container, whose sandbox id is
    // its own id too).
    let pod_sandbox = container_id == layout.sandbox_id
        && !mounts.is_empty()
        && kata_oci::SandboxRef::from_spec(spec, container_id).is_ok_and(|r| {
            r.cri.is_some() && matches!(r.kind, kata_oci::ContainerKind::PodSandbox)
        });
    if !readonly || pod_sandbox {
        let sealed = mount_at(&target, mounts, bundle_rootfs, steps)?;
        if sealed {
            readonly::verify(layout, &target, &what(container_id))?;
        }
        return Ok(());
    }

    let staging = layout.sandbox_dir().join(format!("staging-{container_id}"));
    for made in mount::create_dirs(&staging)? {
        steps.push(CleanupStep::RemoveDir { path: made });
    }
    mount_at(&staging, mounts, bundle_rootfs, steps)?;
    for (dest, kind) in mountpoints::needed(spec) {
        mountpoints::ensure_in_root(&staging, &dest, kind)?;
    }
    steps.push(CleanupStep::Unmount {
        path: target.clone(),
    });
    readonly::seal_onto(&staging, &target)?;
    std::fs::remove_dir(&staging).map_err(|e| Error::io("remove directory", &staging, e))?;
    readonly::verify(layout, &target, &what(container_id))
}

fn what(container_id: &str) -> String {
    format!("read-only rootfs of container {container_id}")
}

/// Mounts the rootfs on `target`; true when it is a read-only bind (sealed).
fn mount_at(
    target: &Path,
    mounts: &[RootfsMount],
    bundle_rootfs: &Path,
    steps: &mut Vec<CleanupStep>,
) -> Result<bool> {
    if mounts.is_empty() {
        if !mount::is_dir_nofollow(bundle_rootfs) {
            return Err(Error::InvalidArgument {
                what: "rootfs".into(),
                reason: format!("{} is not a directory", bundle_rootfs.display()),
            });
        }
        mount::bind(bundle_rootfs, target, false)?;
        steps.push(CleanupStep::Unmount {
            path: target.to_owned(),
        });
        return Ok(false);
    }
    let mut sealed = false;
    for m in mounts {
        let (flags, data) = mount::parse_options(&m.options);
        if m.fs_type == "bind" || flags.contains(MsFlags::MS_BIND) {
            let ro = flags.contains(MsFlags::MS_RDONLY);
            mount::bind(Path::new(&m.source), target, ro)?;
            sealed |= ro;
        } else {
            // A new mount made read-only is born read-only: so are its propagated copies.
            mount::mount_fs(&m.source, target, &m.fs_type, flags, &data)?;
            sealed = flags.contains(MsFlags::MS_RDONLY);
        }
        steps.push(CleanupStep::Unmount {
            path: target.to_owned(),
        });
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::cleanup::run_steps;
    use crate::host::layout::Roots;
    use crate::host::shared;

    fn spec(readonly: bool, volume_src: &Path) -> Spec {
        let json = serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": readonly},
            "process": {"cwd": "/work", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "bind", "source": volume_src,
                 "options": ["rbind", "ro"]}
            ]
        });
        serde_json::from_value(json).expect("spec")
    }

    #[tokio::test]
    async fn a_read_only_rootfs_is_read_only_in_mounts_and_shared_with_its_mount_points() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(
            "sb",
            Roots {
                shared: dir.path().join("shared"),
                state: dir.path().join("state"),
                vm: dir.path().join("vm"),
            },
        );
        let mut steps = Vec::new();
        shared::setup_shared_dirs(&layout, &mut steps).expect("setup");
        let bundle_rootfs = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(bundle_rootfs.join("etc")).expect("mkdir");
        std::fs::write(bundle_rootfs.join("etc/file"), b"image").expect("write");
        let volume = dir.path().join("volume");
        std::fs::create_dir(&volume).expect("mkdir");

        let mounted = mount_rootfs(
            &layout,
            "c1",
            &[],
            &bundle_rootfs,
            &spec(true, &volume),
            &mut steps,
        );
        let in_mounts = layout.rootfs_host("c1");
        let in_shared = layout.shared_dir().join("c1/rootfs");
        let writes: Vec<_> = [&in_mounts, &in_shared]
            .iter()
            .flat_map(|base| {
                [
                    std::fs::write(base.join("etc/file"), b"guest"),
                    std::fs::write(base.join("new"), b"guest"),
                ]
            })
            .collect();
        let seen = std::fs::read(in_shared.join("etc/file"));
        let failures = run_steps(&steps).await;

        mounted.expect("mount read-only rootfs");
        assert!(failures.is_empty(), "{failures:?}");
        for w in writes {
            assert!(
                matches!(&w, Err(e) if e.raw_os_error() == Some(libc::EROFS)),
                "{w:?}"
            );
        }
        assert_eq!(seen.expect("visible in shared"), b"image");
        // Mount points were made before sealing (outside /proc), in the image's tree.
        assert!(bundle_rootfs.join("data").is_dir());
        assert!(bundle_rootfs.join("work").is_dir());
        assert!(!bundle_rootfs.join("proc").exists());
        assert_eq!(
            std::fs::read(bundle_rootfs.join("etc/file")).expect("read"),
            b"image"
        );
        assert!(
            !layout.sandbox_dir().exists(),
            "staging or dirs left behind"
        );
    }

    /// Is the overlay rootfs of the container `sb` (the sandbox's own id) read-only under
    /// `shared/`, for a spec with `annotations`?
    async fn sandbox_overlay_is_sealed(annotations: serde_json::Value) -> bool {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(
            "sb",
            Roots {
                shared: dir.path().join("shared"),
                state: dir.path().join("state"),
                vm: dir.path().join("vm"),
            },
        );
        let mut steps = Vec::new();
        shared::setup_shared_dirs(&layout, &mut steps).expect("setup");
        for d in ["lower", "upper", "work"] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
        }
        let p = |d: &str| dir.path().join(d).display().to_string();
        let overlay = RootfsMount {
            fs_type: "overlay".into(),
            source: "overlay".into(),
            options: vec![
                format!("lowerdir={}", p("lower")),
                format!("upperdir={}", p("upper")),
                format!("workdir={}", p("work")),
            ],
        };
        let mut spec = spec(true, &dir.path().join("lower"));
        spec.set_annotations(serde_json::from_value(annotations).expect("annotations"));
        let mounted = mount_rootfs(
            &layout,
            "sb",
            &[overlay],
            Path::new("/nonexistent"),
            &spec,
            &mut steps,
        );
        let write = std::fs::write(layout.shared_dir().join("sb/rootfs/new"), b"guest");
        let failures = run_steps(&steps).await;
        mounted.expect("mount");
        assert!(failures.is_empty(), "{failures:?}");
        assert!(!layout.sandbox_dir().exists());
        match write {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EROFS) => true,
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[tokio::test]
    async fn only_the_sandbox_container_of_a_cri_pod_keeps_a_writable_rootfs() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        // A single `ctr run --read-only` container: its sandbox id is its own id.
        assert!(sandbox_overlay_is_sealed(serde_json::json!({})).await);
        // The pause container of a CRI pod: its rootfs holds the pod's `local` emptyDirs.
        assert!(
            !sandbox_overlay_is_sealed(serde_json::json!({
                "io.kubernetes.cri.container-type": "sandbox",
                "io.kubernetes.cri.sandbox-id": "sb"
            }))
            .await
        );
    }

    #[tokio::test]
    async fn a_writable_rootfs_stays_writable() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(
            "sb",
            Roots {
                shared: dir.path().join("shared"),
                state: dir.path().join("state"),
                vm: dir.path().join("vm"),
            },
        );
        let mut steps = Vec::new();
        shared::setup_shared_dirs(&layout, &mut steps).expect("setup");
        let bundle_rootfs = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(&bundle_rootfs).expect("mkdir");
        let volume = dir.path().join("volume");
        std::fs::create_dir(&volume).expect("mkdir");
        let mounted = mount_rootfs(
            &layout,
            "c1",
            &[],
            &bundle_rootfs,
            &spec(false, &volume),
            &mut steps,
        );
        let write = std::fs::write(layout.rootfs_host("c1").join("new"), b"guest");
        let failures = run_steps(&steps).await;
        mounted.expect("mount");
        assert!(failures.is_empty(), "{failures:?}");
        write.expect("a writable rootfs takes writes");
        assert!(bundle_rootfs.join("new").exists());
        assert!(!bundle_rootfs.join("data").exists(), "no mount points made");
    }
}
