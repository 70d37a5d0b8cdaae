//! Logging with `tracing`: to /dev/console as PID 1 (the VM's serial console), stderr otherwise.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as `info` or `debug`.
pub fn init(level: &str, to_console: bool) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_target(false);
    let console = to_console
        .then(|| OpenOptions::new().write(true).open("/dev/console").ok())
        .flatten();
    let _ = match console {
        Some(file) => builder.with_writer(Mutex::new(file)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}
