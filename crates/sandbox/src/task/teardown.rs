//! Teardown: `DestroySandbox`, stop the VM and its daemons, undo every recorded step (also
//! after errors half-way), drop the persisted state.

use std::time::Duration;

use super::actor::SandboxTask;
use crate::host::cleanup::run_steps;
use crate::types::{ExitStatus, ProcessRef, VM_DIED_EXIT_CODE};

const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);

impl SandboxTask {
    pub(crate) async fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.abandon_calls();
        if let Some(watch) = self.oom_watch.take() {
            watch.abort();
        }
        if let Ok(agent) = self.agent() {
            match tokio::time::timeout(DESTROY_TIMEOUT, agent.destroy_sandbox()).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "DestroySandbox failed"),
                Err(_) => tracing::warn!("DestroySandbox timed out"),
                Ok(Ok(())) => {}
            }
        }
        self.torn_down = true;
        if let Some(vm) = &self.vm {
            vm.stop().await;
        }
        // Whatever still runs is gone with the VM.
        let mut left = Vec::new();
        for (cid, c) in &self.containers {
            left.push(ProcessRef::new(cid.clone(), None));
            left.extend(
                c.execs
                    .keys()
                    .map(|e| ProcessRef::new(cid.clone(), Some(e.clone()))),
            );
        }
        for p in left {
            if let Ok(proc_) = self.process_mut(&p) {
                proc_.finish(ExitStatus::now(VM_DIED_EXIT_CODE));
            }
        }
        self.agent = None;
        let failures = run_steps(&self.state.all_steps()).await;
        if failures.is_empty() {
            self.state.sandbox_steps.clear();
            self.state.containers.clear();
            let dir = self.layout.state_dir();
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %dir.display(), error = %e, "cannot remove state");
                }
            }
        } else {
            tracing::error!(?failures, "sandbox teardown incomplete; kept the state");
            self.persist();
        }
    }
}
