//! Logs of the serving shim go to containerd's `log` FIFO in the bundle (stderr if absent); containerd
//! copies them into its own log, so they outlive the pod. The level is `info` (`debug` when
//! containerd runs the shim with `-debug`), raised to `debug` by `[runtime] enable_debug` once the
//! configuration is read; `KATA_SHIM_LOG` (an `EnvFilter` directive) overrides both.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

const ENV_FILTER: &str = "KATA_SHIM_LOG";

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

pub fn init(debug: bool) {
    let level = if debug { "debug" } else { "info" };
    let filter = EnvFilter::try_from_env(ENV_FILTER).unwrap_or_else(|_| EnvFilter::new(level));
    let (filter, handle) = reload::Layer::new(filter);
    let fifo = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("log");
    let layer = fmt::layer().with_ansi(false);
    let writer: fmt::writer::BoxMakeWriter = match fifo {
        Ok(f) => {
            // Writes must block like a normal file once the FIFO is connected.
            let _ = nix::fcntl::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&f),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
            );
            fmt::writer::BoxMakeWriter::new(Mutex::new(f))
        }
        Err(_) => fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(layer.with_writer(writer))
        .try_init();
    if installed.is_ok() {
        let _ = FILTER.set(handle);
    }
}

/// Raises the level to `debug` (`[runtime] enable_debug`), unless `KATA_SHIM_LOG` chose one.
pub fn set_debug(debug: bool) {
    if !debug || std::env::var_os(ENV_FILTER).is_some() {
        return;
    }
    if let Some(handle) = FILTER.get() {
        if let Err(e) = handle.reload(EnvFilter::new("debug")) {
            tracing::warn!(error = %e, "cannot raise the log level to debug");
        } else {
            tracing::debug!("enable_debug: logging at debug");
        }
    }
}
