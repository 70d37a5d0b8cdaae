//! Every `io.katacontainers.config.*` annotation with a valid and an invalid value.

mod common;

use common::*;
use kata_config::annotations::{AGENT_ANNOTATIONS, HYPERVISOR_ANNOTATIONS, RUNTIME_ANNOTATIONS};
use kata_config::{AnnotationError, BlockDeviceDriver, Config, InterNetworkingModel, SharedFs};

const HV: &str = "io.katacontainers.config.hypervisor.";
const RT: &str = "io.katacontainers.config.runtime.";
const AG: &str = "io.katacontainers.config.agent.";
const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
                   0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Case {
    name: &'static str,
    valid: &'static str,
    check: fn(&Config) -> bool,
    invalid: Option<&'static str>,
    /// Other annotations applied together with this one.
    with: &'static [(&'static str, &'static str)],
    image_boot: bool,
}

const fn case(
    name: &'static str,
    valid: &'static str,
    check: fn(&Config) -> bool,
    invalid: Option<&'static str>,
) -> Case {
    Case {
        name,
        valid,
        check,
        invalid,
        with: &[],
        image_boot: false,
    }
}

fn hypervisor_cases() -> Vec<Case> {
    vec![
        case(
            "path",
            QEMU,
            |c| c.hypervisor.path == std::path::Path::new(QEMU),
            Some("/opt/evil/qemu"),
        ),
        case(
            "jailer_path",
            QEMU,
            |c| c.hypervisor.jailer_path == QEMU,
            Some("/opt/evil/qemu"),
        ),
        case(
            "kernel",
            "/usr/share/kata-containers/other-kernel",
            |c| c.hypervisor.kernel.ends_with("other-kernel"),
            Some("/tmp/elsewhere"),
        ),
        Case {
            image_boot: true,
            ..case(
                "image",
                IMAGE,
                |c| c.hypervisor.image.is_some(),
                Some("/tmp/elsewhere"),
            )
        },
        case(
            "initrd",
            "/usr/share/kata-containers/other-initrd.img",
            |c| {
                c.hypervisor
                    .initrd
                    .as_ref()
                    .is_some_and(|p| p.ends_with("other-initrd.img"))
            },
            Some("/nonexistent"),
        ),
        case(
            "firmware",
            "/usr/share/kata-containers/other-kernel",
            |c| c.hypervisor.firmware.is_some(),
            Some("/tmp/elsewhere"),
        ),
        case(
            "firmware_volume",
            "/usr/share/kata-containers/other-kernel",
            |c| c.hypervisor.firmware_volume.is_some(),
            Some("/tmp/elsewhere"),
        ),
        case(
            "kernel_hash",
            SHA,
            |c| c.hypervisor.asset_hashes.contains_key("kernel_hash"),
            Some("xyz"),
        ),
        case(
            "image_hash",
            SHA,
            |c| c.hypervisor.asset_hashes.contains_key("image_hash"),
            Some("12"),
        ),
        case(
            "initrd_hash",
            SHA,
            |c| c.hypervisor.asset_hashes.contains_key("initrd_hash"),
            Some(""),
        ),
        case(
            "hypervisor_hash",
            SHA,
            |c| c.hypervisor.asset_hashes.contains_key("hypervisor_hash"),
            Some("g"),
        ),
        case(
            "jailer_hash",
            SHA,
            |c| c.hypervisor.asset_hashes.contains_key("jailer_hash"),
            Some("g"),
        ),
        case(
            "firmware_hash",
            SHA,
            |c| c.hypervisor.asset_hashes.contains_key("firmware_hash"),
            Some("g"),
        ),
        case(
            "firmware_volume_hash",
            SHA,
            |c| {
                c.hypervisor
                    .asset_hashes
                    .contains_key("firmware_volume_hash")
            },
            Some("g"),
        ),
        case(
            "kernel_params",
            "quiet a=1",
            |c| c.hypervisor.kernel_params.get("a") == Some(Some("1")),
            Some("=x"),
        ),
        case(
            "kernel_verity_params",
            "root_hash=ab",
            |c| c.hypervisor.kernel_verity_params == "root_hash=ab",
            None,
        ),
        case(
            "machine_type",
            "pc",
            |c| c.hypervisor.machine_type == "pc",
            None,
        ),
        case(
            "machine_accelerators",
            " nosmm, ",
            |c| c.hypervisor.machine_accelerators == "nosmm",
            None,
        ),
        case(
            "cpu_features",
            "pmu=off",
            |c| c.hypervisor.cpu_features == "pmu=off",
            None,
        ),
        case(
            "default_vcpus",
            "2",
            |c| c.hypervisor.default_vcpus == 2,
            Some("9"),
        ),
        case(
            "default_max_vcpus",
            "3",
            |c| c.hypervisor.default_maxvcpus == 3,
            Some("5"),
        ),
        case(
            "default_memory",
            "1024",
            |c| c.hypervisor.default_memory == 1024,
            Some("100"),
        ),
        case(
            "memory_slots",
            "4",
            |c| c.hypervisor.memory_slots == 4,
            Some("-1"),
        ),
        case(
            "memory_offset",
            "64",
            |c| c.hypervisor.memory_offset == 64,
            Some("x"),
        ),
        case(
            "enable_virtio_mem",
            "true",
            |c| c.hypervisor.enable_virtio_mem,
            Some("yes"),
        ),
        case(
            "enable_mem_prealloc",
            "1",
            |c| c.hypervisor.enable_mem_prealloc,
            Some("yes"),
        ),
        case(
            "reclaim_guest_freed_memory",
            "T",
            |c| c.hypervisor.reclaim_guest_freed_memory,
            Some("on"),
        ),
        case(
            "enable_hugepages",
            "True",
            |c| c.hypervisor.enable_hugepages,
            Some("2"),
        ),
        case(
            "enable_swap",
            "TRUE",
            |c| c.hypervisor.enable_swap,
            Some("y"),
        ),
        case(
            "file_mem_backend",
            "/dev/hugepages",
            |c| c.hypervisor.file_mem_backend == "/dev/hugepages",
            Some("/tmp/elsewhere"),
        ),
        case(
            "enable_iommu",
            "t",
            |c| c.hypervisor.enable_iommu,
            Some("yes"),
        ),
        case(
            "enable_iommu_platform",
            "true",
            |c| c.hypervisor.enable_iommu_platform,
            Some("yes"),
        ),
        case(
            "numa_mapping",
            "0-1,2",
            |c| c.hypervisor.numa_mapping == ["0-1", "2"],
            Some("a"),
        ),
        case(
            "msize_9p",
            "16384",
            |c| c.hypervisor.msize_9p == 16384,
            Some("0"),
        ),
        case(
            "shared_fs",
            "virtio-9p",
            |c| c.hypervisor.shared_fs == SharedFs::Virtio9p,
            Some("nfs"),
        ),
        case(
            "virtio_fs_daemon",
            "/usr/libexec/virtiofsd",
            |c| c.hypervisor.virtio_fs_daemon == "/usr/libexec/virtiofsd",
            Some("/opt/evil/qemu"),
        ),
        case(
            "virtio_fs_cache",
            "always",
            |c| c.hypervisor.virtio_fs_cache == "always",
            Some("sometimes"),
        ),
        case(
            "virtio_fs_cache_size",
            "128",
            |c| c.hypervisor.virtio_fs_cache_size == 128,
            Some("-1"),
        ),
        case(
            "virtio_fs_extra_args",
            "[\"--x\"]",
            |c| c.hypervisor.virtio_fs_extra_args == ["--x"],
            Some("--x"),
        ),
        case(
            "block_device_driver",
            "virtio-blk-ccw",
            |c| c.hypervisor.block_device_driver == BlockDeviceDriver::VirtioBlkCcw,
            Some("ide"),
        ),
        case(
            "block_device_aio",
            "native",
            |c| c.hypervisor.block_device_aio == "native",
            Some("posix"),
        ),
        case(
            "disable_block_device_use",
            "true",
            |c| c.hypervisor.disable_block_device_use,
            Some("x"),
        ),
        case(
            "enable_iothreads",
            "true",
            |c| c.hypervisor.enable_iothreads,
            Some("x"),
        ),
        case(
            "indep_iothreads",
            "2",
            |c| c.hypervisor.indep_iothreads == 2,
            Some("x"),
        ),
        case(
            "block_device_cache_set",
            "true",
            |c| c.hypervisor.block_device_cache_set,
            Some("x"),
        ),
        case(
            "block_device_cache_direct",
            "true",
            |c| c.hypervisor.block_device_cache_direct,
            Some("x"),
        ),
        case(
            "block_device_cache_noflush",
            "true",
            |c| c.hypervisor.block_device_cache_noflush,
            Some("x"),
        ),
        case(
            "blk_logical_sector_size",
            "4096",
            |c| c.hypervisor.block_device_logical_sector_size == 4096,
            Some("1000"),
        ),
        case(
            "blk_physical_sector_size",
            "512",
            |c| c.hypervisor.block_device_physical_sector_size == 512,
            Some("131072"),
        ),
        case(
            "disable_vhost_net",
            "true",
            |c| c.hypervisor.disable_vhost_net,
            Some("x"),
        ),
        case(
            "enable_vhost_user_store",
            "true",
            |c| c.hypervisor.enable_vhost_user_store,
            Some("x"),
        ),
        case(
            "vhost_user_store_path",
            "/var/run/kata-containers/vhost-user",
            |c| c.hypervisor.vhost_user_store_path == "/var/run/kata-containers/vhost-user",
            Some("/tmp/elsewhere"),
        ),
        case(
            "vhost_user_reconnect_timeout_sec",
            "5",
            |c| c.hypervisor.vhost_user_reconnect_timeout_sec == 5,
            Some("x"),
        ),
        case(
            "guest_hook_path",
            "/usr/share/oci/hooks",
            |c| c.hypervisor.guest_hook_path == "/usr/share/oci/hooks",
            None,
        ),
        case(
            "disable_image_nvdimm",
            "true",
            |c| c.hypervisor.disable_image_nvdimm,
            Some("x"),
        ),
        case("use_vsock", "true", |c| c.hypervisor.use_vsock, Some("x")),
        case(
            "hotplug_vfio_on_root_bus",
            "true",
            |c| c.hypervisor.hotplug_vfio_on_root_bus,
            Some("x"),
        ),
        case(
            "cold_plug_vfio",
            "root-port",
            |c| c.hypervisor.cold_plug_vfio == "root-port",
            Some("x"),
        ),
        case(
            "hot_plug_vfio",
            "bridge-port",
            |c| c.hypervisor.hot_plug_vfio == "bridge-port",
            Some("x"),
        ),
        case(
            "pcie_root_port",
            "2",
            |c| c.hypervisor.pcie_root_port == 2,
            Some("17"),
        ),
        case(
            "pcie_switch_port",
            "2",
            |c| c.hypervisor.pcie_switch_port == 2,
            Some("-1"),
        ),
        case(
            "entropy_source",
            "/dev/random",
            |c| c.hypervisor.entropy_source == "/dev/random",
            Some("/tmp/elsewhere"),
        ),
        case(
            "use_legacy_serial",
            "true",
            |c| c.hypervisor.use_legacy_serial,
            Some("x"),
        ),
        case(
            "default_gpus",
            "1",
            |c| c.hypervisor.default_gpus == 1,
            Some("x"),
        ),
        case(
            "default_gpu_model",
            "a100",
            |c| c.hypervisor.default_gpu_model == "a100",
            None,
        ),
        case(
            "rx_rate_limiter_max_rate",
            "1000",
            |c| c.hypervisor.rx_rate_limiter_max_rate == 1000,
            Some("x"),
        ),
        case(
            "tx_rate_limiter_max_rate",
            "1000",
            |c| c.hypervisor.tx_rate_limiter_max_rate == 1000,
            Some("x"),
        ),
        case(
            "enable_guest_swap",
            "true",
            |c| c.hypervisor.enable_guest_swap,
            Some("x"),
        ),
        case("rootless", "true", |c| c.hypervisor.rootless, Some("x")),
        case(
            "cc_init_data",
            "abc",
            |c| c.hypervisor.cc_init_data == "abc",
            None,
        ),
    ]
}

