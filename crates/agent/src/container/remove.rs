//! RemoveContainer: kill what is left, delete libcontainer state and cgroup, release storages.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{AgentError, Result};
use crate::sandbox::Sandbox;

/// How long the init gets to die after SIGKILL before removal goes on anyway.
const KILL_GRACE: Duration = Duration::from_secs(5);

pub async fn remove(sb: &Sandbox, id: &str) -> Result<()> {
    let c = sb.container(id)?;
    if c.init.exit_code().is_none() {
        for pid in c.pids() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // Thaw first, or a frozen cgroup keeps the killed tasks alive.
        let _ = std::fs::write(c.cgroup.join("cgroup.freeze"), "0");
        let _ = tokio::time::timeout(KILL_GRACE, c.init.wait()).await;
    }
    finish(sb, id)
}

/// Synchronous part: delete state, cgroup, bundle, release storages, forget the container.
fn finish(sb: &Sandbox, id: &str) -> Result<()> {
    let c = sb
        .take_container(id)
        .ok_or_else(|| AgentError::NotFound(format!("container {id}")))?;
    sb.drop_ns_holder(c.init.pid);
    let deleted = c.libcontainer().delete(true);
    if let Err(e) = &deleted {
        tracing::warn!(container = id, error = %e, "libcontainer delete failed");
        let _ = std::fs::remove_dir(&c.cgroup);
        let _ = std::fs::remove_dir_all(sb.layout.state_root.join(id));
    }
    let _ = std::fs::remove_dir_all(&c.bundle);
    for p in c.storages.iter().rev() {
        if let Err(e) = sb.storages.release(p) {
            tracing::warn!(container = id, error = %e, "releasing storage failed");
        }
    }
    Ok(())
}

/// Kills and removes every container (DestroySandbox). Does not wait for exits.
pub fn remove_all(sb: &Sandbox) -> Vec<AgentError> {
    let mut errors = Vec::new();
    for id in sb.container_ids() {
        if let Ok(c) = sb.container(&id) {
            for pid in c.pids() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = std::fs::write(c.cgroup.join("cgroup.freeze"), "0");
        }
        if let Err(e) = finish(sb, &id) {
            errors.push(e);
        }
    }
    errors
}
