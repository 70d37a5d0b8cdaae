//! `rootless = true`: QEMU runs as the unprivileged system user [`QEMU_USER`] instead of root.
//!
//! Kata's Go runtime creates a throw-away user per sandbox; kata-rs uses one dedicated system
//! user, created on first use with `useradd --system` (no home, no login shell) and then kept,
//! as distributions do for `libvirt-qemu`. The trade-off: the QEMUs of different rootless pods
//! share that uid, so one compromised QEMU could signal another; none of them can touch root's
//! files, other users' files, or the host's devices.
//!
//! QEMU is spawned with the user's uid and primary gid and no supplementary group but the group
//! of `/dev/kvm` when it uses KVM (`kata_qemu` sets them before exec; QEMU never holds root).
//! What it must reach, and nothing else, is opened to that group:
//! - the VM directory (`/run/vc/vm/<sid>`): group `rwx` with the sticky bit (`01770`), so QEMU
//!   creates its QMP socket and console log there but cannot remove or rename root's sockets;
//! - its ancestors (`/run/vc`, `/run/vc/vm`, made `0750` by the sandbox): search only for others
//!   (`o+x`), so the path resolves without anyone being able to list the sandboxes;
//! - the vhost-user sockets of vhost-device-vsock and virtiofsd: group `rw` (`0660`), to connect.
//!
//! The kernel, initrd and image must be readable by others (the installed ones are `0644`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kata_hypervisor::RunAs;
use nix::unistd::{chown, Gid, User};

/// The system user rootless QEMUs run as.
pub const QEMU_USER: &str = "kata-qemu";

/// Mode of the VM directory under `rootless`: owner root, group the QEMU user's, sticky.
const VM_DIR_MODE: u32 = 0o1770;
/// Mode of a socket QEMU connects to.
const SOCKET_MODE: u32 = 0o660;

/// A rootless setup step that failed.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("cannot look up user {user}")]
    Lookup {
        user: String,
        #[source]
        source: nix::Error,
    },
    #[error("cannot create system user {user} with useradd: {detail}")]
    Create { user: String, detail: String },
    #[error("user {user} refuses to run qemu: uid {uid} is root")]
    RootUser { user: String, uid: u32 },
    #[error("cannot give group {gid} access to {path}")]
    Grant {
        path: PathBuf,
        gid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// The identity of rootless QEMU: [`QEMU_USER`] (created if absent), its primary group, and the
/// group of `/dev/kvm` as the only supplementary group when `kvm` is used.
pub fn qemu_identity(kvm: bool) -> Result<RunAs, RootlessError> {
    let user = match lookup(QEMU_USER)? {
        Some(u) => u,
        None => {
            create_system_user(QEMU_USER)?;
            lookup(QEMU_USER)?.ok_or_else(|| RootlessError::Create {
                user: QEMU_USER.into(),
                detail: "useradd succeeded but the user is still unknown".into(),
            })?
        }
    };
    if user.uid.is_root() {
        return Err(RootlessError::RootUser {
            user: QEMU_USER.into(),
            uid: 0,
        });
    }
    let mut groups = Vec::new();
    if kvm {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/dev/kvm") {
            groups.push(meta.gid());
        }
    }
    Ok(RunAs {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
    })
}

fn lookup(name: &str) -> Result<Option<User>, RootlessError> {
    User::from_name(name).map_err(|source| RootlessError::Lookup {
        user: name.into(),
        source,
    })
}

/// `useradd --system`; a concurrent creation by another shim (exit code 9, name in use) is fine.
fn create_system_user(name: &str) -> Result<(), RootlessError> {
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
            "kata-rs rootless QEMU",
            name,
        ])
        .output()
        .map_err(|e| RootlessError::Create {
            user: name.into(),
            detail: e.to_string(),
        })?;
    if out.status.success() || out.status.code() == Some(9) {
        tracing::info!(user = name, "created the system user for rootless qemu");
        Ok(())
    } else {
        Err(RootlessError::Create {
            user: name.into(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Opens `vm_dir` and `sockets` (and `extra_files` that exist, such as a console log made
/// beforehand) to `who`'s group as described in the module documentation. Owners stay root.
pub fn grant(
    vm_dir: &Path,
    sockets: &[&Path],
    extra_files: &[&Path],
    who: &RunAs,
) -> Result<(), RootlessError> {
    for dir in vm_dir.ancestors().skip(1) {
        allow_search(dir, who.gid)?;
    }
    set(vm_dir, who.gid, VM_DIR_MODE)?;
    for socket in sockets {
        set(socket, who.gid, SOCKET_MODE)?;
    }
    for file in extra_files.iter().filter(|f| f.exists()) {
        set(file, who.gid, SOCKET_MODE)?;
    }
    Ok(())
}

/// Adds `o+x` to a directory that lacks it (the root directory and empty paths are skipped).
fn allow_search(dir: &Path, gid: u32) -> Result<(), RootlessError> {
    if dir.as_os_str().is_empty() || dir == Path::new("/") {
        return Ok(());
    }
    let err = |source: std::io::Error| RootlessError::Grant {
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

fn set(path: &Path, gid: u32, mode: u32) -> Result<(), RootlessError> {
    let err = |source: std::io::Error| RootlessError::Grant {
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

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn identity_is_an_unprivileged_user_with_no_stray_groups() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let who = qemu_identity(false).expect("identity");
        assert_ne!(who.uid, 0);
        assert_ne!(who.gid, 0);
        assert!(who.groups.is_empty(), "{who:?}");
        // Idempotent: the second call finds the user.
        assert_eq!(qemu_identity(false).expect("again"), who);
    }

    #[test]
    fn grant_opens_the_dir_and_sockets_to_the_group_only() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let parent = dir.path().join("vc");
        let vm = parent.join("vm");
        std::fs::create_dir(&parent).expect("mkdir");
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        std::fs::create_dir(&vm).expect("mkdir");
        let sock = vm.join("vhost.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let who = RunAs {
            uid: 65534,
            gid: 65534,
            groups: Vec::new(),
        };
        grant(&vm, &[&sock], &[&vm.join("absent.log")], &who).expect("grant");
        let d = std::fs::metadata(&vm).expect("stat");
        assert_eq!((d.uid(), d.gid(), d.mode() & 0o7777), (0, 65534, 0o1770));
        let s = std::fs::symlink_metadata(&sock).expect("stat");
        assert_eq!((s.uid(), s.gid(), s.mode() & 0o777), (0, 65534, 0o660));
        let p = std::fs::metadata(&parent).expect("stat");
        assert_eq!(p.mode() & 0o7777, 0o751, "parent: search only for others");
    }
}
