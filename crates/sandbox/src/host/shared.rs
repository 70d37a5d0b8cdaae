//! The shared directory: `mounts` (host-private, made a shared mount) and `shared`, a read-only
//! slave bind of it that virtiofsd exports, so later submounts of `mounts` appear in the guest.

use nix::mount::MsFlags;

use crate::error::Result;
use crate::host::cleanup::CleanupStep;
use crate::host::layout::Layout;
use crate::host::mount;

/// Creates `mounts` and `shared` for the sandbox, recording each step in `steps`.
pub fn setup_shared_dirs(layout: &Layout, steps: &mut Vec<CleanupStep>) -> Result<()> {
    let mounts = layout.mounts_dir();
    let shared = layout.shared_dir();
    for dir in [&mounts, &shared] {
        for made in mount::create_dirs(dir)? {
            steps.push(CleanupStep::RemoveDir { path: made });
        }
    }
    // `mounts` becomes its own mount point so it can be a propagation peer whatever /run is.
    mount::bind(&mounts, &mounts, false)?;
    steps.push(CleanupStep::Unmount {
        path: mounts.clone(),
    });
    mount::set_propagation(&mounts, MsFlags::MS_PRIVATE)?;
    mount::set_propagation(&mounts, MsFlags::MS_SHARED)?;
    mount::bind(&mounts, &shared, false)?;
    steps.push(CleanupStep::Unmount {
        path: shared.clone(),
    });
    mount::set_propagation(&shared, MsFlags::MS_SLAVE)?;
    mount::remount_readonly(&shared)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::cleanup::run_steps;
    use crate::host::layout::Roots;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[tokio::test]
    async fn submounts_of_mounts_appear_read_only_in_shared() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let roots = Roots {
            shared: dir.path().join("shared"),
            state: dir.path().join("state"),
            vm: dir.path().join("vm"),
        };
        let layout = Layout::new("sb", roots);
        let mut steps = Vec::new();
        setup_shared_dirs(&layout, &mut steps).expect("setup");

        // A later mount below `mounts` shows up below `shared`.
        let src = dir.path().join("src");
        std::fs::create_dir(&src).expect("mkdir");
        std::fs::write(src.join("hello"), b"hi").expect("write");
        let target = layout.mount_path("vol");
        for made in mount::create_dirs(&target).expect("mkdir") {
            steps.push(CleanupStep::RemoveDir { path: made });
        }
        mount::bind(&src, &target, false).expect("bind");
        steps.push(CleanupStep::Unmount {
            path: target.clone(),
        });
        let seen = std::fs::read(layout.shared_dir().join("vol/hello"));
        let ro = std::fs::write(layout.shared_dir().join("new"), b"x");

        let failures = run_steps(&steps).await;
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(seen.expect("visible through shared"), b"hi");
        assert!(ro.is_err(), "shared must be read-only");
        assert!(!layout.sandbox_dir().exists());
        assert!(
            src.join("hello").exists(),
            "cleanup must not touch bind sources"
        );
    }
}
