//! `io.katacontainers.config.runtime.*` (gated by `enable_annotations` as `runtime.<key>`).

use super::Annotation;
use crate::error::AnnotationError;
use crate::runtime::InterNetworkingModel;
use crate::Config;

/// The runtime annotation suffixes this runtime understands.
pub const KNOWN: &[&str] = &[
    "disable_guest_seccomp",
    "guest_selinux_label",
    "sandbox_cgroup_only",
    "enable_pprof",
    "experimental",
    "internetworking_model",
    "disable_new_netns",
    "vfio_mode",
    "create_container_timeout",
    "experimental_force_guest_pull",
    "enable_vcpus_pinning",
];

pub(super) fn apply_one(
    c: &mut Config,
    suffix: &str,
    a: &Annotation<'_>,
) -> Result<(), AnnotationError> {
    let r = &mut c.runtime;
    match suffix {
        "disable_guest_seccomp" => r.disable_guest_seccomp = a.bool()?,
        "guest_selinux_label" => r.guest_selinux_label = a.value.to_string(),
        "sandbox_cgroup_only" => r.sandbox_cgroup_only = a.bool()?,
        "enable_pprof" => r.enable_pprof = a.bool()?,
        "experimental" => {
            // No experimental feature is registered: any named feature is unsupported.
            if let Some(f) = a.value.split(' ').find(|f| !f.is_empty()) {
                return Err(a.invalid(format!("unsupported experimental feature {f}")));
            }
            r.experimental = Vec::new();
        }
        "internetworking_model" => {
            r.internetworking_model = InterNetworkingModel::from_name(a.value)
                .ok_or_else(|| a.invalid("unknown network model"))?;
        }
        "disable_new_netns" => r.disable_new_netns = a.bool()?,
        "vfio_mode" => r.vfio_mode = a.one_of(&["vfio", "guest-kernel"])?,
        "create_container_timeout" => {
            r.create_container_timeout = a.u64("please specify a number of seconds")?;
        }
        "experimental_force_guest_pull" => r.experimental_force_guest_pull = a.bool()?,
        "enable_vcpus_pinning" => r.enable_vcpus_pinning = a.bool()?,
        _ => {
            return Err(AnnotationError::Unknown {
                name: a.name.to_string(),
            })
        }
    }
    Ok(())
}
