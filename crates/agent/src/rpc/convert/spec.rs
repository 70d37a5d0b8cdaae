//! `grpc.Spec` (Kata's protobuf copy of the OCI runtime spec) to `oci_spec::runtime::Spec`.
//!
//! The message is first rewritten into the JSON shape of an OCI `config.json`, then deserialized by
//! oci-spec, so that enum spellings (`CAP_*`, `RLIMIT_*`, `SCMP_*`, namespace types) are checked by
//! oci-spec itself. proto3 has no field presence: empty strings, empty lists and zero limits mean
//! "not set" and are left out.

use kata_protocols::oci as pb;
use oci_spec::runtime::{LinuxResources, Process, Spec};
use serde_json::{json, Map, Value};

use super::resources::resources_json;
use crate::error::{AgentError, Result};

/// Converts a whole spec.
pub fn spec_from_grpc(s: &pb::Spec) -> Result<Spec> {
    let mut m = Map::new();
    m.insert(
        "ociVersion".into(),
        json!(if s.Version.is_empty() {
            "1.0.2"
        } else {
            s.Version.as_str()
        }),
    );
    if let Some(p) = s.Process.as_ref() {
        m.insert("process".into(), process_json(p));
    }
    if let Some(r) = s.Root.as_ref() {
        m.insert(
            "root".into(),
            json!({ "path": r.Path, "readonly": r.Readonly }),
        );
    }
    put_str(&mut m, "hostname", &s.Hostname);
    m.insert(
        "mounts".into(),
        Value::Array(
            s.Mounts
                .iter()
                .map(|mt| {
                    let mut o = Map::new();
                    o.insert("destination".into(), json!(mt.destination));
                    put_str(&mut o, "source", &mt.source);
                    put_str(&mut o, "type", &mt.type_);
                    put_list(&mut o, "options", &mt.options);
                    Value::Object(o)
                })
                .collect(),
        ),
    );
    if let Some(h) = s.Hooks.as_ref() {
        m.insert("hooks".into(), hooks_json(h));
    }
    if !s.Annotations.is_empty() {
        m.insert("annotations".into(), json!(s.Annotations));
    }
    if let Some(l) = s.Linux.as_ref() {
        m.insert("linux".into(), linux_json(l));
    }
    from_json(Value::Object(m), "spec")
}

/// Converts the process of an ExecProcess request.
pub fn process_from_grpc(p: &pb::Process) -> Result<Process> {
    from_json(process_json(p), "process")
}

/// Converts the resources of an UpdateContainer request.
pub fn resources_from_grpc(r: &pb::LinuxResources) -> Result<LinuxResources> {
    from_json(resources_json(r), "resources")
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| AgentError::InvalidArgument(format!("{what}: {e}")))
}

fn process_json(p: &pb::Process) -> Value {
    let mut m = Map::new();
    m.insert("terminal".into(), json!(p.Terminal));
    if let Some(b) = p.ConsoleSize.as_ref() {
        m.insert(
            "consoleSize".into(),
            json!({ "height": b.Height, "width": b.Width }),
        );
    }
    let mut user = Map::new();
    if let Some(u) = p.User.as_ref() {
        user.insert("uid".into(), json!(u.UID));
        user.insert("gid".into(), json!(u.GID));
        if !u.AdditionalGids.is_empty() {
            user.insert("additionalGids".into(), json!(u.AdditionalGids));
        }
        put_str(&mut user, "username", &u.Username);
        if let Some(umask) = u.Umask {
            user.insert("umask".into(), json!(umask));
        }
    } else {
        user.insert("uid".into(), json!(0));
        user.insert("gid".into(), json!(0));
    }
    m.insert("user".into(), Value::Object(user));
    put_list(&mut m, "args", &p.Args);
    put_list(&mut m, "env", &p.Env);
    m.insert(
        "cwd".into(),
        json!(if p.Cwd.is_empty() {
            "/"
        } else {
            p.Cwd.as_str()
        }),
    );
    if let Some(c) = p.Capabilities.as_ref() {
        m.insert(
            "capabilities".into(),
            json!({
                "bounding": c.Bounding, "effective": c.Effective, "inheritable": c.Inheritable,
                "permitted": c.Permitted, "ambient": c.Ambient,
            }),
        );
    }
    if !p.Rlimits.is_empty() {
        m.insert(
            "rlimits".into(),
            Value::Array(
                p.Rlimits
                    .iter()
                    .map(|r| json!({ "type": r.Type, "hard": r.Hard, "soft": r.Soft }))
                    .collect(),
            ),
        );
    }
    m.insert("noNewPrivileges".into(), json!(p.NoNewPrivileges));
    put_str(&mut m, "apparmorProfile", &p.ApparmorProfile);
    if p.OOMScoreAdj != 0 {
        m.insert("oomScoreAdj".into(), json!(p.OOMScoreAdj));
    }
    put_str(&mut m, "selinuxLabel", &p.SelinuxLabel);
    Value::Object(m)
}

