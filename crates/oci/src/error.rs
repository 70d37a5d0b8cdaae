//! Errors of OCI spec conversion.

use std::path::PathBuf;

/// An OCI spec that cannot be turned into a sandbox or container configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `config.json` could not be read.
    #[error("cannot read oci spec {path}")]
    ReadSpec {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not a valid OCI runtime spec.
    #[error("invalid oci spec {path}")]
    ParseSpec {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A CRI container-type annotation has a value this runtime does not know.
    #[error("unknown container type {value:?} in annotation {annotation}")]
    UnknownContainerType { annotation: String, value: String },
    /// A CRI container (not sandbox) carries no sandbox id annotation.
    #[error("annotation {type_annotation} says container but {id_annotation} is missing or empty")]
    MissingSandboxId {
        type_annotation: String,
        id_annotation: String,
    },
    /// An environment variable without `=`.
    #[error("environment variable {0:?} is not of the form NAME=VALUE")]
    EnvNoEquals(String),
    /// An environment variable with an empty name.
    #[error("environment variable {0:?} has an empty name")]
    EnvEmptyName(String),
    /// A mount with an empty destination.
    #[error("mount #{index} (source {source_path:?}) has an empty destination")]
    MountEmptyDestination { index: usize, source_path: String },
    /// A mount whose destination is not absolute.
    #[error("mount #{index} destination {destination} is not an absolute path")]
    MountRelativeDestination { index: usize, destination: PathBuf },
    /// A `size=` mount option that is not a size.
    #[error("mount {destination} has an invalid size option {option:?}")]
    MountSizeOption {
        destination: PathBuf,
        option: String,
    },
    /// The size of a `/dev/shm` bind source could not be measured.
    #[error("cannot statfs /dev/shm source {path}")]
    ShmStatfs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A Linux device with a type other than c, b, u or p.
    #[error("device {path} has unexpected type {typ:?} (expected c, b, u or p)")]
    DeviceType { path: PathBuf, typ: String },
    /// A Linux device with an empty path.
    #[error("device #{index} has an empty path")]
    DeviceEmptyPath { index: usize },
    /// The spec has no `root` (or its path is empty).
    #[error("oci spec has no root path")]
    MissingRoot,
    /// An `io.katacontainers.*` annotation the configuration refused.
    #[error("cannot apply kata annotations to the sandbox configuration")]
    Annotation(#[source] Box<kata_config::AnnotationError>),
    /// The spec has no `process`.
    #[error("oci spec has no process")]
    MissingProcess,
    /// A CRI sandbox id annotation that cannot safely name a host directory.
    #[error("annotation {annotation} holds an invalid sandbox id {id:?}")]
    InvalidSandboxId {
        annotation: String,
        id: String,
        #[source]
        source: crate::ids::IdError,
    },
    /// A container or exec id that cannot safely name a host directory.
    #[error(transparent)]
    InvalidId(#[from] crate::ids::IdError),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
