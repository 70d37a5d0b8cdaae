//! [`PidFd`]: a process that is not our child (a VM handed over by the VMCache server), watched
//! and signalled through a pidfd (`pidfd_open(2)`, Linux 5.3), so a pid reused after the
//! process ended is never signalled and its end is seen without being its parent.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A pidfd: readable once the process has ended (exited, reaped or not).
#[derive(Debug)]
pub struct PidFd {
    pid: u32,
    fd: AsyncFd<OwnedFd>,
}

impl PidFd {
    /// Opens a pidfd for `pid`. Errors: `ESRCH` when no such process exists (it has ended and
    /// been reaped), `ENOSYS` before Linux 5.3. Needs a tokio runtime.
    pub fn open(pid: u32) -> io::Result<Self> {
        let raw_pid = libc::pid_t::try_from(pid)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("pid {pid}")))?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw_pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
        // SAFETY: the kernel just returned `fd`, open and owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the descriptor is owned by the AsyncFd, which deregisters it before closing.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE)? };
        Ok(Self { pid, fd })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resolves once the process has ended.
    pub async fn exited(&self) {
        // A pidfd stays readable from the process's end on; an error means the same here.
        let _ = self.fd.readable().await;
    }

    /// True once the process has ended.
    pub fn has_exited(&self) -> bool {
        let mut fds = [libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
        n > 0 && fds[0].revents & libc::POLLIN != 0
    }

    /// Sends `signal` to the process (`pidfd_send_signal(2)`); an ended process is not an error.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        // SAFETY: pidfd_send_signal with a valid pidfd, a signal number, no siginfo, no flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Ok(());
            }
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sees_the_end_of_a_process_it_did_not_spawn_as_a_watcher() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let pidfd = PidFd::open(child.id()).expect("pidfd");
        assert!(!pidfd.has_exited());
        pidfd.signal(libc::SIGKILL).expect("kill");
        tokio::time::timeout(std::time::Duration::from_secs(5), pidfd.exited())
            .await
            .expect("seen within 5 s");
        assert!(pidfd.has_exited());
        let _ = child.wait();
        // Signalling an ended (and reaped) process is not an error.
        pidfd.signal(libc::SIGKILL).expect("no error after the end");
    }

    #[test]
    fn a_missing_process_is_esrch() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let _g = rt.enter();
        let err = PidFd::open(u32::MAX / 2).expect_err("no such pid");
        assert!(
            err.raw_os_error() == Some(libc::ESRCH) || err.kind() == io::ErrorKind::InvalidInput
        );
    }
}
