//! Shared helpers for the integration tests.
#![allow(dead_code)]

use kata_config::{Config, ConfigError, HostFacts, LoadedConfig};
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
