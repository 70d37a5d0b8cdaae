//! The rollback list: every resource a sandbox takes is recorded as a step, in order; teardown
//! (or a failure half-way, or `shim delete` after a SIGKILL) undoes the steps in reverse.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::host::mount;

/// One resource to release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CleanupStep {
    /// A helper process (QEMU, virtiofsd, vhost-device-vsock); `start_time` (field 22 of
    /// `/proc/<pid>/stat`) guards against a recycled pid.
    KillProcess {
        name: String,
        pid: u32,
        start_time: u64,
    },
    /// A mount point.
    Unmount { path: PathBuf },
    /// An empty directory this sandbox created (`rmdir`, never recursive).
    RemoveDir { path: PathBuf },
    /// A directory of sockets and small files this sandbox created; entries on another file
    /// system (mounts) are never entered.
    RemoveTree { path: PathBuf },
    /// A file (socket, pid file).
    RemoveFile { path: PathBuf },
    /// A cgroup directory on the host this sandbox made ([`crate::host::cgroup`]); removed when
    /// empty.
    RemoveCgroup { path: PathBuf },
    /// The taps and tc filters that connect the pod's network namespace to the VM
    /// ([`crate::host::network`]).
    DetachNetwork {
        netns: PathBuf,
        taps: Vec<String>,
        interfaces: Vec<String>,
        /// What the macvtap model took from interfaces (their MAC and addresses).
        #[serde(default)]
        restore: Vec<crate::host::macvtap::Restore>,
    },
}

impl CleanupStep {
    /// A step that kills `pid` if it is still the process that was started.
    pub fn kill_process(name: impl Into<String>, pid: u32) -> Self {
        CleanupStep::KillProcess {
            name: name.into(),
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
        }
    }
}

/// Start time of `pid` in clock ticks since boot, from `/proc/<pid>/stat`.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: fields restart after the
    // last ')'. Field 3 is the first after it, so the start time (field 22) is the 20th.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Undoes `steps` in reverse order, going on after failures; returns the failures.
pub async fn run_steps(steps: &[CleanupStep]) -> Vec<String> {
    let mut failures = Vec::new();
    for step in steps.iter().rev() {
        if let Err(e) = run_step(step).await {
            tracing::warn!(?step, error = %e, "cleanup step failed");
            failures.push(format!("{step:?}: {e}"));
        }
    }
    failures
}

async fn run_step(step: &CleanupStep) -> Result<(), String> {
    match step {
        CleanupStep::KillProcess {
            name,
            pid,
            start_time,
        } => kill_process(name, *pid, *start_time).await,
        CleanupStep::Unmount { path } => mount::unmount(path).map_err(|e| e.to_string()),
        CleanupStep::RemoveDir { path } => match std::fs::remove_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            // A parent shared with other sandboxes (e.g. `/run/vc/vm`) stays while in use.
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
                tracing::debug!(path = %path.display(), "directory not empty, kept");
                Ok(())
            }
            Err(e) => Err(format!("rmdir {}: {e}", path.display())),
        },
        CleanupStep::RemoveTree { path } => remove_tree(path).map_err(|e| e.to_string()),
        CleanupStep::RemoveCgroup { path } => remove_cgroup(path).await,
        CleanupStep::DetachNetwork {
            netns,
            taps,
            interfaces,
            restore,
        } => {
            let made = crate::host::network::Made {
                taps: taps.clone(),
                interfaces: interfaces.clone(),
                restore: restore.clone(),
            };
            crate::host::network::detach(netns, &made).map_err(|e| crate::error::chain(&e))
        }
        CleanupStep::RemoveFile { path } => match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("remove {}: {e}", path.display())),
        },
    }
}

/// `rmdir` of a cgroup; the kernel may report it busy for a moment after its last task exited.
async fn remove_cgroup(path: &Path) -> Result<(), String> {
    crate::host::cgroup::leave_before_removal(path);
    for _ in 0..50 {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // A parent shared with other pods keeps their cgroups.
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => return Ok(()),
            Err(e) => return Err(format!("rmdir {}: {e}", path.display())),
        }
    }
    Err(format!("cgroup {} still busy", path.display()))
}

