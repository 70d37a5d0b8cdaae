//! `kata-monitor`: one HTTP endpoint for every pod's metrics, as Kata's `kata-monitor`. It finds
//! the running sandboxes by their management sockets (`<sbs-dir>/<id>/shim-monitor.sock`), asks
//! each shim for `/metrics` and serves them together, each series labelled `sandbox_id`.

mod monitor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;

use monitor::Monitor;

/// kata-monitor: aggregates the metrics of every running kata-rs sandbox for Prometheus.
#[derive(Debug, Parser)]
#[command(name = "kata-monitor", version)]
struct Args {
    /// Address to serve HTTP on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen_address: SocketAddr,
    /// Directory of the sandboxes' state, holding their management sockets.
    #[arg(long, default_value = kata_shim_interface::DEFAULT_SBS_DIR)]
    sbs_dir: PathBuf,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or the journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")
        .and_then(|rt| rt.block_on(serve(args)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kata-monitor: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen_address)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen_address))?;
    tracing::info!(address = %args.listen_address, sbs_dir = %args.sbs_dir.display(), "serving");
    let monitor = Arc::new(Monitor::new(args.sbs_dir));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let monitor = monitor.clone();
                tokio::spawn(async move {
                    let handler = move |get| {
                        let monitor = monitor.clone();
                        async move { monitor.answer(get).await }
                    };
                    if let Err(e) = kata_shim_interface::http::serve_connection(stream, handler).await {
                        tracing::debug!(error = %e, "connection ended");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = terminated() => return Ok(()),
        }
    }
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
