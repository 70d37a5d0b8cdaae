//! Container and process records owned by the sandbox task.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::runtime::Process as OciProcess;
use tokio::sync::oneshot;

use super::io::IoPumps;
use crate::types::{ExitStatus, ProcessIo, ProcessState};

pub(crate) struct Process {
    pub io: ProcessIo,
    pub state: ProcessState,
    pub exit: Option<ExitStatus>,
    pub waiters: Vec<oneshot::Sender<ExitStatus>>,
    /// The exec's process spec, until it is started.
    pub spec: Option<OciProcess>,
    /// The stream copies of a started process (stopped when the record goes).
    pub pumps: Option<IoPumps>,
}

impl Process {
    pub fn new(io: ProcessIo, spec: Option<OciProcess>) -> Self {
        Self {
            io,
            state: ProcessState::Created,
            exit: None,
            waiters: Vec::new(),
            spec,
            pumps: None,
        }
    }

    /// Marks the process stopped and wakes its waiters; false if it already was.
    pub fn finish(&mut self, status: ExitStatus) -> bool {
        if self.state == ProcessState::Stopped {
            return false;
        }
        self.state = ProcessState::Stopped;
        self.exit = Some(status);
        for w in self.waiters.drain(..) {
            let _ = w.send(status);
        }
        true
    }
}

pub(crate) struct Container {
    pub bundle: PathBuf,
    pub init: Process,
    pub execs: BTreeMap<String, Process>,
}
