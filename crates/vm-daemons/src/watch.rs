//! [`DaemonWatch`]: a view of one daemon's end that outlives borrows of its handle, so that
//! whoever supervises the VM can notice a daemon dying (Kata's runtime treats the death of
//! virtiofsd as fatal to the sandbox; so do we, for vhost-device-vsock as well).

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::supervise::DaemonExit;

/// A cheap, cloneable view of a supervised daemon: its name, pid, end and the end of its stderr.
#[derive(Debug, Clone)]
pub struct DaemonWatch {
    name: &'static str,
    pid: Option<u32>,
    exit_rx: watch::Receiver<Option<DaemonExit>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl DaemonWatch {
    pub(crate) fn new(
        name: &'static str,
        pid: Option<u32>,
        exit_rx: watch::Receiver<Option<DaemonExit>>,
        stderr: Arc<Mutex<Vec<u8>>>,
    ) -> Self {
        Self {
            name,
            pid,
            exit_rx,
            stderr,
        }
    }

    /// The daemon's name (`virtiofsd`, `vhost-device-vsock`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The pid the daemon had when it was started.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// How the daemon ended, once it has ended and been reaped.
    pub fn exit(&self) -> Option<DaemonExit> {
        *self.exit_rx.borrow()
    }

    /// Resolves once the daemon has ended and been reaped (at once if it already has).
    pub async fn exited(&self) -> DaemonExit {
        let mut rx = self.exit_rx.clone();
        let unknown = DaemonExit {
            code: None,
            signal: None,
        };
        let exit = match rx.wait_for(Option::is_some).await {
            Ok(exit) => exit.unwrap_or(unknown),
            // The owner task is gone without a status: it can only have been reaped.
            Err(_) => unknown,
        };
        exit
    }

    /// The last bytes (up to 8 KiB) the daemon wrote to stderr, trimmed.
    pub fn stderr(&self) -> String {
        let buf = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).trim().to_string()
    }
}

/// The first of `watches` to end, with how it ended. Never resolves when `watches` is empty or
/// none of them ends.
pub async fn first_exit(watches: &[DaemonWatch]) -> (DaemonWatch, DaemonExit) {
    let mut set = tokio::task::JoinSet::new();
    for w in watches {
        let w = w.clone();
        set.spawn(async move {
            let exit = w.exited().await;
            (w, exit)
        });
    }
    loop {
        match set.join_next().await {
            Some(Ok(first)) => return first,
            // A watcher task cannot panic; should one, the others still count.
            Some(Err(_)) => continue,
            None => std::future::pending::<()>().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn watch_of(name: &'static str) -> (watch::Sender<Option<DaemonExit>>, DaemonWatch) {
        let (tx, rx) = watch::channel(None);
        let w = DaemonWatch::new(
            name,
            Some(7),
            rx,
            Arc::new(Mutex::new(b" oops \n".to_vec())),
        );
        (tx, w)
    }

    #[tokio::test]
    async fn first_exit_names_the_daemon_that_ended() {
        let (_keep, a) = watch_of("virtiofsd");
        let (tx, b) = watch_of("vhost-device-vsock");
        let ended = DaemonExit {
            code: None,
            signal: Some(9),
        };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tx.send(Some(ended));
        });
        let (w, exit) = tokio::time::timeout(Duration::from_secs(5), first_exit(&[a, b]))
            .await
            .expect("an end");
        assert_eq!(w.name(), "vhost-device-vsock");
        assert_eq!(exit, ended);
        assert_eq!(exit.to_string(), "signal 9");
        assert_eq!(w.stderr(), "oops");
        assert_eq!(w.pid(), Some(7));
    }

    #[tokio::test]
    async fn first_exit_waits_while_everything_runs() {
        let (_a_tx, a) = watch_of("virtiofsd");
        let pending = tokio::time::timeout(Duration::from_millis(100), first_exit(&[a])).await;
        assert!(pending.is_err(), "no daemon ended");
        let none = tokio::time::timeout(Duration::from_millis(50), first_exit(&[])).await;
        assert!(none.is_err(), "an empty list never resolves");
    }
}
