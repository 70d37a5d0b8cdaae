//! Errors raised while reading host facts.

use std::path::PathBuf;

/// A host fact that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file under the host root could not be read.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but a required field was missing or malformed.
    #[error("cannot parse {what} in {path}")]
    Parse { path: PathBuf, what: &'static str },
    /// The QEMU binary could not be started.
    #[error("cannot run {binary} --version")]
    QemuRun {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The QEMU binary printed something that is not a version banner.
    #[error("unexpected output of {binary} --version: {output:?}")]
    QemuVersion { binary: PathBuf, output: String },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
