//! The `delete` action: containerd runs it when the serving shim is gone (killed); it releases
//! what the persisted state of the sandbox records.

use std::time::SystemTime;

use containerd_shim::api::DeleteResponse;
use kata_sandbox::host::confine::run_confined_steps;
use kata_sandbox::host::layout::{Layout, Roots};
use kata_sandbox::host::state::{cleanup_from_state, SandboxState};

use crate::events::timestamp;

/// Exit status reported for a task whose shim was killed (128 + SIGKILL).
const KILLED: u32 = 137;

pub async fn delete(id: &str) -> DeleteResponse {
    let sandbox_id = std::env::current_dir()
        .ok()
        .and_then(|bundle| kata_oci::load_spec(&bundle).ok())
        .and_then(|spec| kata_oci::SandboxRef::from_spec(&spec, id).ok())
        .map(|s| s.sandbox_id)
        .unwrap_or_else(|| id.to_owned());
    if kata_sandbox::host::layout::is_safe_id(&sandbox_id) {
        let layout = Layout::new(sandbox_id.clone(), Roots::default());
        let state_dir = layout.state_dir();
        if sandbox_id == id {
            match cleanup_from_state(&layout).await {
                Ok(failures) if !failures.is_empty() => {
                    tracing::warn!(?failures, "cleanup after a dead shim is incomplete")
                }
                Err(e) => tracing::warn!(error = %e, "cannot clean up after a dead shim"),
                Ok(_) => {}
            }
        } else if let Ok(Some(mut state)) = SandboxState::load(&state_dir) {
            // The steps are data from a file: only those confined to this sandbox run.
            if state.sandbox_id != sandbox_id {
                tracing::warn!(recorded = %state.sandbox_id, "state file of another sandbox ignored");
            } else if let Some(steps) = state.containers.remove(id) {
                let failures = run_confined_steps(&steps, &layout).await;
                if !failures.is_empty() {
                    tracing::warn!(
                        ?failures,
                        "container cleanup after a dead shim is incomplete"
                    );
                }
                let _ = state.save(&state_dir);
            }
        }
    }
    DeleteResponse {
        pid: 0,
        exit_status: KILLED,
        exited_at: Some(timestamp(SystemTime::now())).into(),
        ..Default::default()
    }
}
