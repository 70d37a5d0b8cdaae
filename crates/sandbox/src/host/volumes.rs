//! OCI mounts of a container, classified into host actions and rewritten for the guest.

use std::path::{Path, PathBuf};

use kata_oci::{ClassifiedMount, MountStorage};
use oci_spec::runtime::{Mount, MountBuilder};

use crate::agent::Storage;
use crate::error::{Error, Result};
use crate::host::cleanup::CleanupStep;
use crate::host::layout::GUEST_SHARED_DIR;
use crate::host::layout::{guest_shared, Layout, GUEST_EPHEMERAL_DIR, GUEST_SANDBOX_SHM};
use crate::host::shares::{resolve_source, Seal, Share, Shares};
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
        readonly: is_readonly(&m.options),
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

/// True when the mount options ask for a read-only mount, in any spelling: `ro`, or `rro`
/// (recursively read-only, `mount_setattr(2)`'s `MOUNT_ATTR_RDONLY` with `AT_RECURSIVE`, which
/// runc and containerd accept). On the host both become the sealed read-only tree, which is
/// recursive.
pub fn is_readonly(options: &[String]) -> bool {
    options.iter().any(|o| o == "ro" || o == "rro")
}

/// Guest bind options: `rbind`, plus `ro` for every read-only spelling (the guest binds the
/// host's sealed tree, read-only in every mount already).
fn bind_options(m: &ClassifiedMount) -> Vec<String> {
    let mut opts = vec!["rbind".to_owned()];
    if is_readonly(&m.options) {
        opts.push("ro".to_owned());
    }
    opts
}

/// Binds a read-only `seal.source` over `seal.target`, inside a writable share's copy, and
/// checks it is read-only in `mounts/` and `shared/`. Both paths are opened without following
/// any symlink (the guest may have swapped one in).
fn apply_seal(
    layout: &Layout,
    container_id: &str,
    seal: &Seal,
    shares: &mut Shares,
    steps: &mut Vec<CleanupStep>,
) -> Result<()> {
    let src = mount::open_no_symlinks(&seal.source)?;
    let tgt = mount::open_no_symlinks(&seal.target)?;
    readonly::bind_tree(&src, &tgt, true, (&seal.source, &seal.target))?;
    let step = CleanupStep::Unmount {
        path: seal.target.clone(),
    };
    steps.push(step.clone());
    if let Some(owner) = seal.rw_owner.as_deref().filter(|o| *o != container_id) {
        shares.add_foreign_step(owner, step);
    }
    let what = format!(
        "read-only {} inside the writable volume at {}",
        seal.source.display(),
        seal.target.display()
    );
    readonly::verify(layout, &seal.target, &what)
}

