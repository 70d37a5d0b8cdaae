//! Errors of the QEMU driver.

use std::path::PathBuf;
use std::time::Duration;

use crate::cmdline::CmdlineError;
use crate::qmp::QmpError;
use crate::template::Direction;

#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    #[error("{what} {path} does not exist")]
    MissingFile { what: &'static str, path: PathBuf },
    #[error("invalid vm spec for sandbox {id}")]
    Spec {
        id: String,
        #[source]
        source: CmdlineError,
    },
    #[error("cannot prepare run directory {path}")]
    RunDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the guest console log {path}")]
    Console {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {binary}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{binary} exited during startup ({exit}); stderr: {stderr}")]
    EarlyExit {
        binary: PathBuf,
        exit: String,
        stderr: String,
    },
    #[error("qmp socket {socket} did not appear within {after:?}")]
    QmpSocketTimeout { socket: PathBuf, after: Duration },
    #[error("qmp on {socket} failed")]
    Qmp {
        socket: PathBuf,
        #[source]
        source: QmpError,
    },
    #[error("cannot open tap device {path} for qemu")]
    TapDevice {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("vm {id} is not running")]
    NotRunning { id: String },
    #[error("device {id} was not deleted by the guest within {after:?}")]
    UnplugTimeout { id: String, after: Duration },
    #[error("cannot open template state {path}")]
    StateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("qmp {command} failed during the template {direction} with state {path}")]
    StateQmp {
        direction: Direction,
        command: &'static str,
        path: PathBuf,
        #[source]
        source: QmpError,
    },
    #[error("template {direction} with state {path} failed: {desc}")]
    MigrationFailed {
        direction: Direction,
        path: PathBuf,
        desc: String,
    },
    #[error("template {direction} with state {path} did not complete within {after:?}")]
    MigrationTimeout {
        direction: Direction,
        path: PathBuf,
        after: Duration,
    },
}
