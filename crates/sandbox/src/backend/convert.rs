//! OCI runtime spec (oci-spec types) to Kata's protobuf copy (`grpc.Spec`), through the JSON
//! form of `config.json` so every field keeps its OCI spelling.
//!
//! What the guest cannot honour is either refused with an error naming the field, or (where Kata
//! does the same) left out with a warning in the shim log:
//! - `linux.seccomp` is passed unless `[runtime] disable_guest_seccomp` is set (then stripped,
//!   as Kata does); a `listenerPath` (a host socket) is refused.
//! - `linux.devices`: block devices are refused (no block device passthrough yet); character
//!   devices and FIFOs are passed, the agent checks the guest kernel provides them.
//! - `process.apparmorProfile`, `process.selinuxLabel` and `linux.mountLabel` are not applied in
//!   the guest (it runs no LSM policy; Kata 2.x does the same by default) and are left out with a
//!   warning.
//! - a PID namespace with a path (the pod's sandbox PID namespace, `shareProcessNamespace`)
//!   becomes `CreateContainerRequest.sandbox_pidns`, as in Kata.
//! - only the `createContainer` and `startContainer` hooks reach the guest (the others run on the
//!   host, `host::hooks`); Intel RDT and `linux.resources.blockIO`/`network` (host device
//!   numbers, host classids) are not passed.

use kata_protocols::agent as agent_pb;
use kata_protocols::oci as pb;
use oci_spec::runtime::{LinuxResources, Process, Spec};
use serde_json::Value;

use crate::agent::{ContainerRequest, Storage};
use crate::error::{AgentError, ErrorKind};

