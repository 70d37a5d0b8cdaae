//! Typed errors of the configuration loader.
//!
//! Every variant names the file, the key (dotted, as written in the TOML file, e.g.
//! `hypervisor.qemu.default_vcpus`) and the offending value, so a user can fix the file
//! from the message alone.

use std::path::PathBuf;

/// Why loading or checking a configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No configuration file could be found in any candidate location.
    #[error("no usable configuration file: tried {}", display_paths(.tried))]
    NotFound {
        /// Every path that was tried, in order.
        tried: Vec<PathBuf>,
    },

    /// A file (configuration, drop-in, or a path named by a key) could not be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid TOML, or a key has the wrong type.
    #[error("{}: invalid configuration", .path.display())]
    Parse {
        /// The file being parsed.
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },

    /// A key has a value that is not allowed.
    #[error("{}: key `{key}` has invalid value {value:?}: {reason}", .file.display())]
    InvalidValue {
        /// The configuration file (the main file; drop-ins are merged into it).
        file: PathBuf,
        /// The dotted key, e.g. `hypervisor.qemu.block_device_driver`.
        key: String,
        /// The value as found in the file.
        value: String,
        /// What is wrong with it (lowercase, no trailing period).
        reason: String,
    },

    /// A key asks for something kata-rs cannot do (see `docs/configuration.md`).
    #[error("{}: key `{key}` = {value:?} is not supported by kata-rs: {reason}", .file.display())]
    Unsupported {
        /// The file that set the key (main file or drop-in).
        file: PathBuf,
        /// The dotted key, e.g. `hypervisor.qemu.confidential_guest`.
        key: String,
        /// The value as found in the file (strings unquoted).
        value: String,
        /// What kata-rs cannot do.
        reason: String,
    },

    /// A key names a path that does not exist or cannot be resolved.
    #[error("{}: key `{key}` names path {value:?} which cannot be resolved", .file.display())]
    BadPath {
        /// The configuration file.
        file: PathBuf,
        /// The dotted key.
        key: String,
        /// The path as written.
        value: String,
        #[source]
        source: std::io::Error,
    },

    /// Two keys contradict each other.
    #[error("{0}")]
    Conflict(Box<Conflict>),
}

/// Details of [`ConfigError::Conflict`].
#[derive(Debug)]
pub struct Conflict {
    /// The configuration file.
    pub file: PathBuf,
    /// The first key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// The key it conflicts with.
    pub other_key: String,
    /// That key's value.
    pub other_value: String,
    /// Why they cannot be combined.
    pub reason: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: key `{}` = {:?} conflicts with `{}` = {:?}: {}",
            self.file.display(),
            self.key,
            self.value,
            self.other_key,
            self.other_value,
            self.reason
        )
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl ConfigError {
    pub(crate) fn invalid(
        file: &std::path::Path,
        key: impl Into<String>,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError::InvalidValue {
            file: file.to_path_buf(),
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(
        file: &std::path::Path,
        (key, value): (&str, &dyn ToString),
        (other_key, other_value): (&str, &dyn ToString),
        reason: impl Into<String>,
    ) -> Self {
        ConfigError::Conflict(Box::new(Conflict {
            file: file.to_path_buf(),
            key: key.to_string(),
            value: value.to_string(),
            other_key: other_key.to_string(),
            other_value: other_value.to_string(),
            reason: reason.into(),
        }))
    }
}

/// Why an `io.katacontainers.config.*` annotation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    /// A hypervisor annotation whose name matches no regex of `enable_annotations`.
    #[error("annotation {name} is not enabled by hypervisor.qemu.enable_annotations")]
    NotEnabled {
        /// The full annotation name.
        name: String,
    },

    /// An annotation under `io.katacontainers.config.` that this runtime does not know.
    #[error("annotation {name} is not supported")]
    Unknown {
        /// The full annotation name.
        name: String,
    },

    /// The value could not be parsed or is out of range.
    #[error("annotation {name} has invalid value {value:?}: {reason}")]
    InvalidValue {
        /// The full annotation name.
        name: String,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A path-valued annotation whose (canonical) path matches none of the `valid_*` globs.
    #[error("annotation {name} value {value:?} is not allowed by hypervisor.qemu.{allow_list}")]
    PathNotAllowed {
        /// The full annotation name.
        name: String,
        /// The path as given.
        value: String,
        /// The `valid_*` key that was consulted.
        allow_list: String,
    },

    /// A path-valued annotation whose path cannot be resolved.
    #[error("annotation {name} names path {value:?} which cannot be resolved")]
    BadPath {
        /// The full annotation name.
        name: String,
        /// The path as given.
        value: String,
        #[source]
        source: std::io::Error,
    },

    /// A regex in `enable_annotations` does not compile.
    #[error("hypervisor.qemu.enable_annotations entry {pattern:?} is not a valid regex")]
    BadPattern {
        /// The regex as configured.
        pattern: String,
        #[source]
        source: Box<regex::Error>,
    },

    /// The configuration that results from the annotations breaks a rule of the loader.
    #[error("annotations produce an invalid configuration")]
    Config {
        #[source]
        source: Box<ConfigError>,
    },
}

impl AnnotationError {
    pub(crate) fn invalid(name: &str, value: &str, reason: impl Into<String>) -> Self {
        AnnotationError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
