//! The real VM launcher and agent: configuration, QEMU, vhost-device-vsock, virtiofsd and the
//! ttRPC agent client.

mod agent;
pub mod agent_log;
mod asset_hash;
mod assign;
pub mod base_vm;
mod cached_vm;
pub mod convert;
mod hotplug;
mod launcher;
mod resources;
mod rootless;
pub mod template;
mod vm_spec;

use std::sync::Arc;

use kata_config::{Config, HostFacts};
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::task::SandboxOptions;
use crate::vm::VmLauncher;

pub use agent::KataAgent;
pub use launcher::{QemuLauncher, AGENT_PORT};

/// Loads the configuration, applies the spec's allowed `io.katacontainers.*` annotations and
/// returns the launcher with the sandbox options.
pub fn from_config(spec: &Spec) -> Result<(Arc<dyn VmLauncher>, SandboxOptions)> {
    from_config_path(spec, None)
}

/// [`from_config`] with an explicit configuration file (containerd's `ConfigPath` runtime
/// option), which wins over `KATA_CONF_FILE` and the default paths; `None` looks up as usual.
pub fn from_config_path(
    spec: &Spec,
    config_path: Option<&std::path::Path>,
) -> Result<(Arc<dyn VmLauncher>, SandboxOptions)> {
    let host = HostFacts::detect();
    let loaded = Config::load(config_path, &host).map_err(|e| Error::Config(Box::new(e)))?;
    for w in &loaded.warnings {
        tracing::warn!(config = %loaded.source.display(), "{w}");
    }
    let mut config = loaded.config;
    if let Some(annotations) = spec.annotations() {
        kata_config::annotations::apply_with(&mut config, annotations, &host)
            .map_err(|e| Error::Config(Box::new(e)))?;
    }
    vm_spec::refuse_unsupported(&config.hypervisor).map_err(|e| Error::Config(Box::new(e)))?;
    asset_hash::verify(&config.hypervisor).map_err(|e| Error::Config(Box::new(e)))?;
    resources::size_statically(&mut config, spec);
    let timeouts = crate::task::AgentTimeouts {
        create_container: std::time::Duration::from_secs(config.runtime.create_container_timeout),
        ..Default::default()
    };
    let options = SandboxOptions {
        kernel_modules: config.agent.kernel_modules.clone(),
        guest_hook_path: config.hypervisor.guest_hook_path.clone(),
        shared_fs_9p_msize: (config.hypervisor.shared_fs == kata_config::SharedFs::Virtio9p)
            .then_some(config.hypervisor.msize_9p),
        timeouts,
        debug: config.runtime.enable_debug,
        agent_debug: config.agent.enable_debug,
        resources: Some(resources::sizing(&config)),
        ..SandboxOptions::default()
    };
    Ok((Arc::new(QemuLauncher::new(config)), options))
}
