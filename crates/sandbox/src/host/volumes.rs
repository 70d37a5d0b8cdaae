//! OCI mounts of a container, classified into host actions and rewritten for the guest.

use std::path::{Path, PathBuf};

use kata_oci::{ClassifiedMount, MountStorage};
use oci_spec::runtime::{Mount, MountBuilder};

use crate::agent::Storage;
use crate::error::{Error, Result};
use crate::host::cleanup::CleanupStep;
use crate::host::layout::GUEST_SHARED_DIR;
use crate::host::layout::{guest_shared, Layout, GUEST_EPHEMERAL_DIR, GUEST_SANDBOX_SHM};
use crate::host::{mount, readonly};

/// What to do on the host for one OCI mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeAction {
    /// Mounted by the guest itself (proc, sysfs, tmpfs, devpts, mqueue...): passed unchanged.
    Guest,
    /// A host path bound into `mounts/<name>` and seen by the guest through virtio-fs.
    Share {
        source: PathBuf,
        name: String,
        readonly: bool,
    },
    /// `/dev/shm` bound from the host: the sandbox's shm tmpfs in the guest.
    SandboxShm,
    /// k8s emptyDir on tmpfs: a tmpfs in the guest (`ephemeral` storage).
    Ephemeral { name: String },
    /// k8s emptyDir on disk: a directory in the guest (`local` storage).
    Local { name: String },
    /// Not passed: host devices and binds over the guest's /proc and /sys.
    Skip,
}

fn is_bind(m: &ClassifiedMount) -> bool {
    m.mount_type.as_deref() == Some("bind") || m.options.iter().any(|o| o == "bind" || o == "rbind")
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".to_owned())
}

/// Decides the host action for the `index`-th mount of container `container_id`.
pub fn plan_mount(m: &ClassifiedMount, container_id: &str, index: usize) -> VolumeAction {
    let source = m.source.clone().unwrap_or_default();
    match m.storage {
        MountStorage::Ephemeral => {
            return VolumeAction::Ephemeral {
                name: base_name(&source),
            }
        }
        MountStorage::Local => {
            return VolumeAction::Local {
                name: base_name(&source),
            }
        }
        MountStorage::Regular => {}
    }
    if !is_bind(m) {
        return VolumeAction::Guest;
    }
    let dest = &m.destination;
    if dest == Path::new("/dev/shm") {
        return VolumeAction::SandboxShm;
    }
    if dest.starts_with("/proc") || dest.starts_with("/sys") || source.starts_with("/dev") {
        return VolumeAction::Skip;
    }
    VolumeAction::Share {
        name: format!("{container_id}-{index}-{}", base_name(dest)),
        readonly: m.options.iter().any(|o| o == "ro"),
        source,
    }
}

/// Guest mounts and storages of a container, after the host actions ran.
#[derive(Debug, Default)]
pub struct GuestVolumes {
    pub mounts: Vec<Mount>,
    pub storages: Vec<Storage>,
}

fn guest_mount(
    m: &ClassifiedMount,
    source: String,
    typ: String,
    options: Vec<String>,
) -> Result<Mount> {
    MountBuilder::default()
        .destination(m.destination.clone())
        .source(source)
        .typ(typ)
        .options(options)
        .build()
        .map_err(|e| Error::InvalidArgument {
            what: format!("mount {}", m.destination.display()),
            reason: e.to_string(),
        })
}

fn bind_options(m: &ClassifiedMount) -> Vec<String> {
    let mut opts = vec!["rbind".to_owned()];
    if m.options.iter().any(|o| o == "ro") {
        opts.push("ro".to_owned());
    }
    opts
}

