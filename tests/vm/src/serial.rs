//! One test VM at a time per machine: TCG guests on two shared cores boot faster one after the
//! other than together, and RPC timeouts stay meaningful. An exclusive `flock` on this crate's
//! directory (nothing is created; a file in the temp directory if the source tree is gone), held
//! for the life of the VM, serializes tests across threads and test binaries.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{HarnessError, Result};

/// Fallback lock file in `std::env::temp_dir()`.
pub const LOCK_FILE: &str = "kata-vm-tests.lock";

/// Holds the machine-wide test VM lock until dropped.
#[derive(Debug)]
pub struct SerialGuard {
    _lock: Flock<File>,
}

impl SerialGuard {
    /// Waits (without blocking the async runtime) until no other test VM holds the lock.
    pub async fn acquire() -> Result<Self> {
        let (path, file) = open_lock_target()?;
        let locked =
            tokio::task::spawn_blocking(move || Flock::lock(file, FlockArg::LockExclusive))
                .await
                .map_err(|e| {
                    HarnessError::io("locking", &path, std::io::Error::other(e.to_string()))
                })?;
        let lock = locked.map_err(|(_, errno)| lock_error(path, errno))?;
        Ok(SerialGuard { _lock: lock })
    }
}

fn open_lock_target() -> Result<(PathBuf, File)> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Ok(dir) = File::open(crate_dir) {
        return Ok((crate_dir.to_path_buf(), dir));
    }
    let path = std::env::temp_dir().join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| HarnessError::io("opening lock file", &path, e))?;
    Ok((path, file))
}

fn lock_error(path: PathBuf, errno: nix::errno::Errno) -> HarnessError {
    HarnessError::io("locking", path, std::io::Error::from(errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_waits_for_the_first() {
        let first = SerialGuard::acquire().await.expect("first");
        let second = tokio::spawn(SerialGuard::acquire());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "lock was not exclusive");
        drop(first);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), second)
            .await
            .expect("second got the lock after the first let go");
        assert!(got.expect("join").is_ok());
    }
}
