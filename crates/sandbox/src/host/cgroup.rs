//! The pod's cgroup on the host: the sandbox container's `linux.cgroupsPath` (under the CRI
//! `cgroup_parent`) is made in every cgroup hierarchy of the host and QEMU is moved into it, so that
//! what the host accounts and limits there (and what containerd's `PodSandboxStats` reads, from the
//! pod's `cgroup_parent`) is the VM's, as with Kata's sandbox cgroup.
//!
//! With `[runtime] sandbox_cgroup_only = true` the shim joins the cgroup before it starts the
//! daemons, so vhost-device-vsock, virtiofsd and QEMU all start in it (Kata puts the runtime in
//! the sandbox cgroup the same way); it goes back to its own cgroups before the directory is
//! removed. With `false`, QEMU alone joins (all its threads: Kata moves only the vCPU threads
//! there and keeps the rest in an overhead cgroup; kata-rs has no overhead cgroup yet).
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

/// Where this process (the shim) lived before it joined a pod cgroup: the pod's leaves, and the
/// directories to go back to (same order). One shim serves one sandbox, so one record suffices.
static SHIM_HOME: std::sync::Mutex<Option<(Vec<PathBuf>, Vec<PathBuf>)>> =
    std::sync::Mutex::new(None);

/// This process's cgroup directory in `hierarchy` (under `root`), from `/proc/self/cgroup`'s
/// `text`: the `0::` line on cgroup v2, else the line whose controllers name the directory
/// (`cpu,cpuacct`, `memory`; `name=systemd` for `systemd`).
pub fn own_dir(root: &Path, hierarchy: &Path, text: &str) -> Option<PathBuf> {
    let v2 = hierarchy == root;
    let name = hierarchy.file_name()?.to_string_lossy().into_owned();
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if v2 {
            controllers.is_empty()
        } else {
            controllers == name || controllers.strip_prefix("name=") == Some(name.as_str())
        };
        matches.then(|| hierarchy.join(path.trim().trim_start_matches('/')))
    })
}

/// `sandbox_cgroup_only`: this process (the shim) joins every leaf of `pod`, so that what it
/// starts from then on (vhost-device-vsock, virtiofsd, QEMU) starts there too, as Kata's
/// `setupResourceController` does with the runtime's pid. Its own cgroups are remembered for
/// [`leave_before_removal`]. Returns the leaves that refused.
pub fn join_self(root: &Path, pod: &PodCgroup) -> Vec<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let homes: Vec<PathBuf> = pod
        .leaves
        .iter()
        .map(|leaf| {
            let hierarchy = hierarchies(root)
                .into_iter()
                .find(|h| leaf.starts_with(h))
                .unwrap_or_else(|| root.to_owned());
            own_dir(root, &hierarchy, &own).unwrap_or(hierarchy)
        })
        .collect();
    *SHIM_HOME.lock().unwrap_or_else(|p| p.into_inner()) = Some((pod.leaves.clone(), homes));
    join(pod, std::process::id())
}

/// Before a pod cgroup directory is removed: a shim that joined it ([`join_self`]) goes back to
/// its own cgroups (a cgroup with a task in it cannot be removed).
pub fn leave_before_removal(dir: &Path) {
    let mut home = SHIM_HOME.lock().unwrap_or_else(|p| p.into_inner());
    let inside = home
        .as_ref()
        .is_some_and(|(leaves, _)| leaves.iter().any(|l| l.starts_with(dir)));
    if !inside {
        return;
    }
    if let Some((_, homes)) = home.take() {
        for dir in homes {
            if let Err(e) = std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string())
            {
                tracing::warn!(cgroup = %dir.display(), error = %e, "the shim cannot go back to its cgroup");
            }
        }
    }
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

    #[test]
    fn own_cgroup_dirs_are_read_for_v1_and_v2() {
        let root = Path::new("/sys/fs/cgroup");
        let v1 = "12:cpu,cpuacct:/a/b\n5:memory:/m\n1:name=systemd:/init.scope\n";
        assert_eq!(
            own_dir(root, &root.join("cpu,cpuacct"), v1),
            Some(root.join("cpu,cpuacct/a/b"))
        );
        assert_eq!(
            own_dir(root, &root.join("memory"), v1),
            Some(root.join("memory/m"))
        );
        assert_eq!(
            own_dir(root, &root.join("systemd"), v1),
            Some(root.join("systemd/init.scope"))
        );
        assert_eq!(own_dir(root, &root.join("pids"), v1), None);
        let v2 = "0::/user.slice/x.scope\n";
        assert_eq!(
            own_dir(root, root, v2),
            Some(root.join("user.slice/x.scope"))
        );
        assert_eq!(own_dir(root, root, "0::/\n"), Some(root.to_owned()));
    }
}