fn s(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn b(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn u64_(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn i64_(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn u32_(v: &Value, key: &str) -> u32 {
    u32::try_from(u64_(v, key)).unwrap_or(u32::MAX)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn map(v: &Value, key: &str) -> std::collections::HashMap<String, String> {
    v.get(key)
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, x)| x.as_str().map(|x| (k.clone(), x.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn process_pb(p: &Value) -> pb::Process {
    let mut out = pb::Process::new();
    out.Terminal = b(p, "terminal");
    if let Some(cs) = p.get("consoleSize") {
        let mut bx = pb::Box::new();
        bx.Height = u32_(cs, "height");
        bx.Width = u32_(cs, "width");
        out.ConsoleSize = Some(bx).into();
    }
    if let Some(u) = p.get("user") {
        let mut user = pb::User::new();
        user.UID = u32_(u, "uid");
        user.GID = u32_(u, "gid");
        user.AdditionalGids = u
            .get("additionalGids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.as_u64())
                    .filter_map(|g| u32::try_from(g).ok())
                    .collect()
            })
            .unwrap_or_default();
        user.Username = s(u, "username");
        user.Umask = u
            .get("umask")
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok());
        out.User = Some(user).into();
    }
    out.Args = strings(p, "args");
    out.Env = strings(p, "env");
    out.Cwd = s(p, "cwd");
    if let Some(c) = p.get("capabilities") {
        let mut caps = pb::LinuxCapabilities::new();
        caps.Bounding = strings(c, "bounding");
        caps.Effective = strings(c, "effective");
        caps.Inheritable = strings(c, "inheritable");
        caps.Permitted = strings(c, "permitted");
        caps.Ambient = strings(c, "ambient");
        out.Capabilities = Some(caps).into();
    }
    if let Some(rl) = p.get("rlimits").and_then(Value::as_array) {
        out.Rlimits = rl
            .iter()
            .map(|r| {
                let mut x = pb::POSIXRlimit::new();
                x.Type = s(r, "type");
                x.Hard = u64_(r, "hard");
                x.Soft = u64_(r, "soft");
                x
            })
            .collect();
    }
    out.NoNewPrivileges = b(p, "noNewPrivileges");
    // No LSM policy runs in the guest: like Kata, the profile and label are not applied there.
    let apparmor = s(p, "apparmorProfile");
    if !apparmor.is_empty() {
        tracing::warn!(
            profile = %apparmor,
            "process.apparmorProfile is not applied inside the guest VM; ignored"
        );
    }
    out.OOMScoreAdj = i64_(p, "oomScoreAdj");
    let label = s(p, "selinuxLabel");
    if !label.is_empty() {
        tracing::warn!(
            label = %label,
            "process.selinuxLabel is not applied inside the guest VM (guest SELinux is disabled); ignored"
        );
    }
    out
}

/// A cgroup device rule number: `-1` is the wildcard (`*`), as the agent reads it.
fn dev_number(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(-1)
}

fn resources_pb(r: &Value) -> pb::LinuxResources {
    let mut out = pb::LinuxResources::new();
    if let Some(devices) = r.get("devices").and_then(Value::as_array) {
        out.Devices = devices
            .iter()
            .map(|d| {
                let mut x = pb::LinuxDeviceCgroup::new();
                x.Allow = b(d, "allow");
                x.Type = s(d, "type");
                x.Major = dev_number(d, "major");
                x.Minor = dev_number(d, "minor");
                x.Access = s(d, "access");
                x
            })
            .collect();
    }
    if let Some(m) = r.get("memory") {
        let mut mem = pb::LinuxMemory::new();
        mem.Limit = i64_(m, "limit");
        mem.Reservation = i64_(m, "reservation");
        mem.Swap = i64_(m, "swap");
        mem.Swappiness = u64_(m, "swappiness");
        mem.Kernel = i64_(m, "kernel");
        mem.KernelTCP = i64_(m, "kernelTCP");
        mem.DisableOOMKiller = b(m, "disableOOMKiller");
        out.Memory = Some(mem).into();
    }
    if let Some(c) = r.get("cpu") {
        let mut cpu = pb::LinuxCPU::new();
        cpu.Shares = u64_(c, "shares");
        cpu.Quota = i64_(c, "quota");
        cpu.Period = u64_(c, "period");
        cpu.RealtimeRuntime = i64_(c, "realtimeRuntime");
        cpu.RealtimePeriod = u64_(c, "realtimePeriod");
        cpu.Cpus = s(c, "cpus");
        cpu.Mems = s(c, "mems");
        out.CPU = Some(cpu).into();
    }
    if let Some(p) = r.get("pids") {
        let mut pids = pb::LinuxPids::new();
        pids.Limit = i64_(p, "limit");
        out.Pids = Some(pids).into();
    }
    if let Some(h) = r.get("hugepageLimits").and_then(Value::as_array) {
        out.HugepageLimits = h
            .iter()
            .map(|x| {
                let mut l = pb::LinuxHugepageLimit::new();
                l.Pagesize = s(x, "pageSize");
                l.Limit = u64_(x, "limit");
                l
            })
            .collect();
    }
    out
}

fn invalid(msg: String) -> AgentError {
    AgentError::new(ErrorKind::InvalidArgument, msg)
}

/// Whether the spec is a privileged container's (`ctr run --privileged`, CRI `privileged`):
/// `CAP_SYS_ADMIN` in the bounding set and a device cgroup rule allowing every device.
fn privileged(v: &Value) -> bool {
    let sys_admin = v
        .pointer("/process/capabilities/bounding")
        .and_then(Value::as_array)
        .is_some_and(|caps| caps.iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN")));
    let all_devices = v
        .pointer("/linux/resources/devices")
        .and_then(Value::as_array)
        .is_some_and(|rules| {
            rules.iter().any(|r| {
                b(r, "allow")
                    && matches!(r.get("type").and_then(Value::as_str), None | Some("a"))
                    && r.get("major").is_none_or(Value::is_null)
                    && r.get("minor").is_none_or(Value::is_null)
            })
        });
    sys_admin && all_devices
}

/// `linux.devices`: character devices and FIFOs pass; block devices are refused, except in a
/// privileged container, which gets the host's devices: there they are left out with a warning
/// and the container sees the guest's devices (what Kata's `privileged_without_host_devices`
/// gives).
fn devices_pb(l: &Value, privileged: bool) -> Result<Vec<pb::LinuxDevice>, AgentError> {
    let Some(devices) = l.get("devices").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let (passed, host_only): (Vec<&Value>, Vec<&Value>) = devices
        .iter()
        .partition(|d| !(privileged && s(d, "type") == "b"));
    if !host_only.is_empty() {
        tracing::warn!(
            devices = host_only.len(),
            "privileged container: the host's block devices are not passed to the guest \
             (no block device passthrough); it sees the guest's devices"
        );
    }
    passed
        .into_iter()
        .map(|d| {
            let path = s(d, "path");
            let typ = s(d, "type");
            match typ.as_str() {
                "c" | "u" | "p" => {}
                "b" => {
                    return Err(invalid(format!(
                        "linux.devices: {path} is a block device; block device passthrough is \
                         not supported yet"
                    )))
                }
                other => {
                    return Err(invalid(format!(
                        "linux.devices: {path} has unknown type {other:?}"
                    )))
                }
            }
            let mut x = pb::LinuxDevice::new();
            x.Path = path;
            x.Type = typ;
            x.Major = i64_(d, "major");
            x.Minor = i64_(d, "minor");
            // oci-spec's default when unset; 0 would make an inaccessible node.
            x.FileMode = d
                .get("fileMode")
                .and_then(Value::as_u64)
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(0o666);
            x.UID = u32_(d, "uid");
            x.GID = u32_(d, "gid");
            Ok(x)
        })
        .collect()
}

fn seccomp_pb(sc: &Value) -> Result<pb::LinuxSeccomp, AgentError> {
    let listener = s(sc, "listenerPath");
    if !listener.is_empty() {
        return Err(invalid(format!(
            "linux.seccomp.listenerPath {listener}: a seccomp notify listener on the host cannot \
             serve a container in the guest VM"
        )));
    }
    let mut out = pb::LinuxSeccomp::new();
    out.DefaultAction = s(sc, "defaultAction");
    out.DefaultErrnoRet = sc
        .get("defaultErrnoRet")
        .and_then(Value::as_u64)
        .and_then(|e| u32::try_from(e).ok());
    out.Architectures = strings(sc, "architectures");
    out.Flags = strings(sc, "flags");
    out.Syscalls = sc
        .get("syscalls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let mut x = pb::LinuxSyscall::new();
                    x.Names = strings(c, "names");
                    x.Action = s(c, "action");
                    if let Some(e) = c
                        .get("errnoRet")
                        .and_then(Value::as_u64)
                        .and_then(|e| u32::try_from(e).ok())
                    {
                        x.set_errnoret(e);
                    }
                    x.Args = c
                        .get("args")
                        .and_then(Value::as_array)
                        .map(|args| {
                            args.iter()
                                .map(|a| {
                                    let mut y = pb::LinuxSeccompArg::new();
                                    y.Index = u64_(a, "index");
                                    y.Value = u64_(a, "value");
                                    y.ValueTwo = u64_(a, "valueTwo");
                                    y.Op = s(a, "op");
                                    y
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    x
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(out)
}

fn linux_pb(l: &Value, opts: GuestOptions) -> Result<pb::Linux, AgentError> {
    let mut out = pb::Linux::new();
    let idmaps = |key: &str| -> Vec<pb::LinuxIDMapping> {
        l.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|m| {
                        let mut x = pb::LinuxIDMapping::new();
                        x.HostID = u32_(m, "hostID");
                        x.ContainerID = u32_(m, "containerID");
                        x.Size = u32_(m, "size");
                        x
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    out.UIDMappings = idmaps("uidMappings");
    out.GIDMappings = idmaps("gidMappings");
    out.Sysctl = map(l, "sysctl");
    if let Some(r) = l.get("resources") {
        out.Resources = Some(resources_pb(r)).into();
    }
    out.CgroupsPath = s(l, "cgroupsPath");
    if let Some(ns) = l.get("namespaces").and_then(Value::as_array) {
        out.Namespaces = ns
            .iter()
            .map(|n| {
                let mut x = pb::LinuxNamespace::new();
                x.Type = s(n, "type");
                x.Path = s(n, "path");
                x
            })
            .collect();
    }
    out.Devices = devices_pb(l, opts.privileged)?;
    match l.get("seccomp") {
        Some(sc) if opts.guest_seccomp => out.Seccomp = Some(seccomp_pb(sc)?).into(),
        Some(_) => {
            tracing::warn!(
                "disable_guest_seccomp is set: the container's linux.seccomp profile is not applied"
            )
        }
        None => {}
    }
    out.RootfsPropagation = s(l, "rootfsPropagation");
    out.MaskedPaths = strings(l, "maskedPaths");
    out.ReadonlyPaths = strings(l, "readonlyPaths");
    // The mount label goes with the process label: not applied in the guest (see the module doc).
    Ok(out)
}

/// Runtime-configuration knobs that change what is sent to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestOptions {
    /// Pass `linux.seccomp` (`[runtime] disable_guest_seccomp = false`).
    pub guest_seccomp: bool,
    /// Set by [`spec_to_pb`] from the spec itself (see `privileged`).
    pub privileged: bool,
}

impl Default for GuestOptions {
    fn default() -> Self {
        Self {
            guest_seccomp: true,
            privileged: false,
        }
    }
}

/// Converts a (guest-rewritten) spec. Errors (`InvalidArgument`) name the field the guest cannot
/// honour.
/// The hooks left for the guest (`guest_spec` keeps `createContainer` and `startContainer`).
fn hooks_pb(h: &Value) -> pb::Hooks {
    let list = |key: &str| -> Vec<pb::Hook> {
        h.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|k| {
                        let mut x = pb::Hook::new();
                        x.Path = s(k, "path");
                        x.Args = strings(k, "args");
                        x.Env = strings(k, "env");
                        x.Timeout = i64_(k, "timeout");
                        x
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = pb::Hooks::new();
    out.Prestart = list("prestart");
    out.CreateRuntime = list("createRuntime");
    out.CreateContainer = list("createContainer");
    out.StartContainer = list("startContainer");
    out.Poststart = list("poststart");
    out.Poststop = list("poststop");
    out
}

pub fn spec_to_pb(spec: &Spec, opts: GuestOptions) -> Result<pb::Spec, AgentError> {
    let v =
        serde_json::to_value(spec).map_err(|e| invalid(format!("encoding the OCI spec: {e}")))?;
    let mut out = pb::Spec::new();
    out.Version = s(&v, "ociVersion");
    if let Some(p) = v.get("process") {
        out.Process = Some(process_pb(p)).into();
    }
    if let Some(r) = v.get("root") {
        let mut root = pb::Root::new();
        root.Path = s(r, "path");
        root.Readonly = b(r, "readonly");
        out.Root = Some(root).into();
    }
    out.Hostname = s(&v, "hostname");
    if let Some(ms) = v.get("mounts").and_then(Value::as_array) {
        out.Mounts = ms
            .iter()
            .map(|m| {
                let mut x = pb::Mount::new();
                x.destination = s(m, "destination");
                x.source = s(m, "source");
                x.type_ = s(m, "type");
                x.options = strings(m, "options");
                x
            })
            .collect();
    }
    if let Some(h) = v.get("hooks") {
        out.Hooks = Some(hooks_pb(h)).into();
    }
    out.Annotations = map(&v, "annotations");
    let opts = GuestOptions {
        privileged: privileged(&v),
        ..opts
    };
    if let Some(l) = v.get("linux") {
        out.Linux = Some(linux_pb(l, opts)?).into();
    }
    Ok(out)
}

/// Removes the PID namespace's path, telling whether there was one: a path means the pod's
/// sandbox PID namespace (`shareProcessNamespace`), which only the agent can name in the guest.
fn take_sandbox_pidns(spec: &mut pb::Spec) -> bool {
    let Some(linux) = spec.Linux.as_mut() else {
        return false;
    };
    let mut shared = false;
    for ns in linux.Namespaces.iter_mut() {
        if ns.Type == "pid" && !ns.Path.is_empty() {
            shared = true;
        }
        ns.Path.clear();
    }
    shared
}

/// Converts a storage description.
pub fn storage_to_pb(s: &Storage) -> agent_pb::Storage {
    let mut out = agent_pb::Storage::new();
    out.driver = s.driver.clone();
    out.driver_options = s.driver_options.clone();
    out.source = s.source.clone();
    out.fstype = s.fstype.clone();
    out.options = s.options.clone();
    out.mount_point = s.mount_point.clone();
    out
}

/// The `CreateContainer` request sent for `req` (its spec already rewritten for the guest).
pub fn create_container_to_pb(
    req: &ContainerRequest,
    opts: GuestOptions,
) -> Result<agent_pb::CreateContainerRequest, AgentError> {
    let mut r = agent_pb::CreateContainerRequest::new();
    r.container_id = req.container_id.clone();
    r.exec_id = req.exec_id.clone();
    r.storages = req.storages.iter().map(storage_to_pb).collect();
    let mut spec = spec_to_pb(&req.spec, opts).map_err(|e| {
        AgentError::new(
            e.kind,
            format!("container {}: {}", req.container_id, e.message),
        )
    })?;
    r.sandbox_pidns = take_sandbox_pidns(&mut spec);
    r.OCI = Some(spec).into();
    Ok(r)
}

/// Converts the process of an exec.
pub fn process_to_pb(p: &Process) -> pb::Process {
    process_pb(&serde_json::to_value(p).unwrap_or(Value::Null))
}

/// Converts the resources of an update.
pub fn resources_to_pb(r: &LinuxResources) -> pb::LinuxResources {
    resources_pb(&serde_json::to_value(r).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_fields_reach_the_protobuf() {
        let json = r#"{
            "ociVersion": "1.0.2",
            "process": {"terminal": true, "user": {"uid": 1000, "gid": 100, "additionalGids": [10]},
                        "args": ["uname", "-a"], "env": ["PATH=/bin"], "cwd": "/",
                        "capabilities": {"bounding": ["CAP_KILL"]},
                        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
                        "noNewPrivileges": true},
            "root": {"path": "/run/kata-containers/shared/containers/c1/rootfs", "readonly": true},
            "hostname": "pod",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]}],
            "annotations": {"a": "b"},
            "linux": {"namespaces": [{"type": "pid"}], "cgroupsPath": "/k/c1",
                      "resources": {"memory": {"limit": 1048576}, "pids": {"limit": 5}},
                      "maskedPaths": ["/proc/kcore"], "sysctl": {"net.ipv4.ip_forward": "1"}}
        }"#;
        let spec: Spec = serde_json::from_str(json).expect("spec");
        let pb = spec_to_pb(&spec, GuestOptions::default()).expect("convert");
        let p = pb.Process.as_ref().expect("process");
        assert!(p.Terminal);
        assert_eq!(p.Args, ["uname", "-a"]);
        assert_eq!(p.User.as_ref().map(|u| (u.UID, u.GID)), Some((1000, 100)));
        assert_eq!(
            p.Capabilities.as_ref().map(|c| c.Bounding.clone()),
            Some(vec!["CAP_KILL".to_string()])
        );
        assert_eq!(p.Rlimits[0].Type, "RLIMIT_NOFILE");
        assert!(p.NoNewPrivileges);
        let root = pb.Root.as_ref().expect("root");
        assert_eq!(
            root.Path,
            "/run/kata-containers/shared/containers/c1/rootfs"
        );
        assert!(root.Readonly);
        assert_eq!(pb.Hostname, "pod");
        assert_eq!(pb.Mounts[0].type_, "proc");
        assert_eq!(pb.Annotations.get("a").map(String::as_str), Some("b"));
        let l = pb.Linux.as_ref().expect("linux");
        assert_eq!(l.Namespaces[0].Type, "pid");
        assert_eq!(l.CgroupsPath, "/k/c1");
        let r = l.Resources.as_ref().expect("resources");
        assert_eq!(r.Memory.as_ref().map(|m| m.Limit), Some(1048576));
        assert_eq!(r.Pids.as_ref().map(|p| p.Limit), Some(5));
        assert_eq!(
            l.Sysctl.get("net.ipv4.ip_forward").map(String::as_str),
            Some("1")
        );
    }

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("spec")
    }

    const SECCOMP: &str = r#"{
        "ociVersion": "1.0.2",
        "process": {"user": {"uid": 0, "gid": 0, "umask": 23}, "cwd": "/", "args": ["sh"],
                    "apparmorProfile": "cri-containerd.apparmor.d", "selinuxLabel": "system_u:system_r:container_t:s0"},
        "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                              "architectures": ["SCMP_ARCH_X86_64"],
                              "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                                           {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                                            "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                                           {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]},
                  "mountLabel": "system_u:object_r:container_file_t:s0"}
    }"#;

    #[test]
    fn umask_reaches_the_protobuf_and_unset_stays_unset() {
        let pb = spec_to_pb(&spec(SECCOMP), GuestOptions::default()).expect("convert");
        let user = pb.Process.User.as_ref().expect("user");
        assert_eq!(user.Umask, Some(0o27));
        let p: Process =
            serde_json::from_str(r#"{"user": {"uid": 0, "gid": 0}, "cwd": "/"}"#).expect("process");
        assert_eq!(process_to_pb(&p).User.Umask, None);
    }

    #[test]
    fn seccomp_is_passed_unless_disabled_in_the_configuration() {
        let pb = spec_to_pb(&spec(SECCOMP), GuestOptions::default()).expect("convert");
        let sc = pb.Linux.Seccomp.as_ref().expect("seccomp");
        assert_eq!(sc.DefaultAction, "SCMP_ACT_ERRNO");
        assert_eq!(sc.DefaultErrnoRet, Some(38));
        assert_eq!(sc.Architectures, ["SCMP_ARCH_X86_64"]);
        assert_eq!(sc.Syscalls.len(), 3);
        assert!(!sc.Syscalls[0].has_errnoret());
        assert_eq!(sc.Syscalls[1].Args[0].Value, 8);
        assert_eq!(sc.Syscalls[1].Args[0].Op, "SCMP_CMP_EQ");
        assert_eq!(sc.Syscalls[2].errnoret(), 1);
        let off = GuestOptions {
            guest_seccomp: false,
            ..GuestOptions::default()
        };
        let pb = spec_to_pb(&spec(SECCOMP), off).expect("convert");
        assert!(pb.Linux.Seccomp.is_none());
    }

    #[test]
    fn seccomp_listener_is_refused_with_the_field() {
        let json = SECCOMP.replace(
            r#""defaultErrnoRet": 38,"#,
            r#""defaultErrnoRet": 38, "listenerPath": "/run/agent.sock","#,
        );
        let e = spec_to_pb(&spec(&json), GuestOptions::default()).expect_err("refused");
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(
            e.message.contains("linux.seccomp.listenerPath"),
            "{}",
            e.message
        );
    }

    #[test]
    fn lsm_labels_are_not_sent_to_the_guest() {
        let pb = spec_to_pb(&spec(SECCOMP), GuestOptions::default()).expect("convert");
        assert!(pb.Process.ApparmorProfile.is_empty());
        assert!(pb.Process.SelinuxLabel.is_empty());
        assert!(pb.Linux.MountLabel.is_empty());
    }

    const DEVICES: &str = r#"{
        "ociVersion": "1.0.2",
        "linux": {"devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                               "fileMode": 438, "uid": 0, "gid": 7},
                              {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}],
                  "resources": {"devices": [{"allow": false, "access": "rwm"},
                                            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                                            {"allow": true, "type": "c", "minor": 3, "access": "m"}]}}
    }"#;

    #[test]
    fn char_devices_and_cgroup_rules_reach_the_protobuf() {
        let pb = spec_to_pb(&spec(DEVICES), GuestOptions::default()).expect("convert");
        let l = pb.Linux.as_ref().expect("linux");
        let d = &l.Devices[0];
        assert_eq!(
            (
                d.Path.as_str(),
                d.Type.as_str(),
                d.Major,
                d.Minor,
                d.FileMode,
                d.GID
            ),
            ("/dev/fuse", "c", 10, 229, 0o666, 7)
        );
        assert_eq!(l.Devices[1].Path, "/dev/net/tun");
        let rules = &l.Resources.Devices;
        assert_eq!(rules.len(), 3);
        assert!(!rules[0].Allow);
        assert_eq!((rules[0].Major, rules[0].Minor), (-1, -1));
        assert_eq!(rules[0].Access, "rwm");
        assert!(rules[1].Allow);
        assert_eq!(
            (rules[1].Type.as_str(), rules[1].Major, rules[1].Minor),
            ("c", 10, 229)
        );
        assert_eq!((rules[2].Major, rules[2].Minor), (-1, 3));
    }

    #[test]
    fn block_devices_are_refused_naming_the_device() {
        let json = DEVICES.replace(
            r#"{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}"#,
            r#"{"path": "/dev/sdb", "type": "b", "major": 8, "minor": 16}"#,
        );
        let e = spec_to_pb(&spec(&json), GuestOptions::default()).expect_err("refused");
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("/dev/sdb"), "{}", e.message);
        assert!(e.message.contains("not supported yet"), "{}", e.message);
    }

    #[test]
    fn a_privileged_container_leaves_the_hosts_block_devices_out() {
        let json = r#"{"ociVersion": "1.0.2",
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0},
                        "capabilities": {"bounding": ["CAP_SYS_ADMIN"]}},
            "linux": {"devices": [{"path": "/dev/sdb", "type": "b", "major": 8, "minor": 16},
                                  {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
                      "resources": {"devices": [{"allow": true, "access": "rwm"}]}}}"#;
        let pb = spec_to_pb(&spec(json), GuestOptions::default()).expect("privileged");
        let paths: Vec<_> = pb.Linux.Devices.iter().map(|d| d.Path.as_str()).collect();
        assert_eq!(paths, ["/dev/fuse"]);
        // Without CAP_SYS_ADMIN it is not privileged: refused.
        let plain = json.replace("CAP_SYS_ADMIN", "CAP_CHOWN");
        assert!(spec_to_pb(&spec(&plain), GuestOptions::default()).is_err());
    }

    fn request(json: &str) -> ContainerRequest {
        ContainerRequest {
            container_id: "c2".into(),
            exec_id: "c2".into(),
            spec: spec(json),
            storages: Vec::new(),
        }
    }

    #[test]
    fn a_pid_namespace_path_becomes_sandbox_pidns() {
        let shared = request(
            r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [
                {"type": "pid", "path": "/proc/4242/ns/pid"}, {"type": "mount"}]}}"#,
        );
        let r = create_container_to_pb(&shared, GuestOptions::default()).expect("convert");
        assert!(r.sandbox_pidns);
        let ns = &r.OCI.Linux.Namespaces;
        assert_eq!(ns[0].Type, "pid");
        assert!(ns.iter().all(|n| n.Path.is_empty()));
        let own = request(r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "pid"}]}}"#);
        let r = create_container_to_pb(&own, GuestOptions::default()).expect("convert");
        assert!(!r.sandbox_pidns);
    }

    #[test]
    fn refusals_name_the_container() {
        let json = DEVICES.replace(
            r#""type": "c", "major": 10, "minor": 200"#,
            r#""type": "b", "major": 8, "minor": 0"#,
        );
        let e =
            create_container_to_pb(&request(&json), GuestOptions::default()).expect_err("refused");
        assert!(
            e.message
                .starts_with("container c2: linux.devices: /dev/net/tun"),
            "{}",
            e.message
        );
    }
}
