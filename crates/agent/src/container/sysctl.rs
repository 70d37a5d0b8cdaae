//! `net.*` sysctls. Containers in the guest share the VM's network namespace (it is the pod's
//! network), so the spec names no network namespace and libcontainer refuses `net.*` keys as
//! "host network namespace" ones. Kata's agent accepts them for that reason; so does this one:
//! it writes them itself, in the namespace the container will use, and hands libcontainer the
//! rest.

use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::diagnose::spec_error;
use crate::error::Result;

/// Applies and removes the `net.*` sysctls of `spec` when the container shares the guest's
/// network namespace. `proc_sys` is the guest's `/proc/sys`.
pub fn apply_net_sysctls(id: &str, proc_sys: &Path, spec: &mut Spec) -> Result<()> {
    let Some(mut linux) = spec.linux().clone() else {
        return Ok(());
    };
    let own_netns = linux
        .namespaces()
        .as_ref()
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Network));
    let Some(mut sysctls) = linux.sysctl().clone() else {
        return Ok(());
    };
    if own_netns {
        return Ok(());
    }
    let net: Vec<(String, String)> = sysctls
        .iter()
        .filter(|(k, _)| k.replace('/', ".").starts_with("net."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in &net {
        let rel = key.replace('.', "/");
        let valid = rel.split('/').all(|c| {
            !c.is_empty()
                && c != ".."
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_-:+@".contains(ch))
        });
        let field = format!("linux.sysctl[{key}]");
        if !valid {
            return Err(spec_error(id, &field, Path::new(value), "invalid key"));
        }
        std::fs::write(proc_sys.join(&rel), value.as_bytes())
            .map_err(|e| spec_error(id, &field, Path::new(value), &e.to_string()))?;
        tracing::info!(container = id, key = %key, value = %value, "sysctl set in the pod network namespace");
        sysctls.remove(key);
    }
    linux.set_sysctl(Some(sysctls));
    spec.set_linux(Some(linux));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaces: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion": "1.0.2", "linux": {{"namespaces": {namespaces},
                "sysctl": {{"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}}}}}}"#
        ))
        .expect("spec")
    }

    fn proc_sys() -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("net/ipv4")).expect("mkdir");
        std::fs::write(d.path().join("net/ipv4/ip_forward"), "0").expect("write");
        d
    }

    #[test]
    fn net_sysctls_are_written_in_the_shared_netns_and_removed() {
        let d = proc_sys();
        let mut s = spec(r#"[{"type": "ipc"}]"#);
        apply_net_sysctls("c1", d.path(), &mut s).expect("applied");
        assert_eq!(
            std::fs::read_to_string(d.path().join("net/ipv4/ip_forward")).expect("read"),
            "1"
        );
        let left = s
            .linux()
            .as_ref()
            .and_then(|l| l.sysctl().clone())
            .expect("sysctl");
        assert_eq!(left.len(), 1);
        assert!(left.contains_key("kernel.shm_rmid_forced"));
    }

    #[test]
    fn own_network_namespace_leaves_them_to_libcontainer() {
        let d = proc_sys();
        let mut s = spec(r#"[{"type": "network"}]"#);
        apply_net_sysctls("c1", d.path(), &mut s).expect("left");
        assert_eq!(
            std::fs::read_to_string(d.path().join("net/ipv4/ip_forward")).expect("read"),
            "0"
        );
    }

    #[test]
    fn unknown_key_is_refused_naming_it() {
        let d = proc_sys();
        let mut s: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "linux": {"sysctl": {"net.nope.x": "1"}}}"#,
        )
        .expect("spec");
        let e = apply_net_sysctls("c1", d.path(), &mut s).expect_err("refused");
        assert!(
            e.to_string()
                .starts_with("container c1: linux.sysctl[net.nope.x] 1:"),
            "{e}"
        );
        let mut s: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "linux": {"sysctl": {"net/../../x": "1"}}}"#,
        )
        .expect("spec");
        let e = apply_net_sysctls("c1", d.path(), &mut s).expect_err("refused");
        assert!(e.to_string().contains("invalid key"), "{e}");
    }
}
