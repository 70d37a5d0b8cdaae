//! The sandbox's registry of shared volumes, and what it guards.
//!
//! Each volume shared with the guest through virtio-fs is a bind of a host source under
//! `mounts/`. Two volumes of one pod can overlap on the host: a read-only volume whose source
//! lies inside (or is) the source of a writable one is reachable, writable, through the writable
//! copy (a guest `mount --bind` of the writable volume, or an unmount of the read-only one over
//! it, shows it). So every such read-only source is also **sealed** inside the writable copy: a
//! read-only bind ([`crate::host::readonly`]) over the corresponding path below the writable
//! volume's target, whichever of the two came first. Kata has no such check; it follows from its
//! CVE-2020-28914 class.
//!
//! The sources of the writable volumes are also the directories in which the guest can plant
//! symlinks: [`resolve_source`] refuses a mount source whose resolution crosses one
//! (CVE-2020-2024/2026 class). Not covered: a symlink planted by another pod in a directory this
//! pod mounts later (each sandbox only knows its own shares).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::host::cleanup::CleanupStep;
use crate::types::RootfsMount;

/// Symlinks followed at most while resolving one path (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// One volume shared with the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The container that mounted it.
    pub container_id: String,
    /// The host source, resolved (no symlink, absolute).
    pub source: PathBuf,
    /// Where it is bound, `mounts/<name>`.
    pub target: PathBuf,
    pub readonly: bool,
}

/// A read-only bind of `source` to make over `target`, a path inside a writable share's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub source: PathBuf,
    pub target: PathBuf,
    /// The container owning the writable share when it is not the new share's: it gets the
    /// unmount step too, so that the seal goes before its share, whichever container goes first.
    pub rw_owner: Option<String>,
}

/// The shares of one sandbox, with the unmount steps of seals owned by other containers.
#[derive(Debug, Default)]
pub struct Shares {
    shares: Vec<Share>,
    foreign: Vec<(String, CleanupStep)>,
    /// Writable container root file systems on the host (overlay upper dirs, bundle rootfs
    /// binds), by container.
    rootfs_dirs: Vec<(String, PathBuf)>,
}

impl Shares {
    /// The seals a new share (`source` resolved, bound on `target`) needs.
    pub fn seals_for(&self, source: &Path, target: &Path, readonly: bool) -> Vec<Seal> {
        let mut out = Vec::new();
        for s in self.shares.iter().filter(|s| s.readonly != readonly) {
            // (read-only source, writable source, writable target, its owner)
            let (ro, rw, rw_target, rw_owner) = if readonly {
                (source, &s.source, &s.target, Some(&s.container_id))
            } else {
                (
                    s.source.as_path(),
                    &source.to_owned(),
                    &target.to_owned(),
                    None,
                )
            };
            let Ok(rel) = ro.strip_prefix(rw) else {
                continue;
            };
            out.push(Seal {
                source: ro.to_owned(),
                target: if rel.as_os_str().is_empty() {
                    rw_target.clone()
                } else {
                    rw_target.join(rel)
                },
                rw_owner: rw_owner.cloned(),
            });
        }
        out
    }

    /// Records a share once it is mounted.
    pub fn add(&mut self, share: Share) {
        self.shares.push(share);
    }

    /// Records the unmount step of a seal for `container_id`, another container than the one
    /// being created (taken by [`Self::take_foreign_steps`]).
    pub fn add_foreign_step(&mut self, container_id: &str, step: CleanupStep) {
        self.foreign.push((container_id.to_owned(), step));
    }

    /// The steps to append to other containers' cleanup lists.
    pub fn take_foreign_steps(&mut self) -> Vec<(String, CleanupStep)> {
        std::mem::take(&mut self.foreign)
    }

