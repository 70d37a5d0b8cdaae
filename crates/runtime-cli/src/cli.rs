//! Command-line syntax.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// kata-runtime: inspect the configuration and the host of kata-rs.
#[derive(Debug, Parser)]
#[command(name = "kata-runtime", version)]
pub struct Cli {
    /// Configuration file to use instead of the default lookup paths.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print the configuration file lookup paths, one per line, and exit.
    #[arg(long)]
    pub show_default_config_paths: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the resolved configuration, where it came from, and host facts.
    #[command(name = "kata-env")]
    KataEnv {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check whether this host can run pods.
    Check,
    /// Print the version, commit and configuration API version.
    Version,
    /// Open a shell in a sandbox's guest through the agent's debug console
    /// (`debug_console_enabled = true` in `[agent.kata]`).
    Exec {
        /// The sandbox id (the pod's sandbox container id).
        sandbox_id: String,
        /// Guest vsock port of the console, instead of the one the shim reports.
        #[arg(long = "kata-debug-port", value_name = "PORT")]
        port: Option<u32>,
    },
    /// Print a sandbox's metrics (shim, hypervisor, agent, guest) in the Prometheus text format.
    Metrics {
        /// The sandbox id (the pod's sandbox container id).
        sandbox_id: String,
    },
    /// Manage the VM factory (VMCache server).
    Factory {
        #[command(subcommand)]
        action: FactoryAction,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum FactoryAction {
    /// Start the VM factory.
    Init,
    /// Show the VM factory's status.
    Status,
    /// Stop the VM factory and destroy its VMs.
    Destroy,
}
