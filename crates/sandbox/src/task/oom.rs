//! The OOM event watcher: `GetOOMEvent` long polls, handed to the sandbox task as
//! [`Internal::Oom`].
//!
//! The guest controls both the answers and their pace, so the loop is bounded on both sides: a
//! failing call is retried after an exponential backoff (100 ms doubling to 10 s, reset by an
//! answer), successive calls are at least 50 ms apart (at most 20 calls a second however fast the
//! guest answers), and one container gets at most one event a second: the others are dropped
//! and counted in the log. Kata's shim (`watchOOMEvents`) also retries failed calls after a pause
//! and stops when the agent does not implement the call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::actor::Internal;
use crate::agent::Agent;
use crate::error::ErrorKind;

/// Containers whose last event time is remembered; older entries are pruned first.
const MAX_TRACKED: usize = 64;
/// Longest container id taken from the guest (containerd's ids are at most 76 bytes).
const MAX_ID_LEN: usize = 256;

/// The bounds of the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OomLimits {
    /// Pause after the first failed call; doubles after each further failure.
    pub min_backoff: Duration,
    /// Longest pause between failed calls.
    pub max_backoff: Duration,
    /// Pause after each answered call.
    pub min_interval: Duration,
    /// At most one event per container within this window.
    pub per_container: Duration,
}

impl Default for OomLimits {
    fn default() -> Self {
        Self {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            min_interval: Duration::from_millis(50),
            per_container: Duration::from_secs(1),
        }
    }
}

/// Starts the watcher; it ends when the agent does not implement `GetOOMEvent`, when the
/// task is gone, or when the handle is aborted (the VM stopped).
pub(crate) fn spawn_oom_watch(
    agent: Arc<dyn Agent>,
    tx: UnboundedSender<Internal>,
    limits: OomLimits,
) -> JoinHandle<()> {
    tokio::spawn(watch(agent, tx, limits))
}

/// Per-container rate limit of OOM events, with a bounded memory.
struct Coalescer {
    window: Duration,
    last: HashMap<String, Instant>,
    dropped: u64,
}

impl Coalescer {
    fn new(window: Duration) -> Self {
        Self {
            window,
            last: HashMap::new(),
            dropped: 0,
        }
    }

    /// Whether an event of `container_id` at `now` goes out.
    fn admit(&mut self, container_id: &str, now: Instant) -> bool {
        let window = self.window;
        if self.last.len() >= MAX_TRACKED {
            self.last.retain(|_, t| now.duration_since(*t) < window);
        }
        let recent = self
            .last
            .get(container_id)
            .is_some_and(|t| now.duration_since(*t) < window);
        if recent || self.last.len() >= MAX_TRACKED || container_id.len() > MAX_ID_LEN {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::warn!(
                    container = %container_id.chars().take(MAX_ID_LEN).collect::<String>(),
                    dropped = self.dropped,
                    "oom events coalesced: the guest reports them faster than one a second"
                );
            }
            return false;
        }
        self.last.insert(container_id.to_owned(), now);
        true
    }
}

async fn watch(agent: Arc<dyn Agent>, tx: UnboundedSender<Internal>, limits: OomLimits) {
    let mut backoff = limits.min_backoff;
    let mut coalescer = Coalescer::new(limits.per_container);
    loop {
        match agent.get_oom_event().await {
            Ok(container_id) => {
                backoff = limits.min_backoff;
                if coalescer.admit(&container_id, Instant::now())
                    && tx.send(Internal::Oom { container_id }).is_err()
                {
                    return;
                }
                tokio::time::sleep(limits.min_interval).await;
            }
            Err(e) if e.kind == ErrorKind::Unimplemented => {
                tracing::debug!(error = %e, "the agent has no oom events");
                return;
            }
            Err(e) => {
                if tx.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, retry_in = ?backoff, "GetOOMEvent failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(limits.max_backoff);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_container_per_window_and_bounded_memory() {
        let mut c = Coalescer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(c.admit("c1", t0));
        assert!(!c.admit("c1", t0 + Duration::from_millis(500)));
        assert!(c.admit("c2", t0 + Duration::from_millis(500)));
        assert!(c.admit("c1", t0 + Duration::from_millis(1000)));
        // A guest naming ever new containers cannot grow the map past its bound.
        for i in 0..10_000u32 {
            c.admit(&format!("x{i}"), t0 + Duration::from_millis(1500));
        }
        assert!(c.last.len() <= MAX_TRACKED, "{} tracked", c.last.len());
        // Nor keep a guest's giant id.
        assert!(!c.admit(&"y".repeat(1 << 20), t0 + Duration::from_secs(5)));
    }
}
