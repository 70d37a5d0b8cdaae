//! SignalProcess: deliver a signal to the init (empty exec id) or to an exec'd process.

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{AgentError, Result};
use crate::sandbox::Sandbox;

pub fn signal(sb: &Sandbox, id: &str, exec_id: &str, signo: u32) -> Result<()> {
    let sig = i32::try_from(signo)
        .ok()
        .and_then(|s| Signal::try_from(s).ok())
        .ok_or_else(|| AgentError::InvalidArgument(format!("invalid signal {signo}")))?;
    let c = sb.container(id)?;
    let process = c.process(exec_id)?;
    if exec_id.is_empty() && sig == Signal::SIGKILL {
        // Killing a container kills its exec'd processes too, even when they do not die with the
        // init (a container sharing the pod's PID namespace).
        for pid in c.pids().into_iter().filter(|p| *p != process.pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    if process.exit_code().is_some() {
        return Ok(());
    }
    // A paused container cannot handle SIGTERM & co.; SIGKILL works on frozen tasks.
    match kill(Pid::from_raw(process.pid), sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(AgentError::errno(
            "signalling",
            format!("pid {}", process.pid),
            e,
        )),
    }
}
