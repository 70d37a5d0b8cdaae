//! Containers inside the guest, created with libcontainer (youki). One file per verb.

pub mod create;
mod devices;
mod diagnose;
mod exec;
pub mod guest_hooks;
pub mod io;
mod oom;
mod pause;
mod process;
mod remove;
mod signal;
mod start;
mod stats;
mod stdio;
mod sysctl;
mod update;
mod wait;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use create::{create, CreateRequest};
pub use exec::{exec, ExecRequest};
pub use oom::OomEvents;
pub use pause::{pause, resume};
pub use process::{Process, Stream};
pub use remove::{remove, remove_all};
pub use signal::signal;
pub use start::start;
pub use stats::{stats, CgroupStats, HugetlbStats, IoEntry, NetworkStats};
pub use update::update;
pub use wait::wait;

use crate::error::{AgentError, Result};

pub struct Container {
    pub id: String,
    /// Directory holding config.json, console sockets and exec process files.
    pub bundle: PathBuf,
    /// The container's cgroup directory (cgroup v2).
    pub cgroup: PathBuf,
    lc: Mutex<libcontainer::container::Container>,
    pub init: Arc<Process>,
    execs: Mutex<HashMap<String, Arc<Process>>>,
    /// Storage mount points this container holds a reference to.
    pub storages: Vec<PathBuf>,
}

impl Container {
    /// The init process (empty `exec_id`) or an exec'd process.
    pub fn process(&self, exec_id: &str) -> Result<Arc<Process>> {
        if exec_id.is_empty() || exec_id == self.init.exec_id {
            return Ok(self.init.clone());
        }
        lock(&self.execs).get(exec_id).cloned().ok_or_else(|| {
            AgentError::NotFound(format!("process {exec_id} of container {}", self.id))
        })
    }

    /// Pids of every process the agent started in this container.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = vec![self.init.pid];
        pids.extend(lock(&self.execs).values().map(|p| p.pid));
        pids
    }

    /// Drops an exec'd process from the table (its fds close with the last reference).
    pub fn forget_exec(&self, exec_id: &str) {
        lock(&self.execs).remove(exec_id);
    }

    fn libcontainer(&self) -> MutexGuard<'_, libcontainer::container::Container> {
        lock(&self.lc)
    }
}

/// Locks `m`, ignoring poisoning (a panicking holder cannot leave these maps inconsistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Container ids become directory names: refuse anything that is not a plain name.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 256
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AgentError::InvalidArgument(format!(
            "invalid container id {id:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_plain_names() {
        assert!(validate_id("c1").is_ok());
        assert!(validate_id("0123abcdef-x_y.z").is_ok());
        for bad in ["", ".", "..", "../x", "a/b", "a b", "x\0"] {
            assert!(
                matches!(validate_id(bad), Err(AgentError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }
}
