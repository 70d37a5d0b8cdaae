//! What a persisted state file may make the shim do.
//!
//! `shim delete` (after the serving shim was killed) replays the cleanup steps recorded in
//! `/run/vc/sbs/<sid>/state.json`. That file is data, not a program: a corrupted or crafted one
//! must not make the shim unmount, remove or kill anything outside the sandbox it is deleting.
//! Every step read back from a state file is checked against the sandbox's [`Layout`] first:
//!
//! - `Unmount`, `RemoveFile`, `RemoveTree`: an absolute path without `..` below (or, except for
//!   `RemoveFile`, equal to) one of the sandbox's three directories: `<shared>/<sid>`,
//!   `<vm>/<sid>`, `<state>/<sid>`.
//! - `RemoveDir` (an `rmdir`, never recursive): the same, or a parent of one of the three roots
//!   (`/run/vc/vm`, `/run/kata-containers/shared`, ...: made by the first sandbox and removed by
//!   the last one while empty), never `/`.
//! - `KillProcess`: a real pid (1 to `i32::MAX`, not the shim itself) with a recorded start time
//!   (0 means it was unknown when recorded, so a recycled pid could not be told apart); and, when
//!   the step runs, the live process with that pid and start time must name one of the sandbox's
//!   directories in its command line (QEMU, virtiofsd and vhost-device-vsock all get sockets under
//!   `<vm>/<sid>`).
//!
//! Refused steps are reported as failures (so the state directory is kept for inspection) and
//! never run; the other steps still run. Kata's runtime keeps its state under the same roots but
//! rebuilds its cleanup from the sandbox id alone; recording steps needs this check instead.

use std::path::{Component, Path};

use crate::host::cleanup::{process_start_time, run_steps, CleanupStep};
use crate::host::layout::Layout;
use crate::host::mount::ensure_no_symlink;

/// Why a recorded step is not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{path} is not an absolute path without '..'")]
    NotClean { path: String },
    #[error("{path} is outside the directories of sandbox {sandbox_id}")]
    Outside { path: String, sandbox_id: String },
    #[error("pid {pid} ({name}) cannot be a helper process of this sandbox")]
    BadPid { name: String, pid: u32 },
    #[error(
        "pid {pid} ({name}) has no recorded start time; a recycled pid could not be told apart"
    )]
    NoStartTime { name: String, pid: u32 },
    #[error("pid {pid} ({name}) does not belong to sandbox {sandbox_id}: its command line names none of the sandbox's directories")]
    ForeignProcess {
        name: String,
        pid: u32,
        sandbox_id: String,
    },
    #[error("{path}: a parent is a symlink")]
    Symlink { path: String },
}

fn is_clean(path: &Path) -> bool {
    path.is_absolute() && !path.components().any(|c| matches!(c, Component::ParentDir))
}

fn sandbox_dirs(layout: &Layout) -> [std::path::PathBuf; 3] {
    [layout.sandbox_dir(), layout.vm_dir(), layout.state_dir()]
}

