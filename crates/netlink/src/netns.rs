//! Acting in another network namespace: a short-lived thread enters it (`setns(2)`) and runs the
//! work there, so the caller's threads never change namespace. Sockets opened by the work keep the
//! namespace they were opened in.

use std::os::fd::AsFd;
use std::path::Path;

use nix::sched::{setns, CloneFlags};

use crate::error::{Error, Result};

/// Runs `work` on a thread inside the network namespace at `path` (`/var/run/netns/<name>`,
/// `/proc/<pid>/ns/net`). Errors: the namespace cannot be opened or entered; `work`'s own.
pub fn run_in<T, F>(path: &Path, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let netns_err = |source: std::io::Error| Error::Netns {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(netns_err)?;
    let thread = std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || {
            setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
            Ok::<_, std::io::Error>(work())
        })
        .map_err(netns_err)?;
    match thread.join() {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(netns_err(e)),
        Err(_) => Err(netns_err(std::io::Error::other(
            "the netns thread panicked",
        ))),
    }
}
