//! Loading real files: the Kata 2.x fixture, the shipped configuration, drop-ins, lookup.

mod common;

use common::*;
use kata_config::{
    default_config_paths, locate_config, BlockDeviceDriver, Config, ConfigError,
    InterNetworkingModel, SharedFs,
};
use std::path::{Path, PathBuf};

#[test]
fn kata_2x_fixture_loads_unchanged_without_unknown_keys() {
    let loaded = Config::load_file(&fixture("kata-2x-qemu.toml"), &host()).expect("load");
    assert!(
        loaded.warnings.iter().all(|w| !w.contains("unknown key")),
        "{:?}",
        loaded.warnings
    );
    let c = &loaded.config;
    assert_eq!(c.hypervisor.name, "qemu");
    assert_eq!(c.hypervisor.path, PathBuf::from(QEMU));
    assert_eq!(c.hypervisor.image, Some(PathBuf::from(IMAGE)));
    assert_eq!(c.hypervisor.initrd, None);
    assert_eq!(c.hypervisor.machine_type, "q35");
    assert_eq!(c.hypervisor.default_vcpus, 1);
    assert_eq!(c.hypervisor.default_maxvcpus, 4);
    assert_eq!(c.hypervisor.default_memory, 2048);
    assert_eq!(
        c.hypervisor.block_device_driver,
        BlockDeviceDriver::VirtioScsi
    );
    assert_eq!(c.hypervisor.shared_fs, SharedFs::VirtioFs);
    assert_eq!(c.hypervisor.cpu_features, "pmu=off");
    assert_eq!(c.agent.dial_timeout, 30);
    assert_eq!(c.agent.trace_mode, "dynamic");
    assert_eq!(
        c.runtime.internetworking_model,
        InterNetworkingModel::TcFilter
    );
    assert!(c.runtime.disable_guest_seccomp);
    // An image boots systemd: the built-in systemd parameters are there.
    assert_eq!(
        c.hypervisor.kernel_params.get("systemd.unit"),
        Some(Some("kata-containers.target"))
    );
    assert!(loaded.drop_ins.is_empty());
}

#[test]
fn kata_2x_fixture_with_clamping_drop_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("configuration.toml");
    std::fs::copy(fixture("kata-2x-qemu.toml"), &main).expect("copy");
    let drop_dir = dir.path().join("config.d");
    std::fs::create_dir(&drop_dir).expect("mkdir");
    std::fs::write(
        drop_dir.join("20-clamps.toml"),
        "[hypervisor.qemu]\ndefault_vcpus = -1\ndefault_maxvcpus = 500\n\
         default_bridges = 9\ndefault_memory = 4\nmemory_slots = 0\n",
    )
    .expect("write");
    let loaded = Config::load_file(&main, &host()).expect("load");
    let h = &loaded.config.hypervisor;
    assert_eq!(h.default_vcpus, 4, "-1 means every host cpu");
    assert_eq!(h.default_maxvcpus, 4, "capped at host cpus");
    assert_eq!(h.default_bridges, 5, "capped at 5 bridges");
    assert_eq!(h.default_memory, 2048, "< 8 MiB means the default");
    assert_eq!(h.memory_slots, 10);
    // Keys the drop-in did not touch keep the main file's values.
    assert_eq!(h.machine_type, "q35");
    assert_eq!(loaded.drop_ins, vec![drop_dir.join("20-clamps.toml")]);
}

#[test]
fn shipped_configuration_loads() {
    let loaded = Config::load_file(&shipped_config(), &host()).expect("load shipped config");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let h = &loaded.config.hypervisor;
    assert_eq!(h.kernel, PathBuf::from(KERNEL));
    assert_eq!(h.initrd, Some(PathBuf::from(INITRD)));
    assert_eq!(h.image, None);
    assert_eq!(h.machine_type, "pc");
    assert_eq!(h.default_memory, 512);
    assert_eq!(h.shared_fs, SharedFs::VirtioFs);
    assert_eq!(h.virtio_fs_daemon, "/usr/local/bin/virtiofsd");
    // No systemd parameters for an initrd.
    assert!(h.kernel_params.is_empty());
    assert!(!h.enable_annotations.iter().any(|a| a == "kernel_params"));
}

