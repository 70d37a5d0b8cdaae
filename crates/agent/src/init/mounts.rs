//! The file systems PID 1 mounts before anything else.

use std::path::Path;

use nix::mount::{mount, MsFlags};

use crate::error::{AgentError, Result};

/// One early mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyMount {
    pub fstype: &'static str,
    pub source: &'static str,
    pub target: &'static str,
    pub flags: MsFlags,
    pub data: &'static str,
}

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// In mount order: `/dev` must exist before `/dev/pts` and `/dev/shm`, `/sys` before its cgroup.
pub const EARLY_MOUNTS: &[EarlyMount] = &[
    EarlyMount {
        fstype: "proc",
        source: "proc",
        target: "/proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
    },
    EarlyMount {
        fstype: "sysfs",
        source: "sysfs",
        target: "/sys",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
    },
    EarlyMount {
        fstype: "devtmpfs",
        source: "dev",
        target: "/dev",
        flags: MsFlags::MS_NOSUID,
        data: "mode=0755",
    },
    EarlyMount {
        fstype: "devpts",
        source: "devpts",
        target: "/dev/pts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: "newinstance,ptmxmode=0666,mode=0620,gid=5",
    },
    EarlyMount {
        fstype: "tmpfs",
        source: "shm",
        target: "/dev/shm",
        flags: NOSUID_NODEV_NOEXEC,
        data: "mode=1777",
    },
    EarlyMount {
        fstype: "tmpfs",
        source: "tmpfs",
        target: "/run",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: "mode=0755",
    },
    EarlyMount {
        fstype: "cgroup2",
        source: "cgroup2",
        target: "/sys/fs/cgroup",
        flags: NOSUID_NODEV_NOEXEC,
        data: "nsdelegate",
    },
];

/// Mounts every entry of [`EARLY_MOUNTS`] below `root` (normally `/`), creating the targets.
/// A target that is already a mount of the same type (e.g. a kernel that auto-mounts devtmpfs) is kept.
pub fn mount_all(root: &Path) -> Result<()> {
    for m in EARLY_MOUNTS {
        let target = root.join(m.target.trim_start_matches('/'));
        std::fs::create_dir_all(&target)
            .map_err(|e| AgentError::io("creating mount point", &target, e))?;
        if is_mounted_as(&target, m.fstype) {
            continue;
        }
        let data = (!m.data.is_empty()).then_some(m.data);
        mount(Some(m.source), &target, Some(m.fstype), m.flags, data)
            .map_err(|e| AgentError::errno("mounting early file system on", &target, e))?;
    }
    // Containers and tools look for /dev/ptmx; point it at the devpts instance.
    let ptmx = root.join("dev/ptmx");
    let _ = std::fs::remove_file(&ptmx);
    std::os::unix::fs::symlink("pts/ptmx", &ptmx)
        .map_err(|e| AgentError::io("linking", &ptmx, e))?;
    Ok(())
}

/// Whether `/proc/self/mountinfo` lists `target` as a mount of `fstype`.
fn is_mounted_as(target: &Path, fstype: &str) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let target = target.to_string_lossy();
    info.lines()
        .any(|line| mountinfo_matches(line, &target, fstype))
}

/// `line` is one mountinfo record: field 5 is the mount point, the type follows the ` - ` separator.
fn mountinfo_matches(line: &str, target: &str, fstype: &str) -> bool {
    let mut halves = line.splitn(2, " - ");
    let (Some(left), Some(right)) = (halves.next(), halves.next()) else {
        return false;
    };
    left.split(' ').nth(4) == Some(target) && right.split(' ').next() == Some(fstype)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_mounted_before_children() {
        let pos = |t: &str| {
            EARLY_MOUNTS
                .iter()
                .position(|m| m.target == t)
                .unwrap_or(usize::MAX)
        };
        assert!(pos("/dev") < pos("/dev/pts"));
        assert!(pos("/dev") < pos("/dev/shm"));
        assert!(pos("/sys") < pos("/sys/fs/cgroup"));
        assert_ne!(pos("/run"), usize::MAX);
        assert_ne!(pos("/proc"), usize::MAX);
    }

    #[test]
    fn mountinfo_line_is_parsed() {
        let line = "25 1 0:23 / /dev rw,nosuid shared:2 - devtmpfs dev rw,size=1024k";
        assert!(mountinfo_matches(line, "/dev", "devtmpfs"));
        assert!(!mountinfo_matches(line, "/dev", "tmpfs"));
        assert!(!mountinfo_matches(line, "/run", "devtmpfs"));
    }
}
