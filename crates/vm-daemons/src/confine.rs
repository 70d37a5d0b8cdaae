//! Confinement of a helper daemon that handles guest-controlled data (vhost-device-vsock parses
//! the guest's virtqueues): whoever exploits it must end up with as little as possible.
//!
//! Applied in the forked child, before exec, in this order (each step needs the privilege the
//! next ones drop):
//! 1. new mount, IPC, UTS and network namespaces (`unshare`). AF_UNIX sockets bound to a path
//!    work across network namespaces (they are found through the file system), and the guest
//!    memory arrives as memfd descriptors over `SCM_RIGHTS`, which no namespace affects;
//! 2. in the new mount namespace: everything a slave of the parent's (unmounts on the host reach
//!    it, nothing goes back), then read-only, `nosuid` and `nodev` recursively, except the
//!    directories the daemon binds its sockets in (`writable`: bind-mounted onto themselves,
//!    writable but `noexec`), and an empty read-only tmpfs over `/proc` (no view of other
//!    processes, in particular no `/proc/<pid>/mem` of other processes of the same user);
//! 3. the capability bounding set emptied, then no supplementary group, real/effective/saved
//!    gid and uid set to the unprivileged [`Identity`], which clears the permitted, effective and
//!    ambient sets, and the inheritable set cleared (`capset`);
//! 4. umask `077`: the sockets are `0700`, owned by the daemon's user; root (the shim, QEMU) and
//!    the same user (rootless QEMU) connect; nobody else;
//! 5. `PR_SET_NO_NEW_PRIVS` (no set-uid or file capability gain by a later exec);
//! 6. the seccomp deny list [`DENIED_SYSCALLS`] (errno `EPERM`), built before the fork by
//!    libseccomp and loaded raw in the child (the child of a threaded process must not
//!    allocate). It also refuses `clone` with `CLONE_NEWUSER` (`EPERM`) and `clone3` (`ENOSYS`, so
//!    libc falls back to `clone`, whose flags a filter can see); syscalls of another ABI (x32,
//!    i386) kill the process.
//!
//! Limits: `execve` stays allowed (the filter is installed before the daemon's own exec and a
//! filter cannot count execs), so a compromised daemon can still run an existing host binary,
//! with no privilege to gain (steps 3, 5) and nowhere to write a new one (step 2). The daemon
//! shares its uid with rootless QEMUs and other pods' daemons: it can signal them (no PID
//! namespace, which `unshare` cannot give the calling process itself), but neither trace them
//! (`ptrace`, `process_vm_*`, `pidfd_getfd` denied) nor reach their memory (`/proc` hidden).
//! Without root (tests as a normal user) only steps 4 to 6 apply.
//!
//! Kata follows no such scheme for vhost-device-vsock (its Go runtime uses the kernel's
//! vhost-vsock); the steps mirror what virtiofsd's `--sandbox=namespace --seccomp=kill` does
//! for itself.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};

use crate::user::{ensure_system_user, open_dir_to_group, Identity, UserError, UNPRIVILEGED_USER};

/// Syscalls the confined daemon gets `EPERM` for. None of them is needed to serve a vhost-user
/// device; each gives reach beyond the process (memory of others, the mount table, kernel
/// code, keyrings, namespaces, file handles that bypass paths) or a large kernel attack surface.
pub const DENIED_SYSCALLS: &[&str] = &[
    // Other processes' memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    // The mount table and the root.
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    // Namespaces (an unprivileged user namespace would give capabilities inside it).
    "unshare",
    "setns",
    // Kernel code and kernel state.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "quotactl",
    "vhangup",
    // Keyrings.
    "keyctl",
    "add_key",
    "request_key",
    // File handles, which open files without a path walk.
    "open_by_handle_at",
    "name_to_handle_at",
];

