//! GetOOMEvent: report containers whose cgroup saw an OOM kill (`oom_kill` in memory.events).
//!
//! Each container's `memory.events` is watched with inotify (cgroup v2 signals changes of that file
//! as IN_MODIFY), so an idle sandbox causes no wake-ups.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, Mutex};

use crate::error::{AgentError, Result};

pub struct OomEvents {
    tx: mpsc::UnboundedSender<String>,
    rx: Mutex<mpsc::UnboundedReceiver<String>>,
}

impl Default for OomEvents {
    fn default() -> Self {
        Self::new()
    }
}

/// An inotify instance usable with `AsyncFd`.
struct Watch(Inotify);

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
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
    /// Needs a tokio runtime; without one, or without the file, nothing is watched.
    pub fn watch(&self, id: &str, cgroup: &Path) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let file: PathBuf = cgroup.join("memory.events");
        let watch = match Self::inotify(&file) {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!(container = id, error = %e, "no OOM watch");
                return;
            }
        };
        let _guard = handle.enter();
        // SAFETY: the inotify descriptor is owned by `Watch`, which the AsyncFd owns until dropped.
        let Ok(watch) = (unsafe { AsyncFd::register(watch) }) else {
            return;
        };
        let tx = self.tx.clone();
        let id = id.to_string();
        handle.spawn(async move {
            let mut seen = std::fs::read_to_string(&file)
                .map(|t| oom_kills(&t))
                .unwrap_or(0);
            loop {
                let Ok(mut ready) = watch.readable().await else {
                    return;
                };
                let events = match ready
                    .try_io(|w| w.get_ref().0.read_events().map_err(std::io::Error::from))
                {
                    Ok(Ok(events)) => events,
                    Ok(Err(_)) => return,
                    Err(_would_block) => continue,
                };
                if events
                    .iter()
                    .any(|e| e.mask.contains(AddWatchFlags::IN_IGNORED))
                {
                    return; // the cgroup (and its file) is gone
                }
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

    fn inotify(file: &Path) -> Result<Watch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| AgentError::errno("creating", "inotify", e))?;
        inotify
            .add_watch(file, AddWatchFlags::IN_MODIFY)
            .map_err(|e| AgentError::errno("watching", file, e))?;
        Ok(Watch(inotify))
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
        std::fs::write(dir.path().join("memory.events"), "oom 1\noom_kill 0\n").expect("write");
        let wait = std::time::Duration::from_millis(300);
        assert!(
            tokio::time::timeout(wait, events.next()).await.is_err(),
            "no kill yet"
        );
        std::fs::write(dir.path().join("memory.events"), "oom 1\noom_kill 1\n").expect("write");
        let id = tokio::time::timeout(wait * 10, events.next())
            .await
            .expect("event in time")
            .expect("event");
        assert_eq!(id, "c1");
        assert!(
            tokio::time::timeout(wait, events.next()).await.is_err(),
            "reported twice"
        );
    }
}
