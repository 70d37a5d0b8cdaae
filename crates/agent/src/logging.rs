//! Logging with `tracing`: to /dev/console as PID 1 (the VM's serial console), stderr otherwise.
//!
//! The log goes to a private, close-on-exec descriptor, never to fd 2 itself: libcontainer's child
//! processes log too, after they have pointed fd 2 at the container's stderr, and their lines must
//! not end up in the container's output.

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as `info` or `debug`.
pub fn init(level: &str, to_console: bool) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false);
    let sink: Option<File> = if to_console {
        OpenOptions::new().write(true).open("/dev/console").ok()
    } else {
        // try_clone_to_owned duplicates with F_DUPFD_CLOEXEC.
        std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(File::from)
    };
    let _ = match sink {
        Some(file) => builder.with_writer(Mutex::new(file)).try_init(),
        None => builder.with_writer(std::io::sink).try_init(),
    };
}