/// Runs the host side of every mount (recording steps) and returns what the guest gets.
/// `shares` is the sandbox's registry: shared volumes are resolved against it (no symlink inside
/// a writable share is followed), added to it, and sealed against each other
/// ([`crate::host::shares`]).
pub fn apply(
    layout: &Layout,
    container_id: &str,
    classified: &[ClassifiedMount],
    shares: &mut Shares,
    steps: &mut Vec<CleanupStep>,
) -> Result<GuestVolumes> {
    let mut out = GuestVolumes::default();
    for (index, m) in classified.iter().enumerate() {
        match plan_mount(m, container_id, index) {
            VolumeAction::Skip => {
                // Host /proc, /sys and device nodes mean nothing in the guest (Kata skips them
                // too); the container sees the guest's own.
                tracing::warn!(
                    container = container_id,
                    destination = %m.destination.display(),
                    "host /proc, /sys or /dev bind not passed to the guest"
                );
            }
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
                let source = resolve_source(&source, &shares.writable_sources())?;
                let src = mount::open_no_symlinks(&source)?;
                let is_dir = src
                    .metadata()
                    .map_err(|e| Error::io("stat", &source, e))?
                    .is_dir();
                if is_dir {
                    for made in mount::create_dirs(&target)? {
                        steps.push(CleanupStep::RemoveDir { path: made });
                    }
                } else {
                    mount::create_file(&target)?;
                    steps.push(CleanupStep::RemoveFile {
                        path: target.clone(),
                    });
                }
                let tgt = mount::open_nofollow(&target)?;
                readonly::bind_tree(&src, &tgt, readonly, (&source, &target))?;
                steps.push(CleanupStep::Unmount {
                    path: target.clone(),
                });
                if readonly {
                    // Defence in depth: every copy the guest can reach must be read-only.
                    let what = format!("read-only volume {}", m.destination.display());
                    readonly::verify(layout, &target, &what)?;
                }
                for seal in shares.seals_for(&source, &target, readonly) {
                    apply_seal(layout, container_id, &seal, shares, steps)?;
                }
                shares.add(Share {
                    container_id: container_id.to_owned(),
                    source,
                    target,
                    readonly,
                });
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
        let g = apply(
            &layout,
            "c1",
            &classified,
            &mut Shares::default(),
            &mut steps,
        )
        .expect("apply");
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

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn erofs(r: std::io::Result<()>) -> bool {
        matches!(r, Err(e) if e.raw_os_error() == Some(libc::EROFS))
    }

    #[test]
    fn every_read_only_spelling_is_read_only_on_host_and_guest() {
        let r = MountStorage::Regular;
        for opt in ["ro", "rro"] {
            let m = cm("/data", "/srv/d", "bind", &["rbind", opt], r);
            assert!(
                matches!(
                    plan_mount(&m, "c", 0),
                    VolumeAction::Share { readonly: true, .. }
                ),
                "{opt}"
            );
            assert_eq!(bind_options(&m), vec!["rbind", "ro"], "{opt}");
        }
        let m = cm("/data", "/srv/d", "bind", &["rbind", "rw"], r);
        assert!(matches!(
            plan_mount(&m, "c", 0),
            VolumeAction::Share {
                readonly: false,
                ..
            }
        ));
        assert_eq!(bind_options(&m), vec!["rbind"]);
    }

    /// A pod directory with `mounts/` and `shared/`, and a host source `p` holding `sub/f`.
    fn pod(dir: &Path) -> (Layout, Vec<CleanupStep>, PathBuf) {
        let layout = Layout::new(
            "sb",
            crate::host::layout::Roots {
                shared: dir.join("shared"),
                state: dir.join("state"),
                vm: dir.join("vm"),
            },
        );
        let mut steps = Vec::new();
        crate::host::shared::setup_shared_dirs(&layout, &mut steps).expect("setup");
        let p = std::fs::canonicalize(dir).expect("canonicalize").join("p");
        std::fs::create_dir_all(p.join("sub")).expect("mkdir");
        std::fs::write(p.join("sub/f"), b"host").expect("write");
        (layout, steps, p)
    }

    fn bind(dest: &str, src: &Path, opt: &str) -> ClassifiedMount {
        cm(
            dest,
            &src.display().to_string(),
            "bind",
            &["rbind", opt],
            MountStorage::Regular,
        )
    }

    /// Writes through every host copy of the writable volume `name`: (its `sub/f`, a new file
    /// at its top), in `mounts/` and in `shared/`.
    fn writes(layout: &Layout, name: &str) -> Vec<(bool, bool)> {
        [layout.mount_path(name), layout.shared_dir().join(name)]
            .iter()
            .map(|base| {
                (
                    erofs(std::fs::write(base.join("sub/f"), b"guest")),
                    std::fs::write(base.join("top"), b"guest").is_ok(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn a_read_only_volume_inside_a_writable_one_is_sealed_in_its_copy_in_both_orders() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (layout, sandbox_steps, p) = pod(dir.path());
        let mut shares = Shares::default();

        // One container: writable /rwp, then read-only /rwp/sub (with `rro`).
        let mut c1 = Vec::new();
        let one = apply(
            &layout,
            "c1",
            &[
                bind("/rwp", &p, "rw"),
                bind("/rwp/sub", &p.join("sub"), "rro"),
            ],
            &mut shares,
            &mut c1,
        );
        let w1 = writes(&layout, "c1-0-rwp");
        // Another container: read-only /ro on p/sub first, then writable /w on p.
        let mut c2 = Vec::new();
        let two = apply(
            &layout,
            "c2",
            &[bind("/ro", &p.join("sub"), "ro"), bind("/w", &p, "rw")],
            &mut shares,
            &mut c2,
        );
        let w2 = writes(&layout, "c2-1-w");
        // A third, read-only on p itself: c1's and c2's writable copies are sealed whole, and
        // c1 and c2 get the unmount steps of those seals.
        let mut c3 = Vec::new();
        let three = apply(
            &layout,
            "c3",
            &[bind("/all", &p, "ro")],
            &mut shares,
            &mut c3,
        );
        let top_sealed = erofs(std::fs::write(layout.shared_dir().join("c1-0-rwp/x"), b"g"));
        let mut foreign = shares.take_foreign_steps();
        foreign.sort_by(|a, b| a.0.cmp(&b.0));
        for (owner, step) in &foreign {
            match owner.as_str() {
                "c1" => c1.push(step.clone()),
                "c2" => c2.push(step.clone()),
                other => panic!("step for {other}"),
            }
        }
        // c1 goes first (its foreign seal step too), then c3, c2, the sandbox.
        let mut failures = Vec::new();
        for list in [&c1, &c3, &c2, &sandbox_steps] {
            failures.extend(crate::host::cleanup::run_steps(list).await);
        }
        one.expect("c1 volumes");
        two.expect("c2 volumes");
        three.expect("c3 volumes");
        assert!(failures.is_empty(), "{failures:?}");
        assert!(!layout.sandbox_dir().exists(), "left behind");
        // c2's /ro and c3's /all in c1's copy, c3's /all in c2's.
        assert_eq!(foreign.len(), 3, "{foreign:?}");
        for w in [&w1, &w2] {
            assert_eq!(
                w,
                &vec![(true, true), (true, true)],
                "sealed sub, writable top"
            );
        }
        assert!(
            top_sealed,
            "the copy of a source shared read-only stays writable"
        );
        assert_eq!(std::fs::read(p.join("sub/f")).expect("read"), b"host");
        assert!(p.join("top").exists());
    }

    #[tokio::test]
    async fn a_symlink_planted_in_a_writable_volume_is_not_followed_by_a_later_mount() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (layout, sandbox_steps, p) = pod(dir.path());
        let secret = p.parent().expect("parent").join("secret");
        std::fs::create_dir(&secret).expect("mkdir");
        let mut shares = Shares::default();
        let mut c1 = Vec::new();
        let first = apply(
            &layout,
            "c1",
            &[bind("/rwp", &p, "rw")],
            &mut shares,
            &mut c1,
        );
        // The guest plants a symlink through the writable volume.
        std::os::unix::fs::symlink(&secret, p.join("planted")).expect("symlink");
        let mut c2 = Vec::new();
        let late = apply(
            &layout,
            "c2",
            &[bind("/x", &p.join("planted"), "rw")],
            &mut shares,
            &mut c2,
        );
        let mut failures = Vec::new();
        for list in [&c2, &c1, &sandbox_steps] {
            failures.extend(crate::host::cleanup::run_steps(list).await);
        }
        first.expect("c1");
        let err = late.expect_err("the planted symlink must be refused");
        let text = format!("{err}: {err:?}");
        assert!(
            text.contains("planted") && text.contains("mount source"),
            "{text}"
        );
        assert!(failures.is_empty(), "{failures:?}");
        assert!(!layout.sandbox_dir().exists(), "left behind");
    }
}
