//! `containerd-shim-kata-v2`: the containerd shim v2 that runs each pod in a Kata VM.
//!
//! The `start` action forks the serving shim and must run before any tokio runtime exists
//! (fork before async); `delete` and the serving shim run on a runtime built afterwards.

mod delete;
mod errors;
mod events;
mod logging;
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
        logging::init(flags.debug);
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
