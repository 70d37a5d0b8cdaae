//! `containerd-shim-kata-v2`: the containerd shim v2 that runs each pod in a Kata VM.
//!
//! The `start` action forks the serving shim and must run before any tokio runtime exists
//! (fork before async); `delete` and the serving shim run on a runtime built afterwards.

mod delete;
mod errors;
mod events;
mod logging;
mod monitor;
mod runtime_options;
mod service;
mod start;
mod task;

use std::io::Write;

use anyhow::Context;
use containerd_shim::Config;

/// The runtime id containerd knows this shim by.
pub const RUNTIME_ID: &str = "io.containerd.kata.v2";

fn main() {
    let args: Vec<_> = std::env::args_os().collect();
    let flags = match containerd_shim::parse(&args[1..]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{RUNTIME_ID}: {e}");
            std::process::exit(1);
        }
    };
    if flags.version {
        println!("containerd-shim-kata-v2 {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    if flags.action == "start" {
        // No runtime, no threads yet: spawning the daemon shim here is safe.
        match start::start(&flags) {
            Ok(address) => {
                let mut out = std::io::stdout();
                let _ = out.write_all(address.as_bytes()).and_then(|()| out.flush());
                return;
            }
            Err(e) => {
                eprintln!("{RUNTIME_ID}: start: {e:#}");
                std::process::exit(1);
            }
        }
    }
    if flags.action.is_empty() {
        logging::init(flags.debug, &flags.id);
        // Before the runtime starts any thread: unshare(CLONE_NEWNS) refuses a threaded caller.
        if let Err(e) = own_mount_namespace() {
            tracing::error!(error = %format!("{e:#}"), "cannot enter a private mount namespace");
            eprintln!("{RUNTIME_ID}: {e:#}");
            std::process::exit(1);
        }
    }
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{RUNTIME_ID}: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

/// Moves the serving shim into a mount namespace of its own, with `/` recursively a slave of the
/// host's: host mounts still propagate in (a volume mounted on the host later is seen), but the
/// sandbox's mounts (container rootfs, volumes, the shared directory) never appear in the host's
/// mount table, and the kernel drops them all when the shim and its children (QEMU, virtiofsd,
/// which inherit the namespace) are gone, even after a SIGKILL. As Kata's Go shim does.
///
/// Only the serving shim: `start` and `delete` run in containerd's namespace, so `delete` after
/// a SIGKILLed shim removes the directories from the host's view (the mounts died with the
/// namespace). Errors: `unshare(2)` or `mount(2)` failing (not root, no CAP_SYS_ADMIN).
fn own_mount_namespace() -> anyhow::Result<()> {
    use nix::mount::{mount, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .context("unshare(CLONE_NEWNS) for the shim's own mount namespace")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .context("making / a recursive slave in the shim's mount namespace")?;
    Ok(())
}

fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    let config = Config {
        no_setup_logger: true,
        default_log_level: "info".into(),
        // QEMU and its daemons are reaped by tokio's child handling, not a global waitpid.
        no_reaper: true,
        no_sub_reaper: true,
    };
    runtime.block_on(containerd_shim::asynchronous::run::<service::KataShim>(
        RUNTIME_ID,
        Some(config),
    ));
    // A stdin copy may sit in a blocking FIFO read nobody will ever satisfy: do not wait for it.
    runtime.shutdown_background();
    Ok(())
}