    /// Records the host directories through which the guest writes the root file system of
    /// `container_id`: the `upperdir=` of its overlay mounts, or `bundle_rootfs` when it has no
    /// rootfs mount (a bind of the bundle's rootfs). Paths that do not resolve are skipped.
    pub fn add_rootfs(&mut self, container_id: &str, mounts: &[RootfsMount], bundle_rootfs: &Path) {
        let mut dirs: Vec<PathBuf> = mounts
            .iter()
            .flat_map(|m| m.options.iter())
            .filter_map(|o| o.strip_prefix("upperdir="))
            .map(PathBuf::from)
            .collect();
        if mounts.is_empty() {
            dirs.push(bundle_rootfs.to_owned());
        }
        for dir in dirs {
            if let Ok(dir) = std::fs::canonicalize(&dir) {
                self.rootfs_dirs.push((container_id.to_owned(), dir));
            }
        }
    }

    /// Forgets the shares of a removed container.
    pub fn remove_container(&mut self, container_id: &str) {
        self.shares.retain(|s| s.container_id != container_id);
        self.foreign.retain(|(c, _)| c != container_id);
        self.rootfs_dirs.retain(|(c, _)| c != container_id);
    }

    /// Host directories the guest can write, through a writable share or a container's
    /// rootfs: where it can plant symlinks.
    pub fn writable_sources(&self) -> Vec<PathBuf> {
        self.shares
            .iter()
            .filter(|s| !s.readonly)
            .map(|s| s.source.clone())
            .chain(self.rootfs_dirs.iter().map(|(_, d)| d.clone()))
            .collect()
    }
}

/// Resolves `source` component by component (like `realpath`, `lstat` on each prefix),
/// refusing to follow a symlink that lies inside one of `guarded` (directories the guest can
/// write). Other symlinks are followed (at most [`MAX_SYMLINKS`]). A relative `source` is taken
/// from the current directory. The result has no symlink left; open it with
/// [`crate::host::mount::open_no_symlinks`] so that a symlink swapped in later fails the open.
///
/// Errors: [`Error::InvalidArgument`] naming the mount source and the symlink; [`Error::Io`]
/// when a component cannot be read (`ELOOP` after too many symlinks).
pub fn resolve_source(source: &Path, guarded: &[PathBuf]) -> Result<PathBuf> {
    let start = if source.is_absolute() {
        source.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("resolve mount source", source, e))?
            .join(source)
    };
    let mut todo: VecDeque<OsString> = VecDeque::new();
    push_front(&mut todo, &start);
    let mut resolved = PathBuf::from("/");
    let mut followed = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let next = resolved.join(&name);
        let meta = std::fs::symlink_metadata(&next)
            .map_err(|e| Error::io("resolve mount source", &next, e))?;
        if !meta.file_type().is_symlink() {
            resolved = next;
            continue;
        }
        if let Some(dir) = guarded.iter().find(|g| next.starts_with(g)) {
            return Err(Error::InvalidArgument {
                what: format!("mount source {}", source.display()),
                reason: format!(
                    "it goes through the symlink {}, inside {} which the guest can write; \
                     refusing to follow it",
                    next.display(),
                    dir.display()
                ),
            });
        }
        followed += 1;
        if followed > MAX_SYMLINKS {
            return Err(Error::io(
                "resolve mount source",
                source,
                std::io::Error::from_raw_os_error(libc::ELOOP),
            ));
        }
        let link = std::fs::read_link(&next).map_err(|e| Error::io("read symlink", &next, e))?;
        if link.is_absolute() {
            resolved = PathBuf::from("/");
        }
        push_front(&mut todo, &link);
    }
    Ok(resolved)
}