/// A confinement step that could not be prepared (before the fork).
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error(transparent)]
    User(#[from] UserError),
    #[error("cannot build the seccomp filter ({step})")]
    Seccomp {
        step: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("cannot read back the seccomp filter exported by libseccomp")]
    SeccompExport(#[source] io::Error),
    #[error(
        "seccomp filter of {bytes} bytes is not a whole number of 8-byte instructions up to 4096"
    )]
    SeccompSize { bytes: usize },
    #[error("socket directory {dir} is writable by others (as /tmp is): refusing to give it to the daemon's group; use a directory of its own")]
    SharedDir { dir: PathBuf },
    #[error("cannot stat socket directory {dir}")]
    Stat {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("path {path} holds a NUL byte")]
    NulInPath { path: PathBuf },
}

/// Everything the child needs, computed before the fork so that the child only makes system
/// calls.
#[derive(Debug)]
pub(crate) struct Confinement {
    /// `None` when the caller is not root: no namespaces, no identity change.
    who: Option<Identity>,
    writable: Vec<CString>,
    filter: SockFilters,
    last_cap: libc::c_ulong,
}

/// A BPF program (libc's `sock_filter` has no `Debug` without its `extra_traits` feature).
struct SockFilters(Vec<libc::sock_filter>);

impl std::fmt::Debug for SockFilters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} BPF instructions", self.0.len())
    }
}

impl Confinement {
    /// Prepares the confinement of a daemon that binds its sockets in the directories
    /// `writable`. As root: the daemon runs as [`UNPRIVILEGED_USER`] (created if absent) and
    /// each of `writable` is opened to that user's group ([`open_dir_to_group`]: sticky `01770`,
    /// ancestors searchable). Otherwise no identity change and no namespaces.
    pub(crate) fn prepare(writable: &[&Path]) -> Result<Self, ConfineError> {
        let mut dirs = Vec::new();
        for dir in writable {
            let c =
                CString::new(dir.as_os_str().as_bytes()).map_err(|_| ConfineError::NulInPath {
                    path: dir.to_path_buf(),
                })?;
            if !dirs.contains(&c) {
                dirs.push(c);
            }
        }
        let who = if nix::unistd::geteuid().is_root() {
            let who = ensure_system_user(UNPRIVILEGED_USER)?;
            for dir in writable {
                let meta = std::fs::metadata(dir).map_err(|source| ConfineError::Stat {
                    dir: dir.to_path_buf(),
                    source,
                })?;
                if meta.permissions().mode() & 0o002 != 0 {
                    return Err(ConfineError::SharedDir {
                        dir: dir.to_path_buf(),
                    });
                }
                open_dir_to_group(dir, who.gid)?;
            }
            Some(who)
        } else {
            None
        };
        Ok(Confinement {
            who,
            writable: dirs,
            filter: deny_list_filter()?,
            last_cap: last_cap(),
        })
    }

    /// Who the daemon runs as (`None`: unchanged, the caller is not root).
    pub(crate) fn identity(&self) -> Option<Identity> {
        self.who
    }

    /// Makes `cmd` confine its child before exec (see the module documentation).
    pub(crate) fn apply(self, cmd: &mut tokio::process::Command) {
        // SAFETY: the closure runs in the forked child before exec; `confine_child` only makes
        // system calls on memory allocated before the fork (owned by the closure).
        unsafe {
            cmd.pre_exec(move || confine_child(&self));
        }
    }
}

