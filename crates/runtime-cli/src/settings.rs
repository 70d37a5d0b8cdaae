//! The one place that reads `kata-config` types: loads the configuration and extracts what the
//! commands need.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kata_config::{Config, HostFacts, IneffectiveKey, LoadedConfig};
use kata_hostinfo::Host;

/// Version of the configuration schema `kata-env` reports; bump when `kata_config::Config`
/// changes shape.
pub const API_VERSION: &str = "1";

/// What `check` needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub hypervisor_path: PathBuf,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub image: Option<PathBuf>,
    /// `virtio-fs`, `virtio-fs-nydus`, `none`...
    pub shared_fs: String,
    pub virtiofsd: Option<PathBuf>,
    pub default_memory_mib: u64,
}

/// A loaded configuration, reduced to what the commands print.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub source: PathBuf,
    pub drop_ins: Vec<PathBuf>,
    /// Loader findings: unknown keys, ignored sections, clamped values.
    pub warnings: Vec<String>,
    /// The unknown keys among the warnings (`file: key`).
    pub unknown_keys: Vec<String>,
    /// The resolved configuration as JSON.
    pub values: serde_json::Value,
    /// Keys set in the file(s) that have no effect in kata-rs.
    pub ineffective: Vec<IneffectiveKey>,
}

/// The configuration lookup paths, in priority order.
pub fn default_paths() -> Vec<PathBuf> {
    kata_config::default_config_paths()
}

/// The loader's view of the host, from the same facts `kata-env` reports.
pub fn host_facts(host: &Host) -> HostFacts {
    let mut facts = HostFacts::detect();
    facts.cpus = u32::try_from(host.cpu_count()).unwrap_or(u32::MAX);
    if let Ok(mem) = host.meminfo() {
        facts.memory_mib = mem.total_mib();
    }
    facts
}

fn non_empty(p: &Path) -> Option<PathBuf> {
    (!p.as_os_str().is_empty()).then(|| p.to_owned())
}

/// Extracts the check inputs from a resolved configuration.
pub fn settings_of(config: &Config) -> Settings {
    let h = &config.hypervisor;
    Settings {
        hypervisor_path: h.path.clone(),
        kernel: non_empty(&h.kernel),
        initrd: h.initrd.as_deref().and_then(non_empty),
        image: h.image.as_deref().and_then(non_empty),
        shared_fs: h.shared_fs.as_str().to_owned(),
        virtiofsd: non_empty(Path::new(&h.virtio_fs_daemon)),
        default_memory_mib: u64::from(h.default_memory),
    }
}

/// Loads the configuration (`explicit` is `--config`).
pub fn load(explicit: Option<&Path>, host: &Host) -> anyhow::Result<Loaded> {
    let LoadedConfig {
        config,
        source,
        drop_ins,
        warnings,
        ineffective,
    } = Config::load(explicit, &host_facts(host)).context("cannot load the configuration")?;
    let values = serde_json::to_value(&config).context("cannot serialize the configuration")?;
    Ok(Loaded {
        settings: settings_of(&config),
        source,
        drop_ins,
        unknown_keys: unknown_keys(&warnings),
        warnings,
        values,
        ineffective,
    })
}

/// Picks the unknown keys out of the loader's warnings (`<file>: unknown key `<key>` ignored`).
pub fn unknown_keys(warnings: &[String]) -> Vec<String> {
    const MARK: &str = ": unknown key `";
    warnings
        .iter()
        .filter_map(|w| {
            let (file, rest) = w.split_once(MARK)?;
            let (key, _) = rest.split_once('`')?;
            Some(format!("{file}: {key}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_extracted_from_warnings() {
        let w = vec![
            "/etc/k.toml: unknown key `hypervisor.qemu.bogus` ignored".to_string(),
            "/etc/k.toml: section [proxy] ignored: kata 2.x has no proxy".to_string(),
        ];
        assert_eq!(unknown_keys(&w), vec!["/etc/k.toml: hypervisor.qemu.bogus"]);
    }
}
