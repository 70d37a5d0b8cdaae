//! The resolved `[runtime]` section.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How the VM is connected to the pod's network namespace (`internetworking_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InterNetworkingModel {
    /// `tcfilter` (default; `default` is an alias): tc mirred redirect between veth and tap.
    #[serde(rename = "tcfilter")]
    TcFilter,
    /// `macvtap`.
    #[serde(rename = "macvtap")]
    MacVtap,
    /// `none`: no connection made by the runtime.
    #[serde(rename = "none")]
    None,
}

impl InterNetworkingModel {
    /// Accepted names.
    pub const VALUES: &'static [&'static str] = &["default", "tcfilter", "macvtap", "none"];

    /// Parse a Kata name (`default` means `tcfilter`).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "default" | "tcfilter" => Self::TcFilter,
            "macvtap" => Self::MacVtap,
            "none" => Self::None,
            _ => return None,
        })
    }

    /// The Kata name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TcFilter => "tcfilter",
            Self::MacVtap => "macvtap",
            Self::None => "none",
        }
    }
}

impl fmt::Display for InterNetworkingModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runtime settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Runtime debug logs.
    pub enable_debug: bool,
    /// Tracing.
    pub enable_tracing: bool,
    /// Tracing collector.
    pub jaeger_endpoint: String,
    /// Collector user.
    pub jaeger_user: String,
    /// Collector password.
    pub jaeger_password: String,
    /// Keep QEMU and the tap in the host network namespace (needs model `none`).
    pub disable_new_netns: bool,
    /// Don't apply the OCI seccomp profile in the guest.
    pub disable_guest_seccomp: bool,
    /// VM/network connection model.
    pub internetworking_model: InterNetworkingModel,
    /// Put every Kata host process in the sandbox cgroup.
    pub sandbox_cgroup_only: bool,
    /// Size the VM up front; no hotplug.
    pub static_sandbox_resource_mgmt: bool,
    /// Host paths bind-mounted read-only into the shared dir.
    pub sandbox_bind_mounts: Vec<String>,
    /// Pin vCPU threads.
    pub enable_vcpus_pinning: bool,
    /// SELinux label for container processes in the guest.
    pub guest_selinux_label: String,
    /// `vfio` or `guest-kernel`.
    pub vfio_mode: String,
    /// Share disk emptyDirs from the host.
    pub disable_guest_empty_dir: bool,
    /// `shared-fs`, `block-encrypted` or `block-plain`.
    pub emptydir_mode: String,
    /// Experimental features (none are registered: any entry is an error).
    pub experimental: Vec<String>,
    /// pprof on the shim management socket.
    pub enable_pprof: bool,
    /// CreateContainer timeout, seconds.
    pub create_container_timeout: u64,
    /// Directly Attachable Network config dir.
    pub dan_conf: String,
    /// kubelet root.
    pub kubelet_root_dir: String,
    /// kubelet PodResources socket.
    pub pod_resource_api_sock: String,
    /// Force image pull in the guest.
    pub experimental_force_guest_pull: bool,
    /// `[image] service_offload` (parsed, not acted on).
    pub image_service_offload: bool,
    /// `[image] provision` (parsed, not acted on).
    pub image_provision: String,
}