/// True for the directory of a VM the sandbox took from the VMCache: `<vm root>/vm-<16 hex>`
/// (`backend::base_vm`), the only directory outside its own a sandbox may remove.
pub fn is_cached_vm_dir(path: &Path, layout: &Layout) -> bool {
    path.parent() == Some(layout.roots.vm.as_path())
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("vm-"))
            .is_some_and(|hex| {
                hex.len() == 16
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
}

/// Checks `step` without touching the file system (see the module documentation).
pub fn check_step(step: &CleanupStep, layout: &Layout) -> Result<(), Refused> {
    let path = match step {
        CleanupStep::KillProcess {
            name,
            pid,
            start_time,
        } => {
            let own = std::process::id();
            if *pid <= 1 || i32::try_from(*pid).is_err() || *pid == own {
                return Err(Refused::BadPid {
                    name: name.clone(),
                    pid: *pid,
                });
            }
            if *start_time == 0 {
                return Err(Refused::NoStartTime {
                    name: name.clone(),
                    pid: *pid,
                });
            }
            return Ok(());
        }
        CleanupStep::RemoveCgroup { path } => {
            let root = Path::new(crate::host::cgroup::CGROUP_ROOT);
            if !is_clean(path) || !path.starts_with(root) || path.components().count() < 6 {
                return Err(Refused::NotClean {
                    path: path.display().to_string(),
                });
            }
            return Ok(());
        }
        CleanupStep::DetachNetwork { netns, taps, .. } => {
            // Only taps of the name the sandbox gives them are deleted; the pod's own interfaces
            // only lose their ingress qdisc.
            let ours = |t: &String| {
                t.strip_prefix("tap")
                    .and_then(|r| r.strip_suffix(crate::host::network::TAP_SUFFIX))
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            };
            if !is_clean(netns) || !taps.iter().all(ours) {
                return Err(Refused::NotClean {
                    path: format!("{} {taps:?}", netns.display()),
                });
            }
            return Ok(());
        }
        CleanupStep::Unmount { path }
        | CleanupStep::RemoveDir { path }
        | CleanupStep::RemoveTree { path }
        | CleanupStep::RemoveFile { path } => path,
    };
    if !is_clean(path) || layout.sandbox_id.is_empty() {
        return Err(Refused::NotClean {
            path: path.display().to_string(),
        });
    }
    let dirs = sandbox_dirs(layout);
    let inside = |or_equal: bool| {
        dirs.iter()
            .any(|d| path.starts_with(d) && (or_equal || path != d.as_path()))
    };
    let ok = match step {
        CleanupStep::RemoveFile { .. } => inside(false),
        CleanupStep::Unmount { .. } => inside(true),
        CleanupStep::RemoveTree { .. } => inside(true) || is_cached_vm_dir(path, layout),
        CleanupStep::RemoveDir { .. } => {
            let roots = [&layout.roots.shared, &layout.roots.vm, &layout.roots.state];
            inside(true) || (path != Path::new("/") && roots.iter().any(|r| r.starts_with(path)))
        }
        CleanupStep::KillProcess { .. }
        | CleanupStep::DetachNetwork { .. }
        | CleanupStep::RemoveCgroup { .. } => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Refused::Outside {
            path: path.display().to_string(),
            sandbox_id: layout.sandbox_id.clone(),
        })
    }
}

/// True when the command line of `pid` (NUL-separated `/proc/<pid>/cmdline`) names one of the
/// sandbox's directories.
#[cfg(test)]
fn cmdline_names_sandbox(cmdline: &[u8], layout: &Layout) -> bool {
    cmdline_names_any(cmdline, layout, &[])
}

/// [`cmdline_names_sandbox`], or one of `taken` (the VMCache VM directories the state names).
fn cmdline_names_any(cmdline: &[u8], layout: &Layout, taken: &[std::path::PathBuf]) -> bool {
    let dirs = sandbox_dirs(layout);
    let needles: Vec<Vec<u8>> = dirs
        .iter()
        .chain(taken)
        .map(|d| d.as_os_str().as_encoded_bytes().to_vec())
        .collect();
    cmdline.split(|&b| b == 0).any(|arg| {
        needles.iter().any(|n| {
            arg.windows(n.len()).enumerate().any(|(i, w)| {
                // The directory itself or something below it, not `<sid>2`.
                w == n.as_slice() && matches!(arg.get(i + n.len()), None | Some(b'/' | b',' | b' '))
            })
        })
    })
}

