//! kata-agent: the guest side of a kata-rs sandbox.
//!
//! As PID 1 of the guest initramfs it mounts the basic file systems, loads kernel modules, enables
//! cgroup controllers, then serves `grpc.AgentService` and `grpc.Health` over ttRPC on vsock port
//! 1024 and powers the VM off after DestroySandbox. Outside a VM (tests) it runs as an ordinary
//! process: set `KATA_AGENT_SERVER_ADDR=unix:///path` and it registers as child subreaper so that
//! container processes are still its children.
//!
//! Everything that forks happens on one thread: PID 1 setup runs before the runtime exists, and the
//! runtime is tokio's current-thread flavour without a blocking pool in use, so libcontainer's
//! clone() never races another thread.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kata_agent::log_channel::LogChannel;
use kata_agent::{
    config, debug_console, init, logging, network, reaper, rpc, sandbox, serial_channel, storage,
    VERSION,
};
use tokio::sync::Notify;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("kata-agent {VERSION} (grpc.AgentService, grpc.Health; seccomp)");
        return ExitCode::SUCCESS;
    }
    let pid1 = nix::unistd::getpid().as_raw() == 1;
    let early = if pid1 {
        init::setup_pid1()
    } else {
        Ok(Default::default())
    };

    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let (mut cfg, cfg_warnings) =
        config::AgentConfig::from_cmdline(if pid1 { &cmdline } else { "" });
    cfg.apply_env(|k| std::env::var(k).ok());
    let host_log = (cfg.log_vport != 0).then(LogChannel::new);
    logging::init(&cfg.log_level, pid1, host_log.clone());
    match &early {
        Ok((warnings, timeline)) => {
            warnings
                .iter()
                .chain(cfg_warnings.iter())
                .for_each(|w| tracing::warn!("{w}"));
            if pid1 {
                tracing::info!(
                    init_ms = timeline.init_ms,
                    modules_ms = timeline.modules_ms,
                    "guest boot timeline (ms of guest uptime)"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "PID 1 setup failed"),
    }

    let result = run(cfg, pid1, host_log);
    if let Err(e) = &result {
        tracing::error!(error = ?e, "agent failed");
    }
    if pid1 {
        init::power_off();
    }
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(cfg: config::AgentConfig, pid1: bool, host_log: Option<LogChannel>) -> anyhow::Result<()> {
    if !pid1 {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        if rc != 0 {
            tracing::warn!(
                "cannot become child subreaper: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async move {
        // Up before any container starts: the pod's `lo` works as a runc container's does.
        if pid1 {
            if let Err(e) = network::loopback_up() {
                tracing::warn!(error = %e, "cannot bring lo up");
            }
        }
        // Bound before the ttRPC server: once the agent answers, the host can connect to its log.
        if let Some(channel) = &host_log {
            if let Err(e) = channel.serve(cfg.log_vport) {
                tracing::warn!(port = cfg.log_vport, error = %e, "no log channel to the host");
            }
        }
        let reaper = reaper::Reaper::new();
        reaper.spawn().context("installing the SIGCHLD handler")?;
        if cfg.debug_console {
            if let Err(e) = debug_console::spawn(cfg.debug_console_vport, reaper.clone()) {
                tracing::warn!(port = cfg.debug_console_vport, error = %e, "no debug console");
            }
        }
        let no_pivot = init::root_is_initramfs();
        tracing::info!(
            no_pivot,
            "containers use {}",
            if no_pivot {
                "MS_MOVE + chroot"
            } else {
                "pivot_root"
            }
        );
        let layout = match std::env::var_os("KATA_AGENT_TEST_ROOT") {
            Some(root) if !pid1 => sandbox::Layout::under(std::path::Path::new(&root)),
            _ => sandbox::Layout::guest(),
        };
        let sandbox = Arc::new(sandbox::Sandbox::new(
            layout,
            reaper,
            Arc::new(storage::SysMounter),
            no_pivot,
            Duration::from_secs(cfg.hotplug_timeout_secs),
        ));
        let shutdown = Arc::new(Notify::new());
        let service = rpc::Service::new(sandbox, pid1, shutdown.clone());
        tracing::info!(
            serving_ms = init::uptime_ms(),
            "agent serving (ms of guest uptime)"
        );
        // Only in a VM: a test agent outside one must not pick up the host's serial ports.
        let serial = if pid1 {
            serial_channel::listener()
        } else {
            None
        };
        rpc::serve(&cfg.server_addr, service, shutdown, serial).await
    })
}