fn runtime_cases() -> Vec<Case> {
    vec![
        case(
            "disable_guest_seccomp",
            "true",
            |c| c.runtime.disable_guest_seccomp,
            Some("x"),
        ),
        case(
            "guest_selinux_label",
            "system_u:system_r:container_t",
            |c| c.runtime.guest_selinux_label.starts_with("system_u"),
            None,
        ),
        case(
            "sandbox_cgroup_only",
            "true",
            |c| c.runtime.sandbox_cgroup_only,
            Some("x"),
        ),
        case(
            "enable_pprof",
            "true",
            |c| c.runtime.enable_pprof,
            Some("x"),
        ),
        case(
            "experimental",
            "",
            |c| c.runtime.experimental.is_empty(),
            Some("newstore"),
        ),
        case(
            "internetworking_model",
            "macvtap",
            |c| c.runtime.internetworking_model == InterNetworkingModel::MacVtap,
            Some("bridged"),
        ),
        Case {
            with: &[(
                "io.katacontainers.config.runtime.internetworking_model",
                "none",
            )],
            ..case(
                "disable_new_netns",
                "true",
                |c| c.runtime.disable_new_netns,
                Some("x"),
            )
        },
        case(
            "vfio_mode",
            "vfio",
            |c| c.runtime.vfio_mode == "vfio",
            Some("x"),
        ),
        case(
            "create_container_timeout",
            "30",
            |c| c.runtime.create_container_timeout == 30,
            Some("-3"),
        ),
        case(
            "experimental_force_guest_pull",
            "true",
            |c| c.runtime.experimental_force_guest_pull,
            Some("x"),
        ),
        case(
            "enable_vcpus_pinning",
            "true",
            |c| c.runtime.enable_vcpus_pinning,
            Some("x"),
        ),
    ]
}

