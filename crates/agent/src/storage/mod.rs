//! Storages: file systems the runtime asks the agent to mount for the sandbox or a container.
//!
//! Each storage names a driver (`virtio-fs`, `9p`, `blk`, `scsi`, `ephemeral`, `local`); a handler per
//! driver prepares the source (finds the block device, creates the directory, ...) and mounts it at
//! `mount_point`. Mounts are reference-counted per sandbox: a second container naming the same
//! mount point shares the first mount, and the last release unmounts it.

mod device;
mod ephemeral;
mod local;
mod mounter;
mod options;
mod shared_fs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use mounter::{Mounter, SysMounter};
pub use options::MountOptions;

use crate::error::{AgentError, Result};
use crate::paths;
use crate::safe_path;

/// One storage request, free of protocol types.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageSpec {
    pub driver: String,
    pub driver_options: Vec<String>,
    pub source: String,
    pub fstype: String,
    pub options: Vec<String>,
    pub mount_point: PathBuf,
    /// Group that should own the volume (`fs_group.group_id`), if any.
    pub fs_group: Option<u32>,
}

/// Driver names understood by this agent (reported by GetGuestDetails).
pub const DRIVERS: &[&str] = &[
    "virtio-fs",
    "9p",
    "blk",
    "virtio-blk",
    "scsi",
    "ephemeral",
    "local",
];

/// What a handler needs from its environment.
pub struct Context<'a> {
    pub mounter: &'a dyn Mounter,
    /// Root of the sysfs tree (`/sys`, a fake tree in tests).
    pub sysfs: &'a Path,
    /// How long to wait for a hot-plugged device.
    pub device_timeout: Duration,
}

/// The storages of one sandbox and how many users each has.
pub struct StorageManager {
    mounter: Arc<dyn Mounter>,
    /// On-disk directory standing for [`paths::KATA_RUN`] (the same path in the guest).
    run_root: PathBuf,
    sysfs: PathBuf,
    device_timeout: Duration,
    refs: Mutex<HashMap<PathBuf, usize>>,
}

impl StorageManager {
    pub fn new(
        mounter: Arc<dyn Mounter>,
        run_root: PathBuf,
        sysfs: PathBuf,
        device_timeout: Duration,
    ) -> Self {
        StorageManager {
            mounter,
            run_root,
            sysfs,
            device_timeout,
            refs: Mutex::new(HashMap::new()),
        }
    }

    /// Mounts `spec` (or takes one more reference to it) and returns the guest path.
    pub fn add(&self, spec: &StorageSpec) -> Result<PathBuf> {
        let mount_point = confine_mount_point(&self.run_root, &spec.mount_point)?;
        {
            let mut refs = self.lock();
            if let Some(n) = refs.get_mut(&mount_point) {
                *n += 1;
                return Ok(mount_point);
            }
        }
        let ctx = Context {
            mounter: self.mounter.as_ref(),
            sysfs: &self.sysfs,
            device_timeout: self.device_timeout,
        };
        let mut spec = spec.clone();
        spec.mount_point = mount_point.clone();
        match spec.driver.as_str() {
            "virtio-fs" => shared_fs::mount_virtio_fs(&ctx, &spec)?,
            "9p" => shared_fs::mount_9p(&ctx, &spec)?,
            "blk" | "virtio-blk" => device::mount_virtio_blk(&ctx, &spec)?,
            "scsi" => device::mount_scsi(&ctx, &spec)?,
            "ephemeral" => ephemeral::mount(&ctx, &spec)?,
            "local" => local::create(&ctx, &spec)?,
            other => {
                return Err(AgentError::InvalidArgument(format!(
                    "unknown storage driver {other:?}"
                )))
            }
        }
        self.lock().insert(mount_point.clone(), 1);
        Ok(mount_point)
    }

    /// UpdateEphemeralMounts: remounts a mounted `ephemeral` storage with new options (e.g. `size=`).
    pub fn remount_ephemeral(&self, spec: &StorageSpec) -> Result<()> {
        if spec.driver != "ephemeral" {
            return Err(AgentError::InvalidArgument(format!(
                "cannot update {} storage {}",
                spec.driver,
                spec.mount_point.display()
            )));
        }
        let mount_point = confine_mount_point(&self.run_root, &spec.mount_point)?;
        if !self.lock().contains_key(&mount_point) {
            return Err(AgentError::NotFound(format!(
                "storage {}",
                spec.mount_point.display()
            )));
        }
        let opts = MountOptions::parse(&spec.options);
        let fstype = if spec.fstype.is_empty() {
            "tmpfs"
        } else {
            spec.fstype.as_str()
        };
        let data = opts.data_without(|k| k == "fsgid");
        self.mounter.mount(
            fstype,
            &mount_point,
            fstype,
            opts.flags | nix::mount::MsFlags::MS_REMOUNT,
            &data,
        )
    }

