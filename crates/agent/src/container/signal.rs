//! SignalProcess: deliver a signal to the init (the container id as exec id), to every process
//! of the container (empty exec id) or to an exec'd process.

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
    // The init first: signalled after its children, a shell waiting for them could exit on its
    // own in between and report 0 instead of the signal (runc freezes the cgroup for the same
    // reason). A paused container cannot handle SIGTERM & co.; SIGKILL works on frozen tasks.
    let init = if process.exit_code().is_some() {
        Ok(())
    } else {
        match kill(Pid::from_raw(process.pid), sig) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(AgentError::errno(
                "signalling",
                format!("pid {}", process.pid),
                e,
            )),
        }
    };
    if exec_id.is_empty() {
        // Kata's rule: an empty exec id is the init and every process of the container
        // (`Kill` with `all`, `runc kill --all`); the container id names the init alone.
        for pid in cgroup_pids(&c.cgroup)
            .into_iter()
            .filter(|p| *p != process.pid)
        {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }
    if exec_id.is_empty() && sig == Signal::SIGKILL {
        // Killing a container kills its exec'd processes too, even when they do not die with the
        // init (a container sharing the pod's PID namespace).
        for pid in c.pids().into_iter().filter(|p| *p != process.pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    init
}

/// The processes in a container's cgroup (v2 `cgroup.procs`, its subgroups included).
fn cgroup_pids(dir: &std::path::Path) -> Vec<i32> {
    let mut pids = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        if let Ok(text) = std::fs::read_to_string(d.join("cgroup.procs")) {
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        if let Ok(entries) = std::fs::read_dir(&d) {
            dirs.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    pids
}
