//! `kata-runtime exec <sandbox-id>`: a shell in the guest through the agent's debug console (as
//! Kata's `kata-runtime exec`). The shim's management socket tells whether the console is on
//! (`/debug-console`, its port) and how to reach the guest (`/agent-url`); the terminal is put in
//! raw mode and its size is sent in band at the start and on every SIGWINCH
//! (`kata_protocols::debug_console`).

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context};
use kata_agent_client::kata_protocols::debug_console::winsize_message;
use kata_agent_client::{hybrid_handshake, AgentAddress};
use kata_shim_interface::{ShimClient, AGENT_URL, DEBUG_CONSOLE, DEFAULT_SBS_DIR};
use nix::sys::termios::{self, SetArg, Termios};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

/// The terminal's end-of-file character (`^D`, `VEOF`'s default).
const EOT: u8 = 0x04;
/// How often it is sent once the input has ended.
const EOT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Runs the session; returns the exit code (0 when the guest closed the console).
pub fn run(sandbox_id: &str, port: Option<u32>) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    let result = runtime.block_on(session(sandbox_id, port));
    // The stdin reader may sit in a blocking read nobody will satisfy: do not wait for it.
    runtime.shutdown_background();
    result.map(|()| 0)
}

async fn session(sandbox_id: &str, port: Option<u32>) -> anyhow::Result<()> {
    let client = ShimClient::new(Path::new(DEFAULT_SBS_DIR), sandbox_id)?;
    let console = client.get(DEBUG_CONSOLE).await?;
    let console_port = match console.status {
        200 => console.body.trim().parse::<u32>().with_context(|| {
            format!(
                "sandbox {sandbox_id}: bad debug console port {:?}",
                console.body
            )
        })?,
        404 => bail!("sandbox {sandbox_id}: {}", console.body.trim()),
        status => bail!(
            "sandbox {sandbox_id}: GET {DEBUG_CONSOLE}: status {status}: {}",
            console.body.trim()
        ),
    };
    let port = port.unwrap_or(console_port);
    let url = client.get_text(AGENT_URL).await?;
    let address = AgentAddress::from_str(url.trim())
        .with_context(|| format!("sandbox {sandbox_id}: agent url {url:?}"))?;
    match address {
        AgentAddress::HybridVsock { uds_path, .. } => {
            let mut stream = tokio::net::UnixStream::connect(&uds_path)
                .await
                .with_context(|| format!("connecting to {}", uds_path.display()))?;
            hybrid_handshake(&mut stream, &uds_path, port)
                .await
                .with_context(|| format!("sandbox {sandbox_id}: debug console port {port}"))?;
            relay(stream).await
        }
        AgentAddress::Vsock { cid, .. } => {
            let stream = tokio_vsock::VsockStream::connect(tokio_vsock::VsockAddr::new(cid, port))
                .await
                .with_context(|| format!("connecting to vsock {cid}:{port}"))?;
            relay(stream).await
        }
        AgentAddress::Serial { .. } => bail!(
            "sandbox {sandbox_id}: the debug console needs a vsock agent channel, the agent is on a serial port"
        ),
    }
}

/// Copies the terminal to the console and back until the guest closes it.
async fn relay<S: AsyncRead + AsyncWrite>(stream: S) -> anyhow::Result<()> {
    let (mut from_guest, mut to_guest) = tokio::io::split(stream);
    let stdin_fd = std::io::stdin();
    let raw = RawMode::enter(stdin_fd.as_fd())?;
    if raw.is_some() {
        if let Some((rows, cols)) = window_size(stdin_fd.as_fd()) {
            to_guest.write_all(&winsize_message(rows, cols)).await?;
        }
    }
    let tty = raw.is_some();
    let upstream = async move {
        let mut winch = signal(SignalKind::window_change()).ok();
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 4096];
        loop {
            tokio::select! {
                n = stdin.read(&mut buf) => {
                    let n = n?;
                    if n == 0 {
                        // End of input (a pipe, a file): end-of-file characters on the guest's
                        // terminal until the shell exits, so it runs what it was given; its output
                        // still comes until the guest closes the console. Repeated because one
                        // that arrives before the shell reads its terminal raw is lost.
                        while to_guest.write_all(&[EOT]).await.is_ok() {
                            tokio::time::sleep(EOT_EVERY).await;
                        }
                        return std::io::Result::Ok(());
                    }
                    to_guest.write_all(&buf[..n]).await?;
                }
                Some(()) = async { winch.as_mut()?.recv().await }, if tty => {
                    if let Some((rows, cols)) = window_size(std::io::stdin().as_fd()) {
                        to_guest.write_all(&winsize_message(rows, cols)).await?;
                    }
                }
            }
        }
    };
    let downstream = async move {
        let mut stdout = tokio::io::stdout();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = from_guest.read(&mut buf).await?;
            if n == 0 {
                return std::io::Result::Ok(());
            }
            stdout.write_all(&buf[..n]).await?;
            stdout.flush().await?;
        }
    };
    tokio::pin!(downstream);
    let result = tokio::select! {
        r = &mut downstream => r,
        r = upstream => match r {
            // Input ended: the rest of the shell's output still comes until the guest closes.
            Ok(()) => downstream.await,
            Err(e) => Err(e),
        },
    };
    drop(raw);
    result.context("debug console")
}

/// The terminal's size, when `fd` is one.
fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize through a valid pointer; fd is open for the call.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            libc::TIOCGWINSZ,
            &mut size,
        )
    };
    (rc == 0 && size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// The terminal in raw mode while alive; restored on drop. `None` when stdin is no terminal.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter(fd: BorrowedFd<'_>) -> anyhow::Result<Option<Self>> {
        let Ok(saved) = termios::tcgetattr(fd) else {
            return Ok(None);
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).context("setting the terminal raw")?;
        Ok(Some(Self { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}
