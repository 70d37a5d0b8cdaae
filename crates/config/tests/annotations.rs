//! The annotation allow-list rules: `enable_annotations`, `valid_*` globs, gating scope.

mod common;

use common::*;
use kata_config::annotations::apply_with;
use kata_config::AnnotationError;
use std::collections::HashMap;
use std::path::PathBuf;

const HV: &str = "io.katacontainers.config.hypervisor.";
const RT: &str = "io.katacontainers.config.runtime.";
const AG: &str = "io.katacontainers.config.agent.";

#[test]
fn hypervisor_path_refused_unless_enabled_and_allow_listed() {
    let path = format!("{HV}path");
    // Not in enable_annotations (the default list is empty).
    let mut c = load(&qemu(&format!("valid_hypervisor_paths = [\"{QEMU}\"]")))
        .expect("load")
        .config;
    let err = apply(&mut c, &[(path.as_str(), QEMU)]).expect_err("not enabled");
    assert!(
        matches!(err, AnnotationError::NotEnabled { ref name } if *name == path),
        "{err}"
    );
    assert!(err.to_string().contains(&path));

    // Enabled, but the path is outside valid_hypervisor_paths.
    let mut c = load(&qemu(&format!(
        "enable_annotations = [\"path\"]\nvalid_hypervisor_paths = [\"{QEMU}\"]"
    )))
    .expect("load")
    .config;
    let err = apply(&mut c, &[(path.as_str(), "/opt/evil/qemu")]).expect_err("outside globs");
    assert!(
        matches!(err, AnnotationError::PathNotAllowed { ref allow_list, .. } if allow_list == "valid_hypervisor_paths"),
        "{err}"
    );
    assert!(err.to_string().contains("/opt/evil/qemu"));
    // Enabled and allow-listed.
    apply(&mut c, &[(path.as_str(), QEMU)]).expect("allowed");
    assert_eq!(c.hypervisor.path, PathBuf::from(QEMU));
}

#[test]
fn empty_allow_list_refuses_every_path() {
    let mut c = load(&qemu("enable_annotations = [\"path\"]"))
        .expect("load")
        .config;
    let err = apply(&mut c, &[(&format!("{HV}path"), QEMU)]).expect_err("empty list");
    assert!(
        matches!(err, AnnotationError::PathNotAllowed { .. }),
        "{err}"
    );
}

#[test]
fn enable_annotations_regexes_are_anchored() {
    let mut c = load(&qemu(
        "enable_annotations = [\"path\", \"default_.*\"]\nvalid_jailer_paths = [\"/usr/bin/*\"]",
    ))
    .expect("load")
    .config;
    let err = apply(&mut c, &[(&format!("{HV}jailer_path"), QEMU)]).expect_err("jailer_path");
    assert!(matches!(err, AnnotationError::NotEnabled { .. }), "{err}");
    apply(&mut c, &[(&format!("{HV}default_memory"), "1024")]).expect("default_.* enables it");
    assert_eq!(c.hypervisor.default_memory, 1024);
}

#[test]
fn kernel_params_and_extra_args_denied_by_the_shipped_configuration() {
    let mut c = kata_config::Config::load_file(&shipped_config(), &host())
        .expect("load")
        .config;
    for (name, value) in [
        ("kernel_params", "init=/bin/sh"),
        ("virtio_fs_extra_args", "[\"--x\"]"),
    ] {
        let full = format!("{HV}{name}");
        let err = apply(&mut c, &[(full.as_str(), value)]).expect_err(name);
        assert!(matches!(err, AnnotationError::NotEnabled { .. }), "{err}");
    }
    // The shipped list enables enable_iommu only.
    apply(&mut c, &[(&format!("{HV}enable_iommu"), "true")]).expect("enabled");
    assert!(c.hypervisor.enable_iommu);
}

#[test]
fn runtime_and_agent_annotations_are_gated() {
    let pairs = [
        (format!("{RT}sandbox_cgroup_only"), "true"),
        (format!("{AG}kernel_modules"), "dummy"),
        ("io.katacontainers.enable_vcpus_pinning".to_string(), "true"),
    ];
    // The default (empty) allowlist refuses each of them, naming it.
    for (name, value) in &pairs {
        let mut c = load(&qemu("")).expect("load").config;
        let err = apply(&mut c, &[(name.as_str(), *value)]).expect_err(name);
        assert!(matches!(err, AnnotationError::NotEnabled { .. }), "{err}");
        assert!(err.to_string().contains(name.as_str()), "{err}");
    }
    // Enabled by their `runtime.` / `agent.` forms.
    let mut c = load(&qemu(
        "enable_annotations = [\"runtime\\\\..*\", \"agent\\\\.kernel_modules\"]",
    ))
    .expect("load")
    .config;
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    apply(&mut c, &refs).expect("enabled");
    assert!(c.runtime.sandbox_cgroup_only);
    assert!(c.runtime.enable_vcpus_pinning);
    assert_eq!(c.agent.kernel_modules, ["dummy"]);
    // An agent key that is not in the list stays refused.
    let err = apply(&mut c, &[(&format!("{AG}enable_tracing"), "true")]).expect_err("tracing");
    assert!(matches!(err, AnnotationError::NotEnabled { .. }), "{err}");
}

