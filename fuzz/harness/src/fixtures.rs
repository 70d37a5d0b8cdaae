//! Shared fixtures of the targets: a fake host (no file system access), a baseline configuration
//! whose annotation gates are wide open (so fuzzed annotations reach the value parsers instead of
//! stopping at the allowlist), and the guest directories the agent resolves paths in.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use kata_config::annotations::CONFIG_PREFIX;
use kata_config::{Config, HostFacts};

/// Paths the fake host knows, with their sizes in bytes.
pub const HOST_FILES: &[(&str, u64)] = &[
    ("/usr/bin/qemu-system-x86_64", 10 << 20),
    ("/usr/share/kata-containers/vmlinux.container", 30 << 20),
    ("/usr/share/kata-containers/kata-containers.img", 300 << 20),
    (
        "/usr/share/kata-containers/kata-containers-initrd.img",
        20 << 20,
    ),
    ("/usr/local/bin/virtiofsd", 1 << 20),
    ("/usr/libexec/virtiofsd", 1 << 20),
    ("/dev/urandom", 0),
    ("/dev/random", 0),
    ("/dev/hugepages", 0),
    ("/var/run/kata-containers/vhost-user", 0),
    ("/opt/other/qemu", 1 << 20),
    ("/opt/other/kernel", 1 << 20),
    ("/opt/other/initrd", 1 << 20),
    ("/opt/other/firmware", 1 << 20),
];

/// Where the fuzzed TOML text claims to come from (only used in messages).
pub const ORIGIN: &str = "/fuzz/configuration.toml";

/// A configuration that loads on [`host`]: initrd boot, everything else default.
pub const BASELINE_TOML: &str = "[hypervisor.qemu]\n\
    initrd = \"/usr/share/kata-containers/kata-containers-initrd.img\"\n";

/// A 4-CPU, 16 GiB host that only has [`HOST_FILES`].
pub fn host() -> HostFacts {
    HostFacts::fake(4, HOST_FILES.iter().copied())
}

/// The baseline configuration loaded on [`host`] (parsed once per process, then cloned);
/// `None` only if the config crate rejects [`BASELINE_TOML`] (then the targets just have less
/// to do; it is not a finding).
pub fn baseline() -> Option<Config> {
    static BASELINE: OnceLock<Option<Config>> = OnceLock::new();
    BASELINE
        .get_or_init(|| {
            Config::from_toml_str(BASELINE_TOML, Path::new(ORIGIN), &host())
                .ok()
                .map(|l| l.config)
        })
        .clone()
}

/// Enables every hypervisor annotation and allows every path on the fake host.
pub fn open_gates(config: &mut Config) {
    let any = || {
        ["/**", "/*", "/*/*", "/*/*/*", "/*/*/*/*"]
            .map(str::to_owned)
            .to_vec()
    };
    let h = &mut config.hypervisor;
    h.enable_annotations = vec![".*".to_owned()];
    h.valid_hypervisor_paths = any();
    h.valid_jailer_paths = any();
    h.valid_virtio_fs_daemon_paths = any();
    h.valid_vhost_user_store_paths = any();
    h.valid_file_mem_backends = any();
    h.valid_entropy_sources = any();
    h.valid_kernel_paths = any();
    h.valid_image_paths = any();
    h.valid_initrd_paths = any();
    h.valid_firmware_paths = any();
}

/// Parses annotation lines `key=value` (one per line, value up to the end of the line).
///
/// A key starting with `hypervisor.`, `runtime.` or `agent.` is short for
/// `io.katacontainers.config.<key>`, which keeps the fuzzer's inputs short; any other key is
/// used verbatim. A line without `=` is a key with an empty value.
pub fn annotation_lines(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            let key = if ["hypervisor.", "runtime.", "agent."]
                .iter()
                .any(|p| key.starts_with(p))
            {
                format!("{CONFIG_PREFIX}{key}")
            } else {
                key.to_owned()
            };
            (key, value.to_owned())
        })
        .collect()
}

/// Directories the agent-side targets resolve untrusted paths in, each seeded with hostile
/// symlinks so that the resolver is exercised (`etc -> /`, `data -> ../../../../etc`,
/// `up -> ..`, `self -> self`).
#[derive(Debug, Clone)]
pub struct GuestDirs {
    /// Plays the agent's run directory (`/run/kata-containers` in the guest).
    pub run_root: std::path::PathBuf,
    /// Plays a container's root file system.
    pub rootfs: std::path::PathBuf,
    /// Plays the cgroup v2 root (never written: only joined).
    pub cgroup_root: std::path::PathBuf,
}

/// Where [`guest_dirs`] lives: one fixed directory per user under the temporary directory,
/// created once and shared by every fuzz process (its content never changes).
pub fn guest_dirs_base() -> std::path::PathBuf {
    std::env::temp_dir().join("kata-fuzz-fixture")
}

/// The [`GuestDirs`], made on first use (creation errors only mean fewer symlinks to follow).
pub fn guest_dirs() -> &'static GuestDirs {
    static DIRS: OnceLock<GuestDirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = guest_dirs_base();
        let dirs = GuestDirs {
            run_root: base.join("run"),
            rootfs: base.join("rootfs"),
            cgroup_root: Path::new("/sys/fs/cgroup").to_path_buf(),
        };
        for dir in [&dirs.run_root, &dirs.rootfs] {
            let _ = std::fs::create_dir_all(dir.join("sub"));
            for (name, target) in [
                ("etc", "/"),
                ("data", "../../../../etc"),
                ("up", ".."),
                ("self", "self"),
            ] {
                let _ = std::os::unix::fs::symlink(target, dir.join(name));
            }
        }
        dirs
    })
}
