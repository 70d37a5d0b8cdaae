//! WaitProcess: the exit code of a process (128 + N when killed by signal N).
//!
//! An exec'd process is forgotten once it has been waited for and its output has been read to the
//! end (or after a grace period, for output nobody reads), so that exec probes of a long-lived pod
//! do not pile up.

use std::sync::Arc;
use std::time::Duration;

use super::Container;
use crate::error::Result;
use crate::sandbox::Sandbox;

/// How long a waited-for exec keeps its unread output available.
const OUTPUT_GRACE: Duration = Duration::from_secs(30);

pub async fn wait(sb: &Sandbox, id: &str, exec_id: &str) -> Result<i32> {
    let container = sb.container(id)?;
    let process = container.process(exec_id)?;
    let code = process.wait().await;
    if !Arc::ptr_eq(&process, &container.init) {
        forget_when_drained(container, process.exec_id.clone());
    }
    Ok(code)
}

fn forget_when_drained(container: Arc<Container>, exec_id: String) {
    tokio::spawn(async move {
        let Ok(process) = container.process(&exec_id) else {
            return;
        };
        let deadline = tokio::time::Instant::now() + OUTPUT_GRACE;
        while !process.drained() {
            if tokio::time::timeout_at(deadline, process.eof_notified())
                .await
                .is_err()
            {
                break;
            }
        }
        container.forget_exec(&exec_id);
    });
}
