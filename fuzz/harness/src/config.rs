//! `config_and_annotations` and `oci_spec_classify`: what the shim reads before a VM exists.

use std::path::Path;

use kata_config::annotations::apply_with;
use kata_config::Config;
use kata_oci::{SandboxRef, Spec};

use crate::fixtures;

/// `<toml text> NUL <annotation lines>`; without a NUL the whole input is TOML and there are
/// no annotations. Lines are `key=value`; `hypervisor.x=1` is short for
/// `io.katacontainers.config.hypervisor.x=1` (see [`fixtures::annotation_lines`]).
///
/// The TOML is loaded against a fake host. Whether or not it loads, the annotations are then
/// applied (to the loaded configuration, else to a baseline) with `apply_with`, the function the
/// shim calls (`kata_sandbox::backend::from_config`), with every hypervisor annotation enabled
/// and every path allow-listed, so the value parsers and the re-check are reached.
pub fn config_and_annotations(data: &[u8]) {
    let (toml_bytes, annotation_bytes) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let host = fixtures::host();
    let toml_text = String::from_utf8_lossy(toml_bytes);
    let loaded = Config::from_toml_str(&toml_text, Path::new(fixtures::ORIGIN), &host);
    let mut config = match loaded {
        Ok(loaded) => {
            // A loaded configuration must pass its own re-check or fail it cleanly.
            let _ = loaded.config.validate(Path::new(fixtures::ORIGIN), &host);
            loaded.config
        }
        Err(e) => {
            let _ = e.to_string();
            match fixtures::baseline() {
                Some(c) => c,
                None => return,
            }
        }
    };
    if annotation_bytes.is_empty() {
        return;
    }
    let annotations = fixtures::annotation_lines(&String::from_utf8_lossy(annotation_bytes));
    fixtures::open_gates(&mut config);
    match apply_with(&mut config, &annotations, &host) {
        Ok(_warnings) => {
            let _ = serde_json::to_string(&config);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The `/proc/mounts` text the mount classification sees.
pub const MOUNT_TABLE: &str = "\
/dev/root / ext4 rw 0 0
tmpfs /run tmpfs rw 0 0
/dev/sda1 /var/lib/kubelet ext4 rw 0 0
tmpfs /var/lib/kubelet/pods/uid/volumes/kubernetes.io~empty-dir/mem tmpfs rw 0 0
tmpfs /with\\040space tmpfs rw 0 0
";

/// An OCI `config.json` through `kata_oci`: container kind, sandbox reference, mount
/// classification (fixed mount table), the checks, `shm_size`, `parse_size` and the annotations
/// (gates open, fake host).
pub fn oci_spec_classify(data: &[u8]) {
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
        m.destination() != Path::new("/dev/shm")
            || m.source()
                .as_deref()
                .is_none_or(|s| s == Path::new("/dev/shm") || s == Path::new("/"))
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
        let host = fixtures::host();
        if let Some(mut config) = fixtures::baseline() {
            fixtures::open_gates(&mut config);
            let _ = kata_oci::apply_annotations(&spec, &mut config, &host);
        }
    }
}
