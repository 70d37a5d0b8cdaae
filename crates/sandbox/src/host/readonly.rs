//! Read-only binds that are read-only in every copy (Kata's CVE-2020-28914 class).
//!
//! A bind mounted read-write and then remounted read-only is read-only in that one mount only:
//! the copies that propagation already made (the one under `shared/`, which virtiofsd exports,
//! and the one in virtiofsd's own mount namespace) were cloned while it was still writable, and
//! `MS_REMOUNT` never propagates. Nested mounts of a recursive bind are not touched at all.
//!
//! Here the bind is built as a detached tree (`open_tree(2)` with `OPEN_TREE_CLONE` and
//! `AT_RECURSIVE`), every mount of that tree is made read-only and private with
//! `mount_setattr(2)` (`AT_RECURSIVE`) **before** the tree is attached with `move_mount(2)`, so
//! every propagated copy is born read-only, and no later host mount can propagate into it
//! read-write. [`verify`] then reads `/proc/self/mountinfo` and refuses a volume any of whose
//! mounts, under `mounts/` or under `shared/`, is writable.
//!
//! Needs Linux 5.12 (`mount_setattr`); an older kernel gets a clear error, never a writable
//! volume.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::host::layout::Layout;
use crate::host::mount::open_nofollow;

const EMPTY: &CStr = c"";

fn unsupported(call: &str, version: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the kernel lacks {call}(2) (Linux {version} or later): a read-only mount cannot be \
             made read-only in every copy the guest can reach, refusing it"
        ),
    )
}

fn last_error(call: &str, version: &str) -> io::Error {
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOSYS) {
        unsupported(call, version)
    } else {
        e
    }
}

/// Clones the mount tree at `dir` (recursively) into a detached tree, returned as a file
/// descriptor; closing it without attaching unmounts the clone.
fn clone_tree(dir: &File) -> io::Result<OwnedFd> {
    let flags = libc::OPEN_TREE_CLONE
        | libc::OPEN_TREE_CLOEXEC
        | libc::AT_RECURSIVE as libc::c_uint
        | libc::AT_EMPTY_PATH as libc::c_uint;
    // SAFETY: open_tree(2) reads the NUL-terminated empty path and the flags; `dir` stays open
    // for the call. It returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), EMPTY.as_ptr(), flags) };
    if fd < 0 {
        return Err(last_error("open_tree", "5.2"));
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("open_tree returned a bad fd"))?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes every mount of the detached tree `tree` private, and read-only when `readonly`.
fn seal_tree(tree: &OwnedFd, readonly: bool) -> io::Result<()> {
    let attr = libc::mount_attr {
        attr_set: if readonly { libc::MOUNT_ATTR_RDONLY } else { 0 },
        attr_clr: 0,
        propagation: libc::MS_PRIVATE,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr(2) reads `attr` (of the size passed) and the empty path; both live
    // across the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            EMPTY.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc < 0 {
        return Err(last_error("mount_setattr", "5.12"));
    }
    Ok(())
}

/// Attaches the detached tree `tree` on the directory (or file) `target`.
fn attach(tree: &OwnedFd, target: &File) -> io::Result<()> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: move_mount(2) reads two empty NUL-terminated paths; both descriptors are open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            EMPTY.as_ptr(),
            target.as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
        )
    };
    if rc < 0 {
        return Err(last_error("move_mount", "5.2"));
    }
    Ok(())
}

/// Clones the mount tree at `source` (recursively: its nested mounts come along), seals it
/// read-only and attaches it on `target`. Neither path may be a symlink.
///
/// Errors: [`Error::Symlink`], or [`Error::Io`] naming `target` (an `Unsupported` source on a
/// kernel older than 5.12).
pub fn bind_readonly(source: &Path, target: &Path) -> Result<()> {
    let src = open_nofollow(source)?;
    let tgt = open_nofollow(target)?;
    bind_tree(&src, &tgt, true, (source, target))
}

/// Clones the mount tree open as `src` (recursively), makes it private (never a propagation
/// peer of the source's mount, so nothing mounted later below the copy reaches the host's
/// tree), read-only when `readonly`, and attaches it on `tgt`. `names` (source, target) name
/// the two in errors.
///
/// Errors: [`Error::Io`] naming the source or the target.
pub fn bind_tree(src: &File, tgt: &File, readonly: bool, names: (&Path, &Path)) -> Result<()> {
    let (source, target) = names;
    let tree = clone_tree(src).map_err(|e| Error::io("clone the mount tree of", source, e))?;
    let op = if readonly {
        "make read-only"
    } else {
        "make private"
    };
    seal_tree(&tree, readonly).map_err(|e| Error::io(op, target, e))?;
    attach(&tree, tgt).map_err(|e| Error::io("attach bind on", target, e))
}

/// Moves whatever is mounted at `staging` (recursively) onto `target` as a read-only tree: the
/// clone is sealed before it is attached; `staging` is then lazily unmounted.
pub fn seal_onto(staging: &Path, target: &Path) -> Result<()> {
    bind_readonly(staging, target)?;
    crate::host::mount::unmount(staging)
}

