//! Raw file values -> resolved configuration: defaults, clamps and path resolution, as in
//! Kata's `newQemuHypervisorConfig` and friends. Cross-key rules are in `validate.rs`.

use crate::agent::AgentConfig;
use crate::defaults as d;
use crate::error::ConfigError;
use crate::factory::FactoryConfig;
use crate::host::HostFacts;
use crate::hypervisor::{
    BlockDeviceDriver, GuestExtensionImage, HypervisorConfig, HypervisorPassThrough, SharedFs,
};
use crate::kernel_params::KernelParams;
use crate::load::Origins;
use crate::runtime::{InterNetworkingModel, RuntimeConfig};
use crate::toml_model::{RawAgent, RawConfig, RawFactory, RawHypervisor, RawImage, RawRuntime};
use crate::Config;
use std::path::{Path, PathBuf};

const HV: &str = "hypervisor.qemu";

/// Resolve every section.
pub(crate) fn resolve(
    mut raw: RawConfig,
    o: &Origins,
    host: &HostFacts,
    warnings: &mut Vec<String>,
) -> Result<Config, ConfigError> {
    let hv = match raw.hypervisor.remove("qemu") {
        Some(h) => h,
        None => {
            if let Some(other) = raw.hypervisor.keys().next() {
                return Err(ConfigError::invalid(
                    o.main(),
                    "hypervisor",
                    other,
                    "only [hypervisor.qemu] is supported",
                ));
            }
            warnings.push(format!(
                "{}: no [hypervisor.qemu] section, using built-in defaults",
                o.main().display()
            ));
            RawHypervisor::default()
        }
    };
    let agent = raw.agent.remove("kata").unwrap_or_default();
    let runtime = resolve_runtime(raw.runtime, raw.image, o)?;
    let hypervisor = resolve_hypervisor(hv, runtime.enable_tracing, o, host)?;
    Ok(Config {
        hypervisor,
        agent: resolve_agent(agent),
        runtime,
        factory: resolve_factory(raw.factory),
    })
}

/// `default_vcpus`: < 0 or more than the host -> host CPUs; 0 -> 1; fractions round up.
pub(crate) fn clamp_vcpus(requested: f64, host_cpus: u32) -> u32 {
    if requested < 0.0 || requested > f64::from(host_cpus) {
        return host_cpus;
    }
    let whole = requested.ceil();
    if whole == 0.0 {
        return d::VCPUS;
    }
    // 0 < whole <= host_cpus, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = whole as u32;
    n
}

/// `default_maxvcpus`: 0 or >= host CPUs -> host CPUs; never above the hypervisor maximum.
pub(crate) fn clamp_max_vcpus(requested: u32, host_cpus: u32, hypervisor_max: u32) -> u32 {
    let n = if requested == 0 || requested >= host_cpus {
        host_cpus
    } else {
        requested
    };
    n.min(hypervisor_max)
}

/// `default_memory`: below 8 MiB -> 2048 MiB.
pub(crate) fn clamp_memory(requested: u32) -> u32 {
    if requested < d::MIN_MEMORY_MIB {
        d::MEMORY_MIB
    } else {
        requested
    }
}

/// `default_bridges`: 0 -> 1, above 5 -> 5.
pub(crate) fn clamp_bridges(requested: u32) -> u32 {
    match requested {
        0 => d::BRIDGES,
        n => n.min(d::MAX_BRIDGES),
    }
}

/// `machine_accelerators`: split on commas, trim blanks, drop empty entries.
pub(crate) fn trim_accelerators(s: &str) -> String {
    s.split(',')
        .map(|a| a.trim_matches(|c| matches!(c, '\r' | '\t' | '\n' | ' ')))
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

fn or_default(s: String, default: &str) -> String {
    if s.is_empty() {
        default.to_string()
    } else {
        s
    }
}

fn one_of(
    o: &Origins,
    key: &str,
    value: String,
    default: &str,
    allowed: &[&str],
) -> Result<String, ConfigError> {
    let value = or_default(value, default);
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        let full = format!("{HV}.{key}");
        Err(ConfigError::invalid(
            o.file(&full),
            full.clone(),
            &value,
            format!("supported values: {}", allowed.join(", ")),
        ))
    }
}

