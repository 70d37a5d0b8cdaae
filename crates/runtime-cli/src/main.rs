//! `kata-runtime`: the host command line of kata-rs.

mod check;
mod cli;
mod env_cmd;
mod exec;
mod factory;
mod metrics;
mod settings;
mod template;
mod version;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use kata_hostinfo::Host;

use cli::{Cli, Command};

fn run(cli: Cli) -> anyhow::Result<u8> {
    if cli.show_default_config_paths {
        for p in settings::default_paths() {
            println!("{}", p.display());
        }
        return Ok(0);
    }
    let host = Host::system();
    match cli.command {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(2)
        }
        Some(Command::Version) => {
            for l in version::lines(settings::API_VERSION) {
                println!("{l}");
            }
            Ok(0)
        }
        Some(Command::Factory { action }) => factory::run(action, cli.config.as_deref()),
        Some(Command::Metrics { sandbox_id }) => metrics::run(&sandbox_id),
        Some(Command::Exec { sandbox_id, port }) => exec::run(&sandbox_id, port),
        Some(Command::KataEnv { json }) => {
            let loaded = settings::load(cli.config.as_deref(), &host)?;
            let info = host.info(Some(&loaded.settings.hypervisor_path));
            let report = env_cmd::EnvReport::new(&loaded, &info);
            if json {
                let text =
                    serde_json::to_string_pretty(&report).context("cannot serialize kata-env")?;
                println!("{text}");
            } else {
                println!("{}", report.to_text());
            }
            Ok(0)
        }
        Some(Command::Check) => {
            let find = check::find_in_path;
            let lines = match settings::load(cli.config.as_deref(), &host) {
                Ok(loaded) => {
                    for w in &loaded.warnings {
                        println!("[warn] config: {w}");
                    }
                    check::run_checks(&host, &loaded.settings, &find)
                }
                Err(e) => check::without_config(&host, &e, &find),
            };
            Ok(check::report(&lines))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kata-runtime: {e:#}");
            ExitCode::FAILURE
        }
    }
}
