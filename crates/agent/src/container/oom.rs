//! GetOOMEvent: report containers whose cgroup saw an OOM kill (`oom_kill` in memory.events).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};

use crate::error::{AgentError, Result};

const POLL: Duration = Duration::from_millis(500);

pub struct OomEvents {
    tx: mpsc::UnboundedSender<String>,
    rx: Mutex<mpsc::UnboundedReceiver<String>>,
}

impl Default for OomEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl OomEvents {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        OomEvents {
            tx,
            rx: Mutex::new(rx),
        }
    }

    /// Watches `cgroup/memory.events` of container `id` until the cgroup disappears.
    /// Needs a tokio runtime; without one (plain unit tests) nothing is watched.
    pub fn watch(&self, id: &str, cgroup: &Path) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let tx = self.tx.clone();
        let id = id.to_string();
        let file: PathBuf = cgroup.join("memory.events");
        handle.spawn(async move {
            let mut seen = 0;
            loop {
                tokio::time::sleep(POLL).await;
                let Ok(text) = std::fs::read_to_string(&file) else {
                    return;
                };
                let kills = oom_kills(&text);
                if kills > seen {
                    seen = kills;
                    if tx.send(id.clone()).is_err() {
                        return;
                    }
                }
            }
        });
    }

    /// Waits for the next OOM event and returns the container id.
    pub async fn next(&self) -> Result<String> {
        self.rx
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| AgentError::Internal("oom event channel closed".into()))
    }
}

/// The `oom_kill` counter of a memory.events file.
pub fn oom_kills(text: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kill_counter_is_parsed() {
        assert_eq!(
            oom_kills("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n"),
            1
        );
        assert_eq!(oom_kills("low 0\n"), 0);
    }

    #[tokio::test]
    async fn a_new_oom_kill_is_reported_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("memory.events"), "oom 0\noom_kill 0\n").expect("write");
        let events = OomEvents::new();
        events.watch("c1", dir.path());
        tokio::time::sleep(POLL * 2).await;
        std::fs::write(dir.path().join("memory.events"), "oom 1\noom_kill 1\n").expect("write");
        let id = tokio::time::timeout(POLL * 4, events.next())
            .await
            .expect("event in time")
            .expect("event");
        assert_eq!(id, "c1");
        assert!(
            tokio::time::timeout(POLL * 4, events.next()).await.is_err(),
            "reported twice"
        );
    }
}