fn hooks_json(h: &pb::Hooks) -> Value {
    let list = |hooks: &[pb::Hook]| -> Value {
        Value::Array(
            hooks
                .iter()
                .map(|k| {
                    let mut o = Map::new();
                    o.insert("path".into(), json!(k.Path));
                    put_list(&mut o, "args", &k.Args);
                    put_list(&mut o, "env", &k.Env);
                    if k.Timeout > 0 {
                        o.insert("timeout".into(), json!(k.Timeout));
                    }
                    Value::Object(o)
                })
                .collect(),
        )
    };
    json!({
        "prestart": list(&h.Prestart),
        "poststart": list(&h.Poststart),
        "poststop": list(&h.Poststop),
        "createRuntime": list(&h.CreateRuntime),
        "createContainer": list(&h.CreateContainer),
        "startContainer": list(&h.StartContainer),
    })
}

fn linux_json(l: &pb::Linux) -> Value {
    let mut m = Map::new();
    let idmap = |maps: &[pb::LinuxIDMapping]| -> Value {
        Value::Array(
            maps.iter()
                .map(
                    |x| json!({ "hostID": x.HostID, "containerID": x.ContainerID, "size": x.Size }),
                )
                .collect(),
        )
    };
    if !l.UIDMappings.is_empty() {
        m.insert("uidMappings".into(), idmap(&l.UIDMappings));
    }
    if !l.GIDMappings.is_empty() {
        m.insert("gidMappings".into(), idmap(&l.GIDMappings));
    }
    if !l.Sysctl.is_empty() {
        m.insert("sysctl".into(), json!(l.Sysctl));
    }
    if let Some(r) = l.Resources.as_ref() {
        m.insert("resources".into(), resources_json(r));
    }
    put_str(&mut m, "cgroupsPath", &l.CgroupsPath);
    m.insert(
        "namespaces".into(),
        Value::Array(
            l.Namespaces
                .iter()
                .map(|n| {
                    let mut o = Map::new();
                    o.insert("type".into(), json!(n.Type));
                    put_str(&mut o, "path", &n.Path);
                    Value::Object(o)
                })
                .collect(),
        ),
    );
    if !l.Devices.is_empty() {
        m.insert(
            "devices".into(),
            Value::Array(
                l.Devices
                    .iter()
                    .map(|d| {
                        json!({
                            "path": d.Path, "type": d.Type, "major": d.Major, "minor": d.Minor,
                            "fileMode": d.FileMode, "uid": d.UID, "gid": d.GID,
                        })
                    })
                    .collect(),
            ),
        );
    }
    if let Some(s) = l.Seccomp.as_ref() {
        m.insert("seccomp".into(), seccomp_json(s));
    }
    put_str(&mut m, "rootfsPropagation", &l.RootfsPropagation);
    put_list(&mut m, "maskedPaths", &l.MaskedPaths);
    put_list(&mut m, "readonlyPaths", &l.ReadonlyPaths);
    put_str(&mut m, "mountLabel", &l.MountLabel);
    Value::Object(m)
}

