//! The unprivileged system user the VM's host helpers run as: vhost-device-vsock always, QEMU
//! when `rootless = true` (kata-sandbox's `rootless` module).
//!
//! Kata's Go runtime creates a throw-away user per rootless sandbox; kata-rs uses one dedicated
//! system user, [`UNPRIVILEGED_USER`], created on first use with `useradd --system` (no home, no
//! login shell, its own group) and then kept, as distributions do for `libvirt-qemu`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::{chown, Gid, User};

/// The system user unprivileged VM helpers run as.
pub const UNPRIVILEGED_USER: &str = "kata-qemu";

/// A uid and its primary gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
}

/// A failure to find, create or grant access to the unprivileged user.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("cannot look up user {user}")]
    Lookup {
        user: String,
        #[source]
        source: nix::Error,
    },
    #[error("cannot create system user {user} with useradd: {detail}")]
    Create { user: String, detail: String },
    #[error("user {user} has uid 0 or gid 0 ({uid}:{gid}): refusing to treat it as unprivileged")]
    Privileged { user: String, uid: u32, gid: u32 },
    #[error("cannot give group {gid} access to {path}")]
    Grant {
        path: PathBuf,
        gid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// The uid and primary gid of the system user `name`, created with `useradd --system` (its own
/// group, home `/nonexistent`, shell `/usr/sbin/nologin`) when absent. A concurrent creation by
/// another shim (useradd exit code 9, name in use) counts as success. Fails when the user maps
/// to uid 0 or gid 0.
pub fn ensure_system_user(name: &str) -> Result<Identity, UserError> {
    let user = match lookup(name)? {
        Some(u) => u,
        None => {
            create_system_user(name)?;
            lookup(name)?.ok_or_else(|| UserError::Create {
                user: name.into(),
                detail: "useradd succeeded but the user is still unknown".into(),
            })?
        }
    };
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    if uid == 0 || gid == 0 {
        return Err(UserError::Privileged {
            user: name.into(),
            uid,
            gid,
        });
    }
    Ok(Identity { uid, gid })
}

fn lookup(name: &str) -> Result<Option<User>, UserError> {
    User::from_name(name).map_err(|source| UserError::Lookup {
        user: name.into(),
        source,
    })
}

fn create_system_user(name: &str) -> Result<(), UserError> {
    let out = std::process::Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "kata-rs unprivileged VM helpers",
            name,
        ])
        .output()
        .map_err(|e| UserError::Create {
            user: name.into(),
            detail: e.to_string(),
        })?;
    if out.status.success() || out.status.code() == Some(9) {
        tracing::info!(
            user = name,
            "created the system user for unprivileged VM helpers"
        );
        Ok(())
    } else {
        Err(UserError::Create {
            user: name.into(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Mode of a directory the unprivileged helpers create sockets in: owner unchanged (root),
/// group `rwx`, sticky (a helper cannot remove or rename files it does not own), nothing for
/// others.
pub const SHARED_DIR_MODE: u32 = 0o1770;

/// Opens `dir` to group `gid` with [`SHARED_DIR_MODE`] and gives every ancestor that lacks it
/// search permission for others (`o+x`: the path resolves, nobody can list it).
pub fn open_dir_to_group(dir: &Path, gid: u32) -> Result<(), UserError> {
    for ancestor in dir.ancestors().skip(1) {
        allow_search(ancestor, gid)?;
    }
    set_group_and_mode(dir, gid, SHARED_DIR_MODE)
}

/// Adds `o+x` to a directory that lacks it (the root directory and empty paths are skipped).
pub fn allow_search(dir: &Path, gid: u32) -> Result<(), UserError> {
    if dir.as_os_str().is_empty() || dir == Path::new("/") {
        return Ok(());
    }
    let err = |source: std::io::Error| UserError::Grant {
        path: dir.to_path_buf(),
        gid,
        source,
    };
    let mode = std::fs::metadata(dir).map_err(err)?.permissions().mode();
    if mode & 0o001 == 0 {
        std::fs::set_permissions(
            dir,
            std::fs::Permissions::from_mode((mode & 0o7777) | 0o001),
        )
        .map_err(err)?;
    }
    Ok(())
}

/// Sets the group of `path` to `gid` (owner unchanged) and its mode to `mode`.
pub fn set_group_and_mode(path: &Path, gid: u32, mode: u32) -> Result<(), UserError> {
    let err = |source: std::io::Error| UserError::Grant {
        path: path.to_path_buf(),
        gid,
        source,
    };
    chown(path, None, Some(Gid::from_raw(gid))).map_err(|e| err(e.into()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_user_is_unprivileged_and_found_again() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let who = ensure_system_user(UNPRIVILEGED_USER).expect("user");
        assert_ne!(who.uid, 0);
        assert_ne!(who.gid, 0);
        assert_eq!(ensure_system_user(UNPRIVILEGED_USER).expect("again"), who);
    }

    #[test]
    fn open_dir_gives_the_group_a_sticky_dir_and_others_search_only() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let parent = dir.path().join("vc");
        let vm = parent.join("vm");
        std::fs::create_dir(&parent).expect("mkdir");
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        std::fs::create_dir(&vm).expect("mkdir");
        open_dir_to_group(&vm, 65534).expect("open");
        let d = std::fs::metadata(&vm).expect("stat");
        assert_eq!((d.uid(), d.gid(), d.mode() & 0o7777), (0, 65534, 0o1770));
        let p = std::fs::metadata(&parent).expect("stat");
        assert_eq!(p.mode() & 0o7777, 0o751);
    }
}