    /// Drops one reference to `mount_point`, unmounting it after the last one.
    pub fn release(&self, mount_point: &Path) -> Result<()> {
        let last = {
            let mut refs = self.lock();
            match refs.get_mut(mount_point) {
                None => return Ok(()),
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    refs.remove(mount_point);
                    true
                }
            }
        };
        if last {
            self.mounter.unmount(mount_point)?;
        }
        Ok(())
    }

    /// Unmounts everything, most recent first where paths nest (deepest first).
    pub fn release_all(&self) -> Vec<AgentError> {
        let mut points: Vec<PathBuf> = self.lock().drain().map(|(p, _)| p).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        points
            .iter()
            .filter_map(|p| self.mounter.unmount(p).err())
            .collect()
    }

    /// How many users `mount_point` has.
    #[cfg(test)]
    pub fn refcount(&self, mount_point: &Path) -> usize {
        self.lock().get(mount_point).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, usize>> {
        self.refs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Storages may only be mounted below the agent's run directory ([`paths::KATA_RUN`], stored at
/// `run_root`); symlinks are resolved inside it.
pub fn confine_mount_point(run_root: &Path, mount_point: &Path) -> Result<PathBuf> {
    let guest_root = Path::new(paths::KATA_RUN);
    safe_path::ensure_within(guest_root, mount_point)?;
    let rel = mount_point.strip_prefix(guest_root).unwrap_or(mount_point);
    safe_path::resolve_in_root(run_root, rel)
}

/// Applies `fs_group`: the volume root becomes owned by the group and setgid.
fn apply_fs_group(path: &Path, gid: Option<u32>) -> Result<()> {
    let Some(gid) = gid else { return Ok(()) };
    use std::os::unix::fs::PermissionsExt;
    nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
        .map_err(|e| AgentError::errno("changing group of", path, e))?;
    let meta =
        std::fs::metadata(path).map_err(|e| AgentError::io("reading metadata of", path, e))?;
    let mode = meta.permissions().mode() | 0o2000 | 0o070;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| AgentError::io("setting mode of", path, e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::storage::mounter::fake::FakeMounter;

    pub fn manager(fake: Arc<FakeMounter>, run_root: &Path) -> StorageManager {
        StorageManager::new(
            fake,
            run_root.to_path_buf(),
            PathBuf::from("/nonexistent-sys"),
            Duration::from_millis(50),
        )
    }

    fn virtiofs() -> StorageSpec {
        StorageSpec {
            driver: "virtio-fs".into(),
            source: "kataShared".into(),
            fstype: "virtiofs".into(),
            mount_point: PathBuf::from("/run/kata-containers/shared/containers"),
            ..Default::default()
        }
    }

    #[test]
    fn same_mount_point_is_mounted_once_and_refcounted() {
        let fake = Arc::new(FakeMounter::default());
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(fake.clone(), run.path());
        let p = m.add(&virtiofs()).expect("first");
        m.add(&virtiofs()).expect("second");
        assert_eq!(fake.mounts().len(), 1);
        assert_eq!(m.refcount(&p), 2);
        m.release(&p).expect("release");
        assert!(fake.unmounts().is_empty());
        m.release(&p).expect("release");
        assert_eq!(fake.unmounts(), vec![p.clone()]);
        assert_eq!(m.refcount(&p), 0);
    }

    #[test]
    fn ephemeral_storage_is_remounted_with_new_size() {
        let fake = Arc::new(FakeMounter::default());
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(fake.clone(), run.path());
        let mut spec = StorageSpec {
            driver: "ephemeral".into(),
            fstype: "tmpfs".into(),
            options: vec!["size=1m".into()],
            mount_point: PathBuf::from("/run/kata-containers/sandbox/ephemeral/v"),
            ..Default::default()
        };
        assert!(matches!(
            m.remount_ephemeral(&spec),
            Err(AgentError::NotFound(_))
        ));
        m.add(&spec).expect("add");
        spec.options = vec!["size=2m".into()];
        m.remount_ephemeral(&spec).expect("remount");
        let last = fake.mounts().pop().expect("call");
        assert!(last.flags.contains(nix::mount::MsFlags::MS_REMOUNT));
        assert_eq!(last.data, "size=2m");
        let other = StorageSpec {
            driver: "local".into(),
            ..spec
        };
        assert!(matches!(
            m.remount_ephemeral(&other),
            Err(AgentError::InvalidArgument(_))
        ));
    }

    #[test]
    fn unknown_driver_is_invalid_argument() {
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(Arc::new(FakeMounter::default()), run.path());
        let spec = StorageSpec {
            driver: "nvdimm-x".into(),
            ..virtiofs()
        };
        assert!(matches!(m.add(&spec), Err(AgentError::InvalidArgument(_))));
    }

    #[test]
    fn mount_point_outside_run_dir_is_refused() {
        let fake = Arc::new(FakeMounter::default());
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(fake.clone(), run.path());
        for bad in ["/etc", "/run/kata-containers/../../etc", "relative"] {
            let spec = StorageSpec {
                mount_point: PathBuf::from(bad),
                ..virtiofs()
            };
            assert!(
                matches!(m.add(&spec), Err(AgentError::PathEscape { .. })),
                "{bad}"
            );
        }
        assert!(fake.mounts().is_empty());
    }
}
