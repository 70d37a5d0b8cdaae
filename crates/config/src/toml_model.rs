//! The file format: raw serde structs, one field per Kata key, with Kata's Go types and
//! "zero value when absent" semantics. Nothing is defaulted or checked here; see
//! `hypervisor.rs`, `agent.rs`, `runtime.rs`, `factory.rs` and `validate.rs`.
//!
//! The key set is the union of Kata 2.x's `configuration-qemu.toml` and the keys the Go
//! parser (`config.go`) reads at HEAD, so every Kata 2.x QEMU file loads unchanged. Keys we
//! do not act on are still parsed (type-checked) and carried into the resolved config; what
//! each key does is in `fates/registry.rs` (`Serialize` lets a test check that every field
//! has an entry there).

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The whole file (`tomlConfig`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawConfig {
    /// `[hypervisor.<name>]` tables.
    pub hypervisor: BTreeMap<String, RawHypervisor>,
    /// `[agent.<name>]` tables.
    pub agent: BTreeMap<String, RawAgent>,
    /// `[runtime]`.
    pub runtime: RawRuntime,
    /// `[factory]`.
    pub factory: RawFactory,
    /// `[image]` (2.5-3.x, parsed, not acted on).
    pub image: RawImage,
    /// `[proxy.*]` (Kata 1.x; dropped in 2.x: warning).
    pub proxy: Option<toml::Value>,
    /// `[shim.*]` (Kata 1.x; dropped in 2.x: warning).
    pub shim: Option<toml::Value>,
    /// `[netmon]` (dropped after 2.0: warning).
    pub netmon: Option<toml::Value>,
}

/// `[hypervisor.qemu]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawHypervisor {
    pub path: String,
    pub jailer_path: String,
    pub kernel: String,
    pub initrd: String,
    pub image: String,
    pub firmware: String,
    pub firmware_volume: String,
    pub machine_accelerators: String,
    pub cpu_features: String,
    pub kernel_params: String,
    pub kernel_verity_params: String,
    pub machine_type: String,
    pub rootfs_type: String,
    pub block_device_driver: String,
    pub block_device_aio: String,
    pub entropy_source: String,
    pub shared_fs: String,
    pub virtio_fs_daemon: String,
    pub virtio_fs_cache: String,
    pub vhost_user_store_path: String,
    pub file_mem_backend: String,
    pub guest_hook_path: String,
    pub guest_memory_dump_path: String,
    /// `None` when the key is absent (kata-rs then turns the filter on), `Some("")` = off.
    pub seccompsandbox: Option<String>,
    pub hot_plug_vfio: String,
    pub cold_plug_vfio: String,
    pub extra_monitor_socket: String,
    pub remote_hypervisor_socket: String,
    pub snp_id_block: String,
    pub snp_id_auth: String,
    pub measurement_algo: String,

    pub enable_annotations: Vec<String>,
    pub valid_hypervisor_paths: Vec<String>,
    pub valid_jailer_paths: Vec<String>,
    pub valid_virtio_fs_daemon_paths: Vec<String>,
    pub valid_vhost_user_store_paths: Vec<String>,
    pub valid_file_mem_backends: Vec<String>,
    pub valid_entropy_sources: Vec<String>,
    pub valid_kernel_paths: Vec<String>,
    pub valid_image_paths: Vec<String>,
    pub valid_initrd_paths: Vec<String>,
    pub valid_firmware_paths: Vec<String>,
    pub virtio_fs_extra_args: Vec<String>,
    pub pflashes: Vec<String>,
    pub numa_mapping: Vec<String>,
    pub guest_extension_images: Vec<RawGuestExtensionImage>,

    #[serde(deserialize_with = "int_or_float")]
    pub default_vcpus: f64,
    pub default_maxvcpus: u32,
    pub default_memory: u32,
    pub memory_slots: u32,
    pub default_maxmemory: u64,
    pub memory_offset: u64,
    pub default_bridges: u32,
    pub msize_9p: u32,
    pub virtio_fs_cache_size: u32,
    pub virtio_fs_queue_size: u32,
    pub pcie_root_port: u32,
    pub pcie_switch_port: u32,
    pub indep_iothreads: u32,
    pub block_device_logical_sector_size: u32,
    pub block_device_physical_sector_size: u32,
    pub vhost_user_reconnect_timeout_sec: u32,
    pub rx_rate_limiter_max_rate: u64,
    pub tx_rate_limiter_max_rate: u64,
    pub disk_rate_limiter_bw_max_rate: i64,
    pub disk_rate_limiter_bw_one_time_burst: i64,
    pub disk_rate_limiter_ops_max_rate: i64,
    pub disk_rate_limiter_ops_one_time_burst: i64,
    pub net_rate_limiter_bw_max_rate: i64,
    pub net_rate_limiter_bw_one_time_burst: i64,
    pub net_rate_limiter_ops_max_rate: i64,
    pub net_rate_limiter_ops_one_time_burst: i64,
    pub hypervisor_loglevel: u32,
    pub snp_guest_policy: u64,
    pub tdx_quote_generation_service_socket_port: u32,
    pub remote_hypervisor_timeout: u32,

    pub block_device_cache_set: bool,
    pub block_device_cache_direct: bool,
    pub block_device_cache_noflush: bool,
    pub disable_block_device_use: bool,
    pub enable_mem_prealloc: bool,
    pub reclaim_guest_freed_memory: bool,
    pub enable_hugepages: bool,
    pub enable_vhost_user_store: bool,
    pub enable_iommu: bool,
    pub enable_iommu_platform: bool,
    pub enable_numa: bool,
    pub enable_swap: bool,
    pub enable_debug: bool,
    pub disable_nesting_checks: bool,
    pub enable_iothreads: bool,
    pub use_vsock: bool,
    pub hotplug_vfio_on_root_bus: bool,
    pub disable_vhost_net: bool,
    pub enable_virtio_mem: bool,
    pub disable_image_nvdimm: bool,
    pub guest_memory_dump_paging: bool,
    pub enable_guest_swap: bool,
    pub use_legacy_serial: bool,
    pub disable_selinux: bool,
    pub disable_guest_selinux: bool,
    pub disable_seccomp: bool,
    pub rootless: bool,
    pub confidential_guest: bool,
    pub sev_snp_guest: bool,
}

