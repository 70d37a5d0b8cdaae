//! Mount and unmount without following symlinks (the CVE-2020-2024/2026 class): targets are
//! opened with `O_PATH|O_NOFOLLOW` and mounted through `/proc/self/fd/N`; unmounts use
//! `UMOUNT_NOFOLLOW` after an `lstat`.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result};

fn io_of(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// Opens `path` as an `O_PATH` handle, refusing a symlink as the last component.
pub fn open_nofollow(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let meta = file.metadata().map_err(|e| Error::io("stat", path, e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::Symlink(path.to_owned()));
    }
    Ok(file)
}

/// Opens `path` as an `O_PATH` handle with `openat2(2)` and `RESOLVE_NO_SYMLINKS`: no
/// component may be a symlink. For a path resolved beforehand into one without symlinks
/// ([`crate::host::shares::resolve_source`]), this closes the window in which a guest swaps a
/// directory of a writable share for a symlink between the resolution and the mount.
///
/// Errors: [`Error::Io`] naming `path` (`ELOOP` when a component is a symlink; `ENOSYS` on a
/// kernel older than 5.6).
pub fn open_no_symlinks(path: &Path) -> Result<File> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| Error::io("open", path, std::io::Error::other(e)))?;
    /// `struct open_how` of openat2(2) (libc's is non-exhaustive).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: 0,
        resolve: libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: openat2(2) reads the NUL-terminated path and `how` (of the size passed); both
    // live across the call. It returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(Error::io("open", path, std::io::Error::last_os_error()));
    }
    let fd = i32::try_from(fd)
        .map_err(|_| Error::io("open", path, std::io::Error::other("bad descriptor")))?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Fails when any existing component of `path` is a symlink.
pub fn ensure_no_symlink(path: &Path) -> Result<()> {
    let mut cur = PathBuf::new();
    for comp in path.components() {
        cur.push(comp);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => return Err(Error::Symlink(cur)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("stat", cur, e)),
        }
    }
    Ok(())
}

/// Creates `path` and its missing parents (mode 0750), refusing symlinks on the way.
/// Returns the directories it created, outermost first.
pub fn create_dirs(path: &Path) -> Result<Vec<PathBuf>> {
    ensure_no_symlink(path)?;
    let mut missing = Vec::new();
    let mut cur = Some(path);
    while let Some(p) = cur {
        if p.as_os_str().is_empty() || std::fs::symlink_metadata(p).is_ok() {
            break;
        }
        missing.push(p.to_owned());
        cur = p.parent();
    }
    missing.reverse();
    for dir in &missing {
        std::fs::DirBuilder::new()
            .mode(0o750)
            .create(dir)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| Error::io("create directory", dir, e))?;
    }
    Ok(missing)
}

/// Creates an empty regular file at `path` (a bind target for a file), never through a symlink.
pub fn create_file(path: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o640)
        .open(path)
        .map(drop)
        .map_err(|e| Error::io("create file", path, e))
}

/// Mounts a file system (`fstype`, `source`, `data`) on `target`.
pub fn mount_fs(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: &str,
) -> Result<()> {
    let tgt = open_nofollow(target)?;
    let data = (!data.is_empty()).then_some(data);
    nix::mount::mount(Some(source), &fd_path(&tgt), Some(fstype), flags, data)
        .map_err(|e| Error::io("mount", target, io_of(e)))
}

/// Bind-mounts `source` (recursively) on `target`, read-only when asked. A read-only bind is
/// read-only in every mount of it, nested mounts and propagated copies included (see
/// [`crate::host::readonly`]).
pub fn bind(source: &Path, target: &Path, readonly: bool) -> Result<()> {
    if readonly {
        return crate::host::readonly::bind_readonly(source, target);
    }
    let src = open_nofollow(source)?;
    let tgt = open_nofollow(target)?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    nix::mount::mount(
        Some(&fd_path(&src)),
        &fd_path(&tgt),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| Error::io("bind mount", target, io_of(e)))
}

/// Makes the one mount at `target` read-only. Copies that propagation made earlier and nested
/// mounts stay writable: only for a mount that has neither yet (use [`bind`] otherwise).
pub fn remount_readonly(target: &Path) -> Result<()> {
    let tgt = open_nofollow(target)?;
    nix::mount::mount(
        None::<&str>,
        &fd_path(&tgt),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(|e| Error::io("remount read-only", target, io_of(e)))
}

/// Sets the propagation of the mount at `target` (`MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`).
pub fn set_propagation(target: &Path, propagation: MsFlags) -> Result<()> {
    let tgt = open_nofollow(target)?;
    nix::mount::mount(
        None::<&str>,
        &fd_path(&tgt),
        None::<&str>,
        propagation,
        None::<&str>,
    )
    .map_err(|e| Error::io("set propagation of", target, io_of(e)))
}

/// Lazily unmounts `target` without following a symlink; a path that is gone or not a mount
/// point is fine.
pub fn unmount(target: &Path) -> Result<()> {
    ensure_no_symlink(target)?;
    match nix::mount::umount2(target, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io("unmount", target, io_of(e))),
    }
}

/// True when `path` exists and is a directory (not following a symlink).
pub fn is_dir_nofollow(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// True when `path` is a block or character device.
pub fn is_device(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| {
        let t = m.file_type();
        t.is_block_device() || t.is_char_device()
    })
}

/// Splits mount(8)-style options into flags and the data string.
pub fn parse_options(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other.to_owned());
                continue;
            }
        };
        flags.insert(set);
        flags.remove(clear);
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_and_data() {
        let opts: Vec<String> = ["ro", "nosuid", "lowerdir=/a:/b", "upperdir=/u", "index=off"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (flags, data) = parse_options(&opts);
        assert!(flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
        assert_eq!(data, "lowerdir=/a:/b,upperdir=/u,index=off");
        let (flags, _) = parse_options(&["ro".to_string(), "rw".to_string()]);
        assert!(!flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        assert!(matches!(
            open_nofollow(&link),
            Err(Error::Symlink(_)) | Err(Error::Io { .. })
        ));
        assert!(matches!(
            ensure_no_symlink(&link.join("x")),
            Err(Error::Symlink(p)) if p == link
        ));
        assert!(matches!(
            create_dirs(&link.join("sub")),
            Err(Error::Symlink(_))
        ));
        assert!(!real.join("sub").exists());
        assert!(open_nofollow(&real).is_ok());
    }

    #[test]
    fn create_dirs_reports_what_it_made() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = create_dirs(&dir.path().join("a/b/c")).expect("create");
        assert_eq!(
            made,
            vec![
                dir.path().join("a"),
                dir.path().join("a/b"),
                dir.path().join("a/b/c")
            ]
        );
        assert!(create_dirs(&dir.path().join("a/b/c"))
            .expect("again")
            .is_empty());
    }
}
