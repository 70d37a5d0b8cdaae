//! `io.katacontainers.config.hypervisor.*` (already past the `enable_annotations` gate).

use super::Annotation;
use crate::error::AnnotationError;
use crate::hypervisor::{BlockDeviceDriver, SharedFs};
use crate::kernel_params::KernelParams;
use crate::resolve::trim_accelerators;
use crate::Config;

/// Kata's `MinHypervisorMemory`, MiB.
pub const MIN_ANNOTATION_MEMORY_MIB: u32 = 256;

/// The hypervisor annotation suffixes this runtime understands.
pub const KNOWN: &[&str] = &[
    "path",
    "jailer_path",
    "kernel",
    "image",
    "initrd",
    "firmware",
    "firmware_volume",
    "kernel_hash",
    "image_hash",
    "initrd_hash",
    "hypervisor_hash",
    "jailer_hash",
    "firmware_hash",
    "firmware_volume_hash",
    "kernel_params",
    "kernel_verity_params",
    "machine_type",
    "machine_accelerators",
    "cpu_features",
    "default_vcpus",
    "default_max_vcpus",
    "default_memory",
    "memory_slots",
    "memory_offset",
    "enable_virtio_mem",
    "enable_mem_prealloc",
    "reclaim_guest_freed_memory",
    "enable_hugepages",
    "enable_swap",
    "file_mem_backend",
    "enable_iommu",
    "enable_iommu_platform",
    "numa_mapping",
    "msize_9p",
    "shared_fs",
    "virtio_fs_daemon",
    "virtio_fs_cache",
    "virtio_fs_cache_size",
    "virtio_fs_extra_args",
    "block_device_driver",
    "block_device_aio",
    "disable_block_device_use",
    "enable_iothreads",
    "indep_iothreads",
    "block_device_cache_set",
    "block_device_cache_direct",
    "block_device_cache_noflush",
    "blk_logical_sector_size",
    "blk_physical_sector_size",
    "disable_vhost_net",
    "enable_vhost_user_store",
    "vhost_user_store_path",
    "vhost_user_reconnect_timeout_sec",
    "guest_hook_path",
    "disable_image_nvdimm",
    "use_vsock",
    "hotplug_vfio_on_root_bus",
    "cold_plug_vfio",
    "hot_plug_vfio",
    "pcie_root_port",
    "pcie_switch_port",
    "entropy_source",
    "use_legacy_serial",
    "default_gpus",
    "default_gpu_model",
    "rx_rate_limiter_max_rate",
    "tx_rate_limiter_max_rate",
    "enable_guest_swap",
    "rootless",
    "cc_init_data",
];

const VFIO_PORTS: &[&str] = &["no-port", "bridge-port", "root-port", "switch-port"];

