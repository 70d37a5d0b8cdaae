//! Resolving untrusted paths inside a root directory.
//!
//! A container rootfs comes from the host and may hold symlinks such as `etc -> /` or
//! `data -> ../../..`. Every path the agent creates, mounts over or writes to on behalf of a request
//! is resolved here first, the way `openat2(RESOLVE_IN_ROOT)` does: symlinks are followed one
//! component at a time, absolute targets restart at `root`, and `..` never climbs above `root`.
//! The result is always `root` joined with a clean relative path.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use crate::error::{AgentError, Result};

/// Symlinks followed before giving up (Linux uses 40 too).
const MAX_SYMLINKS: usize = 40;

/// Resolves `unsafe_path` (absolute or relative, read as relative to `root`) inside `root`.
/// Components that do not exist are kept literally, so the result can be created afterwards.
pub fn resolve_in_root(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    let mut resolved = PathBuf::new(); // relative to root, always clean
    let mut pending: Vec<std::ffi::OsString> = components(unsafe_path);
    pending.reverse();
    let mut followed = 0;

    while let Some(part) = pending.pop() {
        if part == OsStr::new("..") {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return Err(AgentError::InvalidArgument(format!(
                        "too many symlinks resolving {} in {}",
                        unsafe_path.display(),
                        root.display()
                    )));
                }
                let target = std::fs::read_link(&full)
                    .map_err(|e| AgentError::io("reading symlink", &full, e))?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

/// Normal components of `p`; `/` and `.` vanish, `..` is kept for the resolver.
fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Checks lexically that the absolute, `..`-free `path` lies below `root`.
pub fn ensure_within(root: &Path, path: &Path) -> Result<()> {
    let clean = path.is_absolute() && !path.components().any(|c| matches!(c, Component::ParentDir));
    if clean && path.starts_with(root) {
        Ok(())
    } else {
        Err(AgentError::PathEscape {
            path: path.to_path_buf(),
            root: root.to_path_buf(),
        })
    }
}

/// Resolves `unsafe_path` inside `root` and creates it (and its parents) as directories there.
pub fn create_dir_all_in_root(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    create_in_root(root, unsafe_path, None)
}

/// Like [`create_dir_all_in_root`], giving the directories it creates exactly `mode` (whatever
/// the umask).
pub fn create_dir_all_in_root_mode(root: &Path, unsafe_path: &Path, mode: u32) -> Result<PathBuf> {
    create_in_root(root, unsafe_path, Some(mode))
}

fn create_in_root(root: &Path, unsafe_path: &Path, mode: Option<u32>) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let target = resolve_in_root(root, unsafe_path)?;
    // Create one level at a time, re-resolving so that a symlink planted meanwhile is caught.
    let rel = target
        .strip_prefix(root)
        .map_err(|_| AgentError::PathEscape {
            path: target.clone(),
            root: root.to_path_buf(),
        })?;
    let mut built = PathBuf::new();
    for c in rel.components() {
        built.push(c);
        let step = resolve_in_root(root, &built)?;
        ensure_within(root, &step)?;
        match std::fs::create_dir(&step) {
            Ok(()) => {
                if let Some(mode) = mode {
                    std::fs::set_permissions(&step, std::fs::Permissions::from_mode(mode))
                        .map_err(|e| AgentError::io("setting the mode of", &step, e))?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(AgentError::io("creating directory", &step, e)),
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        dir
    }

    #[test]
    fn plain_paths_stay_below_root() {
        let r = root();
        assert_eq!(
            resolve_in_root(r.path(), Path::new("/etc/hosts")).expect("resolve"),
            r.path().join("etc/hosts")
        );
        assert_eq!(
            resolve_in_root(r.path(), Path::new("a/./b")).expect("resolve"),
            r.path().join("a/b")
        );
    }

    #[test]
    fn dotdot_is_clamped_at_root() {
        let r = root();
        let p = resolve_in_root(r.path(), Path::new("/../../../etc/passwd")).expect("resolve");
        assert_eq!(p, r.path().join("etc/passwd"));
    }

    #[test]
    fn symlink_to_parent_parent_cannot_escape() {
        let r = root();
        symlink("../..", r.path().join("evil")).expect("symlink");
        let p = resolve_in_root(r.path(), Path::new("/evil/tmp/x")).expect("resolve");
        assert_eq!(p, r.path().join("tmp/x"));
        assert!(ensure_within(r.path(), &p).is_ok());
    }

    #[test]
    fn absolute_symlink_restarts_at_root() {
        let r = root();
        symlink("/", r.path().join("etc/rootlink")).expect("symlink");
        symlink("/etc", r.path().join("conf")).expect("symlink");
        assert_eq!(
            resolve_in_root(r.path(), Path::new("/etc/rootlink/bin")).expect("resolve"),
            r.path().join("bin")
        );
        assert_eq!(
            resolve_in_root(r.path(), Path::new("/conf/hosts")).expect("resolve"),
            r.path().join("etc/hosts")
        );
    }

    #[test]
    fn symlink_loop_is_refused() {
        let r = root();
        symlink("b", r.path().join("a")).expect("symlink");
        symlink("a", r.path().join("b")).expect("symlink");
        assert!(matches!(
            resolve_in_root(r.path(), Path::new("/a")),
            Err(AgentError::InvalidArgument(_))
        ));
    }

    #[test]
    fn guard_fires_on_escaping_paths() {
        let root = Path::new("/run/kata-containers/shared/containers");
        assert!(ensure_within(
            root,
            Path::new("/run/kata-containers/shared/containers/c1/rootfs/x")
        )
        .is_ok());
        assert!(matches!(
            ensure_within(
                root,
                Path::new("/run/kata-containers/shared/containers/../../../etc/passwd")
            ),
            Err(AgentError::PathEscape { .. })
        ));
        assert!(ensure_within(root, Path::new("/etc/passwd")).is_err());
        assert!(ensure_within(root, Path::new("relative/path")).is_err());
    }

    #[test]
    fn create_dir_all_follows_planted_symlink_inside_root_only() {
        let r = root();
        let outside = tempfile::tempdir().expect("tempdir");
        // A symlink pointing at an absolute host path must not create anything there.
        symlink(outside.path(), r.path().join("out")).expect("symlink");
        let made = create_dir_all_in_root(r.path(), Path::new("/out/newdir")).expect("create");
        assert!(made.starts_with(r.path()));
        assert!(made.is_dir());
        assert!(
            !outside.path().join("newdir").exists(),
            "escaped through the symlink"
        );
    }
}
