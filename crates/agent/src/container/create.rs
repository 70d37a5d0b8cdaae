//! CreateContainer: storages, bundle, libcontainer init process waiting for StartContainer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use oci_spec::runtime::{LinuxBuilder, Spec};

use super::devices::fit_devices;
use super::diagnose::{ensure_cwd, libcontainer_failure};
use super::process::Process;
use super::stdio::Pending;
use super::sysctl::apply_net_sysctls;
use super::{validate_id, Container};
use crate::error::{AgentError, Result};
use crate::safe_path;
use crate::sandbox::Sandbox;
use crate::storage::StorageSpec;

/// A CreateContainer request in domain terms.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub id: String,
    pub exec_id: String,
    pub spec: Spec,
    pub storages: Vec<StorageSpec>,
    /// Share the PID namespace of the pod's first container (`sandbox_pidns`).
    pub sandbox_pidns: bool,
}

pub fn create(sb: &Sandbox, req: CreateRequest) -> Result<()> {
    validate_id(&req.id)?;
    if sb.has_container(&req.id) {
        return Err(AgentError::AlreadyExists(format!("container {}", req.id)));
    }
    let mut mounted = Vec::new();
    for s in &req.storages {
        match sb.storages.add(s) {
            Ok(p) => mounted.push(p),
            Err(e) => {
                release(sb, &mounted);
                return Err(e);
            }
        }
    }
    match build(sb, &req, mounted.clone()) {
        Ok(c) => {
            let c = Arc::new(c);
            sb.offer_ns_holder(c.init.pid);
            sb.oom.watch(&c.id, &c.cgroup);
            sb.insert_container(c)
        }
        Err(e) => {
            release(sb, &mounted);
            let _ = std::fs::remove_dir_all(sb.layout.state_root.join(&req.id));
            let _ = std::fs::remove_dir_all(sb.layout.bundles.join(&req.id));
            Err(e)
        }
    }
}

fn release(sb: &Sandbox, mounted: &[PathBuf]) {
    for p in mounted.iter().rev() {
        let _ = sb.storages.release(p);
    }
}

fn build(sb: &Sandbox, req: &CreateRequest, storages: Vec<PathBuf>) -> Result<Container> {
    let id = req.id.as_str();
    let mut spec = req.spec.clone();
    let rootfs = confine_rootfs(sb, &spec)?;
    prepare_spec(&mut spec, &rootfs, id)?;
    if let Some(guest) = sb.guest_hooks() {
        super::guest_hooks::append(&mut spec, &guest);
    }
    fit_devices(id, &sb.layout.sysfs, &mut spec)?;
    apply_net_sysctls(id, Path::new("/proc/sys"), &mut spec)?;
    if let Some(process) = spec.process().as_ref() {
        ensure_cwd(id, &rootfs, process)?;
    }
    if let Some(holder) = sb.ns_holder() {
        join_namespaces(&mut spec, holder, req.sandbox_pidns);
    } else if req.sandbox_pidns {
        return Err(AgentError::FailedPrecondition(format!(
            "container {id}: sandbox_pidns is set but the pod has no sandbox container yet"
        )));
    }
    let cgroup = cgroup_dir(&sb.layout.cgroup_root, &spec);

    let bundle = sb.layout.bundles.join(id);
    std::fs::create_dir_all(&bundle).map_err(|e| AgentError::io("creating bundle", &bundle, e))?;
    std::fs::create_dir_all(&sb.layout.state_root)
        .map_err(|e| AgentError::io("creating", &sb.layout.state_root, e))?;
    let config = bundle.join("config.json");
    spec.save(&config)
        .map_err(|e| AgentError::InvalidArgument(format!("writing {}: {e}", config.display())))?;

    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let mut pending = Pending::prepare(terminal, &bundle, "console.sock")?;
    let lc_err = |what| move |source| AgentError::container(id, what, source);
    let mut builder = ContainerBuilder::new(id.to_string(), SyscallType::default())
        .with_root_path(&sb.layout.state_root)
        .map_err(lc_err("state directory"))?;
    if let Some(child) = pending.take_child() {
        builder = builder
            .with_stdin(child.stdin)
            .with_stdout(child.stdout)
            .with_stderr(child.stderr);
    }
    if let Some(path) = pending.console_path() {
        builder = builder.with_console_socket(Some(path));
    }
    let lc = builder
        .as_init(&bundle)
        .with_systemd(false)
        .with_detach(true)
        .with_no_pivot(sb.no_pivot)
        .build()
        .map_err(|e| libcontainer_failure(id, "create", &rootfs, spec.process().as_ref(), e))?;
    let pid = lc
        .pid()
        .ok_or_else(|| AgentError::Internal(format!("container {id} has no init pid")))?
        .as_raw();
    // Registered before the runtime can run the reaper again (this function never awaits).
    let exit = sb.reaper.watch(pid);
    let stdio = pending.finish(super::stdio::console_size(spec.process().as_ref()))?;
    Ok(Container {
        id: id.to_string(),
        bundle,
        cgroup,
        lc: Mutex::new(lc),
        init: Arc::new(Process::new(req.exec_id.clone(), pid, stdio, exit)),
        execs: Mutex::new(HashMap::new()),
        storages,
    })
}

