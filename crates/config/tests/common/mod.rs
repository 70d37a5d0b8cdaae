//! Shared helpers for the integration tests.
#![allow(dead_code)]

use kata_config::annotations::apply_with;
use kata_config::{AnnotationError, Config, ConfigError, HostFacts, LoadedConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const QEMU: &str = "/usr/bin/qemu-system-x86_64";
pub const KERNEL: &str = "/usr/share/kata-containers/vmlinux.container";
pub const IMAGE: &str = "/usr/share/kata-containers/kata-containers.img";
pub const INITRD: &str = "/usr/share/kata-containers/kata-containers-initrd.img";
pub const MIB: u64 = 1024 * 1024;

/// A 4-CPU host with QEMU, a kernel, a 300 MiB image and a 20 MiB initrd.
pub fn host() -> HostFacts {
    HostFacts::fake(
        4,
        [
            (QEMU, 10 * MIB),
            (KERNEL, 30 * MIB),
            (IMAGE, 300 * MIB),
            (INITRD, 20 * MIB),
            ("/usr/local/bin/virtiofsd", MIB),
            ("/usr/libexec/virtiofsd", MIB),
            ("/dev/urandom", 0),
            ("/dev/random", 0),
            ("/opt/evil/qemu", MIB),
            ("/usr/share/kata-containers/other-kernel", MIB),
            ("/usr/share/kata-containers/other-initrd.img", MIB),
            ("/var/run/kata-containers/vhost-user", 0),
            ("/dev/hugepages", 0),
            ("/tmp/elsewhere", 0),
        ],
    )
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/configuration.toml")
}

/// Load TOML text with the fake host.
pub fn load(text: &str) -> Result<LoadedConfig, ConfigError> {
    Config::from_toml_str(text, Path::new("/test/configuration.toml"), &host())
}

/// A minimal valid file (initrd boot) followed by `extra` lines in `[hypervisor.qemu]`.
pub fn qemu(extra: &str) -> String {
    format!("[hypervisor.qemu]\ninitrd = \"{INITRD}\"\n{extra}\n")
}

/// Every annotation enabled, every allow-list set.
pub fn open_config(boot: &str) -> Config {
    let text = format!(
        "[hypervisor.qemu]\n{boot}\nenable_annotations = [\".*\"]\n\
         valid_hypervisor_paths = [\"/usr/bin/qemu-system-*\"]\n\
         valid_jailer_paths = [\"/usr/bin/*\"]\n\
         valid_kernel_paths = [\"/usr/share/kata-containers/*\"]\n\
         valid_image_paths = [\"/usr/share/kata-containers/*\"]\n\
         valid_initrd_paths = [\"/usr/share/kata-containers/*\"]\n\
         valid_firmware_paths = [\"/usr/share/kata-containers/*\"]\n\
         valid_virtio_fs_daemon_paths = [\"/usr/libexec/virtiofsd\"]\n\
         valid_vhost_user_store_paths = [\"/var/run/kata-containers/*\"]\n\
         valid_file_mem_backends = [\"/dev/hugepages\"]\n\
         valid_entropy_sources = [\"/dev/urandom\", \"/dev/random\", \"\"]\n"
    );
    load(&text).expect("load").config
}

pub fn initrd_boot() -> String {
    format!("initrd = \"{INITRD}\"")
}

pub fn apply(c: &mut Config, pairs: &[(&str, &str)]) -> Result<Vec<String>, AnnotationError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    apply_with(c, &map, &host())
}
