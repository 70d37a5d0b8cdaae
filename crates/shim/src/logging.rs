//! Logs of the serving shim go to containerd's `log` FIFO in the bundle (stderr if absent).

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

pub fn init(debug: bool) {
    let level = if debug { "debug" } else { "info" };
    let filter = EnvFilter::try_from_env("KATA_SHIM_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let fifo = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("log");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let _ = match fifo {
        Ok(f) => {
            // Writes must block like a normal file once the FIFO is connected.
            let _ = nix::fcntl::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&f),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
            );
            builder.with_writer(Mutex::new(f)).try_init()
        }
        Err(_) => builder.with_writer(std::io::stderr).try_init(),
    };
}