/// The rootfs must be a directory below the agent's run directory (normally
/// `/run/kata-containers/shared/containers/<cid>/rootfs`).
fn confine_rootfs(sb: &Sandbox, spec: &Spec) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| AgentError::InvalidArgument("spec without root".into()))?;
    let rootfs = sb.layout.run_path(root.path())?;
    if !rootfs.is_dir() {
        return Err(AgentError::NotFound(format!(
            "rootfs {}",
            root.path().display()
        )));
    }
    Ok(rootfs)
}

/// Points the spec at the on-disk rootfs, pins mount destinations inside it and sets the cgroup.
pub fn prepare_spec(spec: &mut Spec, rootfs: &Path, id: &str) -> Result<()> {
    if let Some(root) = spec.root().clone() {
        let mut root = root;
        root.set_path(rootfs.to_path_buf());
        spec.set_root(Some(root));
    }
    if let Some(mounts) = spec.mounts().clone() {
        let mut fixed = Vec::with_capacity(mounts.len());
        for mut m in mounts {
            let resolved = safe_path::resolve_in_root(rootfs, m.destination())?;
            safe_path::ensure_within(rootfs, &resolved)?;
            let rel = resolved
                .strip_prefix(rootfs)
                .map_err(|_| AgentError::PathEscape {
                    path: m.destination().clone(),
                    root: rootfs.to_path_buf(),
                })?;
            m.set_destination(Path::new("/").join(rel));
            fixed.push(m);
        }
        spec.set_mounts(Some(fixed));
    }
    drop_lsm_labels(spec, id);
    let mut linux = match spec.linux().clone() {
        Some(l) => l,
        None => LinuxBuilder::default()
            .build()
            .map_err(|e| AgentError::InvalidArgument(e.to_string()))?,
    };
    // The container always gets a PID namespace of its own (or the sandbox's, see
    // `join_namespaces`): without one it would see the agent and every other container.
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    if !namespaces
        .iter()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid)
    {
        namespaces.push(
            oci_spec::runtime::LinuxNamespaceBuilder::default()
                .typ(oci_spec::runtime::LinuxNamespaceType::Pid)
                .build()
                .map_err(|e| AgentError::InvalidArgument(e.to_string()))?,
        );
        linux.set_namespaces(Some(namespaces));
    }
    let path = linux.cgroups_path().clone().filter(|p| {
        let s = p.to_string_lossy();
        !s.is_empty() && !s.contains(':') && !s.split('/').any(|c| c == "..")
    });
    linux.set_cgroups_path(Some(
        path.unwrap_or_else(|| PathBuf::from(format!("/kata-containers/{id}"))),
    ));
    spec.set_linux(Some(linux));
    // The runtime-namespace hooks ran on the host; only the container-namespace ones
    // (createContainer, startContainer) run here, by libcontainer, as runc runs them.
    let kept = spec.hooks().as_ref().map(|h| {
        let mut kept = oci_spec::runtime::Hooks::default();
        kept.set_create_container(h.create_container().clone());
        kept.set_start_container(h.start_container().clone());
        kept
    });
    spec.set_hooks(
        kept.filter(|h| h.create_container().is_some() || h.start_container().is_some()),
    );
    Ok(())
}

