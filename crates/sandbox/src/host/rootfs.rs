//! The container root file system on the host: containerd's rootfs mounts (usually overlay)
//! mounted at `mounts/<cid>/rootfs`, or a bind of the bundle's `rootfs` when there are none.

use std::path::Path;

use crate::error::{Error, Result};
use crate::host::cleanup::CleanupStep;
use crate::host::layout::Layout;
use crate::host::mount;
use crate::types::RootfsMount;

/// Mounts the rootfs of `container_id`; `bundle_rootfs` is the spec's `root.path` resolved
/// against the bundle.
pub fn mount_rootfs(
    layout: &Layout,
    container_id: &str,
    mounts: &[RootfsMount],
    bundle_rootfs: &Path,
    steps: &mut Vec<CleanupStep>,
) -> Result<()> {
    let target = layout.rootfs_host(container_id);
    for made in mount::create_dirs(&target)? {
        steps.push(CleanupStep::RemoveDir { path: made });
    }
    if mounts.is_empty() {
        if !mount::is_dir_nofollow(bundle_rootfs) {
            return Err(Error::InvalidArgument {
                what: "rootfs".into(),
                reason: format!("{} is not a directory", bundle_rootfs.display()),
            });
        }
        mount::bind(bundle_rootfs, &target, false)?;
        steps.push(CleanupStep::Unmount { path: target });
        return Ok(());
    }
    for m in mounts {
        let (flags, data) = mount::parse_options(&m.options);
        if m.fs_type == "bind" || flags.contains(nix::mount::MsFlags::MS_BIND) {
            let ro = flags.contains(nix::mount::MsFlags::MS_RDONLY);
            mount::bind(Path::new(&m.source), &target, ro)?;
        } else {
            mount::mount_fs(&m.source, &target, &m.fs_type, flags, &data)?;
        }
        steps.push(CleanupStep::Unmount {
            path: target.clone(),
        });
    }
    Ok(())
}