fn agent_cases() -> Vec<Case> {
    vec![
        case(
            "kernel_modules",
            "e1000e InterruptThrottleRate=3000;i915",
            |c| c.agent.kernel_modules == ["e1000e InterruptThrottleRate=3000", "i915"],
            None,
        ),
        case(
            "enable_tracing",
            "true",
            |c| c.agent.enable_tracing,
            Some("x"),
        ),
        case(
            "trace_mode",
            "static",
            |c| c.agent.trace_mode == "static",
            None,
        ),
        case(
            "trace_type",
            "isolated",
            |c| c.agent.trace_type == "isolated",
            None,
        ),
        case(
            "container_pipe_size",
            "1024",
            |c| c.agent.container_pipe_size == 1024,
            Some("x"),
        ),
        case(
            "policy",
            "cGFzcw==",
            |c| c.agent.policy == "cGFzcw==",
            Some("not base64!"),
        ),
        case(
            "cdh_api_timeout",
            "10",
            |c| c.agent.cdh_api_timeout == 10,
            Some("x"),
        ),
    ]
}

fn run(prefix: &str, cases: Vec<Case>) {
    for case in cases {
        let name = format!("{prefix}{}", case.name);
        let boot = if case.image_boot {
            format!("image = \"{IMAGE}\"")
        } else {
            initrd_boot()
        };
        let mut c = open_config(&boot);
        let mut pairs = vec![(name.as_str(), case.valid)];
        pairs.extend_from_slice(case.with);
        apply(&mut c, &pairs).unwrap_or_else(|e| panic!("{name}={:?}: {e}", case.valid));
        assert!((case.check)(&c), "{name}={:?} not applied", case.valid);
        if let Some(bad) = case.invalid {
            let mut c = open_config(&boot);
            let err = apply(&mut c, &[(name.as_str(), bad)])
                .expect_err(&format!("{name}={bad:?} must be refused"));
            let msg = err.to_string();
            assert!(
                msg.contains(&name) || matches!(err, AnnotationError::Config { .. }),
                "error names the annotation: {msg}"
            );
        }
    }
}

#[test]
fn every_hypervisor_annotation() {
    run(HV, hypervisor_cases());
}

#[test]
fn every_runtime_annotation() {
    run(RT, runtime_cases());
}

#[test]
fn every_agent_annotation() {
    run(AG, agent_cases());
}

#[test]
fn the_tables_cover_every_known_annotation() {
    let names = |v: Vec<Case>| v.into_iter().map(|c| c.name).collect::<Vec<_>>();
    let mut h = names(hypervisor_cases());
    let mut want = HYPERVISOR_ANNOTATIONS.to_vec();
    h.sort_unstable();
    want.sort_unstable();
    assert_eq!(h, want);
    let mut r = names(runtime_cases());
    let mut want = RUNTIME_ANNOTATIONS.to_vec();
    r.sort_unstable();
    want.sort_unstable();
    assert_eq!(r, want);
    let mut a = names(agent_cases());
    let mut want = AGENT_ANNOTATIONS.to_vec();
    a.sort_unstable();
    want.sort_unstable();
    assert_eq!(a, want);
}
