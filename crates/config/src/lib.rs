//! Kata-compatible `configuration.toml`: lookup, drop-ins, defaults, checks and
//! `io.katacontainers.config.*` annotation overrides.
//!
//! The pipeline is *parse, then adjust, then validate*:
//! 1. [`load`](crate::Config::load) finds the file ([`default_config_paths`]), parses it and
//!    every `config.d/` drop-in into raw structs (`toml_model`), recording unknown keys and
//!    dropped sections as warnings, and merges them key by key;
//! 2. the raw values are resolved: defaults and clamps applied, paths canonicalised
//!    (`hypervisor` resolution lives in `resolve.rs`);
//! 3. cross-key rules are checked (`validate.rs`).
//!
//! ```no_run
//! use kata_config::{Config, HostFacts};
//! let loaded = Config::load(None, &HostFacts::detect())?;
//! for w in &loaded.warnings {
//!     eprintln!("warning: {w}");
//! }
//! println!("{} vCPUs", loaded.config.hypervisor.default_vcpus);
//! # Ok::<(), kata_config::ConfigError>(())
//! ```

pub mod agent;
pub mod annotations;
pub mod defaults;
pub mod error;
pub mod factory;
pub mod fates;
pub mod host;
pub mod hypervisor;
pub mod kernel_params;
mod load;
mod resolve;
pub mod runtime;
mod toml_model;
mod validate;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use agent::AgentConfig;
pub use annotations::apply as apply_annotations;
pub use error::{AnnotationError, ConfigError};
pub use factory::FactoryConfig;
pub use fates::{Fate, IneffectiveKey, KeyFate};
pub use host::HostFacts;
pub use hypervisor::{BlockDeviceDriver, HypervisorConfig, SharedFs};
pub use kernel_params::{KernelParam, KernelParams, KernelParamsError};
pub use load::{default_config_paths, locate_config};
pub use runtime::{InterNetworkingModel, RuntimeConfig};

/// The resolved configuration: every default applied, every path canonical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `[hypervisor.qemu]`.
    pub hypervisor: HypervisorConfig,
    /// `[agent.kata]`.
    pub agent: AgentConfig,
    /// `[runtime]` (plus the `[image]` placeholder keys).
    pub runtime: RuntimeConfig,
    /// `[factory]`.
    pub factory: FactoryConfig,
}

/// A configuration together with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadedConfig {
    /// The resolved configuration.
    pub config: Config,
    /// The canonical path of the main file.
    pub source: PathBuf,
    /// The drop-in files applied, in the order applied.
    pub drop_ins: Vec<PathBuf>,
    /// Non-fatal findings: unknown keys, dropped sections, keys with no effect, an image
    /// larger than memory...
    pub warnings: Vec<String>,
    /// Every key set in the file(s) that has no effect in kata-rs (`kata-env` shows them).
    #[serde(default)]
    pub ineffective: Vec<IneffectiveKey>,
}

impl Config {
    /// Find and load the configuration.
    ///
    /// Lookup order: `explicit` (the `--config` flag), else the `KATA_CONF_FILE`
    /// environment variable, else the first existing file of [`default_config_paths`].
    /// An explicit or environment path that does not exist is an error (no fallback).
    pub fn load(explicit: Option<&Path>, host: &HostFacts) -> Result<LoadedConfig, ConfigError> {
        let env = std::env::var_os(defaults::CONFIG_ENV);
        let path = locate_config(explicit, env.as_deref(), &default_config_paths())?;
        Self::load_file(&path, host)
    }

    /// Load one file (plus the drop-ins of its `config.d/`), without lookup.
    pub fn load_file(path: &Path, host: &HostFacts) -> Result<LoadedConfig, ConfigError> {
        load::load_file(path, host)
    }

    /// Load from TOML text (no drop-ins); `origin` names the text in errors and warnings.
    pub fn from_toml_str(
        text: &str,
        origin: &Path,
        host: &HostFacts,
    ) -> Result<LoadedConfig, ConfigError> {
        load::load_str(text, origin, host)
    }

    /// Check the cross-key rules again (after annotations changed the configuration).
    /// `origin` names the configuration in errors. Returns the non-fatal warnings.
    pub fn validate(&self, origin: &Path, host: &HostFacts) -> Result<Vec<String>, ConfigError> {
        validate::check_rules(self, &load::Origins::single(origin), host)
    }
}
