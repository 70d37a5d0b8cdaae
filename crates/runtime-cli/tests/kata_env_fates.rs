//! `kata-runtime kata-env` shows the keys of the file that have no effect in kata-rs.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kata-runtime");

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A fake QEMU, kernel, initrd and virtiofsd, and a file setting two no-effect keys: one asking
/// for something (`enable_iommu = true`), one set to what kata-rs does anyway.
fn config(dir: &Path) -> String {
    write_script(
        &dir.join("qemu-system-x86_64"),
        "echo 'QEMU emulator version 7.2.0 (fixture)'",
    );
    write_script(&dir.join("virtiofsd"), "exit 0");
    std::fs::write(dir.join("vmlinux"), "kernel").expect("write");
    std::fs::write(dir.join("initrd.img"), "initrd").expect("write");
    let d = dir.display();
    let text = format!(
        "[hypervisor.qemu]\npath = \"{d}/qemu-system-x86_64\"\nkernel = \"{d}/vmlinux\"\n\
         initrd = \"{d}/initrd.img\"\nvirtio_fs_daemon = \"{d}/virtiofsd\"\n\
         enable_iommu = true\nrootfs_type = \"ext4\"\n"
    );
    let path = dir.join("configuration.toml");
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

fn kata_env(config: &str, json: bool) -> Output {
    let mut args = vec!["--config", config, "kata-env"];
    if json {
        args.push("--json");
    }
    Command::new(BIN)
        .args(args)
        .env_remove("KATA_CONF_FILE")
        .output()
        .expect("run kata-runtime")
}

#[test]
fn kata_env_text_lists_no_effect_keys_with_their_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = kata_env(&config(dir.path()), false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "[config.no_effect]")
        .take_while(|l| *l != "[host]")
        .collect();
    assert_eq!(
        section,
        [
            "[config.no_effect]",
            "  hypervisor.qemu.enable_iommu = true  # accepted, has no effect in kata-rs: no vIOMMU",
            "  hypervisor.qemu.rootfs_type = \"ext4\"  # accepted, has no effect in kata-rs: \
             the guest mounts the image's root as the kernel finds it (the value is what kata-rs does anyway)",
        ],
        "{text}"
    );
    assert!(
        text.contains("hypervisor.qemu.enable_iommu: accepted, has no effect in kata-rs"),
        "the load warning is shown too: {text}"
    );
}

#[test]
fn kata_env_json_lists_no_effect_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = kata_env(&config(dir.path()), true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let keys = json["config"]["no_effect"].as_array().expect("no_effect");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0]["key"], "hypervisor.qemu.enable_iommu");
    assert_eq!(keys[0]["value"], "true");
    assert_eq!(keys[0]["why"], "no vIOMMU");
    assert_eq!(keys[0]["inert"], false);
    assert!(keys[0]["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("configuration.toml")));
    assert_eq!(keys[1]["key"], "hypervisor.qemu.rootfs_type");
    assert_eq!(keys[1]["inert"], true);
    let warnings = json["config"]["warnings"].as_array().expect("warnings");
    let ours: Vec<_> = warnings
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("has no effect"))
        .collect();
    assert_eq!(ours.len(), 1, "{warnings:?}");
}
