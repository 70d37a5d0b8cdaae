//! CopyFile: the runtime copies files (hostname, resolv.conf, ...) into the guest in chunks.
//! Only paths below the shared containers directory are accepted; symlinks are resolved inside it.

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{AgentError, Result};
use crate::paths;
use crate::safe_path;

#[derive(Debug, Clone)]
pub struct CopyFileRequest {
    pub path: PathBuf,
    pub file_size: i64,
    pub file_mode: u32,
    pub dir_mode: u32,
    pub uid: i32,
    pub gid: i32,
    pub offset: i64,
    pub data: Vec<u8>,
}

/// Writes one chunk. `shared_root` is where [`paths::SHARED_CONTAINERS`] lives on disk.
pub fn copy_file(shared_root: &Path, req: &CopyFileRequest) -> Result<()> {
    let guest_root = Path::new(paths::SHARED_CONTAINERS);
    safe_path::ensure_within(guest_root, &req.path)?;
    let rel = req.path.strip_prefix(guest_root).unwrap_or(&req.path);
    if rel.as_os_str().is_empty() {
        return Err(AgentError::InvalidArgument(format!(
            "copy target {} is the shared directory",
            req.path.display()
        )));
    }
    if req.offset < 0
        || req.file_size < 0
        || req.offset.saturating_add(req.data.len() as i64) > req.file_size
    {
        return Err(AgentError::InvalidArgument(format!(
            "chunk at {} exceeds file size {}",
            req.offset, req.file_size
        )));
    }
    let target = safe_path::resolve_in_root(shared_root, rel)?;
    safe_path::ensure_within(shared_root, &target)?;
    let target_rel = target.strip_prefix(shared_root).unwrap_or(rel);
    let parent_rel = target_rel.parent().unwrap_or(Path::new(""));
    let parent = safe_path::create_dir_all_in_root(shared_root, parent_rel)?;
    if req.dir_mode != 0 && !parent_rel.as_os_str().is_empty() {
        let _ = std::fs::set_permissions(
            &parent,
            std::fs::Permissions::from_mode(req.dir_mode & 0o7777),
        );
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(req.offset == 0)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(req.file_mode & 0o7777)
        .open(&target)
        .map_err(|e| AgentError::io("opening copy target", &target, e))?;
    f.seek(SeekFrom::Start(req.offset as u64))
        .map_err(|e| AgentError::io("seeking in", &target, e))?;
    f.write_all(&req.data)
        .map_err(|e| AgentError::io("writing", &target, e))?;
    if req.file_mode != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(req.file_mode & 0o7777))
            .map_err(|e| AgentError::io("setting mode of", &target, e))?;
    }
    if req.uid >= 0 || req.gid >= 0 {
        let uid = (req.uid >= 0).then(|| nix::unistd::Uid::from_raw(req.uid as u32));
        let gid = (req.gid >= 0).then(|| nix::unistd::Gid::from_raw(req.gid as u32));
        let _ = nix::unistd::fchown(std::os::fd::AsRawFd::as_raw_fd(&f), uid, gid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, offset: i64, data: &[u8], size: i64) -> CopyFileRequest {
        CopyFileRequest {
            path: PathBuf::from(path),
            file_size: size,
            file_mode: 0o644,
            dir_mode: 0o755,
            uid: -1,
            gid: -1,
            offset,
            data: data.to_vec(),
        }
    }

    #[test]
    fn chunks_are_assembled() {
        let root = tempfile::tempdir().expect("tempdir");
        let p = "/run/kata-containers/shared/containers/sb/hostname";
        copy_file(root.path(), &req(p, 0, b"hel", 5)).expect("chunk 1");
        copy_file(root.path(), &req(p, 3, b"lo", 5)).expect("chunk 2");
        assert_eq!(
            std::fs::read(root.path().join("sb/hostname")).expect("read"),
            b"hello"
        );
    }

    #[test]
    fn paths_outside_the_shared_dir_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        for p in [
            "/etc/passwd",
            "/run/kata-containers/shared/containers/../../../etc/x",
            "/run/kata-containers/shared/containers",
        ] {
            assert!(copy_file(root.path(), &req(p, 0, b"x", 1)).is_err(), "{p}");
        }
    }

    #[test]
    fn planted_symlinks_cannot_redirect_the_copy() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), root.path().join("evil")).expect("symlink");
        std::os::unix::fs::symlink("../../../..", root.path().join("up")).expect("symlink");
        copy_file(
            root.path(),
            &req("/run/kata-containers/shared/containers/evil/f", 0, b"x", 1),
        )
        .expect("copy");
        copy_file(
            root.path(),
            &req("/run/kata-containers/shared/containers/up/g", 0, b"y", 1),
        )
        .expect("copy");
        assert!(
            !outside.path().join("f").exists(),
            "escaped through absolute symlink"
        );
        assert!(root.path().join("g").exists());
        // A symlink as the final component is not followed out either.
        std::os::unix::fs::symlink("/etc/hostname", root.path().join("last")).expect("symlink");
        copy_file(
            root.path(),
            &req("/run/kata-containers/shared/containers/last", 0, b"z", 1),
        )
        .expect("copy");
        assert!(root.path().join("etc/hostname").exists());
    }

    #[test]
    fn oversize_chunk_is_invalid() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = req("/run/kata-containers/shared/containers/f", 4, b"xx", 5);
        assert!(matches!(
            copy_file(root.path(), &r),
            Err(AgentError::InvalidArgument(_))
        ));
    }
}
