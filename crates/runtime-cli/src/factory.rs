//! `kata-runtime factory init|status|destroy`: the VM factory of `[factory]` (Kata's
//! `kata-runtime factory`, cli/factory.go).
//!
//! With `vm_cache_number > 0`, `init` runs the VMCache server in the foreground on
//! `vm_cache_endpoint` until `destroy` (gRPC `Quit`), SIGINT or SIGTERM; `status` lists the
//! cached VMs; `destroy` stops the server and its VMs, and what a killed server left behind.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use kata_config::{Config, HostFacts};
use kata_factory::client::CacheClient;
use kata_factory::server::CacheServer;
use kata_sandbox::backend::base_vm::{self, CacheBooter};

use crate::cli::FactoryAction;

/// How long `status`/`destroy` wait for the server to answer.
const ANSWER: Duration = Duration::from_secs(2);
/// How long `destroy` waits for the server to stop its VMs and go.
const QUIT_WAIT: Duration = Duration::from_secs(60);

/// Runs `action` with the configuration at `explicit` (or the default lookup).
pub fn run(action: FactoryAction, explicit: Option<&Path>) -> anyhow::Result<u8> {
    let loaded =
        Config::load(explicit, &HostFacts::detect()).context("cannot load the configuration")?;
    for w in &loaded.warnings {
        eprintln!("kata-runtime: config: {w}");
    }
    let config = loaded.config;
    let f = &config.factory;
    if !f.enabled() {
        println!(
            "vm factory is not enabled ([factory] enable_template = false, vm_cache_number = 0 in {})",
            loaded.source.display()
        );
        return Ok(0);
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if f.vm_cache_number > 0 {
        return match action {
            FactoryAction::Init => rt.block_on(serve_cache(config)),
            FactoryAction::Status => rt.block_on(cache_status(&config)),
            FactoryAction::Destroy => rt.block_on(destroy_cache(&config)),
        };
    }
    crate::template::run(action, &config, &rt)
}

async fn serve_cache(config: Config) -> anyhow::Result<u8> {
    init_logging();
    let endpoint = config.factory.vm_cache_endpoint.clone();
    // What a killed server of this endpoint left goes first (never a live server's).
    if CacheClient::connect(&endpoint, ANSWER).await.is_err() {
        for id in stop_leftovers(&endpoint).await? {
            eprintln!("kata-runtime: stopped cached VM {id} left by a server that did not quit");
        }
    }
    let number = config.factory.vm_cache_number;
    let grpc_config =
        base_vm::grpc_config(&config).context("cannot serialize the configuration")?;
    let booter = CacheBooter::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let server = CacheServer::new(&endpoint, number, grpc_config, Arc::new(booter));
    let served = server.serve(shutdown_signal()).await;
    // Handed-out VMs' handles must not be dropped (that kills them): end here, now.
    match served {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("kata-runtime: {e}");
            std::process::exit(1)
        }
    }
}

/// The cached VMs a killed server of `endpoint` left, stopped (off the async threads: it waits
/// for them to go); returns their ids.
async fn stop_leftovers(endpoint: &Path) -> anyhow::Result<Vec<String>> {
    let endpoint = endpoint.to_owned();
    tokio::task::spawn_blocking(move || base_vm::stop_leftovers(&endpoint))
        .await
        .context("stopping leftover VMs")
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

async fn cache_status(config: &Config) -> anyhow::Result<u8> {
    let endpoint = &config.factory.vm_cache_endpoint;
    let mut client = match CacheClient::connect(endpoint, ANSWER).await {
        Ok(c) => c,
        Err(_) => {
            let stale = if endpoint.exists() {
                " (its socket is there: the server was killed)"
            } else {
                ""
            };
            println!(
                "vm cache server is not running on {}{stale}",
                endpoint.display()
            );
            let left = base_vm::leftovers(endpoint);
            if !left.is_empty() || endpoint.exists() {
                println!(
                    "{} cached VM(s) left running: `kata-runtime factory destroy` stops them",
                    left.len()
                );
            }
            return Ok(1);
        }
    };
    let status = client.status().await?;
    println!(
        "vm cache server pid {} on {}: {} cached VM(s)",
        status.pid,
        endpoint.display(),
        status.vmstatus.len()
    );
    for vm in &status.vmstatus {
        println!(
            "  vm pid {} cpu {} memory {} MiB",
            vm.pid, vm.cpu, vm.memory
        );
    }
    Ok(0)
}

async fn destroy_cache(config: &Config) -> anyhow::Result<u8> {
    let endpoint = &config.factory.vm_cache_endpoint;
    match CacheClient::connect(endpoint, ANSWER).await {
        Ok(mut client) => {
            client.quit().await?;
            let deadline = tokio::time::Instant::now() + QUIT_WAIT;
            while endpoint.exists() {
                if tokio::time::Instant::now() >= deadline {
                    bail!(
                        "the VMCache server on {} did not stop within {} s",
                        endpoint.display(),
                        QUIT_WAIT.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Err(_) => println!("vm cache server is not running on {}", endpoint.display()),
    }
    for id in stop_leftovers(endpoint).await? {
        println!("stopped cached VM {id} left by a server that did not quit");
    }
    match std::fs::remove_file(endpoint) {
        Ok(()) => println!("removed stale socket {}", endpoint.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("cannot remove {}: {e}", endpoint.display()),
    }
    println!("vm factory destroyed");
    Ok(0)
}
