//! Mount points made inside a container's root file system on the host, before a read-only
//! rootfs is sealed: once it is read-only the guest can no longer create them, and the container
//! runtime in the guest needs one for every mount (runc and youki create them when missing).
//!
//! The rootfs comes from an image, which may be hostile: every path is resolved with
//! `openat2(2)` and `RESOLVE_IN_ROOT`, so a symlink in the image (`/data -> /etc`) resolves
//! inside the rootfs, never to a host path.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::host::mount::open_nofollow;

/// What a mount point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

fn io_of(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// Opens `rel` (relative, "" for the root) below `root` as an `O_PATH` handle, resolving it as
/// if `root` were `/`.
fn open_in_root(root: &File, rel: &Path) -> std::result::Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let rel: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let fd = nix::fcntl::openat2(root.as_raw_fd(), rel, how)?;
    // SAFETY: `fd` was just returned by openat2 and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn create_in(parent: &OwnedFd, name: &OsStr, kind: Kind) -> std::result::Result<(), Errno> {
    let made = match kind {
        Kind::Dir => nix::sys::stat::mkdirat(
            Some(parent.as_raw_fd()),
            name,
            Mode::from_bits_truncate(0o755),
        ),
        Kind::File => nix::fcntl::openat(
            Some(parent.as_raw_fd()),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        // SAFETY: the descriptor was just returned by openat and is closed right here.
        .map(|fd| drop(unsafe { OwnedFd::from_raw_fd(fd) })),
    };
    match made {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes `dest` (a container path such as `/data`) inside `root` when missing: the parents as
/// directories, the last component as `kind`. Whatever already exists is left as it is.
///
/// Errors: a `..` component ([`Error::InvalidArgument`]), or [`Error::Io`] naming the path.
pub fn ensure_in_root(root: &Path, dest: &Path, kind: Kind) -> Result<()> {
    let root_file = open_nofollow(root)?;
    let mut names = Vec::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => names.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::InvalidArgument {
                    what: format!("mount destination {}", dest.display()),
                    reason: "must not hold `..`".into(),
                })
            }
        }
    }
    let mut cur = PathBuf::new();
    for (i, name) in names.iter().enumerate() {
        let parent = cur.clone();
        cur.push(name);
        match open_in_root(&root_file, &cur) {
            Ok(_) => continue,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::io("resolve", root.join(&cur), io_of(e))),
        }
        let kind = if i + 1 == names.len() {
            kind
        } else {
            Kind::Dir
        };
        let parent_fd = open_in_root(&root_file, &parent)
            .map_err(|e| Error::io("resolve", root.join(&parent), io_of(e)))?;
        create_in(&parent_fd, name, kind)
            .map_err(|e| Error::io("create mount point", root.join(&cur), io_of(e)))?;
    }
    Ok(())
}

/// The mount points a container needs in its rootfs: every mount destination outside `/proc`,
/// `/sys` and `/dev` (the guest mounts those first), a file for a bind of a host file, and
/// the working directory.
pub fn needed(spec: &Spec) -> Vec<(PathBuf, Kind)> {
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let dest = m.destination();
        if ["/proc", "/sys", "/dev"]
            .iter()
            .any(|p| dest.starts_with(p))
            || dest == Path::new("/")
        {
            continue;
        }
        let is_bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        let file = is_bind && m.source().as_ref().is_some_and(|s| s.is_file());
        out.push((dest.clone(), if file { Kind::File } else { Kind::Dir }));
    }
    if let Some(cwd) = spec.process().as_ref().map(|p| p.cwd()) {
        if cwd != Path::new("/") {
            out.push((cwd.clone(), Kind::Dir));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_in_the_image_stay_inside_the_rootfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("rootfs");
        let outside = dir.path().join("host-etc");
        std::fs::create_dir_all(root.join("etc")).expect("mkdir");
        std::fs::create_dir(&outside).expect("mkdir");
        // An absolute symlink that would leave the rootfs if followed on the host.
        std::os::unix::fs::symlink(&outside, root.join("data")).expect("symlink");
        std::os::unix::fs::symlink("/etc", root.join("cfg")).expect("symlink");

        // `/data` resolves inside the rootfs, to a path that does not exist there: refused.
        assert!(ensure_in_root(&root, Path::new("/data/sub"), Kind::Dir).is_err());
        ensure_in_root(&root, Path::new("/cfg/hostname"), Kind::File).expect("cfg/hostname");
        ensure_in_root(&root, Path::new("/new/deep/dir"), Kind::Dir).expect("new");

        assert!(
            std::fs::read_dir(&outside).expect("ls").next().is_none(),
            "nothing may be created outside the rootfs"
        );
        assert!(root.join("etc/hostname").is_file());
        assert!(root.join("new/deep/dir").is_dir());
        assert!(ensure_in_root(&root, Path::new("/../x"), Kind::Dir).is_err());
    }
}
