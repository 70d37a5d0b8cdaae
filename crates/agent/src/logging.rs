//! Logging with `tracing`: to /dev/console as PID 1 (the VM's serial console), stderr otherwise,
//! and, when the runtime asked for it (`agent.log_vport`), as JSON lines to the host through a
//! [`LogChannel`].
//!
//! The log goes to a private, close-on-exec descriptor, never to fd 2 itself: libcontainer's child
//! processes log too, after they have pointed fd 2 at the container's stderr, and their lines must
//! not end up in the container's output.

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::log_channel::LogChannel;

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as `info` or `debug`
/// (Kata's `agent.log`); an unparsable one means `info`.
pub fn init(level: &str, to_console: bool, host: Option<LogChannel>) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
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
    // With the host reading the log channel, the console keeps warnings and errors only (they
    // still show in a failed boot's console tail); each record reaches the host's log once.
    let console_level = if host.is_some() {
        tracing_subscriber::filter::LevelFilter::WARN
    } else {
        tracing_subscriber::filter::LevelFilter::TRACE
    };
    let local = sink.map(|file| {
        fmt::layer()
            .with_ansi(false)
            .with_target(false)
            .with_writer(Mutex::new(file))
            .with_filter(console_level)
    });
    let remote = host.map(|channel| {
        fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_writer(channel)
            .boxed()
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(local)
        .with(remote)
        .try_init();
}
