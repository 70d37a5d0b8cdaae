//! The real VM launcher and agent: configuration, QEMU, vhost-device-vsock, virtiofsd and the
//! ttRPC agent client.

use std::sync::Arc;

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::task::SandboxOptions;
use crate::vm::VmLauncher;

/// Resolves the configuration (with the spec's allowed annotations) into a launcher.
pub fn from_config(_spec: &Spec) -> Result<(Arc<dyn VmLauncher>, SandboxOptions)> {
    Err(Error::Unsupported("the qemu backend"))
}