#[test]
fn dropped_sections_and_unknown_keys_are_warnings() {
    let loaded = Config::load_file(&fixture("kata-1x-sections.toml"), &host()).expect("load");
    let w = loaded.warnings.join("\n");
    assert!(w.contains("[proxy.kata]"), "{w}");
    assert!(w.contains("[shim.kata]"), "{w}");
    assert!(w.contains("[netmon]"), "{w}");
    assert!(
        w.contains("unknown key `hypervisor.qemu.not_a_kata_key`"),
        "{w}"
    );
    assert!(
        w.contains("kata-1x-sections.toml"),
        "warnings name the file: {w}"
    );
    assert_eq!(loaded.warnings.len(), 4, "{w}");
}

#[test]
fn drop_ins_apply_in_lexical_order_key_by_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("configuration.toml");
    std::fs::write(&main, qemu("default_memory = 1024\nmachine_type = \"pc\"")).expect("write");
    let d = dir.path().join("config.d");
    std::fs::create_dir(&d).expect("mkdir");
    std::fs::write(
        d.join("20-b.toml"),
        "[hypervisor.qemu]\ndefault_memory = 3000\n",
    )
    .expect("w");
    std::fs::write(
        d.join("10-a.toml"),
        "[hypervisor.qemu]\ndefault_memory = 1500\n[runtime]\nenable_debug = true\n",
    )
    .expect("w");
    std::fs::write(d.join(".hidden.toml"), "not toml at all [").expect("w");
    std::fs::create_dir(d.join("subdir")).expect("mkdir");
    let loaded = Config::load_file(&main, &host()).expect("load");
    assert_eq!(
        loaded.config.hypervisor.default_memory, 3000,
        "20-b wins over 10-a"
    );
    assert_eq!(
        loaded.config.hypervisor.machine_type, "pc",
        "untouched key kept"
    );
    assert!(loaded.config.runtime.enable_debug);
    assert_eq!(
        loaded.drop_ins,
        vec![d.join("10-a.toml"), d.join("20-b.toml")]
    );
    assert_eq!(loaded.source, main.canonicalize().expect("canon"));
}

#[test]
fn errors_in_drop_ins_name_the_drop_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("configuration.toml");
    std::fs::write(&main, qemu("")).expect("write");
    let d = dir.path().join("config.d");
    std::fs::create_dir(&d).expect("mkdir");
    std::fs::write(
        d.join("50-bad.toml"),
        "[hypervisor.qemu]\nblock_device_driver = \"ide\"\n",
    )
    .expect("w");
    let err = Config::load_file(&main, &host()).expect_err("bad driver");
    let msg = err.to_string();
    assert!(msg.contains("50-bad.toml"), "{msg}");
    assert!(msg.contains("hypervisor.qemu.block_device_driver"), "{msg}");
    assert!(msg.contains("ide"), "{msg}");
}

#[test]
fn type_errors_name_the_file_and_key() {
    let err = load(&qemu("default_memory = \"lots\"")).expect_err("type error");
    assert!(matches!(err, ConfigError::Parse { .. }));
    let full = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(full.contains("/test/configuration.toml"), "{full}");
    assert!(full.contains("default_memory"), "{full}");
}

#[test]
fn lookup_prefers_explicit_then_env_then_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    let c = dir.path().join("c.toml");
    for p in [&a, &b, &c] {
        std::fs::write(p, "").expect("write");
    }
    let missing = dir.path().join("missing.toml");
    let defaults = vec![missing.clone(), c.clone()];
    let canon = |p: &Path| p.canonicalize().expect("canon");
    assert_eq!(
        locate_config(Some(&a), Some(b.as_os_str()), &defaults).expect("explicit"),
        canon(&a)
    );
    assert_eq!(
        locate_config(None, Some(b.as_os_str()), &defaults).expect("env"),
        canon(&b)
    );
    assert_eq!(
        locate_config(None, None, &defaults).expect("default"),
        canon(&c)
    );
    // An explicit file that does not exist is an error, not a fallback.
    assert!(matches!(
        locate_config(Some(&missing), None, &defaults),
        Err(ConfigError::Read { .. })
    ));
    let err = locate_config(None, None, std::slice::from_ref(&missing)).expect_err("none");
    assert!(err.to_string().contains("missing.toml"));
    assert_eq!(default_config_paths().len(), 2);
}

#[test]
fn resolved_config_serialises_to_json() {
    let loaded = Config::load_file(&shipped_config(), &host()).expect("load");
    let json = serde_json::to_value(&loaded).expect("json");
    assert_eq!(json["config"]["hypervisor"]["name"], "qemu");
    assert_eq!(json["config"]["hypervisor"]["shared_fs"], "virtio-fs");
    assert_eq!(json["config"]["hypervisor"]["default_memory"], 512);
    let back: kata_config::LoadedConfig = serde_json::from_value(json).expect("back");
    assert_eq!(back, loaded);
}
