//! Logs of the serving shim go to containerd's `log` FIFO in the bundle (stderr if absent); containerd
//! copies them into its own log, so they outlive the pod. Every line ends with `sandbox=<id>` (the
//! id the shim was started for), so the lines of pods started together can be told apart. The
//! level is `info` (`debug` when containerd runs the shim with `-debug`), raised to `debug` by
//! `[runtime] enable_debug` once the configuration is read (the agent's records by `[agent.kata]
//! enable_debug`); `KATA_SHIM_LOG` (an `EnvFilter` directive) overrides them.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Mutex, OnceLock};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

const ENV_FILTER: &str = "KATA_SHIM_LOG";
/// `info`, without the ttRPC client's warning about cancelling a call that had already returned
/// (logged on every teardown; the calls' own errors reach us as results).
const QUIET_INFO: &str = "info,ttrpc::asynchronous::client=error";

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The default line format with ` sandbox=<id>` at the end.
struct WithSandbox {
    inner: Format,
    suffix: String,
}

impl<S, N> FormatEvent<S, N> for WithSandbox
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let body = line.trim_end_matches('\n');
        // Events that name their sandbox already (the agent's records) keep that one only.
        if body.contains(" sandbox=") {
            writeln!(writer, "{body}")
        } else {
            writeln!(writer, "{body}{}", self.suffix)
        }
    }
}

/// Installs the shim's subscriber; `sandbox_id` is the id the shim was started for.
pub fn init(debug: bool, sandbox_id: &str) {
    let level = if debug { "debug" } else { QUIET_INFO };
    let filter = EnvFilter::try_from_env(ENV_FILTER).unwrap_or_else(|_| EnvFilter::new(level));
    let (filter, handle) = reload::Layer::new(filter);
    let fifo = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("log");
    let layer = fmt::layer()
        .with_ansi(false)
        .fmt_fields(DefaultFields::new())
        .event_format(WithSandbox {
            inner: fmt::format().with_ansi(false),
            suffix: format!(" sandbox={sandbox_id}"),
        });
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

/// Raises the level to `debug` (`[runtime] enable_debug`), or only that of the agent's records
/// (`[agent.kata] enable_debug`), unless `KATA_SHIM_LOG` chose one.
pub fn set_debug(runtime: bool, agent: bool) {
    if !(runtime || agent) || std::env::var_os(ENV_FILTER).is_some() {
        return;
    }
    let directive = if runtime {
        "debug".to_string()
    } else {
        format!("{QUIET_INFO},kata_agent=debug")
    };
    if let Some(handle) = FILTER.get() {
        if let Err(e) = handle.reload(EnvFilter::new(&directive)) {
            tracing::warn!(error = %e, "cannot raise the log level to debug");
        } else {
            tracing::debug!(%directive, "enable_debug: log filter raised");
        }
    }
}
