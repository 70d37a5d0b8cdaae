//! Finding the file, reading it and its `config.d/` drop-ins, and merging them key by key.

use crate::defaults;
use crate::error::ConfigError;
use crate::host::HostFacts;
use crate::toml_model::RawConfig;
use crate::{resolve, validate, LoadedConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Tables Kata 2.x no longer reads.
const DROPPED_SECTIONS: &[(&str, &str)] = &[
    (
        "proxy",
        "kata 2.x has no proxy (the shim talks to the agent over vsock)",
    ),
    (
        "shim",
        "kata 2.x has no per-container shim (containerd-shim-kata-v2 replaces it)",
    ),
    ("netmon", "kata 2.x dropped the network monitor"),
];

/// The default configuration files, in priority order.
pub fn default_config_paths() -> Vec<PathBuf> {
    vec![
        PathBuf::from(defaults::SYSCONF_CONFIG),
        PathBuf::from(defaults::SHIPPED_CONFIG),
    ]
}

/// Choose the configuration file: `explicit`, else `env` (the value of `KATA_CONF_FILE`),
/// else the first of `candidates` that exists. The result is canonical.
pub fn locate_config(
    explicit: Option<&Path>,
    env: Option<&OsStr>,
    candidates: &[PathBuf],
) -> Result<PathBuf, ConfigError> {
    let chosen = explicit
        .map(Path::to_path_buf)
        .or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from));
    if let Some(path) = chosen {
        return std::fs::canonicalize(&path).map_err(|source| ConfigError::Read { path, source });
    }
    for candidate in candidates {
        if let Ok(resolved) = std::fs::canonicalize(candidate) {
            if resolved.is_file() {
                return Ok(resolved);
            }
        }
    }
    Err(ConfigError::NotFound {
        tried: candidates.to_vec(),
    })
}

/// Which file set each dotted key (the last one wins), so errors name the right file.
#[derive(Debug, Clone)]
pub(crate) struct Origins {
    main: PathBuf,
    keys: HashMap<String, PathBuf>,
}

impl Origins {
    /// Every key attributed to one file.
    pub(crate) fn single(main: &Path) -> Self {
        Origins {
            main: main.to_path_buf(),
            keys: HashMap::new(),
        }
    }

    /// The file that set `key` (the main file when no file set it).
    pub(crate) fn file(&self, key: &str) -> &Path {
        self.keys
            .get(key)
            .map_or(self.main.as_path(), |p| p.as_path())
    }

    /// The main file.
    pub(crate) fn main(&self) -> &Path {
        &self.main
    }

    fn record(&mut self, table: &toml::Table, prefix: &str, file: &Path) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => self.record(t, &key, file),
                _ => {
                    self.keys.insert(key, file.to_path_buf());
                }
            }
        }
    }
}

