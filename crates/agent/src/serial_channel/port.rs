//! A virtio-serial port device (`/dev/vportNpM`) as seen by the bridge.
//!
//! The port's `poll` reports `POLLHUP` for as long as no host is connected (Linux
//! drivers/char/virtio_console.c), and reads then return 0. Tokio treats a hang-up as final and
//! would wake the bridge in a loop, so the port is watched through an epoll instance of its own
//! with edge-triggered interest: that instance becomes readable only when the port's wait queue is
//! woken (data from the host, the host connecting or going away, room to write), and tokio
//! watches the instance instead of the port.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::bridge::PortIo;

/// The epoll instance watching the port, as a descriptor tokio can register.
struct Watcher(Epoll);

impl AsRawFd for Watcher {
    fn as_raw_fd(&self) -> RawFd {
        self.0 .0.as_raw_fd()
    }
}

/// An open virtio-serial port, non-blocking.
pub struct VirtioPort {
    file: File,
    watcher: AsyncFd<Watcher>,
}

impl VirtioPort {
    /// Opens the port at `path` (read-write, non-blocking) and watches it. A port can be open
    /// once at a time. Must run inside a tokio runtime.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLET;
        epoll.add(&file, EpollEvent::new(flags, 0))?;
        // SAFETY: `Watcher` owns the epoll descriptor and always returns that one; it is closed
        // only when the `AsyncFd` (and the `Watcher` inside) is dropped.
        let watcher =
            unsafe { AsyncFd::register_with_interest(Watcher(epoll), Interest::READABLE) }?;
        Ok(VirtioPort { file, watcher })
    }

    async fn wait_event(&self) -> io::Result<()> {
        let mut guard = self.watcher.readable().await?;
        // Empties the instance's ready list; an event after this makes it readable again.
        let mut events = [EpollEvent::empty(); 4];
        while self
            .watcher
            .get_ref()
            .0
            .wait(&mut events, EpollTimeout::ZERO)?
            == events.len()
        {}
        guard.clear_ready();
        Ok(())
    }
}

impl PortIo for VirtioPort {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.file).write(buf)
    }

    fn wait(&self) -> impl Future<Output = io::Result<()>> + Send {
        self.wait_event()
    }
}