/// One entry of `guest_extension_images`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RawGuestExtensionImage {
    pub name: String,
    pub path: String,
    pub verity_params: String,
}

/// `[agent.kata]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawAgent {
    pub enable_debug: bool,
    pub enable_tracing: bool,
    pub trace_mode: String,
    pub trace_type: String,
    pub kernel_modules: Vec<String>,
    pub debug_console_enabled: bool,
    pub dial_timeout: u32,
    pub cdh_api_timeout: u32,
    pub launch_process_timeout: u32,
    pub visible_cdi_devices: bool,
    pub container_pipe_size: u32,
}

/// `[runtime]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawRuntime {
    pub enable_debug: bool,
    pub enable_tracing: bool,
    pub jaeger_endpoint: String,
    pub jaeger_user: String,
    pub jaeger_password: String,
    pub disable_new_netns: bool,
    pub disable_guest_seccomp: bool,
    pub internetworking_model: String,
    pub sandbox_cgroup_only: bool,
    pub static_sandbox_resource_mgmt: bool,
    pub sandbox_bind_mounts: Vec<String>,
    pub enable_vcpus_pinning: bool,
    pub guest_selinux_label: String,
    pub vfio_mode: String,
    pub disable_guest_empty_dir: bool,
    pub emptydir_mode: String,
    pub experimental: Vec<String>,
    pub enable_pprof: bool,
    pub create_container_timeout: u64,
    pub dan_conf: String,
    pub kubelet_root_dir: String,
    pub pod_resource_api_sock: String,
    pub experimental_force_guest_pull: bool,
}

/// `[factory]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawFactory {
    pub enable_template: bool,
    pub template_path: String,
    pub vm_cache_number: u32,
    pub vm_cache_endpoint: String,
}

/// `[image]` (2.5-3.x placeholder table).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawImage {
    pub service_offload: bool,
    pub provision: String,
}

/// Kata 2.x reads `default_vcpus` as an integer, HEAD as a float: accept both.
fn int_or_float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Int(i64),
        Float(f64),
    }
    match Num::deserialize(d)? {
        // vCPU counts are small; the conversion is exact for every sensible value.
        #[allow(clippy::cast_precision_loss)]
        Num::Int(i) => Ok(i as f64),
        Num::Float(f) => Ok(f),
    }
}