/// Canonicalise a path named by `key`; it must exist.
pub(crate) fn resolve_path(
    o: &Origins,
    host: &HostFacts,
    key: &str,
    value: &str,
) -> Result<PathBuf, ConfigError> {
    let full = format!("{HV}.{key}");
    host.resolve(Path::new(value))
        .map_err(|source| ConfigError::BadPath {
            file: o.file(&full).to_path_buf(),
            key: full.clone(),
            value: value.to_string(),
            source,
        })
}

fn optional_path(
    o: &Origins,
    host: &HostFacts,
    key: &str,
    value: &str,
) -> Result<Option<PathBuf>, ConfigError> {
    if value.is_empty() {
        Ok(None)
    } else {
        resolve_path(o, host, key, value).map(Some)
    }
}

fn resolve_hypervisor(
    h: RawHypervisor,
    tracing: bool,
    o: &Origins,
    host: &HostFacts,
) -> Result<HypervisorConfig, ConfigError> {
    let key = |k: &str| format!("{HV}.{k}");
    if !h.image.is_empty() && !h.initrd.is_empty() {
        return Err(ConfigError::conflict(
            o.file(&key("image")),
            (&key("image"), &h.image),
            (&key("initrd"), &h.initrd),
            "set either an image or an initrd, not both",
        ));
    }
    if h.image.is_empty() && h.initrd.is_empty() {
        return Err(ConfigError::invalid(
            o.file(&key("image")),
            key("image"),
            "",
            "either image or initrd must be set",
        ));
    }

    let block_device_driver = if h.block_device_driver.is_empty() {
        BlockDeviceDriver::VirtioScsi
    } else {
        BlockDeviceDriver::from_name(&h.block_device_driver)
            .filter(|b| BlockDeviceDriver::FILE_VALUES.contains(&b.as_str()))
            .ok_or_else(|| {
                ConfigError::invalid(
                    o.file(&key("block_device_driver")),
                    key("block_device_driver"),
                    &h.block_device_driver,
                    format!(
                        "supported drivers: {}",
                        BlockDeviceDriver::FILE_VALUES.join(", ")
                    ),
                )
            })?
    };
    let shared_fs = if h.shared_fs.is_empty() {
        SharedFs::VirtioFs
    } else {
        SharedFs::from_name(&h.shared_fs).ok_or_else(|| {
            ConfigError::invalid(
                o.file(&key("shared_fs")),
                key("shared_fs"),
                &h.shared_fs,
                format!("supported file systems: {}", SharedFs::VALUES.join(", ")),
            )
        })?
    };
    let msize_9p = match h.msize_9p {
        0 => d::MSIZE_9P,
        n if (d::MIN_MSIZE_9P..=d::MAX_MSIZE_9P).contains(&n) => n,
        n => {
            return Err(ConfigError::invalid(
                o.file(&key("msize_9p")),
                key("msize_9p"),
                n,
                format!(
                    "must be between {} and {}",
                    d::MIN_MSIZE_9P,
                    d::MAX_MSIZE_9P
                ),
            ))
        }
    };
    if h.hypervisor_loglevel > d::MAX_HYPERVISOR_LOGLEVEL {
        return Err(ConfigError::invalid(
            o.file(&key("hypervisor_loglevel")),
            key("hypervisor_loglevel"),
            h.hypervisor_loglevel,
            format!("must be at most {}", d::MAX_HYPERVISOR_LOGLEVEL),
        ));
    }
    for (k, v) in [
        (
            "block_device_logical_sector_size",
            h.block_device_logical_sector_size,
        ),
        (
            "block_device_physical_sector_size",
            h.block_device_physical_sector_size,
        ),
    ] {
        if v != 0 && (!v.is_power_of_two() || !(512..=65536).contains(&v)) {
            return Err(ConfigError::invalid(
                o.file(&key(k)),
                key(k),
                v,
                "must be 0 or a power of 2 between 512 and 65536",
            ));
        }
    }
    let user_kernel_params = KernelParams::parse(&h.kernel_params).map_err(|e| {
        ConfigError::invalid(
            o.file(&key("kernel_params")),
            key("kernel_params"),
            &h.kernel_params,
            e.to_string(),
        )
    })?;
    let vfio_ports = ["no-port", "bridge-port", "root-port", "switch-port"];
    let path = resolve_path(o, host, "path", &or_default(h.path, d::HYPERVISOR_PATH))?;
    let kernel = resolve_path(o, host, "kernel", &or_default(h.kernel, d::KERNEL_PATH))?;
    let image = optional_path(o, host, "image", &h.image)?;
    let initrd = optional_path(o, host, "initrd", &h.initrd)?;
    let kernel_params = KernelParams::defaults(image.is_some(), tracing).merge(&user_kernel_params);

    Ok(HypervisorConfig {
        name: "qemu".to_string(),
        path,
        jailer_path: h.jailer_path,
        kernel,
        image,
        initrd,
        firmware: optional_path(o, host, "firmware", &h.firmware)?,
        firmware_volume: optional_path(o, host, "firmware_volume", &h.firmware_volume)?,
        asset_hashes: Default::default(),
        machine_type: or_default(h.machine_type, d::MACHINE_TYPE),
        machine_accelerators: trim_accelerators(&h.machine_accelerators),
        cpu_features: h.cpu_features,
        kernel_params,
        user_kernel_params,
        kernel_verity_params: h.kernel_verity_params,
        rootfs_type: one_of(
            o,
            "rootfs_type",
            h.rootfs_type,
            d::ROOTFS_TYPE,
            &["ext4", "xfs", "erofs"],
        )?,
        rootless: h.rootless,
        seccompsandbox: h
            .seccompsandbox
            .unwrap_or_else(|| d::SECCOMP_SANDBOX.to_string()),
        pflashes: h.pflashes,
        default_vcpus: clamp_vcpus(h.default_vcpus, host.cpus),
        default_maxvcpus: clamp_max_vcpus(h.default_maxvcpus, host.cpus, host.max_hypervisor_vcpus),
        default_memory: clamp_memory(h.default_memory),
        memory_slots: nonzero_or(h.memory_slots, d::MEMORY_SLOTS),
        default_maxmemory: if h.default_maxmemory == 0 || h.default_maxmemory > host.memory_mib {
            host.memory_mib
        } else {
            h.default_maxmemory
        },
        memory_offset: nonzero_or(h.memory_offset, d::MEMORY_OFFSET),
        enable_virtio_mem: h.enable_virtio_mem,
        enable_mem_prealloc: h.enable_mem_prealloc,
        reclaim_guest_freed_memory: h.reclaim_guest_freed_memory,
        enable_hugepages: h.enable_hugepages,
        enable_swap: h.enable_swap,
        file_mem_backend: h.file_mem_backend,
        enable_numa: h.enable_numa,
        numa_mapping: h.numa_mapping,
        enable_guest_swap: h.enable_guest_swap,
        default_bridges: clamp_bridges(h.default_bridges),
        block_device_driver,
        block_device_aio: one_of(
            o,
            "block_device_aio",
            h.block_device_aio,
            d::BLOCK_DEVICE_AIO,
            &["threads", "native", "io_uring"],
        )?,
        block_device_cache_set: h.block_device_cache_set,
        block_device_cache_direct: h.block_device_cache_direct,
        block_device_cache_noflush: h.block_device_cache_noflush,
        block_device_logical_sector_size: h.block_device_logical_sector_size,
        block_device_physical_sector_size: h.block_device_physical_sector_size,
        disable_block_device_use: h.disable_block_device_use,
        enable_iothreads: h.enable_iothreads,
        indep_iothreads: h.indep_iothreads,
        disable_image_nvdimm: h.disable_image_nvdimm,
        enable_vhost_user_store: h.enable_vhost_user_store,
        vhost_user_store_path: or_default(h.vhost_user_store_path, d::VHOST_USER_STORE_PATH),
        vhost_user_reconnect_timeout_sec: h.vhost_user_reconnect_timeout_sec,
        enable_iommu: h.enable_iommu,
        enable_iommu_platform: h.enable_iommu_platform,
        hotplug_vfio_on_root_bus: h.hotplug_vfio_on_root_bus,
        hot_plug_vfio: one_of(
            o,
            "hot_plug_vfio",
            h.hot_plug_vfio,
            d::VFIO_PORT,
            &vfio_ports,
        )?,
        cold_plug_vfio: one_of(
            o,
            "cold_plug_vfio",
            h.cold_plug_vfio,
            d::VFIO_PORT,
            &vfio_ports,
        )?,
        pcie_root_port: h.pcie_root_port,
        pcie_switch_port: h.pcie_switch_port,
        disable_vhost_net: h.disable_vhost_net,
        use_legacy_serial: h.use_legacy_serial,
        entropy_source: or_default(h.entropy_source, d::ENTROPY_SOURCE),
        rx_rate_limiter_max_rate: h.rx_rate_limiter_max_rate,
        tx_rate_limiter_max_rate: h.tx_rate_limiter_max_rate,
        default_gpus: 0,
        default_gpu_model: String::new(),
        cc_init_data: String::new(),
        use_vsock: h.use_vsock,
        shared_fs,
        virtio_fs_daemon: or_default(h.virtio_fs_daemon, d::VIRTIO_FS_DAEMON),
        virtio_fs_cache: one_of(
            o,
            "virtio_fs_cache",
            h.virtio_fs_cache,
            d::VIRTIO_FS_CACHE,
            &["never", "none", "metadata", "auto", "always"],
        )?,
        virtio_fs_cache_size: h.virtio_fs_cache_size,
        virtio_fs_queue_size: nonzero_or(h.virtio_fs_queue_size, d::VIRTIO_FS_QUEUE_SIZE),
        virtio_fs_extra_args: h.virtio_fs_extra_args,
        msize_9p,
        enable_annotations: h.enable_annotations,
        valid_hypervisor_paths: h.valid_hypervisor_paths,
        valid_jailer_paths: h.valid_jailer_paths,
        valid_virtio_fs_daemon_paths: h.valid_virtio_fs_daemon_paths,
        valid_vhost_user_store_paths: h.valid_vhost_user_store_paths,
        valid_file_mem_backends: h.valid_file_mem_backends,
        valid_entropy_sources: h.valid_entropy_sources,
        valid_kernel_paths: h.valid_kernel_paths,
        valid_image_paths: h.valid_image_paths,
        valid_initrd_paths: h.valid_initrd_paths,
        valid_firmware_paths: h.valid_firmware_paths,
        enable_debug: h.enable_debug,
        disable_nesting_checks: h.disable_nesting_checks,
        extra_monitor_socket: h.extra_monitor_socket,
        guest_hook_path: h.guest_hook_path,
        guest_memory_dump_path: h.guest_memory_dump_path,
        guest_memory_dump_paging: h.guest_memory_dump_paging,
        hypervisor_loglevel: nonzero_or(h.hypervisor_loglevel, d::HYPERVISOR_LOGLEVEL),
        disable_selinux: h.disable_selinux,
        disable_guest_selinux: h.disable_guest_selinux,
        disable_seccomp: h.disable_seccomp,
        pass_through: HypervisorPassThrough {
            disk_rate_limiter_bw_max_rate: h.disk_rate_limiter_bw_max_rate,
            disk_rate_limiter_bw_one_time_burst: h.disk_rate_limiter_bw_one_time_burst,
            disk_rate_limiter_ops_max_rate: h.disk_rate_limiter_ops_max_rate,
            disk_rate_limiter_ops_one_time_burst: h.disk_rate_limiter_ops_one_time_burst,
            net_rate_limiter_bw_max_rate: h.net_rate_limiter_bw_max_rate,
            net_rate_limiter_bw_one_time_burst: h.net_rate_limiter_bw_one_time_burst,
            net_rate_limiter_ops_max_rate: h.net_rate_limiter_ops_max_rate,
            net_rate_limiter_ops_one_time_burst: h.net_rate_limiter_ops_one_time_burst,
            confidential_guest: h.confidential_guest,
            sev_snp_guest: h.sev_snp_guest,
            snp_id_block: h.snp_id_block,
            snp_id_auth: h.snp_id_auth,
            snp_guest_policy: h.snp_guest_policy,
            measurement_algo: or_default(h.measurement_algo, d::MEASUREMENT_ALGO),
            tdx_quote_generation_service_socket_port: h.tdx_quote_generation_service_socket_port,
            remote_hypervisor_socket: or_default(
                h.remote_hypervisor_socket,
                d::REMOTE_HYPERVISOR_SOCKET,
            ),
            remote_hypervisor_timeout: nonzero_or(
                h.remote_hypervisor_timeout,
                d::REMOTE_HYPERVISOR_TIMEOUT,
            ),
            guest_extension_images: h
                .guest_extension_images
                .into_iter()
                .map(|g| GuestExtensionImage {
                    name: g.name,
                    path: g.path,
                    verity_params: g.verity_params,
                })
                .collect(),
        },
    })
}

