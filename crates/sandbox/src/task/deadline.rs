//! Deadlines of agent calls: a guest that stops answering costs a request its deadline, never
//! the sandbox task.
//!
//! Kata's runtime gives `CreateContainer` the configured `create_container_timeout` (60 s by
//! default) and other requests its default request timeout (60 s); the long polls
//! (`WaitProcess`, `ReadStdout`/`ReadStderr`, `GetOOMEvent`) have none. The quick calls here get
//! a shorter deadline of their own.

use std::future::Future;
use std::time::Duration;

use crate::agent::AgentResult;
use crate::error::{Error, Result};

/// How long the sandbox waits for each kind of agent call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentTimeouts {
    /// `CreateContainer`: `[runtime] create_container_timeout`, 60 s by default.
    pub create_container: Duration,
    /// Calls that change the guest: `CreateSandbox`, `StartContainer`, `ExecProcess`,
    /// `PauseContainer`, `ResumeContainer`, `UpdateContainer`, and `RemoveContainer` (which gets
    /// its own removal timeout on top): 60 s, Kata's default request timeout.
    pub request: Duration,
    /// Quick calls: `SignalProcess`, `TtyWinResize`, `CloseStdin`, `StatsContainer`: 10 s.
    pub quick: Duration,
    /// `grpc.Health/Check` after a SIGKILL got no answer: 3 s. An agent that misses it is
    /// taken for dead and its VM is stopped.
    pub health: Duration,
}

impl Default for AgentTimeouts {
    fn default() -> Self {
        Self {
            create_container: Duration::from_secs(60),
            request: Duration::from_secs(60),
            quick: Duration::from_secs(10),
            health: Duration::from_secs(3),
        }
    }
}

/// Awaits `call` for at most `after`; past it, fails with [`Error::AgentDeadline`] naming
/// `name` and `container_id`. An agent error becomes [`Error::Agent`].
pub(crate) async fn with_deadline<T>(
    name: &'static str,
    container_id: &str,
    after: Duration,
    call: impl Future<Output = AgentResult<T>>,
) -> Result<T> {
    match tokio::time::timeout(after, call).await {
        Ok(result) => result.map_err(Error::agent(name)),
        Err(_) => {
            tracing::warn!(
                call = name,
                container = container_id,
                ?after,
                "agent call timed out"
            );
            Err(Error::AgentDeadline {
                call: name,
                container_id: container_id.to_owned(),
                after,
            })
        }
    }
}
