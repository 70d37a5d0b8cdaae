//! An OCI runtime spec (`config.json` of a bundle, written by containerd from a pod spec) run
//! through the classification and checks of `kata_oci`.
//!
//! The mount table lookup is a fixed `/proc/mounts` text; the annotations are applied to a
//! baseline configuration with every gate open, on a fake host.
#![no_main]

use kata_oci::{SandboxRef, Spec};
use libfuzzer_sys::fuzz_target;

const MOUNT_TABLE: &str = "\
/dev/root / ext4 rw 0 0
tmpfs /run tmpfs rw 0 0
/dev/sda1 /var/lib/kubelet ext4 rw 0 0
tmpfs /var/lib/kubelet/pods/uid/volumes/kubernetes.io~empty-dir/mem tmpfs rw 0 0
tmpfs /with\\040space tmpfs rw 0 0
";

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<Spec>(data) else {
        return;
    };
    let _ = kata_oci::container_kind(&spec);
    let _ = SandboxRef::from_spec(&spec, "fuzz-container");
    let _ = kata_oci::classify_mounts_with(&spec, |p| kata_oci::fs_type_in(MOUNT_TABLE, p));
    let _ = kata_oci::validate_spec(&spec);
    let _ = kata_oci::validate_mounts(&spec);
    let _ = kata_oci::validate_devices(&spec);
    if let Some(env) = spec.process().as_ref().and_then(|p| p.env().as_ref()) {
        let _ = kata_oci::validate_env(env);
    }
    // A bind mount of /dev/shm from another directory is measured with statfs(2): keep that
    // off the real file system unless the source is one of two harmless fixed paths.
    let statfs_free = spec.mounts().iter().flatten().all(|m| {
        m.destination() != std::path::Path::new("/dev/shm")
            || m.source().as_deref().is_none_or(|s| {
                s == std::path::Path::new("/dev/shm") || s == std::path::Path::new("/")
            })
    });
    if statfs_free {
        let _ = kata_oci::shm_size(&spec);
    }
    for m in spec.mounts().iter().flatten() {
        for option in m.options().iter().flatten() {
            if let Some(v) = option.strip_prefix("size=") {
                let _ = kata_oci::parse_size(v);
            }
        }
    }
    let annotations = kata_oci::kata_annotations(&spec);
    if !annotations.is_empty() {
        let host = kata_fuzz::host();
        if let Some(mut config) = kata_fuzz::baseline() {
            kata_fuzz::open_gates(&mut config);
            let _ = kata_oci::apply_annotations(&spec, &mut config, &host);
        }
    }
});
