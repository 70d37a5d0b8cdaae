//! `kata-runtime factory` with `[factory] enable_template = true`.

use kata_config::Config;

use crate::cli::FactoryAction;

/// VM templating is not built yet: every action says so.
pub fn run(
    _action: FactoryAction,
    config: &Config,
    _rt: &tokio::runtime::Runtime,
) -> anyhow::Result<u8> {
    anyhow::bail!(
        "[factory] enable_template = true: VM templating is not supported by kata-rs yet (template_path {})",
        config.factory.template_path.display()
    )
}