#[test]
fn unknown_and_foreign_annotations() {
    let mut c = open_config(&initrd_boot());
    for name in [
        format!("{HV}no_such_key"),
        format!("{RT}no_such_key"),
        format!("{AG}no_such_key"),
        "io.katacontainers.config.other.x".to_string(),
    ] {
        let err = apply(&mut c, &[(name.as_str(), "1")]).expect_err(&name);
        assert!(matches!(err, AnnotationError::Unknown { .. }), "{err}");
        assert!(err.to_string().contains(&name));
    }
    let before = c.clone();
    apply(
        &mut c,
        &[
            ("io.kubernetes.cri.sandbox-id", "abc"),
            ("io.katacontainers.pkg.oci.container_type", "pod_sandbox"),
            ("io.katacontainers.asset_hash_type", "sha512"),
        ],
    )
    .expect("ignored");
    assert_eq!(c, before);
    let err = apply(&mut c, &[("io.katacontainers.asset_hash_type", "md5")]).expect_err("md5");
    assert!(err.to_string().contains("md5"));
}

#[test]
fn bad_enable_annotations_regex_is_reported() {
    let mut c = load(&qemu("enable_annotations = [\"(\"]"))
        .expect("load")
        .config;
    let err = apply(&mut c, &[]).expect_err("bad regex");
    assert!(matches!(err, AnnotationError::BadPattern { .. }), "{err}");
}

#[test]
fn annotations_are_rechecked_against_the_rules() {
    // An image annotation on an initrd configuration: both set.
    let mut c = open_config(&initrd_boot());
    let err = apply(&mut c, &[(&format!("{HV}image"), IMAGE)]).expect_err("both");
    assert!(matches!(err, AnnotationError::Config { .. }), "{err}");
    // disable_new_netns without the none model.
    let mut c = open_config(&initrd_boot());
    let err = apply(&mut c, &[(&format!("{RT}disable_new_netns"), "true")]).expect_err("netns");
    assert!(matches!(err, AnnotationError::Config { .. }), "{err}");
    // Memory below the initrd size.
    let mut c = open_config(&initrd_boot());
    apply(&mut c, &[(&format!("{HV}default_memory"), "256")])
        .expect("256 MiB fits a 20 MiB initrd");
}

#[test]
fn allow_listed_symlink_matches_by_canonical_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("qemu-real");
    std::fs::write(&real, b"x").expect("write");
    let link = dir.path().join("qemu-link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let mut c = open_config(&initrd_boot());
    c.hypervisor.enable_annotations = vec!["path".into()];
    c.hypervisor.valid_hypervisor_paths = vec![link.display().to_string()];
    let map = HashMap::from([(format!("{HV}path"), link.display().to_string())]);
    let mut real_host = host();
    real_host.files = None;
    // The rules re-check needs the boot assets: point them at real files.
    c.hypervisor.initrd = Some(real.clone());
    apply_with(&mut c, &map, &real_host).expect("symlink allowed via its canonical target");
    assert_eq!(c.hypervisor.path, real.canonicalize().expect("canon"));
}

/// Every path annotation is held by its own allow-list: a path outside it is refused naming the
/// list, a path in it is taken.
#[test]
fn each_path_annotation_is_held_by_its_valid_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    for d in ["ok", "evil"] {
        std::fs::create_dir(dir.path().join(d)).expect("dir");
        std::fs::write(dir.path().join(format!("{d}.bin")), b"x").expect("file");
    }
    let path = |p: &str| dir.path().join(p).display().to_string();
    let cases = [
        (
            "entropy_source",
            "valid_entropy_sources",
            "ok.bin",
            "evil.bin",
        ),
        ("file_mem_backend", "valid_file_mem_backends", "ok", "evil"),
        (
            "vhost_user_store_path",
            "valid_vhost_user_store_paths",
            "ok",
            "evil",
        ),
        ("firmware", "valid_firmware_paths", "ok.bin", "evil.bin"),
    ];
    for (key, list, allowed, outside) in cases {
        let name = format!("{HV}{key}");
        let mut c = load(&qemu(&format!(
            "enable_annotations = [\"{key}\"]\n{list} = [\"{}\"]",
            path(allowed)
        )))
        .unwrap_or_else(|e| panic!("{key}: {e}"))
        .config;
        let mut real_host = host();
        real_host.files = None;
        let one = |p: String| HashMap::from([(name.clone(), p)]);
        let err =
            apply_with(&mut c, &one(path(outside)), &real_host).expect_err("outside the list");
        assert!(
            matches!(err, AnnotationError::PathNotAllowed { ref allow_list, .. } if allow_list == list),
            "{key}: {err}"
        );
        apply_with(&mut c, &one(path(allowed)), &real_host)
            .unwrap_or_else(|e| panic!("{key} = {allowed} is allow-listed: {e}"));
    }
}
