//! The one place that reaps children.
//!
//! Every process the agent starts (container inits, exec'd processes) and every orphan re-parented
//! to PID 1 ends up here. A single task reacts to SIGCHLD, calls `waitpid(-1, WNOHANG)` until no
//! child is left to reap and hands each exit status to the watcher registered for that pid.
//! Processes nobody registered for (orphans, libcontainer's short-lived helpers) are reaped and
//! forgotten; the last few such statuses are remembered in case a registration arrives late.
//!
//! libcontainer waits for its own intermediate process with `waitpid(pid)`. That is safe because the
//! runtime is single-threaded and container creation runs synchronously on it: the reaper task cannot
//! run while libcontainer waits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::sync::watch;

/// How many unclaimed exit statuses are remembered.
const UNCLAIMED_LIMIT: usize = 256;

/// Exit code as a shell reports it: the code itself, or 128 + N when killed by signal N.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

#[derive(Default)]
struct State {
    watchers: HashMap<i32, watch::Sender<Option<i32>>>,
    unclaimed: VecDeque<(i32, i32)>,
}

/// Dispatches exit statuses by pid.
#[derive(Clone, Default)]
pub struct Reaper {
    state: Arc<Mutex<State>>,
}

impl Reaper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers interest in `pid`; the receiver holds `Some(code)` once it has exited.
    pub fn watch(&self, pid: i32) -> watch::Receiver<Option<i32>> {
        let mut st = self.lock();
        if let Some(idx) = st.unclaimed.iter().position(|(p, _)| *p == pid) {
            let code = st.unclaimed.remove(idx).map(|(_, c)| c);
            let (_tx, rx) = watch::channel(code);
            return rx;
        }
        let (tx, rx) = watch::channel(None);
        st.watchers.insert(pid, tx);
        rx
    }

    /// Records the exit of `pid` with shell-style `code`.
    pub fn dispatch(&self, pid: i32, code: i32) {
        let mut st = self.lock();
        match st.watchers.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(Some(code));
            }
            None => {
                if st.unclaimed.len() >= UNCLAIMED_LIMIT {
                    st.unclaimed.pop_front();
                }
                st.unclaimed.push_back((pid, code));
            }
        }
    }

    /// Reaps every child that has exited, without blocking.
    pub fn reap_all(&self) {
        loop {
            match waitpid(
                Pid::from_raw(-1),
                Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
            ) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(status) => {
                    if let (Some(pid), Some(code)) = (status.pid(), exit_code(status)) {
                        tracing::debug!(pid = pid.as_raw(), code, "child exited");
                        self.dispatch(pid.as_raw(), code);
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(err) => {
                    tracing::warn!(%err, "waitpid failed");
                    return;
                }
            }
        }
    }

    /// Runs the SIGCHLD loop forever; call from inside the runtime.
    pub fn spawn(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut sigchld = signal(SignalKind::child())?;
        let reaper = self.clone();
        tokio::spawn(async move {
            reaper.reap_all();
            while sigchld.recv().await.is_some() {
                reaper.reap_all();
            }
        });
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn exit_codes_follow_shell_convention() {
        let pid = Pid::from_raw(10);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 7)), Some(7));
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            Some(143)
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, true)),
            Some(137)
        );
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }

    #[test]
    fn dispatch_reaches_the_registered_watcher_only() {
        let r = Reaper::new();
        let a = r.watch(100);
        let b = r.watch(200);
        r.dispatch(100, 3);
        assert_eq!(*a.borrow(), Some(3));
        assert_eq!(*b.borrow(), None);
    }

    #[test]
    fn late_registration_sees_an_unclaimed_status() {
        let r = Reaper::new();
        r.dispatch(300, 9);
        assert_eq!(*r.watch(300).borrow(), Some(9));
        // Claimed once: a second registration waits for a new process with that pid.
        assert_eq!(*r.watch(300).borrow(), None);
    }

    #[test]
    fn unclaimed_statuses_are_bounded() {
        let r = Reaper::new();
        for pid in 0..(UNCLAIMED_LIMIT as i32 + 10) {
            r.dispatch(pid, 0);
        }
        assert_eq!(r.lock().unclaimed.len(), UNCLAIMED_LIMIT);
        assert_eq!(*r.watch(0).borrow(), None);
    }
}
