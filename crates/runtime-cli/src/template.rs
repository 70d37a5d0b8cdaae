//! `kata-runtime factory` with `[factory] enable_template = true`: `init` makes the template in
//! `template_path` and returns; `status` describes it; `destroy` removes it.

use anyhow::Context;
use kata_config::Config;
use kata_sandbox::backend::template;

use crate::cli::FactoryAction;

/// Runs `action` on the template of `config`.
pub fn run(
    action: FactoryAction,
    config: &Config,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<u8> {
    let dir = &config.factory.template_path;
    match action {
        FactoryAction::Init => {
            crate::factory::init_logging();
            let started = std::time::Instant::now();
            let made = rt
                .block_on(template::create(config))
                .map_err(|e| anyhow::anyhow!("making the VM template in {}: {e}", dir.display()))?;
            println!(
                "vm factory initialized: template in {} ({} MiB, {} vCPU) in {:.2} s",
                dir.display(),
                made.spec.memory.size_mib,
                made.spec.cpu.vcpus,
                started.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        FactoryAction::Status => match template::load(dir) {
            Ok(t) => {
                if let Err(e) = template::usable(config) {
                    println!("vm factory template in {} is not used: {e}", dir.display());
                    return Ok(1);
                }
                let size = |f: &str| {
                    std::fs::metadata(dir.join(f))
                        .map(|m| m.len() / 1024)
                        .unwrap_or(0)
                };
                println!(
                    "vm factory template in {}: {} MiB, {} vCPU; memory file {} KiB, state {} KiB",
                    dir.display(),
                    t.spec.memory.size_mib,
                    t.spec.cpu.vcpus,
                    size(template::MEMORY_FILE),
                    size(template::STATE_FILE)
                );
                Ok(0)
            }
            Err(e) => {
                println!("no vm factory template: {e} (`kata-runtime factory init` makes it)");
                Ok(1)
            }
        },
        FactoryAction::Destroy => {
            let removed = template::destroy(config)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("destroying the VM template")?;
            if removed {
                println!("vm factory destroyed: removed {}", dir.display());
            } else {
                println!(
                    "vm factory destroyed: there was no template in {}",
                    dir.display()
                );
            }
            Ok(0)
        }
    }
}