fn resolve_agent(a: RawAgent) -> AgentConfig {
    AgentConfig {
        name: "kata".to_string(),
        enable_debug: a.enable_debug,
        enable_tracing: a.enable_tracing,
        trace_mode: a.trace_mode,
        trace_type: a.trace_type,
        kernel_modules: a.kernel_modules,
        debug_console_enabled: a.debug_console_enabled,
        dial_timeout: nonzero_or(a.dial_timeout, d::AGENT_DIAL_TIMEOUT),
        cdh_api_timeout: nonzero_or(a.cdh_api_timeout, d::AGENT_CDH_API_TIMEOUT),
        launch_process_timeout: a.launch_process_timeout,
        visible_cdi_devices: a.visible_cdi_devices,
        container_pipe_size: a.container_pipe_size,
        policy: String::new(),
    }
}

fn runtime_one_of(
    o: &Origins,
    key: &str,
    value: String,
    default: &str,
    allowed: &[&str],
) -> Result<String, ConfigError> {
    let value = or_default(value, default);
    if allowed.contains(&value.as_str()) {
        return Ok(value);
    }
    let full = format!("runtime.{key}");
    Err(ConfigError::invalid(
        o.file(&full),
        full.clone(),
        &value,
        format!("supported values: {}", allowed.join(", ")),
    ))
}