fn seccomp_json(s: &pb::LinuxSeccomp) -> Value {
    let mut m = Map::new();
    m.insert("defaultAction".into(), json!(s.DefaultAction));
    if let Some(errno) = s.DefaultErrnoRet {
        m.insert("defaultErrnoRet".into(), json!(errno));
    }
    put_list(&mut m, "architectures", &s.Architectures);
    put_list(&mut m, "flags", &s.Flags);
    m.insert(
        "syscalls".into(),
        Value::Array(
            s.Syscalls
                .iter()
                .map(|c| {
                    let mut o = Map::new();
                    o.insert("names".into(), json!(c.Names));
                    o.insert("action".into(), json!(c.Action));
                    if c.has_errnoret() {
                        o.insert("errnoRet".into(), json!(c.errnoret()));
                    }
                    if !c.Args.is_empty() {
                        o.insert(
                            "args".into(),
                            Value::Array(
                                c.Args
                                    .iter()
                                    .map(|a| json!({ "index": a.Index, "value": a.Value, "valueTwo": a.ValueTwo, "op": a.Op }))
                                    .collect(),
                            ),
                        );
                    }
                    Value::Object(o)
                })
                .collect(),
        ),
    );
    Value::Object(m)
}

pub(super) fn put_str(m: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

pub(super) fn put_list(m: &mut Map<String, Value>, key: &str, v: &[String]) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Capability, LinuxNamespaceType, PosixRlimitType};

    fn sample() -> pb::Spec {
        let mut s = pb::Spec::new();
        s.Version = "1.0.2".into();
        let mut p = pb::Process::new();
        p.Terminal = true;
        p.Args = vec!["sh".into(), "-c".into(), "echo hi".into()];
        p.Env = vec!["PATH=/bin".into()];
        p.Cwd = "/work".into();
        let mut u = pb::User::new();
        u.UID = 1000;
        u.GID = 100;
        u.AdditionalGids = vec![10, 11];
        u.Umask = Some(0o27);
        p.User = Some(u).into();
        let mut caps = pb::LinuxCapabilities::new();
        caps.Bounding = vec!["CAP_CHOWN".into(), "CAP_KILL".into()];
        caps.Effective = vec!["CAP_KILL".into()];
        p.Capabilities = Some(caps).into();
        let mut rl = pb::POSIXRlimit::new();
        rl.Type = "RLIMIT_NOFILE".into();
        rl.Hard = 1024;
        rl.Soft = 512;
        p.Rlimits = vec![rl];
        p.NoNewPrivileges = true;
        s.Process = Some(p).into();
        let mut r = pb::Root::new();
        r.Path = "/run/kata-containers/shared/containers/c1/rootfs".into();
        r.Readonly = true;
        s.Root = Some(r).into();
        s.Hostname = "pod".into();
        let mut mt = pb::Mount::new();
        mt.destination = "/proc".into();
        mt.source = "proc".into();
        mt.type_ = "proc".into();
        s.Mounts = vec![mt];
        let mut l = pb::Linux::new();
        let mut ns = pb::LinuxNamespace::new();
        ns.Type = "pid".into();
        let mut ns2 = pb::LinuxNamespace::new();
        ns2.Type = "network".into();
        ns2.Path = "/proc/1/ns/net".into();
        l.Namespaces = vec![ns, ns2];
        l.MaskedPaths = vec!["/proc/kcore".into()];
        l.ReadonlyPaths = vec!["/proc/sys".into()];
        l.Sysctl.insert("net.ipv4.ip_forward".into(), "1".into());
        l.CgroupsPath = "/kata/c1".into();
        let mut sc = pb::LinuxSeccomp::new();
        sc.DefaultAction = "SCMP_ACT_ALLOW".into();
        sc.Architectures = vec!["SCMP_ARCH_X86_64".into()];
        sc.DefaultErrnoRet = Some(38);
        let mut call = pb::LinuxSyscall::new();
        call.Names = vec!["mount".into()];
        call.Action = "SCMP_ACT_ERRNO".into();
        call.set_errnoret(1);
        sc.Syscalls = vec![call];
        l.Seccomp = Some(sc).into();
        let mut dev = pb::LinuxDevice::new();
        dev.Path = "/dev/fuse".into();
        dev.Type = "c".into();
        dev.Major = 10;
        dev.Minor = 229;
        dev.FileMode = 0o666;
        l.Devices = vec![dev];
        s.Linux = Some(l).into();
        s
    }

    #[test]
    fn full_spec_converts() {
        let spec = spec_from_grpc(&sample()).expect("convert");
        assert_eq!(spec.hostname().as_deref(), Some("pod"));
        let root = spec.root().as_ref().expect("root");
        assert_eq!(
            root.path().to_str(),
            Some("/run/kata-containers/shared/containers/c1/rootfs")
        );
        assert_eq!(root.readonly(), Some(true));
        let p = spec.process().as_ref().expect("process");
        assert_eq!(p.args().as_ref().expect("args")[2], "echo hi");
        assert_eq!(p.cwd().to_str(), Some("/work"));
        assert_eq!(p.user().uid(), 1000);
        assert_eq!(
            p.user().additional_gids().as_ref().expect("gids"),
            &vec![10, 11]
        );
        assert_eq!(p.terminal(), Some(true));
        assert_eq!(p.no_new_privileges(), Some(true));
        let caps = p.capabilities().as_ref().expect("caps");
        assert!(caps
            .bounding()
            .as_ref()
            .expect("bounding")
            .contains(&Capability::Chown));
        let rl = &p.rlimits().as_ref().expect("rlimits")[0];
        assert_eq!(
            (rl.typ(), rl.hard(), rl.soft()),
            (PosixRlimitType::RlimitNofile, 1024, 512)
        );
        let linux = spec.linux().as_ref().expect("linux");
        let ns = linux.namespaces().as_ref().expect("namespaces");
        assert_eq!(ns[0].typ(), LinuxNamespaceType::Pid);
        assert_eq!(ns[1].typ(), LinuxNamespaceType::Network);
        assert_eq!(
            ns[1].path().as_ref().and_then(|p| p.to_str()),
            Some("/proc/1/ns/net")
        );
        assert_eq!(
            linux.masked_paths().as_ref().expect("masked")[0],
            "/proc/kcore"
        );
        assert_eq!(
            linux.sysctl().as_ref().expect("sysctl")["net.ipv4.ip_forward"],
            "1"
        );
        let sc = linux.seccomp().as_ref().expect("seccomp");
        assert_eq!(
            sc.syscalls().as_ref().expect("calls")[0].errno_ret(),
            Some(1)
        );
        assert_eq!(sc.default_errno_ret(), Some(38));
        assert_eq!(p.user().umask(), Some(0o27));
        assert_eq!(linux.devices().as_ref().expect("devices")[0].major(), 10);
        assert_eq!(
            spec.mounts().as_ref().expect("mounts")[0].typ().as_deref(),
            Some("proc")
        );
    }

    #[test]
    fn unknown_capability_is_invalid_argument() {
        let mut s = sample();
        if let Some(p) = s.Process.as_mut() {
            if let Some(c) = p.Capabilities.as_mut() {
                c.Bounding.push("CAP_NOT_A_THING".into());
            }
        }
        assert!(matches!(
            spec_from_grpc(&s),
            Err(AgentError::InvalidArgument(_))
        ));
    }

    #[test]
    fn empty_cwd_defaults_to_root() {
        let p = process_from_grpc(&pb::Process::new()).expect("convert");
        assert_eq!(p.cwd().to_str(), Some("/"));
        assert_eq!(p.user().uid(), 0);
        // Unset umask stays unset (the runtime default), an explicit 0 is kept.
        let mut proc_ = pb::Process::new();
        proc_.User = Some(pb::User::new()).into();
        let p = process_from_grpc(&proc_).expect("convert");
        assert_eq!(p.user().umask(), None);
        if let Some(u) = proc_.User.as_mut() {
            u.Umask = Some(0);
        }
        let p = process_from_grpc(&proc_).expect("convert");
        assert_eq!(p.user().umask(), Some(0));
    }
}