/// The guest runs no AppArmor or SELinux policy: like Kata's agent, the profile and labels are
/// not applied (the runtime already warned on the host).
fn drop_lsm_labels(spec: &mut Spec, id: &str) {
    if let Some(mut p) = spec.process().clone() {
        if p.apparmor_profile().is_some() || p.selinux_label().is_some() {
            tracing::warn!(
                container = id,
                apparmor = ?p.apparmor_profile(),
                selinux = ?p.selinux_label(),
                "LSM profile/label not applied in the guest"
            );
            p.set_apparmor_profile(None);
            p.set_selinux_label(None);
            spec.set_process(Some(p));
        }
    }
    if let Some(mut l) = spec.linux().clone() {
        if l.mount_label().is_some() {
            l.set_mount_label(None);
            spec.set_linux(Some(l));
        }
    }
}

/// Points the IPC and UTS namespaces (and PID, if shared) that the spec asks to create at those of
/// `holder`, so that a pod's containers share them as they would under runc.
pub fn join_namespaces(spec: &mut Spec, holder: i32, pidns: bool) {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let Some(mut linux) = spec.linux().clone() else {
        return;
    };
    let Some(mut namespaces) = linux.namespaces().clone() else {
        return;
    };
    for ns in namespaces.iter_mut() {
        let name = match ns.typ() {
            T::Ipc => "ipc",
            T::Uts => "uts",
            T::Pid if pidns => "pid",
            _ => continue,
        };
        if ns.path().is_none() {
            ns.set_path(Some(PathBuf::from(format!("/proc/{holder}/ns/{name}"))));
        }
    }
    linux.set_namespaces(Some(namespaces));
    spec.set_linux(Some(linux));
}