async fn kill_process(name: &str, pid: u32, start_time: u64) -> Result<(), String> {
    if pid == 0 || i32::try_from(pid).is_err() {
        return Ok(());
    }
    let same = |t: Option<u64>| t.is_some() && (start_time == 0 || t == Some(start_time));
    if !same(process_start_time(pid)) {
        return Ok(());
    }
    let target = Pid::from_raw(pid as i32);
    let _ = kill(target, Signal::SIGKILL);
    for _ in 0..100 {
        if !same(process_start_time(pid)) || is_zombie(pid) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("{name} (pid {pid}) survived SIGKILL"))
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 1..].to_owned();
            rest.split_whitespace().next().map(|st| st == "Z")
        })
        .unwrap_or(false)
}

/// Removes a tree of plain files and directories, never descending into another file system
/// and never following symlinks.
fn remove_tree(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    let dev = meta.dev();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let p = entry.path();
        let m = std::fs::symlink_metadata(&p)?;
        if m.is_dir() {
            if m.dev() != dev {
                return Err(std::io::Error::other(format!(
                    "{} is a mount point, not removing it",
                    p.display()
                )));
            }
            remove_tree(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    std::fs::remove_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_survives_odd_command_names() {
        let stat = "1234 (a) b) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 \
                    1000 10 18446744073709551615";
        assert_eq!(parse_start_time(stat), Some(987654));
        let own = process_start_time(std::process::id());
        assert!(own.is_some_and(|t| t > 0));
    }

    #[tokio::test]
    async fn steps_run_in_reverse_and_continue_after_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outer = dir.path().join("outer");
        let inner = outer.join("inner");
        std::fs::create_dir_all(&inner).expect("mkdir");
        let tree = dir.path().join("vm");
        std::fs::create_dir_all(tree.join("sub")).expect("mkdir");
        std::fs::write(tree.join("sub/qmp.sock"), b"").expect("write");
        let steps = vec![
            CleanupStep::RemoveDir {
                path: outer.clone(),
            },
            CleanupStep::RemoveDir {
                path: inner.clone(),
            },
            CleanupStep::RemoveFile {
                path: dir.path().join("missing"),
            },
            CleanupStep::RemoveTree { path: tree.clone() },
            CleanupStep::Unmount {
                path: dir.path().join("not-a-mount"),
            },
        ];
        let shared_parent = dir.path().join("parent");
        std::fs::create_dir_all(shared_parent.join("other-sandbox")).expect("mkdir");
        let mut steps = steps;
        steps.insert(
            0,
            CleanupStep::RemoveDir {
                path: shared_parent.clone(),
            },
        );
        let failures = run_steps(&steps).await;
        assert!(failures.is_empty(), "{failures:?}");
        assert!(
            shared_parent.join("other-sandbox").exists(),
            "a busy parent stays"
        );
        assert!(!outer.exists());
        assert!(!tree.exists());
    }

    #[tokio::test]
    async fn kill_process_stops_a_child_and_ignores_recycled_pids() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let step = CleanupStep::kill_process("sleep", child.id());
        let stale = CleanupStep::KillProcess {
            name: "sleep".into(),
            pid: child.id(),
            start_time: 1,
        };
        assert!(run_steps(std::slice::from_ref(&stale)).await.is_empty());
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "stale step killed it"
        );
        assert!(run_steps(&[step]).await.is_empty());
        let status = child.wait().expect("wait");
        assert!(!status.success());
    }

    #[test]
    fn steps_serialize_with_a_kind_tag() {
        let s = serde_json::to_string(&CleanupStep::Unmount { path: "/x".into() }).expect("json");
        assert_eq!(s, r#"{"kind":"unmount","path":"/x"}"#);
    }
}