/// One line of `/proc/self/mountinfo`: where, and whether the mount itself is read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub readonly: bool,
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let mount_point = fields.nth(4)?;
            let options = fields.next()?;
            Some(MountEntry {
                mount_point: PathBuf::from(kata_oci::unescape_mount_field(mount_point)),
                readonly: options.split(',').any(|o| o == "ro"),
            })
        })
        .collect()
}

/// The mounts at `root` or below it.
fn under<'a>(entries: &'a [MountEntry], root: &'a Path) -> impl Iterator<Item = &'a MountEntry> {
    entries
        .iter()
        .filter(move |e| e.mount_point.starts_with(root))
}

/// Checks that every mount at or below `target` (under `mounts/`) and its counterpart under
/// `shared/` is read-only, and that both exist. `what` names the volume in the error.
pub fn verify_entries(
    entries: &[MountEntry],
    layout: &Layout,
    target: &Path,
    what: &str,
) -> Result<()> {
    let fail = |reason: String| Error::InvalidArgument {
        what: what.to_owned(),
        reason,
    };
    let rel = target.strip_prefix(layout.mounts_dir()).map_err(|_| {
        fail(format!(
            "{} is not under {}",
            target.display(),
            layout.mounts_dir().display()
        ))
    })?;
    let counterpart = layout.shared_dir().join(rel);
    for root in [target, counterpart.as_path()] {
        // A mount stacked on `root` (a seal over a writable share) hides the ones before it:
        // only the topmost mount at `root` and what was mounted after it count.
        let Some(top) = entries.iter().rposition(|e| e.mount_point == root) else {
            return Err(fail(format!("no mount at {}", root.display())));
        };
        for e in under(&entries[top..], root) {
            if !e.readonly {
                return Err(fail(format!(
                    "the mount at {} is writable, refusing a read-only mount that the guest \
                     could write",
                    e.mount_point.display()
                )));
            }
        }
    }
    Ok(())
}

