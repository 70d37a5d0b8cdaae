//! Errors of the harness; each names the file, binary or RPC at fault.

use std::path::PathBuf;

/// What went wrong while preparing or booting a test VM.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("guest image file {path} is missing: run `make image` or set KATA_TEST_IMAGE_DIR")]
    MissingImage { path: PathBuf },
    #[error("{what} {path} is missing ({hint})")]
    MissingTool {
        what: &'static str,
        path: PathBuf,
        hint: &'static str,
    },
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {daemon}")]
    Daemon {
        daemon: &'static str,
        #[source]
        source: Box<kata_vm_daemons::DaemonError>,
    },
    #[error("cannot start qemu for test vm {id}")]
    Qemu {
        id: String,
        #[source]
        source: Box<kata_qemu::QemuError>,
    },
    #[error("agent of test vm {id} did not answer; console:\n{console}")]
    AgentUnreachable {
        id: String,
        console: String,
        #[source]
        source: Box<kata_agent_client::Error>,
    },
    #[error("qemu of test vm {id} exited ({exit}) before the agent answered; stderr: {stderr}\nconsole:\n{console}")]
    QemuExited {
        id: String,
        exit: String,
        stderr: String,
        console: String,
    },
    #[error("{rpc} failed")]
    Rpc {
        rpc: &'static str,
        #[source]
        source: Box<ttrpc::Error>,
    },
}

impl HarnessError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HarnessError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// `err` and its sources, one per line.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str("\n  caused by: ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