/// The highest capability number of this kernel (`/proc/sys/kernel/cap_last_cap`), 63 when
/// unreadable (dropping an unknown capability fails with `EINVAL`, which is ignored).
fn last_cap() -> libc::c_ulong {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// The deny list as classic BPF for the native architecture.
fn deny_list_filter() -> Result<SockFilters, ConfineError> {
    let seccomp = |step: &str| {
        let step = step.to_string();
        move |source| ConfineError::Seccomp { step, source }
    };
    let mut ctx = ScmpFilterContext::new(ScmpAction::Allow).map_err(seccomp("new filter"))?;
    ctx.set_act_badarch(ScmpAction::KillProcess)
        .map_err(seccomp("bad architecture action"))?;
    let eperm = ScmpAction::Errno(libc::EPERM);
    for name in DENIED_SYSCALLS {
        let syscall = ScmpSyscall::from_name(name).map_err(seccomp(name))?;
        ctx.add_rule(eperm, syscall).map_err(seccomp(name))?;
    }
    let newuser = libc::CLONE_NEWUSER as u64;
    let clone = ScmpSyscall::from_name("clone").map_err(seccomp("clone"))?;
    ctx.add_rule_conditional(
        eperm,
        clone,
        &[ScmpArgCompare::new(
            0,
            ScmpCompareOp::MaskedEqual(newuser),
            newuser,
        )],
    )
    .map_err(seccomp("clone"))?;
    let clone3 = ScmpSyscall::from_name("clone3").map_err(seccomp("clone3"))?;
    ctx.add_rule(ScmpAction::Errno(libc::ENOSYS), clone3)
        .map_err(seccomp("clone3"))?;

    let (reader, writer) =
        nix::unistd::pipe().map_err(|e| ConfineError::SeccompExport(io::Error::from(e)))?;
    ctx.export_bpf(writer.as_fd()).map_err(seccomp("export"))?;
    drop(writer);
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut std::fs::File::from(reader), &mut bytes)
        .map_err(ConfineError::SeccompExport)?;
    let size = std::mem::size_of::<libc::sock_filter>();
    if bytes.is_empty() || bytes.len() % size != 0 || bytes.len() / size > 4096 {
        return Err(ConfineError::SeccompSize { bytes: bytes.len() });
    }
    Ok(SockFilters(
        bytes
            .chunks_exact(size)
            .map(|i| libc::sock_filter {
                code: u16::from_ne_bytes([i[0], i[1]]),
                jt: i[2],
                jf: i[3],
                k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
            })
            .collect(),
    ))
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn check(rc: libc::c_long) -> io::Result<()> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn mount_setattr(path: &CStr, flags: libc::c_uint, set: u64, clear: u64) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a valid NUL-terminated path and a `mount_attr` of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
}

/// The child's part; system calls only (no allocation: another thread of the parent may have
/// held the allocator's lock at the fork).
fn confine_child(c: &Confinement) -> io::Result<()> {
    if let Some(who) = c.who {
        enter_namespaces(c)?;
        drop_identity(who, c.last_cap)?;
    }
    // SAFETY: umask and prctl take plain integers.
    unsafe {
        libc::umask(0o077);
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into())?;
    }
    let prog = libc::sock_fprog {
        len: c.filter.0.len() as libc::c_ushort,
        filter: c.filter.0.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points to `len` instructions that outlive the call (the kernel copies them).
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    })
}

fn enter_namespaces(c: &Confinement) -> io::Result<()> {
    let null = std::ptr::null::<libc::c_char>();
    let flags = libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWNET;
    // SAFETY: plain flags.
    check(unsafe { libc::unshare(flags) }.into())?;
    // SAFETY: static NUL-terminated strings and null pointers where mount(2) allows them.
    check(
        unsafe {
            libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            )
        }
        .into(),
    )?;
    for dir in &c.writable {
        // SAFETY: NUL-terminated paths allocated before the fork.
        check(
            unsafe {
                libc::mount(
                    dir.as_ptr(),
                    dir.as_ptr(),
                    null,
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            }
            .into(),
        )?;
    }
    mount_setattr(
        c"/",
        AT_RECURSIVE,
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        0,
    )?;
    for dir in &c.writable {
        mount_setattr(dir, 0, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_RDONLY)?;
    }
    // SAFETY: static NUL-terminated strings.
    check(
        unsafe {
            libc::mount(
                c"none".as_ptr(),
                c"/proc".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"size=4k,mode=555".as_ptr().cast(),
            )
        }
        .into(),
    )
}

