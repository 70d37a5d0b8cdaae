//! Process stdio as seen by the agent: non-blocking pipe ends or a pty master, polled by tokio.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::unix::AsyncFd;

use crate::error::{AgentError, Result};

/// Largest chunk handed out by one ReadStdout/ReadStderr (ttRPC messages are capped at 4 MiB).
pub const MAX_READ: usize = 1 << 20;

/// One end of a stdio stream.
pub struct FdStream {
    fd: AsyncFd<OwnedFd>,
}

impl FdStream {
    /// Wraps `fd`, switching it to non-blocking mode.
    pub fn new(fd: OwnedFd) -> Result<Self> {
        let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)
            .map_err(|e| AgentError::errno("reading flags of", "stdio fd", e))?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags))
            .map_err(|e| AgentError::errno("setting flags of", "stdio fd", e))?;
        // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, so it stays open and refers to the same
        // file description until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(fd) }
            .map_err(|e| AgentError::io("polling", "stdio fd", e.into()))?;
        Ok(FdStream { fd })
    }

    /// Reads up to `len` bytes, waiting until some are available. An empty result means end of file
    /// (a pty master reports the slave's last close as EIO, which counts as end of file too).
    pub async fn read(&self, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len.clamp(1, MAX_READ)];
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| {
                nix::unistd::read(fd.as_raw_fd(), &mut buf).map_err(std::io::Error::from)
            }) {
                Ok(Ok(n)) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(Vec::new()),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `data`.
    pub async fn write_all(&self, data: &[u8]) -> std::io::Result<usize> {
        let mut done = 0;
        while done < data.len() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| {
                nix::unistd::write(fd.get_ref().as_fd(), &data[done..])
                    .map_err(std::io::Error::from)
            }) {
                Ok(Ok(n)) => done += n,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(done)
    }
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| AgentError::errno("creating", "pipe", e))
}

/// Sets the window size of the terminal behind `fd` (a pty master).
pub fn set_winsize(fd: i32, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `winsize` from the pointer, which lives for the call.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    if rc < 0 {
        return Err(AgentError::io(
            "resizing",
            "terminal",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pipe_round_trip_and_eof() {
        let (r, w) = pipe().expect("pipe");
        let reader = FdStream::new(r).expect("reader");
        let writer = FdStream::new(w).expect("writer");
        assert_eq!(writer.write_all(b"hello").await.expect("write"), 5);
        assert_eq!(reader.read(3).await.expect("read"), b"hel");
        assert_eq!(reader.read(100).await.expect("read"), b"lo");
        drop(writer);
        assert!(reader.read(100).await.expect("eof").is_empty());
    }

    #[test]
    fn winsize_on_a_real_pty() {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        set_winsize(pty.master.as_raw_fd(), 40, 120).expect("resize");
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills the struct we pass.
        let rc = unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        assert_eq!(rc, 0);
        assert_eq!((ws.ws_row, ws.ws_col), (40, 120));
    }
}
