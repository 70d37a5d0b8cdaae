//! `rootless = true`: QEMU runs as the unprivileged system user [`QEMU_USER`] instead of root.
//!
//! Kata's Go runtime creates a throw-away user per sandbox; kata-rs uses one dedicated system
//! user (`kata_vm_daemons::ensure_system_user`, shared with the confined vhost-device-vsock),
//! created on first use with `useradd --system` (no home, no login shell) and then kept,
//! as distributions do for `libvirt-qemu`. The trade-off: the QEMUs of different rootless pods
//! share that uid (with every pod's vhost-device-vsock), so one compromised QEMU could signal
//! another; none of them can touch root's
//! files, other users' files, or the host's devices.
//!
//! QEMU is spawned with the user's uid and primary gid and no supplementary group but the group
//! of `/dev/kvm` when it uses KVM (`kata_qemu` sets them before exec; QEMU never holds root).
//! What it must reach, and nothing else, is opened to that group:
//! - the VM directory (`/run/vc/vm/<sid>`): group `rwx` with the sticky bit (`01770`), so QEMU
//!   creates its QMP socket there but cannot remove or rename root's sockets (the console is a
//!   socket pair QEMU inherits; the shim writes `console.log`);
//! - its ancestors (`/run/vc`, `/run/vc/vm`, made `0750` by the sandbox): search only for others
//!   (`o+x`), so the path resolves without anyone being able to list the sandboxes;
//! - the vhost-user sockets of vhost-device-vsock and virtiofsd: group `rw` (`0660`), to connect.
//!
//! The kernel, initrd and image must be readable by others (the installed ones are `0644`).

use std::path::Path;

use kata_hypervisor::RunAs;
use kata_vm_daemons::{ensure_system_user, open_dir_to_group, set_group_and_mode, UserError};

/// The system user rootless QEMUs run as (vhost-device-vsock always runs as it too).
pub const QEMU_USER: &str = kata_vm_daemons::UNPRIVILEGED_USER;

/// Mode of a socket QEMU connects to.
const SOCKET_MODE: u32 = 0o660;

/// A rootless setup step that failed.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("cannot set up rootless qemu as user {QEMU_USER}")]
    User(#[from] UserError),
}

/// The identity of rootless QEMU: [`QEMU_USER`] (created if absent), its primary group, and the
/// group of `/dev/kvm` as the only supplementary group when `kvm` is used.
pub fn qemu_identity(kvm: bool) -> Result<RunAs, RootlessError> {
    let user = ensure_system_user(QEMU_USER)?;
    let mut groups = Vec::new();
    if kvm {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/dev/kvm") {
            groups.push(meta.gid());
        }
    }
    Ok(RunAs {
        uid: user.uid,
        gid: user.gid,
        groups,
    })
}

/// Opens `vm_dir` and `sockets` (and `extra_files` that exist) to `who`'s group as described in the module documentation. Owners stay root.
pub fn grant(
    vm_dir: &Path,
    sockets: &[&Path],
    extra_files: &[&Path],
    who: &RunAs,
) -> Result<(), RootlessError> {
    open_dir_to_group(vm_dir, who.gid)?;
    for socket in sockets {
        set_group_and_mode(socket, who.gid, SOCKET_MODE)?;
    }
    for file in extra_files.iter().filter(|f| f.exists()) {
        set_group_and_mode(file, who.gid, SOCKET_MODE)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