/// The container's cgroup directory: the (already sanitized) `cgroupsPath` below `cgroup_root`.
pub fn cgroup_dir(cgroup_root: &Path, spec: &Spec) -> PathBuf {
    let rel = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .map(|p| p.to_string_lossy().trim_start_matches('/').to_string())
        .unwrap_or_default();
    cgroup_root.join(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{MountBuilder, RootBuilder, SpecBuilder};

    fn spec_with_mount(dest: &str, cgroups: Option<&str>) -> Spec {
        let mount = MountBuilder::default()
            .destination(dest)
            .typ("tmpfs")
            .source("tmpfs")
            .build()
            .expect("mount");
        let mut linux = LinuxBuilder::default().build().expect("linux");
        linux.set_cgroups_path(cgroups.map(PathBuf::from));
        SpecBuilder::default()
            .root(RootBuilder::default().path("/x").build().expect("root"))
            .mounts(vec![mount])
            .linux(linux)
            .build()
            .expect("spec")
    }

    #[test]
    fn mount_destination_through_symlink_stays_in_rootfs() {
        let rootfs = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("../../../../etc", rootfs.path().join("data")).expect("symlink");
        std::os::unix::fs::symlink("/", rootfs.path().join("abs")).expect("symlink");
        for (dest, want) in [
            ("/data/shadow", "/etc/shadow"),
            ("/abs/tmp", "/tmp"),
            ("/../../x", "/x"),
        ] {
            let mut spec = spec_with_mount(dest, None);
            prepare_spec(&mut spec, rootfs.path(), "c1").expect("prepare");
            let got = spec.mounts().as_ref().expect("mounts")[0]
                .destination()
                .clone();
            assert_eq!(got, PathBuf::from(want), "{dest}");
        }
    }

    #[test]
    fn root_points_at_the_on_disk_rootfs_and_cgroup_defaults() {
        let rootfs = tempfile::tempdir().expect("tempdir");
        let mut spec = spec_with_mount("/tmp", None);
        prepare_spec(&mut spec, rootfs.path(), "c1").expect("prepare");
        assert_eq!(spec.root().as_ref().expect("root").path(), rootfs.path());
        assert_eq!(
            cgroup_dir(Path::new("/sys/fs/cgroup"), &spec),
            PathBuf::from("/sys/fs/cgroup/kata-containers/c1")
        );
    }

    #[test]
    fn host_hooks_are_dropped() {
        use oci_spec::runtime::{HookBuilder, HooksBuilder};
        let rootfs = tempfile::tempdir().expect("tempdir");
        let mut spec = spec_with_mount("/tmp", None);
        let hook = HookBuilder::default()
            .path("/usr/bin/host-only")
            .build()
            .expect("hook");
        spec.set_hooks(Some(
            HooksBuilder::default()
                .prestart(vec![hook.clone()])
                .build()
                .expect("hooks"),
        ));
        prepare_spec(&mut spec, rootfs.path(), "c1").expect("prepare");
        assert!(spec.hooks().is_none());
        spec.set_hooks(Some(
            HooksBuilder::default()
                .poststop(vec![hook.clone()])
                .start_container(vec![hook])
                .build()
                .expect("hooks"),
        ));
        prepare_spec(&mut spec, rootfs.path(), "c1").expect("prepare");
        let kept = spec.hooks().as_ref().expect("container hooks kept");
        assert!(kept.poststop().is_none());
        assert_eq!(kept.start_container().as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn systemd_style_or_escaping_cgroup_paths_are_replaced() {
        let rootfs = tempfile::tempdir().expect("tempdir");
        for bad in ["system.slice:kata:c1", "/../../x"] {
            let mut spec = spec_with_mount("/tmp", Some(bad));
            prepare_spec(&mut spec, rootfs.path(), "c1").expect("prepare");
            assert_eq!(
                cgroup_dir(Path::new("/cg"), &spec),
                PathBuf::from("/cg/kata-containers/c1"),
                "{bad}"
            );
        }
        let mut spec = spec_with_mount("/tmp", Some("/kubepods/pod1/c1"));
        prepare_spec(&mut spec, rootfs.path(), "c1").expect("prepare");
        assert_eq!(
            cgroup_dir(Path::new("/cg"), &spec),
            PathBuf::from("/cg/kubepods/pod1/c1")
        );
    }

    #[test]
    fn later_containers_join_the_holders_ipc_and_uts() {
        use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType as T};
        let mut spec = spec_with_mount("/tmp", None);
        let ns = |t| LinuxNamespaceBuilder::default().typ(t).build().expect("ns");
        let mut linux = spec.linux().clone().expect("linux");
        linux.set_namespaces(Some(vec![ns(T::Pid), ns(T::Ipc), ns(T::Uts), ns(T::Mount)]));
        spec.set_linux(Some(linux));
        join_namespaces(&mut spec, 42, false);
        let got: Vec<_> = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .expect("namespaces");
        let path = |t| {
            got.iter()
                .find(|n| n.typ() == t)
                .and_then(|n| n.path().clone())
        };
        assert_eq!(path(T::Ipc), Some(PathBuf::from("/proc/42/ns/ipc")));
        assert_eq!(path(T::Uts), Some(PathBuf::from("/proc/42/ns/uts")));
        assert_eq!(path(T::Pid), None);
        assert_eq!(path(T::Mount), None);
        join_namespaces(&mut spec, 42, true);
        let got: Vec<_> = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .expect("namespaces");
        assert!(got.iter().any(|n| n.typ() == T::Pid && n.path().is_some()));
    }

    #[test]
    fn a_pid_namespace_is_always_created_and_lsm_labels_dropped() {
        use oci_spec::runtime::{LinuxNamespaceType as T, ProcessBuilder};
        let rootfs = tempfile::tempdir().expect("tempdir");
        let mut spec = spec_with_mount("/tmp", None);
        let process = ProcessBuilder::default()
            .apparmor_profile("cri-containerd.apparmor.d")
            .selinux_label("system_u:system_r:container_t:s0")
            .build()
            .expect("process");
        spec.set_process(Some(process));
        prepare_spec(&mut spec, rootfs.path(), "c1").expect("prepare");
        let ns = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .expect("namespaces");
        assert!(ns.iter().any(|n| n.typ() == T::Pid && n.path().is_none()));
        let p = spec.process().as_ref().expect("process");
        assert!(p.apparmor_profile().is_none());
        assert!(p.selinux_label().is_none());
    }
}