fn resolve_runtime(
    r: RawRuntime,
    img: RawImage,
    o: &Origins,
) -> Result<RuntimeConfig, ConfigError> {
    let model_name = or_default(r.internetworking_model, d::INTERNETWORKING_MODEL);
    let internetworking_model = InterNetworkingModel::from_name(&model_name).ok_or_else(|| {
        ConfigError::invalid(
            o.file("runtime.internetworking_model"),
            "runtime.internetworking_model",
            &model_name,
            format!(
                "supported models: {}",
                InterNetworkingModel::VALUES.join(", ")
            ),
        )
    })?;
    Ok(RuntimeConfig {
        enable_debug: r.enable_debug,
        enable_tracing: r.enable_tracing,
        jaeger_endpoint: or_default(r.jaeger_endpoint, d::JAEGER_ENDPOINT),
        jaeger_user: r.jaeger_user,
        jaeger_password: r.jaeger_password,
        disable_new_netns: r.disable_new_netns,
        disable_guest_seccomp: r.disable_guest_seccomp,
        internetworking_model,
        sandbox_cgroup_only: r.sandbox_cgroup_only,
        static_sandbox_resource_mgmt: r.static_sandbox_resource_mgmt,
        sandbox_bind_mounts: r.sandbox_bind_mounts,
        enable_vcpus_pinning: r.enable_vcpus_pinning,
        guest_selinux_label: r.guest_selinux_label,
        vfio_mode: runtime_one_of(
            o,
            "vfio_mode",
            r.vfio_mode,
            d::VFIO_MODE,
            &["vfio", "guest-kernel"],
        )?,
        disable_guest_empty_dir: r.disable_guest_empty_dir,
        emptydir_mode: runtime_one_of(
            o,
            "emptydir_mode",
            r.emptydir_mode,
            d::EMPTYDIR_MODE,
            &["shared-fs", "block-encrypted", "block-plain"],
        )?,
        experimental: r.experimental,
        enable_pprof: r.enable_pprof,
        create_container_timeout: nonzero_or(
            r.create_container_timeout,
            d::CREATE_CONTAINER_TIMEOUT,
        ),
        dan_conf: or_default(r.dan_conf, d::DAN_CONF),
        kubelet_root_dir: or_default(r.kubelet_root_dir, d::KUBELET_ROOT_DIR),
        pod_resource_api_sock: r.pod_resource_api_sock,
        experimental_force_guest_pull: r.experimental_force_guest_pull,
        image_service_offload: img.service_offload,
        image_provision: img.provision,
    })
}

fn resolve_factory(f: RawFactory) -> FactoryConfig {
    FactoryConfig {
        enable_template: f.enable_template,
        template_path: PathBuf::from(or_default(f.template_path, d::TEMPLATE_PATH)),
        vm_cache_number: f.vm_cache_number,
        vm_cache_endpoint: PathBuf::from(or_default(f.vm_cache_endpoint, d::VM_CACHE_ENDPOINT)),
    }
}

/// Kata's rule for numeric keys: 0 (unset) means the built-in default.
fn nonzero_or<T: PartialEq + Default>(value: T, default: T) -> T {
    if value == T::default() {
        default
    } else {
        value
    }
}
