//! The resolved `[hypervisor.qemu]` section.

use crate::kernel_params::KernelParams;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Block device driver used for container rootfs and volumes (`block_device_driver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockDeviceDriver {
    /// `virtio-scsi` (default).
    #[serde(rename = "virtio-scsi")]
    VirtioScsi,
    /// `virtio-blk`.
    #[serde(rename = "virtio-blk")]
    VirtioBlk,
    /// `virtio-mmio`.
    #[serde(rename = "virtio-mmio")]
    VirtioMmio,
    /// `nvdimm`.
    #[serde(rename = "nvdimm")]
    Nvdimm,
    /// `virtio-blk-ccw` (s390x; accepted from annotations only, as in Kata).
    #[serde(rename = "virtio-blk-ccw")]
    VirtioBlkCcw,
}

impl BlockDeviceDriver {
    /// Drivers accepted in the configuration file (Kata's `supportedBlockDrivers`).
    pub const FILE_VALUES: &'static [&'static str] =
        &["virtio-scsi", "virtio-blk", "virtio-mmio", "nvdimm"];
    /// Drivers accepted in an annotation (adds `virtio-blk-ccw`).
    pub const ANNOTATION_VALUES: &'static [&'static str] = &[
        "virtio-scsi",
        "virtio-blk",
        "virtio-mmio",
        "nvdimm",
        "virtio-blk-ccw",
    ];

    /// Parse a Kata driver name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "virtio-scsi" => Self::VirtioScsi,
            "virtio-blk" => Self::VirtioBlk,
            "virtio-mmio" => Self::VirtioMmio,
            "nvdimm" => Self::Nvdimm,
            "virtio-blk-ccw" => Self::VirtioBlkCcw,
            _ => return None,
        })
    }

    /// The Kata name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VirtioScsi => "virtio-scsi",
            Self::VirtioBlk => "virtio-blk",
            Self::VirtioMmio => "virtio-mmio",
            Self::Nvdimm => "nvdimm",
            Self::VirtioBlkCcw => "virtio-blk-ccw",
        }
    }
}

impl fmt::Display for BlockDeviceDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How container files reach the guest (`shared_fs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SharedFs {
    /// `virtio-fs` (default): a virtiofsd per sandbox.
    #[serde(rename = "virtio-fs")]
    VirtioFs,
    /// `virtio-fs-nydus`.
    #[serde(rename = "virtio-fs-nydus")]
    VirtioFsNydus,
    /// `virtio-9p`.
    #[serde(rename = "virtio-9p")]
    Virtio9p,
    /// `none`: no shared file system (block devices / guest pull only).
    #[serde(rename = "none")]
    None,
}

impl SharedFs {
    /// Accepted names.
    pub const VALUES: &'static [&'static str] =
        &["virtio-fs", "virtio-fs-nydus", "virtio-9p", "none"];

    /// Parse a Kata name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "virtio-fs" => Self::VirtioFs,
            "virtio-fs-nydus" => Self::VirtioFsNydus,
            "virtio-9p" => Self::Virtio9p,
            "none" => Self::None,
            _ => return None,
        })
    }

    /// The Kata name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VirtioFs => "virtio-fs",
            Self::VirtioFsNydus => "virtio-fs-nydus",
            Self::Virtio9p => "virtio-9p",
            Self::None => "none",
        }
    }

    /// True for the variants that need a `virtio_fs_daemon`.
    pub fn needs_daemon(self) -> bool {
        matches!(self, Self::VirtioFs | Self::VirtioFsNydus)
    }
}

impl fmt::Display for SharedFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `guest_extension_images` entry (parsed, not acted on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestExtensionImage {
    /// Name.
    pub name: String,
    /// Path on the host.
    pub path: String,
    /// dm-verity parameters.
    pub verity_params: String,
}

/// Rate limiter and TEE keys that only other Kata flavours act on; kept for `kata-env`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HypervisorPassThrough {
    pub disk_rate_limiter_bw_max_rate: i64,
    pub disk_rate_limiter_bw_one_time_burst: i64,
    pub disk_rate_limiter_ops_max_rate: i64,
    pub disk_rate_limiter_ops_one_time_burst: i64,
    pub net_rate_limiter_bw_max_rate: i64,
    pub net_rate_limiter_bw_one_time_burst: i64,
    pub net_rate_limiter_ops_max_rate: i64,
    pub net_rate_limiter_ops_one_time_burst: i64,
    pub confidential_guest: bool,
    pub sev_snp_guest: bool,
    pub snp_id_block: String,
    pub snp_id_auth: String,
    pub snp_guest_policy: u64,
    pub measurement_algo: String,
    pub tdx_quote_generation_service_socket_port: u32,
    pub remote_hypervisor_socket: String,
    pub remote_hypervisor_timeout: u32,
    pub guest_extension_images: Vec<GuestExtensionImage>,
}