/// The run-time part of the check: symlinked parents, and whether a live process is the
/// sandbox's.
fn check_live(
    step: &CleanupStep,
    layout: &Layout,
    taken: &[std::path::PathBuf],
) -> Result<(), Refused> {
    match step {
        CleanupStep::KillProcess {
            name,
            pid,
            start_time,
        } => {
            if process_start_time(*pid) != Some(*start_time) {
                return Ok(()); // gone or recycled: the step itself leaves it alone
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline_names_any(&cmdline, layout, taken) {
                Ok(())
            } else {
                Err(Refused::ForeignProcess {
                    name: name.clone(),
                    pid: *pid,
                    sandbox_id: layout.sandbox_id.clone(),
                })
            }
        }
        CleanupStep::Unmount { path }
        | CleanupStep::RemoveDir { path }
        | CleanupStep::RemoveTree { path }
        | CleanupStep::RemoveFile { path } => match path.parent() {
            Some(parent) if ensure_no_symlink(parent).is_err() => Err(Refused::Symlink {
                path: path.display().to_string(),
            }),
            _ => Ok(()),
        },
        CleanupStep::DetachNetwork { .. } | CleanupStep::RemoveCgroup { .. } => Ok(()),
    }
}

/// Runs `steps` (read back from a state file) in reverse order as
/// [`run_steps`] does, skipping every step [`check_step`] or the live check refuses. Returns the
/// failures, refusals included.
pub async fn run_confined_steps(steps: &[CleanupStep], layout: &Layout) -> Vec<String> {
    // A VM taken from the VMCache runs from its own directory, which the state names.
    let taken: Vec<std::path::PathBuf> = steps
        .iter()
        .filter_map(|s| match s {
            CleanupStep::RemoveTree { path } if is_cached_vm_dir(path, layout) => {
                Some(path.clone())
            }
            _ => None,
        })
        .collect();
    let mut failures = Vec::new();
    for step in steps.iter().rev() {
        match check_step(step, layout).and_then(|()| check_live(step, layout, &taken)) {
            Ok(()) => failures.extend(run_steps(std::slice::from_ref(step)).await),
            Err(refused) => {
                tracing::warn!(?step, reason = %refused, "state file step refused");
                failures.push(format!("{step:?}: refused: {refused}"));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::layout::Roots;

    fn layout_in(dir: &Path) -> Layout {
        Layout::new(
            "sb",
            Roots {
                shared: dir.join("run/kata-containers/shared/sandboxes"),
                state: dir.join("run/vc/sbs"),
                vm: dir.join("run/vc/vm"),
            },
        )
    }

    fn default_layout() -> Layout {
        Layout::new("sb", Roots::default())
    }

    #[test]
    fn only_cache_vm_directories_are_allowed_outside_the_sandbox() {
        let l = default_layout();
        let ok = CleanupStep::RemoveTree {
            path: "/run/vc/vm/vm-0123456789abcdef".into(),
        };
        assert_eq!(check_step(&ok, &l), Ok(()));
        for bad in [
            "/run/vc/vm/vm-0123456789abcde",
            "/run/vc/vm/vm-0123456789ABCDEF",
            "/run/vc/vm/other",
            "/run/vc/vm/vm-0123456789abcdef/../x",
            "/run/vc/sbs/vm-0123456789abcdef",
        ] {
            let step = CleanupStep::RemoveTree { path: bad.into() };
            assert!(check_step(&step, &l).is_err(), "{bad}");
        }
        let qemu = b"qemu\0-chardev\0socket,path=/run/vc/vm/vm-0123456789abcdef/qmp.sock\0";
        assert!(!cmdline_names_sandbox(qemu, &l));
        assert!(cmdline_names_any(
            qemu,
            &l,
            &["/run/vc/vm/vm-0123456789abcdef".into()]
        ));
    }

    #[test]
    fn steps_the_shim_records_are_allowed() {
        let l = default_layout();
        for step in [
            CleanupStep::RemoveDir {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts".into(),
            },
            CleanupStep::RemoveDir {
                path: "/run/vc/vm".into(),
            },
            CleanupStep::RemoveDir {
                path: "/run/kata-containers".into(),
            },
            CleanupStep::RemoveTree {
                path: "/run/vc/vm/sb".into(),
            },
            CleanupStep::Unmount {
                path: "/run/kata-containers/shared/sandboxes/sb/shared".into(),
            },
            CleanupStep::Unmount {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts/c1/rootfs".into(),
            },
            CleanupStep::RemoveFile {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts/c1-2-hosts".into(),
            },
            CleanupStep::KillProcess {
                name: "qemu".into(),
                pid: 4242,
                start_time: 77,
            },
        ] {
            assert_eq!(check_step(&step, &l), Ok(()), "{step:?}");
        }
    }

    #[test]
    fn paths_outside_the_sandbox_are_refused() {
        let l = default_layout();
        for step in [
            CleanupStep::RemoveTree {
                path: "/etc".into(),
            },
            CleanupStep::RemoveTree { path: "/".into() },
            CleanupStep::RemoveDir { path: "/".into() },
            CleanupStep::RemoveDir {
                path: "/home/user/empty".into(),
            },
            CleanupStep::Unmount {
                path: "/var/lib/kubelet/pods/x/volumes/y".into(),
            },
            CleanupStep::RemoveFile {
                path: "/etc/passwd".into(),
            },
            // Another sandbox, a sibling whose name starts the same, and `..` escapes.
            CleanupStep::RemoveTree {
                path: "/run/vc/vm/other".into(),
            },
            CleanupStep::RemoveTree {
                path: "/run/vc/vm/sb2".into(),
            },
            CleanupStep::RemoveTree {
                path: "/run/vc/vm/sb/../other".into(),
            },
            CleanupStep::Unmount {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts/../../../../../../etc"
                    .into(),
            },
            CleanupStep::RemoveTree {
                path: "run/vc/vm/sb".into(),
            },
            // The roots themselves hold every sandbox: never removed as a tree.
            CleanupStep::RemoveTree {
                path: "/run/vc/vm".into(),
            },
            CleanupStep::RemoveFile {
                path: "/run/vc/sbs/sb".into(),
            },
        ] {
            assert!(check_step(&step, &l).is_err(), "{step:?} was allowed");
        }
    }

    #[test]
    fn pids_without_start_time_or_special_pids_are_refused() {
        let l = default_layout();
        let kill = |pid, start_time| CleanupStep::KillProcess {
            name: "qemu".into(),
            pid,
            start_time,
        };
        for step in [
            kill(0, 5),
            kill(1, 5),
            kill(u32::MAX, 5),
            kill(std::process::id(), 5),
            kill(4242, 0),
        ] {
            assert!(check_step(&step, &l).is_err(), "{step:?} was allowed");
        }
    }

    #[test]
    fn a_process_is_the_sandbox_s_only_when_its_command_line_names_it() {
        let l = default_layout();
        let qemu = b"qemu-system-x86_64\0-name\0sandbox-sb\0-chardev\0socket,id=qmp,path=/run/vc/vm/sb/qmp.sock,server=on\0";
        assert!(cmdline_names_sandbox(qemu, &l));
        let virtiofsd =
            b"virtiofsd\0--socket-path=/run/vc/vm/sb/virtiofsd.sock\0--shared-dir=/run/kata-containers/shared/sandboxes/sb/shared\0";
        assert!(cmdline_names_sandbox(virtiofsd, &l));
        assert!(!cmdline_names_sandbox(b"sshd\0-D\0", &l));
        assert!(!cmdline_names_sandbox(
            b"qemu\0path=/run/vc/vm/sb2/qmp.sock\0",
            &l
        ));
    }

    #[tokio::test]
    async fn a_crafted_state_cannot_kill_a_foreign_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = layout_in(dir.path());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let step = CleanupStep::kill_process("qemu", child.id());
        let failures = run_confined_steps(std::slice::from_ref(&step), &l).await;
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("does not belong"), "{failures:?}");
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "a process of no sandbox was killed"
        );
        // A process whose command line names the sandbox's vm directory is the sandbox's.
        use std::os::unix::process::CommandExt;
        let mut own = std::process::Command::new("sleep")
            .arg0(l.vm_dir().join("qemu"))
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        // Until the child has exec'd, its command line is still this test's.
        let marker = l.vm_dir().join("qemu");
        let cmdline = format!("/proc/{}/cmdline", own.id());
        for _ in 0..200 {
            let now = std::fs::read(&cmdline).unwrap_or_default();
            if now.starts_with(marker.as_os_str().as_encoded_bytes()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let step = CleanupStep::kill_process("qemu", own.id());
        let failures = run_confined_steps(std::slice::from_ref(&step), &l).await;
        assert!(failures.is_empty(), "{failures:?}");
        let status = own.wait().expect("wait");
        assert!(!status.success(), "the sandbox's process was not killed");
    }

    #[tokio::test]
    async fn a_crafted_state_cannot_remove_outside_the_sandbox() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = layout_in(dir.path());
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(victim.join("sub")).expect("mkdir");
        std::fs::write(victim.join("sub/file"), b"keep").expect("write");
        let own = l.vm_dir();
        std::fs::create_dir_all(&own).expect("mkdir");
        std::fs::write(own.join("qmp.sock"), b"").expect("write");
        let escape = own.join("../../../../victim");
        let steps = vec![
            CleanupStep::RemoveTree {
                path: victim.clone(),
            },
            CleanupStep::RemoveTree { path: escape },
            CleanupStep::RemoveFile {
                path: victim.join("sub/file"),
            },
            CleanupStep::RemoveTree { path: own.clone() },
        ];
        let failures = run_confined_steps(&steps, &l).await;
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(
            victim.join("sub/file").exists(),
            "a foreign file was removed"
        );
        assert!(!own.exists(), "the sandbox's own directory stays");
    }

    #[tokio::test]
    async fn a_symlinked_parent_inside_the_sandbox_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = layout_in(dir.path());
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(&victim).expect("mkdir");
        std::fs::write(victim.join("file"), b"keep").expect("write");
        std::fs::create_dir_all(l.vm_dir()).expect("mkdir");
        let link = l.vm_dir().join("link");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        let step = CleanupStep::RemoveFile {
            path: link.join("file"),
        };
        let failures = run_confined_steps(std::slice::from_ref(&step), &l).await;
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(victim.join("file").exists());
    }
}
