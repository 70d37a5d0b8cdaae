//! Errors of the QEMU driver.

use std::path::PathBuf;
use std::time::Duration;

use crate::cmdline::CmdlineError;
use crate::qmp::QmpError;

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
}