fn drop_identity(who: Identity, last_cap: libc::c_ulong) -> io::Result<()> {
    // SAFETY: plain integers, a null group list of length 0, and cap structs of the v3 layout.
    unsafe {
        for cap in 0..=last_cap {
            // EINVAL for a capability this kernel does not know: nothing to drop.
            let _ = libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        check(libc::setgroups(0, std::ptr::null()).into())?;
        check(libc::setresgid(who.gid, who.gid, who.gid).into())?;
        check(libc::setresuid(who.uid, who.uid, who.uid).into())?;
        let mut header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        check(libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::supervise::Daemon;

    fn status(pid: u32) -> String {
        std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default()
    }

    fn field<'a>(status: &'a str, key: &str) -> &'a str {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or("")
    }

    #[test]
    fn a_world_writable_socket_dir_is_never_handed_over() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        let err = Confinement::prepare(&[dir.path()]).expect_err("like /tmp");
        assert!(matches!(err, ConfineError::SharedDir { .. }), "{err}");
        let mode = std::fs::metadata(dir.path())
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o1777, "left unchanged");
    }

    #[test]
    fn the_deny_list_compiles_to_bpf() {
        let filter = deny_list_filter().expect("filter");
        // At least one comparison per denied syscall.
        assert!(filter.0.len() > DENIED_SYSCALLS.len(), "{filter:?}");
    }

    /// A shell confined as vhost-device-vsock is: each probe prints a line only if the
    /// confinement let it through.
    #[tokio::test]
    async fn a_confined_shell_is_unprivileged_isolated_and_filtered() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("d.sock");
        let probe = format!("/var/tmp/kata-confine-probe-{}", std::process::id());
        let script = format!(
            "touch {probe} && echo WROTE-ROOT-FS >&2; \
             unshare --user true && echo MADE-USERNS >&2; \
             test -e /proc/1/status && echo SAW-PID-1 >&2; \
             touch {dir}/file || echo NO-WRITE-IN-SOCKET-DIR >&2; \
             echo groups=$(id -G) >&2; \
             touch {sock}; exec sleep 100",
            dir = dir.path().display(),
            sock = sock.display(),
        );
        let confine = Confinement::prepare(&[dir.path()]).expect("prepare");
        let who = confine.identity().expect("root confines to a user");
        let d = Daemon::start_confined(
            "sh",
            Path::new("/bin/sh"),
            &["-c".to_string(), script],
            &sock,
            vec![sock.clone()],
            Duration::from_secs(10),
            Some(confine),
        )
        .await
        .expect("start");
        let pid = d.pid().expect("pid");
        // `exec sleep` replaces the shell: wait for it so the status is the daemon's own.
        for _ in 0..100 {
            if field(&status(pid), "Name:") == "sleep" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let st = status(pid);
        let ns = |p: &str, kind: &str| std::fs::read_link(format!("/proc/{p}/ns/{kind}")).ok();
        let namespaces: Vec<(&str, bool)> = ["mnt", "net", "ipc", "uts"]
            .iter()
            .map(|k| (*k, ns(&pid.to_string(), k) != ns("self", k)))
            .collect();
        let stderr = d.stderr();
        let created = std::fs::symlink_metadata(&sock).ok();
        d.stop(Duration::from_secs(2)).await;
        let _ = std::fs::remove_file(&probe);

        let uid = who.uid.to_string();
        assert!(
            field(&st, "Uid:").split_whitespace().all(|u| u == uid),
            "{st}"
        );
        let gid = who.gid.to_string();
        assert!(
            field(&st, "Gid:").split_whitespace().all(|g| g == gid),
            "{st}"
        );
        assert_eq!(field(&st, "Groups:"), "", "{st}");
        assert_eq!(field(&st, "NoNewPrivs:"), "1", "{st}");
        assert_eq!(field(&st, "Seccomp:"), "2", "{st}");
        for cap in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
            assert_eq!(field(&st, cap), "0000000000000000", "{cap} {st}");
        }
        for (kind, differs) in namespaces {
            assert!(differs, "the daemon shares our {kind} namespace");
        }
        assert!(!stderr.contains("WROTE-ROOT-FS"), "{stderr}");
        assert!(!stderr.contains("MADE-USERNS"), "{stderr}");
        assert!(!stderr.contains("SAW-PID-1"), "{stderr}");
        assert!(!stderr.contains("NO-WRITE-IN-SOCKET-DIR"), "{stderr}");
        assert!(stderr.contains(&format!("groups={gid}")), "{stderr}");
        let created = created.expect("the daemon created its socket file");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (created.uid(), created.mode() & 0o777),
            (who.uid, 0o600),
            "umask 077"
        );
    }
}
