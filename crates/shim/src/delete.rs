//! The `delete` action: containerd runs it when the serving shim is gone (killed); it releases
//! what the persisted state of the sandbox records.

use std::time::SystemTime;

use containerd_shim::api::DeleteResponse;
use kata_sandbox::host::layout::Roots;
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
        let state_dir = Roots::default().state.join(&sandbox_id);
        if sandbox_id == id {
            match cleanup_from_state(&state_dir).await {
                Ok(failures) if !failures.is_empty() => {
                    tracing::warn!(?failures, "cleanup after a dead shim is incomplete")
                }
                Err(e) => tracing::warn!(error = %e, "cannot clean up after a dead shim"),
                Ok(_) => {}
            }
        } else if let Ok(Some(mut state)) = SandboxState::load(&state_dir) {
            if let Some(steps) = state.containers.remove(id) {
                kata_sandbox::host::cleanup::run_steps(&steps).await;
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
