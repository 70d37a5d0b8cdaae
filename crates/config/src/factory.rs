//! The resolved `[factory]` section.
//!
//! # Agent channel of a cloned or cached VM
//!
//! A VM made from a template, or handed out by the VM cache, must never share its agent
//! channel with the template or with another clone. Nothing channel-related is stored here
//! or in the template: the factory gives every VM it boots or clones its own hybrid-vsock
//! backend (a new `vhost-device-vsock` with a per-VM Unix socket under the sandbox
//! directory and a per-VM guest CID) and the agent client connects only after the VM is
//! handed to its sandbox. A template is saved before any agent connection exists, so a
//! clone starts without a connection and dials its own socket. This is why `enable_template`
//! is accepted with vsock, unlike Kata 1.x, which refused the combination.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// VM factory settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactoryConfig {
    /// VM templating (needs an initrd).
    pub enable_template: bool,
    /// Template state directory.
    pub template_path: PathBuf,
    /// Number of VMs the VMCache server keeps ready (0 = disabled).
    pub vm_cache_number: u32,
    /// VMCache Unix socket.
    pub vm_cache_endpoint: PathBuf,
}

impl FactoryConfig {
    /// True when either templating or the VM cache is enabled.
    pub fn enabled(&self) -> bool {
        self.enable_template || self.vm_cache_number > 0
    }
}
