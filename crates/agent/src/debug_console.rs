//! Debug console (Kata's `agent.debug_console`): a shell on a pty for each connection to a vsock port
//! (1026 by default). The image ships busybox's shell unless built with `DEBUG_CONSOLE=0`. The
//! host may set the terminal size in band (`kata_protocols::debug_console`).

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use kata_protocols::debug_console::WinsizeFilter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_vsock::{VsockAddr, VsockListener, VsockStream, VMADDR_CID_ANY};

use crate::container::io::FdStream;
use crate::reaper::Reaper;

const SHELLS: &[&str] = &["/bin/bash", "/bin/sh"];

/// Listens on `port` and serves every connection with a shell.
pub fn spawn(port: u32, reaper: Reaper) -> std::io::Result<()> {
    let listener = VsockListener::bind(VsockAddr::new(VMADDR_CID_ANY, port))?;
    tracing::info!(port, "debug console listening");
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            tracing::warn!(%peer, "debug console connection");
            let reaper = reaper.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, reaper).await {
                    tracing::warn!(error = %e, "debug console session ended");
                }
            });
        }
    });
    Ok(())
}

async fn serve(mut stream: VsockStream, reaper: Reaper) -> std::io::Result<()> {
    let Some(shell) = SHELLS.iter().find(|s| std::path::Path::new(s).exists()) else {
        stream.write_all(b"no shell in this guest image\n").await?;
        return Ok(());
    };
    let pty = nix::pty::openpty(None, None).map_err(std::io::Error::from)?;
    let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
    let mut cmd = Command::new(shell);
    cmd.stdin(stdio(&pty.slave)?)
        .stdout(stdio(&pty.slave)?)
        .stderr(stdio(&pty.slave)?);
    // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // The command holds its copies of the slave: gone, the master reads EOF once the shell exits.
    drop(cmd);
    // The reaper owns the exit status; the handle only tells us the pid.
    let pid = child.id() as i32;
    let exit = reaper.watch(pid);
    drop(child);
    drop(pty.slave);
    let resize_fd = pty.master.try_clone()?;
    let master = FdStream::new(pty.master).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut filter = WinsizeFilter::new();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = stream.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    break;
                }
                let input = filter.feed(&buf[..n]);
                for (rows, cols) in input.sizes {
                    set_winsize(&resize_fd, rows, cols);
                }
                if !input.data.is_empty() {
                    master.write_all(&input.data).await?;
                }
            }
            out = master.read(4096) => {
                let out = out?;
                if out.is_empty() {
                    break;
                }
                stream.write_all(&out).await?;
            }
        }
    }
    if exit.borrow().is_none() {
        // The peer went away first: hang up the shell's session (it leads its process group).
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        );
    }
    Ok(())
}

/// Sets the pty's window size; the kernel sends SIGWINCH to the shell's foreground group.
fn set_winsize(master: &OwnedFd, rows: u16, cols: u16) {
    use std::os::fd::AsRawFd;
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer; the fd is an open pty master.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if rc < 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot resize the debug console");
    }
}