/// Runs the host side of every mount (recording steps) and returns what the guest gets.
pub fn apply(
    layout: &Layout,
    container_id: &str,
    classified: &[ClassifiedMount],
    steps: &mut Vec<CleanupStep>,
) -> Result<GuestVolumes> {
    let mut out = GuestVolumes::default();
    for (index, m) in classified.iter().enumerate() {
        match plan_mount(m, container_id, index) {
            VolumeAction::Skip => {}
            VolumeAction::Guest => {
                let mut builder = MountBuilder::default().destination(m.destination.clone());
                if let Some(src) = &m.source {
                    builder = builder.source(src.clone());
                }
                if let Some(t) = &m.mount_type {
                    builder = builder.typ(t.clone());
                }
                out.mounts
                    .push(builder.options(m.options.clone()).build().map_err(|e| {
                        Error::InvalidArgument {
                            what: format!("mount {}", m.destination.display()),
                            reason: e.to_string(),
                        }
                    })?);
            }
            VolumeAction::Share {
                source,
                name,
                readonly,
            } => {
                let target = layout.mount_path(&name);
                let source = std::fs::canonicalize(&source)
                    .map_err(|e| Error::io("resolve mount source", &source, e))?;
                if source.is_dir() {
                    for made in mount::create_dirs(&target)? {
                        steps.push(CleanupStep::RemoveDir { path: made });
                    }
                } else {
                    mount::create_file(&target)?;
                    steps.push(CleanupStep::RemoveFile {
                        path: target.clone(),
                    });
                }
                mount::bind(&source, &target, readonly)?;
                steps.push(CleanupStep::Unmount {
                    path: target.clone(),
                });
                if readonly {
                    // Defence in depth: every copy the guest can reach must be read-only.
                    let what = format!("read-only volume {}", m.destination.display());
                    readonly::verify(layout, &target, &what)?;
                }
                out.mounts.push(guest_mount(
                    m,
                    guest_shared(&name),
                    "bind".into(),
                    bind_options(m),
                )?);
            }
            VolumeAction::SandboxShm => {
                out.storages.push(Storage {
                    driver: "ephemeral".into(),
                    source: "shm".into(),
                    fstype: "tmpfs".into(),
                    options: vec![
                        "noexec".into(),
                        "nosuid".into(),
                        "nodev".into(),
                        "mode=1777".into(),
                    ],
                    mount_point: GUEST_SANDBOX_SHM.into(),
                    ..Default::default()
                });
                out.mounts.push(guest_mount(
                    m,
                    GUEST_SANDBOX_SHM.into(),
                    "bind".into(),
                    bind_options(m),
                )?);
            }
            VolumeAction::Ephemeral { name } => {
                let point = format!("{GUEST_EPHEMERAL_DIR}/{name}");
                out.storages.push(Storage {
                    driver: "ephemeral".into(),
                    source: "tmpfs".into(),
                    fstype: "tmpfs".into(),
                    mount_point: point.clone(),
                    ..Default::default()
                });
                out.mounts
                    .push(guest_mount(m, point, "bind".into(), bind_options(m))?);
            }
            VolumeAction::Local { name } => {
                let point = format!(
                    "{GUEST_SHARED_DIR}{}/rootfs/local/{name}",
                    layout.sandbox_id
                );
                out.storages.push(Storage {
                    driver: "local".into(),
                    source: "local".into(),
                    fstype: "local".into(),
                    options: vec!["mode=0777".into()],
                    mount_point: point.clone(),
                    ..Default::default()
                });
                out.mounts
                    .push(guest_mount(m, point, "bind".into(), bind_options(m))?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(
        dest: &str,
        src: &str,
        typ: &str,
        opts: &[&str],
        storage: MountStorage,
    ) -> ClassifiedMount {
        ClassifiedMount {
            destination: dest.into(),
            source: Some(src.into()),
            mount_type: Some(typ.into()),
            options: opts.iter().map(|s| s.to_string()).collect(),
            storage,
        }
    }

    #[test]
    fn classification_into_host_actions() {
        let r = MountStorage::Regular;
        assert_eq!(
            plan_mount(&cm("/proc", "proc", "proc", &[], r), "c", 0),
            VolumeAction::Guest
        );
        assert_eq!(
            plan_mount(&cm("/dev/shm", "shm", "tmpfs", &["nosuid"], r), "c", 1),
            VolumeAction::Guest
        );
        assert_eq!(
            plan_mount(
                &cm(
                    "/etc/hosts",
                    "/var/lib/x/hosts",
                    "bind",
                    &["rbind", "ro"],
                    r
                ),
                "c",
                2
            ),
            VolumeAction::Share {
                source: "/var/lib/x/hosts".into(),
                name: "c-2-hosts".into(),
                readonly: true
            }
        );
        assert_eq!(
            plan_mount(&cm("/data", "/srv/data", "none", &["bind"], r), "c", 3),
            VolumeAction::Share {
                source: "/srv/data".into(),
                name: "c-3-data".into(),
                readonly: false
            }
        );
        assert_eq!(
            plan_mount(
                &cm("/dev/shm", "/run/shm-of-pod", "bind", &["rbind"], r),
                "c",
                4
            ),
            VolumeAction::SandboxShm
        );
        assert_eq!(
            plan_mount(&cm("/dev/fuse", "/dev/fuse", "bind", &["bind"], r), "c", 5),
            VolumeAction::Skip
        );
        assert_eq!(
            plan_mount(&cm("/sys/fs/x", "/x", "bind", &["bind"], r), "c", 6),
            VolumeAction::Skip
        );
        let ed = "/var/lib/kubelet/pods/p/volumes/kubernetes.io~empty-dir/cache";
        assert_eq!(
            plan_mount(
                &cm(
                    "/cache",
                    ed,
                    "ephemeral",
                    &["rbind"],
                    MountStorage::Ephemeral
                ),
                "c",
                7
            ),
            VolumeAction::Ephemeral {
                name: "cache".into()
            }
        );
        assert_eq!(
            plan_mount(
                &cm("/cache", ed, "local", &["rbind"], MountStorage::Local),
                "c",
                8
            ),
            VolumeAction::Local {
                name: "cache".into()
            }
        );
    }

    #[test]
    fn guest_side_of_storages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(
            "sb",
            crate::host::layout::Roots {
                shared: dir.path().into(),
                state: dir.path().into(),
                vm: dir.path().into(),
            },
        );
        let ed = "/var/lib/kubelet/pods/p/volumes/kubernetes.io~empty-dir/cache";
        let classified = vec![
            cm("/proc", "proc", "proc", &[], MountStorage::Regular),
            cm("/cache", ed, "local", &["rbind"], MountStorage::Local),
            cm("/mem", ed, "ephemeral", &["rbind"], MountStorage::Ephemeral),
            cm(
                "/dev/fuse",
                "/dev/fuse",
                "bind",
                &["bind"],
                MountStorage::Regular,
            ),
        ];
        let mut steps = Vec::new();
        let g = apply(&layout, "c1", &classified, &mut steps).expect("apply");
        assert!(steps.is_empty(), "no host action expected: {steps:?}");
        assert_eq!(g.mounts.len(), 3);
        assert_eq!(g.storages[0].driver, "local");
        assert_eq!(
            g.storages[0].mount_point,
            "/run/kata-containers/shared/containers/sb/rootfs/local/cache"
        );
        assert_eq!(g.storages[1].driver, "ephemeral");
        assert_eq!(
            g.mounts[2].source().as_deref(),
            Some(Path::new("/run/kata-containers/sandbox/ephemeral/cache"))
        );
    }
}
