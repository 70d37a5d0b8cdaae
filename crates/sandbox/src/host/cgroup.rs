//! The pod's cgroup on the host: the sandbox container's `linux.cgroupsPath` (under the CRI
//! `cgroup_parent`) is made in every cgroup hierarchy of the host and QEMU is moved into it, so that
//! what the host accounts and limits there (and what containerd's `PodSandboxStats` reads, from the
//! pod's `cgroup_parent`) is the VM's, as with Kata's sandbox cgroup.
//!
//! Only the cgroupfs form (`/a/b/c`) is handled; a systemd-style path (`slice:prefix:name`) is
//! logged and skipped. Directories are created parents first and recorded so that teardown
//! removes, leaf first and only when empty, those this sandbox made.

use std::path::{Path, PathBuf};

/// Root of the cgroup file systems.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The directories of `cgroups_path` to make under each hierarchy of `root`, in creation order
/// (missing parents first), and the leaves QEMU joins.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PodCgroup {
    pub created: Vec<PathBuf>,
    pub leaves: Vec<PathBuf>,
}

/// The hierarchies under `root`: `root` itself on a cgroup v2 host, each mounted controller
/// directory (not the symlinks such as `cpu -> cpu,cpuacct`) on v1.
pub fn hierarchies(root: &Path) -> Vec<PathBuf> {
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_owned()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists())
        .collect();
    out.sort();
    out
}

/// Makes `cgroups_path` in every hierarchy under `root`. Errors: a path that is not absolute or
/// climbs (`..`), a directory that cannot be made.
pub fn create(root: &Path, cgroups_path: &Path) -> std::io::Result<PodCgroup> {
    use std::path::Component;
    if !cgroups_path.is_absolute()
        || cgroups_path
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "cgroups path {} is not a clean absolute path",
                cgroups_path.display()
            ),
        ));
    }
    let relative = cgroups_path.strip_prefix("/").unwrap_or(cgroups_path);
    let mut pod = PodCgroup::default();
    for hierarchy in hierarchies(root) {
        let leaf = hierarchy.join(relative);
        let mut missing = Vec::new();
        let mut dir = leaf.as_path();
        while dir != hierarchy && !dir.exists() {
            missing.push(dir.to_owned());
            match dir.parent() {
                Some(p) => dir = p,
                None => break,
            }
        }
        for dir in missing.into_iter().rev() {
            if let Err(e) = std::fs::create_dir(&dir).and_then(|()| inherit_cpuset(&dir)) {
                for made in pod.created.iter().rev() {
                    let _ = std::fs::remove_dir(made);
                }
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("making cgroup {}: {e}", dir.display()),
                ));
            }
            pod.created.push(dir);
        }
        pod.leaves.push(leaf);
    }
    Ok(pod)
}

/// A new v1 `cpuset` cgroup starts with no CPUs and no memory nodes, and refuses tasks until it
/// has some: it gets its parent's (as runc does).
fn inherit_cpuset(dir: &Path) -> std::io::Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(file);
        if !own.exists() {
            continue;
        }
        if std::fs::read_to_string(&own)?.trim().is_empty() {
            let value = std::fs::read_to_string(parent.join(file))?;
            std::fs::write(&own, value.trim())?;
        }
    }
    Ok(())
}

/// Moves `pid` (all its threads) into every leaf of `pod`; returns the leaves that refused.
pub fn join(pod: &PodCgroup, pid: u32) -> Vec<String> {
    pod.leaves
        .iter()
        .filter_map(|leaf| {
            std::fs::write(leaf.join("cgroup.procs"), pid.to_string())
                .err()
                .map(|e| format!("{}: {e}", leaf.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_hierarchies_get_the_path_with_its_missing_parents_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for h in ["cpu,cpuacct", "memory"] {
            std::fs::create_dir_all(dir.path().join(h)).expect("mkdir");
            std::fs::write(dir.path().join(h).join("cgroup.procs"), "").expect("procs");
        }
        std::fs::create_dir_all(dir.path().join("memory/kubepods")).expect("parent");
        let pod = create(dir.path(), Path::new("/kubepods/pod1/sb")).expect("create");
        let rel: Vec<String> = pod
            .created
            .iter()
            .map(|p| {
                p.strip_prefix(dir.path())
                    .expect("under")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            rel,
            [
                "cpu,cpuacct/kubepods",
                "cpu,cpuacct/kubepods/pod1",
                "cpu,cpuacct/kubepods/pod1/sb",
                "memory/kubepods/pod1",
                "memory/kubepods/pod1/sb",
            ]
        );
        assert_eq!(pod.leaves.len(), 2);
        assert!(create(dir.path(), Path::new("kubepods/x")).is_err());
        assert!(create(dir.path(), Path::new("/kubepods/../../etc")).is_err());
    }
}