/// The resolved hypervisor configuration: defaults applied, clamps done, paths canonical.
///
/// Field names are Kata's key names, so `kata-env --json` reads like the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypervisorConfig {
    /// The hypervisor table name; always `qemu` for this runtime.
    pub name: String,

    // ---- assets
    /// QEMU binary (canonical).
    pub path: PathBuf,
    /// Jailer binary (Firecracker only; not acted on).
    pub jailer_path: String,
    /// Guest kernel (canonical).
    pub kernel: PathBuf,
    /// Guest rootfs disk image (canonical); exclusive with `initrd`.
    pub image: Option<PathBuf>,
    /// Guest initramfs (canonical); exclusive with `image`.
    pub initrd: Option<PathBuf>,
    /// Firmware (canonical), if any.
    pub firmware: Option<PathBuf>,
    /// Firmware volume (canonical), if any.
    pub firmware_volume: Option<PathBuf>,
    /// Asset hashes given by annotations (`kernel_hash`...), keyed by annotation suffix.
    /// Not verified here: the sandbox verifies them before boot.
    pub asset_hashes: BTreeMap<String, String>,

    // ---- machine
    /// QEMU machine type.
    pub machine_type: String,
    /// Machine accelerators, trimmed, comma-separated, no empty entries.
    pub machine_accelerators: String,
    /// `-cpu` feature list.
    pub cpu_features: String,
    /// Final guest command line: built-in params merged with the user's (user wins).
    pub kernel_params: KernelParams,
    /// The user's `kernel_params` alone, as written.
    pub user_kernel_params: KernelParams,
    /// dm-verity parameters for the image.
    pub kernel_verity_params: String,
    /// Guest image file system (`ext4`, `xfs`, `erofs`).
    pub rootfs_type: String,
    /// Run QEMU as a non-root user.
    pub rootless: bool,
    /// QEMU `-sandbox` option string; empty: no seccomp filter in QEMU. A file without the key
    /// gets [`crate::defaults::SECCOMP_SANDBOX`] (on: secure by default, unlike Kata's empty).
    pub seccompsandbox: String,
    /// `pflashes` images.
    pub pflashes: Vec<String>,

    // ---- CPU and memory
    /// Boot vCPUs (1..=host CPUs).
    pub default_vcpus: u32,
    /// Hotplug ceiling (<= host CPUs, <= QEMU maximum).
    pub default_maxvcpus: u32,
    /// Boot memory, MiB.
    pub default_memory: u32,
    /// Memory hotplug slots.
    pub memory_slots: u32,
    /// Memory hotplug ceiling, MiB (0 in the file = host memory).
    pub default_maxmemory: u64,
    /// Extra address space for NVDIMM, MiB.
    pub memory_offset: u64,
    /// virtio-mem instead of DIMM hotplug.
    pub enable_virtio_mem: bool,
    /// Preallocate guest memory.
    pub enable_mem_prealloc: bool,
    /// virtio-balloon free page reporting.
    pub reclaim_guest_freed_memory: bool,
    /// Hugepage-backed memory.
    pub enable_hugepages: bool,
    /// Allow swapping guest memory on the host (Kata 1.x/2.x `enable_swap`; `mlock` = !this).
    pub enable_swap: bool,
    /// Directory for file-backed guest memory.
    pub file_mem_backend: String,
    /// Expose host NUMA.
    pub enable_numa: bool,
    /// NUMA mapping.
    pub numa_mapping: Vec<String>,
    /// Guest swap from annotations.
    pub enable_guest_swap: bool,

    // ---- devices
    /// PCI bridges (1..=5).
    pub default_bridges: u32,
    /// Block device driver.
    pub block_device_driver: BlockDeviceDriver,
    /// Block AIO backend (`threads`, `native`, `io_uring`).
    pub block_device_aio: String,
    /// Set the block device cache options.
    pub block_device_cache_set: bool,
    /// O_DIRECT.
    pub block_device_cache_direct: bool,
    /// Ignore flush requests.
    pub block_device_cache_noflush: bool,
    /// Logical sector size (0 = hypervisor default).
    pub block_device_logical_sector_size: u32,
    /// Physical sector size (0 = hypervisor default).
    pub block_device_physical_sector_size: u32,
    /// Don't use host block devices for container rootfs.
    pub disable_block_device_use: bool,
    /// Data-plane iothreads.
    pub enable_iothreads: bool,
    /// Independent iothreads.
    pub indep_iothreads: u32,
    /// Plug the image as virtio-blk rather than NVDIMM.
    pub disable_image_nvdimm: bool,
    /// vhost-user block devices.
    pub enable_vhost_user_store: bool,
    /// vhost-user store directory.
    pub vhost_user_store_path: String,
    /// vhost-user reconnect timeout, seconds.
    pub vhost_user_reconnect_timeout_sec: u32,
    /// vIOMMU.
    pub enable_iommu: bool,
    /// `iommu_platform=on`.
    pub enable_iommu_platform: bool,
    /// Kata 2.x: hotplug VFIO devices on the root bus.
    pub hotplug_vfio_on_root_bus: bool,
    /// VFIO hotplug port type.
    pub hot_plug_vfio: String,
    /// VFIO coldplug port type.
    pub cold_plug_vfio: String,
    /// pcie-root-port count.
    pub pcie_root_port: u32,
    /// pcie switch port count.
    pub pcie_switch_port: u32,
    /// Disable vhost-net.
    pub disable_vhost_net: bool,
    /// Legacy serial console.
    pub use_legacy_serial: bool,
    /// virtio-rng backend on the host.
    pub entropy_source: String,
    /// Inbound rate limit, bit/s.
    pub rx_rate_limiter_max_rate: u64,
    /// Outbound rate limit, bit/s.
    pub tx_rate_limiter_max_rate: u64,
    /// GPUs (annotation only).
    pub default_gpus: u32,
    /// GPU model (annotation only).
    pub default_gpu_model: String,
    /// Confidential-computing init data (annotation only).
    pub cc_init_data: String,
    /// Kata 1.x `use_vsock` (2.x always uses vsock; kept for reporting).
    pub use_vsock: bool,

    // ---- shared file system
    /// Shared file system.
    pub shared_fs: SharedFs,
    /// virtiofsd binary (as configured; resolved when the sandbox starts it).
    pub virtio_fs_daemon: String,
    /// virtiofsd cache mode.
    pub virtio_fs_cache: String,
    /// DAX window, MiB.
    pub virtio_fs_cache_size: u32,
    /// virtqueue size.
    pub virtio_fs_queue_size: u32,
    /// Extra virtiofsd arguments.
    pub virtio_fs_extra_args: Vec<String>,
    /// 9p msize.
    pub msize_9p: u32,

    // ---- annotation policy
    /// Regexes of allowed `io.katacontainers.config.hypervisor.*` suffixes.
    pub enable_annotations: Vec<String>,
    /// Globs for the `path` annotation.
    pub valid_hypervisor_paths: Vec<String>,
    /// Globs for the `jailer_path` annotation.
    pub valid_jailer_paths: Vec<String>,
    /// Globs for the `virtio_fs_daemon` annotation.
    pub valid_virtio_fs_daemon_paths: Vec<String>,
    /// Globs for the `vhost_user_store_path` annotation.
    pub valid_vhost_user_store_paths: Vec<String>,
    /// Globs for the `file_mem_backend` annotation.
    pub valid_file_mem_backends: Vec<String>,
    /// Globs for the `entropy_source` annotation.
    pub valid_entropy_sources: Vec<String>,
    /// kata-rs extension: globs for the `kernel` annotation.
    pub valid_kernel_paths: Vec<String>,
    /// kata-rs extension: globs for the `image` annotation.
    pub valid_image_paths: Vec<String>,
    /// kata-rs extension: globs for the `initrd` annotation.
    pub valid_initrd_paths: Vec<String>,
    /// kata-rs extension: globs for the `firmware` / `firmware_volume` annotations.
    pub valid_firmware_paths: Vec<String>,

    // ---- debug
    /// Debug output from kernel and QEMU.
    pub enable_debug: bool,
    /// Ignore nesting checks.
    pub disable_nesting_checks: bool,
    /// Extra monitor socket type (`hmp`, `qmp`, `qmp-pretty`).
    pub extra_monitor_socket: String,
    /// OCI hooks directory in the guest.
    pub guest_hook_path: String,
    /// Guest memory dump directory.
    pub guest_memory_dump_path: String,
    /// Paging dump.
    pub guest_memory_dump_paging: bool,
    /// Hypervisor log level (1..=3).
    pub hypervisor_loglevel: u32,
    /// Don't SELinux-label QEMU.
    pub disable_selinux: bool,
    /// Don't apply SELinux in the guest.
    pub disable_guest_selinux: bool,
    /// Disable the VMM seccomp filter (other VMMs).
    pub disable_seccomp: bool,
    /// Keys only other Kata flavours act on.
    pub pass_through: HypervisorPassThrough,
}

impl HypervisorConfig {
    /// True when the guest boots systemd from a disk image (Kata's `needSystemd`).
    pub fn boots_systemd(&self) -> bool {
        self.image.is_some()
    }
}