/// [`verify_entries`] on this process's `/proc/self/mountinfo`.
pub fn verify(layout: &Layout, target: &Path, what: &str) -> Result<()> {
    let path = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    verify_entries(&parse_mountinfo(&text), layout, target, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::cleanup::{run_steps, CleanupStep};
    use crate::host::layout::Roots;
    use crate::host::{mount, shared};
    use nix::mount::MsFlags;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn layout_in(dir: &Path) -> Layout {
        Layout::new(
            "sb",
            Roots {
                shared: dir.join("shared"),
                state: dir.join("state"),
                vm: dir.join("vm"),
            },
        )
    }

    fn erofs(r: std::io::Result<()>) -> bool {
        matches!(r, Err(e) if e.raw_os_error() == Some(libc::EROFS))
    }

    /// Every kind of write a guest could try, each of which must fail with EROFS under `base`.
    fn assert_unwritable(base: &Path) {
        use std::os::unix::fs::PermissionsExt;
        for dir in [base.to_path_buf(), base.join("nested")] {
            let file = dir.join("file");
            assert!(
                erofs(std::fs::write(&file, b"x")),
                "write {}",
                file.display()
            );
            assert!(
                erofs(std::fs::write(dir.join("new"), b"x")),
                "create in {}",
                dir.display()
            );
            assert!(
                erofs(std::fs::set_permissions(
                    &file,
                    std::fs::Permissions::from_mode(0o777)
                )),
                "chmod {}",
                file.display()
            );
            assert!(
                erofs(std::fs::remove_file(&file)),
                "unlink {}",
                file.display()
            );
            assert!(
                erofs(std::fs::rename(&file, dir.join("renamed"))),
                "rename {}",
                file.display()
            );
            assert!(
                erofs(std::fs::create_dir(dir.join("d"))),
                "mkdir in {}",
                dir.display()
            );
            assert_eq!(std::fs::read(&file).expect("readable"), b"host");
        }
    }

    #[tokio::test]
    async fn readonly_bind_with_a_nested_mount_is_readonly_in_mounts_and_shared() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = layout_in(dir.path());
        let mut steps = Vec::new();
        shared::setup_shared_dirs(&layout, &mut steps).expect("setup");

        // The host volume: a file, and a nested mount (tmpfs) holding another file.
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("nested")).expect("mkdir");
        std::fs::write(src.join("file"), b"host").expect("write");
        mount::mount_fs("tmpfs", &src.join("nested"), "tmpfs", MsFlags::empty(), "")
            .expect("nested tmpfs");
        std::fs::write(src.join("nested/file"), b"host").expect("write nested");

        let target = layout.mount_path("vol");
        for made in mount::create_dirs(&target).expect("mkdir") {
            steps.push(CleanupStep::RemoveDir { path: made });
        }
        let bound = mount::bind(&src, &target, true);
        steps.push(CleanupStep::Unmount {
            path: target.clone(),
        });
        bound.expect("read-only bind");
        let verified = verify(&layout, &target, "volume vol");

        let outcome = std::panic::catch_unwind(|| {
            assert_unwritable(&target);
            assert_unwritable(&layout.shared_dir().join("vol"));
        });
        // The source itself stays writable for the host.
        let host_write = std::fs::write(src.join("nested/file"), b"host");

        let failures = run_steps(&steps).await;
        let _ = mount::unmount(&src.join("nested"));
        assert!(failures.is_empty(), "{failures:?}");
        verified.expect("verified read-only everywhere");
        host_write.expect("the host source stays writable");
        if let Err(p) = outcome {
            std::panic::resume_unwind(p);
        }
        assert!(!layout.sandbox_dir().exists());
    }

    #[tokio::test]
    async fn a_read_only_file_bind_is_read_only_in_mounts_and_shared() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = layout_in(dir.path());
        let mut steps = Vec::new();
        shared::setup_shared_dirs(&layout, &mut steps).expect("setup");
        let src = dir.path().join("hosts");
        std::fs::write(&src, b"host").expect("write");
        let target = layout.mount_path("c-0-hosts");
        mount::create_file(&target).expect("create");
        steps.push(CleanupStep::RemoveFile {
            path: target.clone(),
        });
        let bound = mount::bind(&src, &target, true);
        steps.push(CleanupStep::Unmount {
            path: target.clone(),
        });
        let verified = verify(&layout, &target, "volume /etc/hosts");
        let writes = [
            std::fs::write(&target, b"guest"),
            std::fs::write(layout.shared_dir().join("c-0-hosts"), b"guest"),
        ];
        let seen = std::fs::read(layout.shared_dir().join("c-0-hosts"));
        let failures = run_steps(&steps).await;
        assert!(failures.is_empty(), "{failures:?}");
        bound.expect("bind");
        verified.expect("verified");
        for w in writes {
            assert!(erofs(w));
        }
        assert_eq!(seen.expect("read"), b"host");
        assert_eq!(std::fs::read(&src).expect("read"), b"host");
    }

    #[tokio::test]
    async fn a_remount_only_read_only_bind_is_refused_by_verify() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = layout_in(dir.path());
        let mut steps = Vec::new();
        shared::setup_shared_dirs(&layout, &mut steps).expect("setup");
        let src = dir.path().join("src");
        std::fs::create_dir(&src).expect("mkdir");
        let target = layout.mount_path("vol");
        for made in mount::create_dirs(&target).expect("mkdir") {
            steps.push(CleanupStep::RemoveDir { path: made });
        }
        // The old way: a writable bind remounted read-only; its copy under `shared/` stays
        // writable.
        mount::bind(&src, &target, false).expect("bind");
        steps.push(CleanupStep::Unmount {
            path: target.clone(),
        });
        mount::remount_readonly(&target).expect("remount");
        let verified = verify(&layout, &target, "volume vol");
        let failures = run_steps(&steps).await;
        assert!(failures.is_empty(), "{failures:?}");
        let err = verified.expect_err("a writable copy must be refused");
        let text = err.to_string();
        assert!(text.contains("volume vol"), "{text}");
        assert!(
            matches!(err, Error::InvalidArgument { reason, .. } if reason.contains("/shared/vol"))
        );
    }

    #[test]
    fn mountinfo_lines_are_parsed_with_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 98:0 / /srv ro,relatime shared:2 - ext4 /dev/sda rw\n\
                    garbage\n";
        let e = parse_mountinfo(text);
        assert_eq!(
            e,
            vec![
                MountEntry {
                    mount_point: "/mnt/a b".into(),
                    readonly: false
                },
                MountEntry {
                    mount_point: "/srv".into(),
                    readonly: true
                },
            ]
        );
        // An escape that ends the field is decoded too.
        let end = parse_mountinfo("1 1 0:1 / /end\\040 ro - tmpfs x ro");
        assert_eq!(end[0].mount_point, std::path::Path::new("/end "));
    }

    #[test]
    fn verify_wants_every_copy_read_only_and_present() {
        let layout = layout_in(Path::new("/x"));
        let target = layout.mount_path("vol");
        let shared = layout.shared_dir().join("vol");
        let entry = |p: &Path, ro: bool| MountEntry {
            mount_point: p.to_path_buf(),
            readonly: ro,
        };
        let good = vec![
            entry(&target, true),
            entry(&target.join("n"), true),
            entry(&shared, true),
            entry(&shared.join("n"), true),
            entry(&layout.mount_path("volume2"), false),
        ];
        verify_entries(&good, &layout, &target, "v").expect("all read-only");
        let mut nested_rw = good.clone();
        nested_rw[3].readonly = false;
        assert!(verify_entries(&nested_rw, &layout, &target, "v").is_err());
        let missing = good[..2].to_vec();
        assert!(verify_entries(&missing, &layout, &target, "v").is_err());
        assert!(verify_entries(&good, &layout, Path::new("/elsewhere"), "v").is_err());
    }
}
