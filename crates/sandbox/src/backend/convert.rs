//! OCI runtime spec (oci-spec types) to Kata's protobuf copy (`grpc.Spec`), through the JSON
//! form of `config.json` so every field keeps its OCI spelling. Seccomp, hooks, devices and
//! Intel RDT are not passed (the guest spec drops hooks and devices anyway).

use kata_protocols::agent as agent_pb;
use kata_protocols::oci as pb;
use oci_spec::runtime::{LinuxResources, Process, Spec};
use serde_json::Value;

use crate::agent::{ContainerRequest, Storage};

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
    out.ApparmorProfile = s(p, "apparmorProfile");
    out.OOMScoreAdj = i64_(p, "oomScoreAdj");
    out.SelinuxLabel = s(p, "selinuxLabel");
    out
}

fn resources_pb(r: &Value) -> pb::LinuxResources {
    let mut out = pb::LinuxResources::new();
    if let Some(m) = r.get("memory") {
        let mut mem = pb::LinuxMemory::new();
        mem.Limit = i64_(m, "limit");
        mem.Reservation = i64_(m, "reservation");
        mem.Swap = i64_(m, "swap");
        mem.Swappiness = u64_(m, "swappiness");
        mem.DisableOOMKiller = b(m, "disableOOMKiller");
        out.Memory = Some(mem).into();
    }
    if let Some(c) = r.get("cpu") {
        let mut cpu = pb::LinuxCPU::new();
        cpu.Shares = u64_(c, "shares");
        cpu.Quota = i64_(c, "quota");
        cpu.Period = u64_(c, "period");
        cpu.Cpus = s(c, "cpus");
        cpu.Mems = s(c, "mems");
        out.CPU = Some(cpu).into();
    }
    if let Some(p) = r.get("pids") {
        let mut pids = pb::LinuxPids::new();
        pids.Limit = i64_(p, "limit");
        out.Pids = Some(pids).into();
    }
    out
}

fn linux_pb(l: &Value) -> pb::Linux {
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
    out.RootfsPropagation = s(l, "rootfsPropagation");
    out.MaskedPaths = strings(l, "maskedPaths");
    out.ReadonlyPaths = strings(l, "readonlyPaths");
    out.MountLabel = s(l, "mountLabel");
    out
}

/// Converts a (guest-rewritten) spec.
pub fn spec_to_pb(spec: &Spec) -> pb::Spec {
    let v = serde_json::to_value(spec).unwrap_or(Value::Null);
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
    out.Annotations = map(&v, "annotations");
    if let Some(l) = v.get("linux") {
        out.Linux = Some(linux_pb(l)).into();
    }
    out
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
pub fn create_container_to_pb(req: &ContainerRequest) -> agent_pb::CreateContainerRequest {
    let mut r = agent_pb::CreateContainerRequest::new();
    r.container_id = req.container_id.clone();
    r.exec_id = req.exec_id.clone();
    r.storages = req.storages.iter().map(storage_to_pb).collect();
    r.OCI = Some(spec_to_pb(&req.spec)).into();
    r
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
        let pb = spec_to_pb(&spec);
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
}
