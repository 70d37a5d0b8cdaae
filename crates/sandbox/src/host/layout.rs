//! Where a sandbox's files live on the host and what the guest sees.

use std::path::{Path, PathBuf};

/// virtio-fs tag of the shared directory.
pub const SHARED_FS_TAG: &str = "kataShared";
/// Where the agent mounts the shared directory in the guest.
pub const GUEST_SHARED_DIR: &str = "/run/kata-containers/shared/containers/";
/// Guest directory of the sandbox's `/dev/shm`.
pub const GUEST_SANDBOX_SHM: &str = "/run/kata-containers/sandbox/shm";
/// Guest directory under which ephemeral (tmpfs) volumes are created.
pub const GUEST_EPHEMERAL_DIR: &str = "/run/kata-containers/sandbox/ephemeral";

/// Host roots; the defaults are Kata's, tests point them at a temporary directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// `/run/kata-containers/shared/sandboxes`
    pub shared: PathBuf,
    /// `/run/vc/sbs`
    pub state: PathBuf,
    /// `/run/vc/vm`
    pub vm: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            shared: PathBuf::from("/run/kata-containers/shared/sandboxes"),
            state: PathBuf::from("/run/vc/sbs"),
            vm: PathBuf::from("/run/vc/vm"),
        }
    }
}

/// The paths of one sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub sandbox_id: String,
    pub roots: Roots,
}

impl Layout {
    pub fn new(sandbox_id: impl Into<String>, roots: Roots) -> Self {
        Self {
            sandbox_id: sandbox_id.into(),
            roots,
        }
    }

    /// `<shared>/<sid>`
    pub fn sandbox_dir(&self) -> PathBuf {
        self.roots.shared.join(&self.sandbox_id)
    }

    /// Host-private tree where rootfs and volumes are mounted.
    pub fn mounts_dir(&self) -> PathBuf {
        self.sandbox_dir().join("mounts")
    }

    /// Read-only, slave view of [`Self::mounts_dir`] exported to the guest.
    pub fn shared_dir(&self) -> PathBuf {
        self.sandbox_dir().join("shared")
    }

    /// `mounts/<name>`: a container dir or a shared volume.
    pub fn mount_path(&self, name: &str) -> PathBuf {
        self.mounts_dir().join(name)
    }

    /// `mounts/<cid>/rootfs`
    pub fn rootfs_host(&self, container_id: &str) -> PathBuf {
        self.mount_path(container_id).join("rootfs")
    }

    /// `/run/vc/sbs/<sid>`
    pub fn state_dir(&self) -> PathBuf {
        self.roots.state.join(&self.sandbox_id)
    }

    /// `/run/vc/vm/<sid>`
    pub fn vm_dir(&self) -> PathBuf {
        self.roots.vm.join(&self.sandbox_id)
    }
}

/// Guest path of a container's root file system.
pub fn guest_rootfs(container_id: &str) -> String {
    format!("{GUEST_SHARED_DIR}{container_id}/rootfs")
}

/// Guest path of an entry of the shared directory.
pub fn guest_shared(name: &str) -> String {
    format!("{GUEST_SHARED_DIR}{name}")
}

/// True when `id` can name a directory: no separators, not `.`/`..`, not empty.
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && !id.contains('/')
        && !id.contains('\0')
        && Path::new(id).components().count() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kata_layout() {
        let l = Layout::new("sb", Roots::default());
        assert_eq!(
            l.rootfs_host("c1"),
            PathBuf::from("/run/kata-containers/shared/sandboxes/sb/mounts/c1/rootfs")
        );
        assert_eq!(
            l.shared_dir(),
            PathBuf::from("/run/kata-containers/shared/sandboxes/sb/shared")
        );
        assert_eq!(l.state_dir(), PathBuf::from("/run/vc/sbs/sb"));
        assert_eq!(
            guest_rootfs("c1"),
            "/run/kata-containers/shared/containers/c1/rootfs"
        );
    }

    #[test]
    fn ids_with_separators_are_refused() {
        assert!(is_safe_id("abc-123"));
        assert!(!is_safe_id("../x"));
        assert!(!is_safe_id(".."));
        assert!(!is_safe_id(""));
        assert!(!is_safe_id("a/b"));
    }
}
