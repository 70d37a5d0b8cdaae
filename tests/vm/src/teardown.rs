//! Teardown that always runs: on drop (normal end or panic) every tracked child process is killed
//! and the temporary directory removed, without needing the async runtime.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

/// How long drop waits for killed processes to die before removing the directory.
const KILL_WAIT: Duration = Duration::from_secs(3);

/// Owns a test VM's temporary directory and the pids of its QEMU and daemons.
#[derive(Debug)]
pub struct Teardown {
    dir: Option<TempDir>,
    path: PathBuf,
    children: Vec<(&'static str, u32)>,
}

impl Teardown {
    /// Takes ownership of `dir`.
    pub fn new(dir: TempDir) -> Self {
        let path = dir.path().to_path_buf();
        Teardown {
            dir: Some(dir),
            path,
            children: Vec::new(),
        }
    }

    /// The temporary directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Kills `pid` (named `what` in messages) on drop, if it is still a child of this process.
    pub fn track(&mut self, what: &'static str, pid: Option<u32>) {
        if let Some(pid) = pid {
            self.children.push((what, pid));
        }
    }

    /// The tracked processes still alive (not exited, not a zombie).
    pub fn alive(&self) -> Vec<(&'static str, u32)> {
        self.children
            .iter()
            .copied()
            .filter(|(_, pid)| running_child(*pid))
            .collect()
    }

    /// Kills what is left and waits (bounded) until it is dead.
    pub fn kill_all(&self) {
        for (what, pid) in self.alive() {
            eprintln!("teardown: killing {what} (pid {pid})");
            if let Ok(raw) = i32::try_from(pid) {
                let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
            }
        }
        let deadline = Instant::now() + KILL_WAIT;
        while !self.alive().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for (what, pid) in self.alive() {
            eprintln!("teardown: {what} (pid {pid}) survived SIGKILL");
        }
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        self.kill_all();
        if let Some(dir) = self.dir.take() {
            if let Err(e) = dir.close() {
                eprintln!("teardown: cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// Whether `pid` is a running (not zombie) process whose parent is this process. Checking the
/// parent means a recycled pid is never signalled: our children stay ours until we reap them.
fn running_child(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next();
    let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
    ppid == Some(std::process::id()) && !matches!(state, Some("Z" | "X"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_kills_children_and_removes_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("file"), b"x").expect("write");
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep");
        let mut t = Teardown::new(dir);
        t.track("sleep", Some(child.id()));
        assert_eq!(t.alive().len(), 1);
        drop(t);
        let status = child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(!path.exists());
    }

    #[test]
    fn foreign_pids_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = Teardown::new(dir);
        t.track("init", Some(1));
        assert!(t.alive().is_empty(), "pid 1 is not our child");
    }
}