/// Puts the names of `path` (`.` dropped, `..` kept) before the ones still to resolve.
fn push_front(todo: &mut VecDeque<OsString>, path: &Path) {
    let names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    for n in names.into_iter().rev() {
        todo.push_front(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn share(cid: &str, source: &str, target: &str, readonly: bool) -> Share {
        Share {
            container_id: cid.into(),
            source: source.into(),
            target: target.into(),
            readonly,
        }
    }

    #[test]
    fn read_only_sources_inside_writable_ones_are_sealed_in_both_orders() {
        let mut shares = Shares::default();
        shares.add(share("c1", "/p", "/m/c1-0-rwp", false));
        shares.add(share("c1", "/q", "/m/c1-1-q", false));
        // A read-only volume added after the writable one: sealed in its copy.
        assert_eq!(
            shares.seals_for(Path::new("/p/sub"), Path::new("/m/c2-0-sub"), true),
            vec![Seal {
                source: "/p/sub".into(),
                target: "/m/c1-0-rwp/sub".into(),
                rw_owner: Some("c1".into()),
            }]
        );
        // The same source: the whole writable copy is sealed.
        assert_eq!(
            shares.seals_for(Path::new("/p"), Path::new("/m/c2-0-p"), true)[0].target,
            PathBuf::from("/m/c1-0-rwp")
        );
        // Not inside: /pp is not below /p; a writable volume needs nothing from another one.
        assert!(shares
            .seals_for(Path::new("/pp"), Path::new("/m/c2-0-pp"), true)
            .is_empty());
        assert!(shares
            .seals_for(Path::new("/p/sub"), Path::new("/m/c2-0-sub"), false)
            .is_empty());

        // A writable volume added after a read-only one inside it.
        let mut shares = Shares::default();
        shares.add(share("c1", "/p/a/b", "/m/c1-0-b", true));
        assert_eq!(
            shares.seals_for(Path::new("/p"), Path::new("/m/c2-0-p"), false),
            vec![Seal {
                source: "/p/a/b".into(),
                target: "/m/c2-0-p/a/b".into(),
                rw_owner: None,
            }]
        );
        shares.remove_container("c1");
        assert!(shares
            .seals_for(Path::new("/p"), Path::new("/m/c2-0-p"), false)
            .is_empty());
    }

    #[test]
    fn writable_rootfs_dirs_are_guarded_until_their_container_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = std::fs::canonicalize(dir.path()).expect("canonicalize");
        for d in ["upper", "lower", "bundle"] {
            std::fs::create_dir(base.join(d)).expect("mkdir");
        }
        let overlay = RootfsMount {
            fs_type: "overlay".into(),
            source: "overlay".into(),
            options: vec![
                format!("lowerdir={}", base.join("lower").display()),
                format!("upperdir={}", base.join("upper").display()),
            ],
        };
        let mut shares = Shares::default();
        shares.add(share("c1", "/p", "/m/c1-0-p", false));
        shares.add(share("c1", "/r", "/m/c1-1-r", true));
        shares.add_rootfs("c1", &[overlay], &base.join("unused"));
        shares.add_rootfs("c2", &[], &base.join("bundle"));
        assert_eq!(
            shares.writable_sources(),
            vec![PathBuf::from("/p"), base.join("upper"), base.join("bundle")]
        );
        shares.remove_container("c1");
        assert_eq!(shares.writable_sources(), vec![base.join("bundle")]);
    }

    #[test]
    fn symlinks_inside_writable_shares_are_refused_others_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = std::fs::canonicalize(dir.path()).expect("canonicalize");
        let rw = base.join("rw");
        let host = base.join("host-secret");
        std::fs::create_dir_all(rw.join("real/sub")).expect("mkdir");
        std::fs::create_dir(&host).expect("mkdir");
        symlink(&host, rw.join("planted")).expect("symlink");
        symlink("real", rw.join("rel")).expect("symlink");
        symlink(rw.join("real"), base.join("elsewhere")).expect("symlink");
        let guarded = vec![rw.clone()];

        let err = resolve_source(&rw.join("planted"), &guarded).expect_err("planted");
        let text = format!("{err}: {err:?}");
        assert!(text.contains("planted"), "{text}");
        assert!(text.contains(&rw.display().to_string()), "{text}");
        // A relative one inside, and one crossed in the middle of the path.
        assert!(resolve_source(&rw.join("rel/sub"), &guarded).is_err());
        // Without the guard, both resolve as realpath does.
        assert_eq!(
            resolve_source(&rw.join("planted"), &[]).expect("free"),
            host
        );
        assert_eq!(
            resolve_source(&rw.join("rel/sub/../sub"), &[]).expect("free"),
            rw.join("real/sub")
        );
        // A symlink outside the guarded directories, pointing into one, is followed.
        assert_eq!(
            resolve_source(&base.join("elsewhere/sub"), &guarded).expect("outside"),
            rw.join("real/sub")
        );
        // A loop ends in an error.
        symlink(base.join("loop"), base.join("loop")).expect("symlink");
        assert!(resolve_source(&base.join("loop"), &[]).is_err());
    }
}