pub(super) fn apply_one(
    c: &mut Config,
    suffix: &str,
    a: &Annotation<'_>,
) -> Result<(), AnnotationError> {
    let h = &mut c.hypervisor;
    let v = a.value;
    match suffix {
        // ---- assets (path-valued: allow-listed after canonicalisation)
        "path" => h.path = a.allowed_path(&h.valid_hypervisor_paths, "valid_hypervisor_paths")?,
        "jailer_path" => {
            let p = a.allowed_path(&h.valid_jailer_paths, "valid_jailer_paths")?;
            h.jailer_path = p.display().to_string();
        }
        "kernel" => h.kernel = a.allowed_path(&h.valid_kernel_paths, "valid_kernel_paths")?,
        "image" => h.image = Some(a.allowed_path(&h.valid_image_paths, "valid_image_paths")?),
        "initrd" => {
            h.initrd = Some(a.allowed_path(&h.valid_initrd_paths, "valid_initrd_paths")?);
        }
        "firmware" => {
            h.firmware = Some(a.allowed_path(&h.valid_firmware_paths, "valid_firmware_paths")?);
        }
        "firmware_volume" => {
            h.firmware_volume =
                Some(a.allowed_path(&h.valid_firmware_paths, "valid_firmware_paths")?);
        }
        "kernel_hash"
        | "image_hash"
        | "initrd_hash"
        | "hypervisor_hash"
        | "jailer_hash"
        | "firmware_hash"
        | "firmware_volume_hash" => {
            if v.len() != 128 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(a.invalid("expected a sha512 digest (128 hex digits)"));
            }
            h.asset_hashes
                .insert(suffix.to_string(), v.to_ascii_lowercase());
        }

        // ---- machine
        "kernel_params" => {
            let params = KernelParams::parse(v).map_err(|e| a.invalid(e.to_string()))?;
            for p in params.0 {
                h.kernel_params.push(p.clone());
                h.user_kernel_params.push(p);
            }
        }
        "kernel_verity_params" => h.kernel_verity_params = v.to_string(),
        "machine_type" => set_if_not_empty(&mut h.machine_type, v),
        "machine_accelerators" => {
            set_if_not_empty(&mut h.machine_accelerators, &trim_accelerators(v))
        }
        "cpu_features" => set_if_not_empty(&mut h.cpu_features, v),
        "rootless" => h.rootless = a.bool()?,

        // ---- CPU and memory
        "default_vcpus" => {
            let n = a.u32("please specify numeric value")?;
            if n == 0 {
                return Err(a.invalid("at least 1 vcpu is needed"));
            }
            if n > a.host.cpus {
                return Err(a.invalid(format!(
                    "greater than the number of cpus {} on the system",
                    a.host.cpus
                )));
            }
            h.default_vcpus = n;
        }
        "default_max_vcpus" => {
            let n = a.u32("please specify positive numeric value")?;
            if n > a.host.cpus {
                return Err(a.invalid(format!(
                    "greater than the number of cpus {} on the system",
                    a.host.cpus
                )));
            }
            if n > a.host.max_hypervisor_vcpus {
                return Err(a.invalid(format!(
                    "greater than max no of cpus {} supported for qemu",
                    a.host.max_hypervisor_vcpus
                )));
            }
            h.default_maxvcpus = n;
        }
        "default_memory" => {
            let n = a.u32("please specify positive numeric value greater than 8")?;
            if n < MIN_ANNOTATION_MEMORY_MIB {
                return Err(a.invalid(format!(
                    "less than minimum required {MIN_ANNOTATION_MEMORY_MIB} MiB, please specify a larger value"
                )));
            }
            h.default_memory = n;
        }
        "memory_slots" => {
            let n = a.u32("please specify positive numeric value")?;
            if n > 0 {
                h.memory_slots = n;
            }
        }
        "memory_offset" => {
            let n = a.u64("please specify positive numeric value")?;
            if n > 0 {
                h.memory_offset = n;
            }
        }
        "enable_virtio_mem" => h.enable_virtio_mem = a.bool()?,
        "enable_mem_prealloc" => h.enable_mem_prealloc = a.bool()?,
        "reclaim_guest_freed_memory" => h.reclaim_guest_freed_memory = a.bool()?,
        "enable_hugepages" => h.enable_hugepages = a.bool()?,
        "enable_swap" => h.enable_swap = a.bool()?,
        "enable_guest_swap" => h.enable_guest_swap = a.bool()?,
        "file_mem_backend" => {
            let p = a.allowed_path(&h.valid_file_mem_backends, "valid_file_mem_backends")?;
            h.file_mem_backend = p.display().to_string();
        }
        "enable_iommu" => h.enable_iommu = a.bool()?,
        "enable_iommu_platform" => h.enable_iommu_platform = a.bool()?,
        "numa_mapping" => {
            let map: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
            if map
                .iter()
                .any(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
            {
                return Err(a.invalid("expected comma-separated host node ranges like 0-1,2"));
            }
            h.numa_mapping = map;
        }

        // ---- shared file system
        "msize_9p" => {
            h.msize_9p = match v.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => return Err(a.invalid("please specify positive numeric value")),
            };
        }
        "shared_fs" => {
            h.shared_fs = SharedFs::from_name(v).ok_or_else(|| {
                a.invalid(format!(
                    "supported file systems: {}",
                    SharedFs::VALUES.join(", ")
                ))
            })?;
        }
        "virtio_fs_daemon" => {
            let p = a.allowed_path(
                &h.valid_virtio_fs_daemon_paths,
                "valid_virtio_fs_daemon_paths",
            )?;
            h.virtio_fs_daemon = p.display().to_string();
        }
        "virtio_fs_cache" => {
            h.virtio_fs_cache = a.one_of(&["never", "none", "metadata", "auto", "always"])?;
        }
        "virtio_fs_cache_size" => {
            h.virtio_fs_cache_size = a.u32("please specify positive numeric value")?;
        }
        "virtio_fs_extra_args" => {
            h.virtio_fs_extra_args = serde_json::from_str::<Vec<String>>(v)
                .map_err(|e| a.invalid(format!("expected a json list of strings: {e}")))?;
        }

        // ---- block devices
        "block_device_driver" => {
            h.block_device_driver = BlockDeviceDriver::from_name(v).ok_or_else(|| {
                a.invalid(format!(
                    "supported drivers: {}",
                    BlockDeviceDriver::ANNOTATION_VALUES.join(", ")
                ))
            })?;
        }
        "block_device_aio" => h.block_device_aio = a.one_of(&["threads", "native", "io_uring"])?,
        "disable_block_device_use" => h.disable_block_device_use = a.bool()?,
        "enable_iothreads" => h.enable_iothreads = a.bool()?,
        "indep_iothreads" => h.indep_iothreads = a.u32("please specify positive numeric value")?,
        "block_device_cache_set" => h.block_device_cache_set = a.bool()?,
        "block_device_cache_direct" => h.block_device_cache_direct = a.bool()?,
        "block_device_cache_noflush" => h.block_device_cache_noflush = a.bool()?,
        "blk_logical_sector_size" => h.block_device_logical_sector_size = sector_size(a)?,
        "blk_physical_sector_size" => h.block_device_physical_sector_size = sector_size(a)?,
        "disable_image_nvdimm" => h.disable_image_nvdimm = a.bool()?,
        "enable_vhost_user_store" => h.enable_vhost_user_store = a.bool()?,
        "vhost_user_store_path" => {
            let p = a.allowed_path(
                &h.valid_vhost_user_store_paths,
                "valid_vhost_user_store_paths",
            )?;
            h.vhost_user_store_path = p.display().to_string();
        }
        "vhost_user_reconnect_timeout_sec" => {
            h.vhost_user_reconnect_timeout_sec = a.u32("please specify positive numeric value")?;
        }

        // ---- other devices
        "guest_hook_path" => set_if_not_empty(&mut h.guest_hook_path, v),
        "use_vsock" => h.use_vsock = a.bool()?,
        "hotplug_vfio_on_root_bus" => h.hotplug_vfio_on_root_bus = a.bool()?,
        "cold_plug_vfio" => h.cold_plug_vfio = a.one_of(VFIO_PORTS)?,
        "hot_plug_vfio" => h.hot_plug_vfio = a.one_of(VFIO_PORTS)?,
        "pcie_root_port" => {
            h.pcie_root_port = a.u32("please specify an integer greater than or equal to 0")?;
        }
        "pcie_switch_port" => {
            h.pcie_switch_port = a.u32("please specify an integer greater than or equal to 0")?;
        }
        "disable_vhost_net" => h.disable_vhost_net = a.bool()?,
        "use_legacy_serial" => h.use_legacy_serial = a.bool()?,
        "entropy_source" => {
            if !v.is_empty() {
                let p = a.allowed_path(&h.valid_entropy_sources, "valid_entropy_sources")?;
                h.entropy_source = p.display().to_string();
            }
        }
        "default_gpus" => h.default_gpus = a.u32("please specify positive numeric value")?,
        "default_gpu_model" => h.default_gpu_model = v.to_string(),
        "rx_rate_limiter_max_rate" => {
            h.rx_rate_limiter_max_rate = a.u64("please specify positive numeric value")?;
        }
        "tx_rate_limiter_max_rate" => {
            h.tx_rate_limiter_max_rate = a.u64("please specify positive numeric value")?;
        }
        "cc_init_data" => h.cc_init_data = v.to_string(),
        _ => {
            return Err(AnnotationError::Unknown {
                name: a.name.to_string(),
            })
        }
    }
    Ok(())
}

fn set_if_not_empty(field: &mut String, v: &str) {
    if !v.is_empty() {
        *field = v.to_string();
    }
}

fn sector_size(a: &Annotation<'_>) -> Result<u32, AnnotationError> {
    let n = a.u32("please specify a power of 2 between 512 and 65536")?;
    if n != 0 && (!n.is_power_of_two() || !(512..=65536).contains(&n)) {
        return Err(a.invalid("must be 0 or a power of 2 between 512 and 65536"));
    }
    Ok(n)
}