/// Load `path` (canonicalised) plus its drop-ins.
pub(crate) fn load_file(path: &Path, host: &HostFacts) -> Result<LoadedConfig, ConfigError> {
    let source = std::fs::canonicalize(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let text = read(&source)?;
    let mut warnings = Vec::new();
    let mut merged = parse_file(&text, &source, &mut warnings)?;
    let mut origins = Origins::single(&source);

    let drop_ins = drop_in_files(&source, &mut warnings)?;
    for drop_in in &drop_ins {
        let text = read(drop_in)?;
        let table = parse_file(&text, drop_in, &mut warnings)?;
        origins.record(&table, "", drop_in);
        merge(&mut merged, table);
    }
    finish(merged, source, drop_ins, origins, warnings, host)
}

/// Load TOML text without drop-ins.
pub(crate) fn load_str(
    text: &str,
    origin: &Path,
    host: &HostFacts,
) -> Result<LoadedConfig, ConfigError> {
    let mut warnings = Vec::new();
    let table = parse_file(text, origin, &mut warnings)?;
    finish(
        table,
        origin.to_path_buf(),
        Vec::new(),
        Origins::single(origin),
        warnings,
        host,
    )
}

fn finish(
    merged: toml::Table,
    source: PathBuf,
    drop_ins: Vec<PathBuf>,
    origins: Origins,
    mut warnings: Vec<String>,
    host: &HostFacts,
) -> Result<LoadedConfig, ConfigError> {
    let fates = crate::fates::check(&merged, &origins)?;
    warnings.extend(fates.warnings);
    let raw =
        RawConfig::deserialize(toml::Value::Table(merged)).map_err(|e| ConfigError::Parse {
            path: source.clone(),
            source: Box::new(e),
        })?;
    let config = resolve::resolve(raw, &origins, host, &mut warnings)?;
    warnings.extend(validate::check_rules(&config, &origins, host)?);
    Ok(LoadedConfig {
        config,
        source,
        drop_ins,
        warnings,
        ineffective: fates.ineffective,
    })
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parse one file: TOML syntax, key types (with line numbers), unknown keys and dropped
/// sections (as warnings). Returns the file as a table for merging.
fn parse_file(
    text: &str,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<toml::Table, ConfigError> {
    let parse_err = |e: toml::de::Error| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(e),
    };
    let table: toml::Table = toml::from_str(text).map_err(parse_err)?;

    let mut unknown = Vec::new();
    let _typed: RawConfig = serde_ignored::deserialize(toml::Deserializer::new(text), |p| {
        unknown.push(p.to_string());
    })
    .map_err(parse_err)?;
    for key in unknown {
        warnings.push(format!("{}: unknown key `{key}` ignored", path.display()));
    }

    for (section, why) in DROPPED_SECTIONS {
        if let Some(value) = table.get(*section) {
            let names = match value.as_table() {
                Some(t) if *section != "netmon" && !t.is_empty() => t
                    .keys()
                    .map(|k| format!("[{section}.{k}]"))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => format!("[{section}]"),
            };
            warnings.push(format!(
                "{}: section {names} ignored: {why}",
                path.display()
            ));
        }
    }
    for (section, wanted) in [("hypervisor", "qemu"), ("agent", "kata")] {
        if let Some(t) = table.get(section).and_then(toml::Value::as_table) {
            for name in t.keys().filter(|k| *k != wanted) {
                warnings.push(format!(
                    "{}: section [{section}.{name}] ignored: only [{section}.{wanted}] is supported",
                    path.display()
                ));
            }
        }
    }
    Ok(table)
}

/// Regular files of `<dir of source>/config.d/`, in lexical order; dotfiles are skipped.
fn drop_in_files(source: &Path, warnings: &mut Vec<String>) -> Result<Vec<PathBuf>, ConfigError> {
    let Some(dir) = source.parent().map(|d| d.join(defaults::DROP_IN_DIR)) else {
        return Ok(Vec::new());
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Read { path: dir, source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ConfigError::Read {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            warnings.push(format!("{}: hidden drop-in skipped", path.display()));
            continue;
        }
        // Follow symlinks: a link to a file is a drop-in, a directory is not.
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Merge `over` into `base` key by key: tables recurse, anything else replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_are_etc_then_usr_share() {
        assert_eq!(
            default_config_paths(),
            vec![
                PathBuf::from("/etc/kata-containers/configuration.toml"),
                PathBuf::from("/usr/share/defaults/kata-containers/configuration.toml"),
            ]
        );
    }

    #[test]
    fn merge_is_key_by_key() {
        let mut base: toml::Table =
            toml::from_str("[hypervisor.qemu]\na = 1\nb = 2\n[runtime]\nx = true").expect("toml");
        let over: toml::Table = toml::from_str("[hypervisor.qemu]\nb = 3\nc = [1]").expect("toml");
        merge(&mut base, over);
        let q = &base["hypervisor"]["qemu"];
        assert_eq!(q["a"].as_integer(), Some(1));
        assert_eq!(q["b"].as_integer(), Some(3));
        assert!(q["c"].is_array());
        assert_eq!(base["runtime"]["x"].as_bool(), Some(true));
    }

    #[test]
    fn origins_track_the_last_file() {
        let mut o = Origins::single(Path::new("/main.toml"));
        let t: toml::Table = toml::from_str("[runtime]\nenable_debug = true").expect("toml");
        o.record(&t, "", Path::new("/config.d/10.toml"));
        assert_eq!(
            o.file("runtime.enable_debug"),
            Path::new("/config.d/10.toml")
        );
        assert_eq!(o.file("runtime.other"), Path::new("/main.toml"));
        assert_eq!(o.main(), Path::new("/main.toml"));
    }
}
