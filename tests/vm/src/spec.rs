//! Minimal `grpc.Spec` / `grpc.Process` messages (Kata's protobuf copy of the OCI spec) and the
//! sandbox storage for the `kataShared` virtio-fs share.

use kata_protocols::agent as pb;
use kata_protocols::oci;

use crate::rootfs::{guest_rootfs, GUEST_SHARED_DIR};

/// The virtio-fs tag the test VM exports its shared directory under.
pub const SHARED_FS_TAG: &str = "kataShared";

/// Namespaces of a normal container (no network namespace: the guest has no network here).
pub const DEFAULT_NAMESPACES: &[&str] = &["pid", "mount", "ipc", "uts"];

/// A process running `args` as root in `/` with `PATH=/bin`.
pub fn process(args: &[&str]) -> oci::Process {
    let mut p = oci::Process::new();
    p.Args = args.iter().map(|s| s.to_string()).collect();
    p.Env = vec!["PATH=/bin:/sbin".into(), "HOME=/root".into()];
    p.Cwd = "/".into();
    p.User = Some(oci::User::new()).into();
    p
}

/// Like [`process`], attached to a terminal of `rows` x `cols`.
pub fn terminal_process(args: &[&str], rows: u32, cols: u32) -> oci::Process {
    let mut p = process(args);
    p.Terminal = true;
    p.Env.push("TERM=xterm".into());
    let mut size = oci::Box::new();
    size.Height = rows;
    size.Width = cols;
    p.ConsoleSize = Some(size).into();
    p
}

/// One OCI mount.
pub fn mount(destination: &str, type_: &str, source: &str, options: &[&str]) -> oci::Mount {
    let mut m = oci::Mount::new();
    m.destination = destination.into();
    m.type_ = type_.into();
    m.source = source.into();
    m.options = options.iter().map(|s| s.to_string()).collect();
    m
}

/// A spec for container `cid` whose rootfs is `<shared>/<cid>/rootfs`: `/proc`, `/dev` (tmpfs),
/// `/dev/pts`, `/dev/shm`, the [`DEFAULT_NAMESPACES`] and the agent's default cgroup.
pub fn container_spec(cid: &str, process: oci::Process) -> oci::Spec {
    let mut s = oci::Spec::new();
    s.Version = "1.0.2".into();
    s.Process = Some(process).into();
    let mut root = oci::Root::new();
    root.Path = guest_rootfs(cid);
    s.Root = Some(root).into();
    s.Hostname = cid.into();
    s.Mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
    ];
    let mut linux = oci::Linux::new();
    linux.Namespaces = DEFAULT_NAMESPACES.iter().map(|t| namespace(t)).collect();
    s.Linux = Some(linux).into();
    s
}

fn namespace(type_: &str) -> oci::LinuxNamespace {
    let mut n = oci::LinuxNamespace::new();
    n.Type = type_.into();
    n
}

/// Removes namespace `type_` (e.g. `pid`) so the container shares the guest's.
pub fn without_namespace(spec: &mut oci::Spec, type_: &str) {
    if let Some(linux) = spec.Linux.as_mut() {
        linux.Namespaces.retain(|n| n.Type != type_);
    }
}

/// The sandbox storage mounting the shared directory where the agent looks for rootfs.
pub fn shared_storage() -> pb::Storage {
    let mut s = pb::Storage::new();
    s.driver = "virtio-fs".into();
    s.source = SHARED_FS_TAG.into();
    s.fstype = "virtiofs".into();
    s.mount_point = format!("{GUEST_SHARED_DIR}/");
    s
}

/// CreateSandbox with the shared storage.
pub fn create_sandbox_request(sandbox_id: &str) -> pb::CreateSandboxRequest {
    let mut r = pb::CreateSandboxRequest::new();
    r.sandbox_id = sandbox_id.into();
    r.hostname = sandbox_id.into();
    r.storages = vec![shared_storage()];
    r
}

/// CreateContainer for `cid` with `spec` (exec id = container id, as the shim does).
pub fn create_container_request(cid: &str, spec: oci::Spec) -> pb::CreateContainerRequest {
    let mut r = pb::CreateContainerRequest::new();
    r.container_id = cid.into();
    r.exec_id = cid.into();
    r.OCI = Some(spec).into();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_points_at_the_shared_rootfs() {
        let s = container_spec("c1", process(&["true"]));
        assert_eq!(
            s.Root.as_ref().expect("root").Path,
            "/run/kata-containers/shared/containers/c1/rootfs"
        );
        assert_eq!(s.Process.as_ref().expect("process").Args, ["true"]);
        assert!(s
            .Mounts
            .iter()
            .any(|m| m.destination == "/proc" && m.type_ == "proc"));
    }

    #[test]
    fn namespaces_can_be_dropped() {
        let mut s = container_spec("c1", process(&["true"]));
        without_namespace(&mut s, "pid");
        let types: Vec<_> = s
            .Linux
            .as_ref()
            .expect("linux")
            .Namespaces
            .iter()
            .map(|n| n.Type.clone())
            .collect();
        assert_eq!(types, ["mount", "ipc", "uts"]);
    }

    #[test]
    fn shared_storage_is_virtio_fs_kata_shared() {
        let s = shared_storage();
        assert_eq!(
            (
                s.driver.as_str(),
                s.source.as_str(),
                s.fstype.as_str(),
                s.mount_point.as_str()
            ),
            (
                "virtio-fs",
                "kataShared",
                "virtiofs",
                "/run/kata-containers/shared/containers/"
            )
        );
    }

    #[test]
    fn terminal_process_carries_its_size() {
        let p = terminal_process(&["sh"], 24, 80);
        assert!(p.Terminal);
        let b = p.ConsoleSize.as_ref().expect("size");
        assert_eq!((b.Height, b.Width), (24, 80));
    }
}
