//! The fate of every key of `configuration.toml`: one line per key.
//!
//! Key set: Kata 2.x `configuration-qemu.toml` plus every key Kata's `config.go` reads
//! (`src/runtime/pkg/katautils/config.go`); defaults from `configuration-qemu.toml.in` and
//! `config-settings.go.in`.
//!
//! To make a key act, change its line from `no(..)` to `acts(..)` and say where it acts
//! (and which test shows it), then regenerate the table:
//! `KATA_BLESS=1 cargo test -p kata-config --test fates`.
//!
//! `no(..).inert("v")`: the key has no effect, but `v` is what kata-rs does anyway, so a
//! file setting `v` is not warned about (a key's zero value, as absent, never is).
//! `.refuse(Refuse::.., "why")`: those values fail the load.

use super::{acts, no, KeyFate, Refuse};

const HV: &str = "hypervisor.qemu";
const AG: &str = "agent.kata";
const RT: &str = "runtime";
const FA: &str = "factory";
const IM: &str = "image";

/// Every key, in file order of sections.
#[rustfmt::skip]
pub static KEYS: &[KeyFate] = &[
    // ---- [hypervisor.qemu]: assets and machine
    acts(HV, "path", "/usr/bin/qemu-system-x86_64", "the QEMU binary launched (sandbox vm_spec.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    no(HV, "jailer_path", "", "a Firecracker jailer; kata-rs runs QEMU only"),
    acts(HV, "kernel", "/usr/share/kata-containers/vmlinux.container", "QEMU -kernel (sandbox vm_spec.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    acts(HV, "initrd", "", "QEMU -initrd (sandbox vm_spec.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    acts(HV, "image", "/usr/share/kata-containers/kata-containers.img", "first virtio-blk disk, Kata's root and systemd kernel parameters (sandbox vm_spec.rs, qemu cmdline/block.rs); unit tests sandbox vm_spec an_image_boot_gets_kata_s_root_parameters, qemu cmdline block image_is_the_first_read_only_disk (no rootfs image builder yet, so no image boot is tested)"),
    no(HV, "firmware", "", "QEMU boots its default BIOS; no firmware option is passed"),
    no(HV, "firmware_volume", "", "QEMU boots its default BIOS; no firmware volume is passed"),
    acts(HV, "machine_accelerators", "", "appended to -machine TYPE, verbatim: QEMU 7.2 wants e.g. smm=off, not nosmm (sandbox vm_spec.rs, qemu cmdline/machine.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    acts(HV, "cpu_features", "pmu=off", "appended to the -cpu model (qemu cmdline/mod.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    acts(HV, "kernel_params", "", "guest kernel command line, winning over built-in parameters (sandbox vm_spec.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest, differential kata_configuration"),
    no(HV, "kernel_verity_params", "", "no dm-verity root").refuse(Refuse::NonEmpty, "kata-rs cannot verify the guest image with dm-verity"),
    acts(HV, "machine_type", "q35", "QEMU -machine (sandbox vm_spec.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    no(HV, "rootfs_type", "ext4", "the guest mounts the image's root as the kernel finds it").inert("ext4"),
    acts(HV, "rootless", "false", "QEMU and its daemons run as an unprivileged user (sandbox launcher.rs, rootless.rs); test e2e least_privilege rootless_runs_qemu_unprivileged"),
    acts(HV, "seccompsandbox", "", "QEMU -sandbox (sandbox vm_spec.rs, qemu cmdline/sandbox.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest, least_privilege shipped_config_confines_qemu_virtiofsd_and_the_shims_mounts"),
    no(HV, "pflashes", "[]", "no -pflash images are passed"),
    // ---- CPU and memory
    acts(HV, "default_vcpus", "1", "QEMU -smp at boot (sandbox resources.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    acts(HV, "default_maxvcpus", "0", "QEMU -smp maxcpus, the vCPU hotplug ceiling (sandbox backend/resources.rs, qemu resize.rs); test e2e resources updates_grow_the_vm_and_a_deleted_container_gives_its_vcpus_back"),
    acts(HV, "default_memory", "2048", "QEMU -m at boot (sandbox resources.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest, resources memory_limit_of_1gib_lets_the_container_allocate_900mib"),
    acts(HV, "memory_slots", "10", "QEMU -m slots, one pc-dimm per memory hot-add (sandbox backend/resources.rs, qemu resize.rs); test e2e resources updates_grow_the_vm_and_a_deleted_container_gives_its_vcpus_back"),
    acts(HV, "default_maxmemory", "0", "QEMU -m maxmem, the memory hotplug ceiling (sandbox backend/resources.rs, qemu resize.rs); test e2e resources memory_limit_of_1gib_lets_the_container_allocate_900mib"),
    no(HV, "memory_offset", "0", "no NVDIMM devices are used"),
    no(HV, "enable_virtio_mem", "false", "no virtio-mem device"),
    acts(HV, "enable_mem_prealloc", "false", "prealloc=on on guest RAM's backend (qemu cmdline/mem_backend.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    acts(HV, "reclaim_guest_freed_memory", "false", "virtio-balloon-pci free-page-reporting=on (qemu cmdline/balloon.rs); the guest image needs virtio_balloon.ko (EXTRA_MODULES) to report; test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    acts(HV, "enable_hugepages", "false", "guest RAM in a preallocated hugetlb memfd; the host must reserve huge pages (qemu cmdline/mem_backend.rs); test e2e config_keys hugepages_back_guest_ram_and_kernel_modules_are_loaded_or_refuse_the_pod"),
    no(HV, "enable_swap", "false", "Kata 1.x key; guest memory is never mlocked"),
    acts(HV, "file_mem_backend", "", "guest RAM is a shared file in this directory (memory-backend-file); not a directory: refused at load (qemu cmdline/mem_backend.rs, sandbox vm_spec.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    no(HV, "enable_numa", "false", "no guest NUMA topology"),
    no(HV, "numa_mapping", "[]", "no guest NUMA topology"),
    no(HV, "enable_guest_swap", "false", "no guest swap device"),
    // ---- devices
    no(HV, "default_bridges", "1", "no PCI bridges are created"),
    no(HV, "block_device_driver", "virtio-scsi", "container block devices are not hotplugged; only the image disk, as virtio-blk"),
    no(HV, "block_device_aio", "io_uring", "container block devices are not hotplugged"),
    no(HV, "block_device_cache_set", "false", "container block devices are not hotplugged"),
    no(HV, "block_device_cache_direct", "false", "container block devices are not hotplugged"),
    no(HV, "block_device_cache_noflush", "false", "container block devices are not hotplugged"),
    no(HV, "block_device_logical_sector_size", "0", "container block devices are not hotplugged"),
    no(HV, "block_device_physical_sector_size", "0", "container block devices are not hotplugged"),
    no(HV, "disable_block_device_use", "true", "container root file systems always go through the shared file system").inert("true"),
    no(HV, "enable_iothreads", "false", "no iothreads are created"),
    no(HV, "indep_iothreads", "0", "no iothreads are created"),
    no(HV, "disable_image_nvdimm", "false", "the image is always a virtio-blk disk, never NVDIMM").inert("true"),
    no(HV, "enable_vhost_user_store", "false", "no vhost-user block devices"),
    no(HV, "vhost_user_store_path", "/var/run/kata-containers/vhost-user", "no vhost-user block devices").inert("/var/run/kata-containers/vhost-user"),
    no(HV, "vhost_user_reconnect_timeout_sec", "0", "no vhost-user block devices"),
    no(HV, "enable_iommu", "false", "no vIOMMU"),
    no(HV, "enable_iommu_platform", "false", "devices get no iommu_platform option"),
    no(HV, "hotplug_vfio_on_root_bus", "false", "no VFIO devices"),
    no(HV, "hot_plug_vfio", "no-port", "no VFIO devices").inert("no-port"),
    no(HV, "cold_plug_vfio", "no-port", "no VFIO devices").inert("no-port"),
    no(HV, "pcie_root_port", "0", "no pcie-root-ports are created"),
    no(HV, "pcie_switch_port", "0", "no PCIe switch ports are created"),
    no(HV, "disable_vhost_net", "false", "network devices never use vhost-net").inert("true"),
    no(HV, "use_legacy_serial", "false", "the console is always virtio-console"),
    acts(HV, "entropy_source", "/dev/urandom", "virtio-rng-pci reading it, the guest's hw_random (qemu cmdline/rng.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    no(HV, "rx_rate_limiter_max_rate", "0", "no inbound rate limit"),
    no(HV, "tx_rate_limiter_max_rate", "0", "no outbound rate limit"),
    no(HV, "disk_rate_limiter_bw_max_rate", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "disk_rate_limiter_bw_one_time_burst", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "disk_rate_limiter_ops_max_rate", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "disk_rate_limiter_ops_one_time_burst", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "net_rate_limiter_bw_max_rate", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "net_rate_limiter_bw_one_time_burst", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "net_rate_limiter_ops_max_rate", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "net_rate_limiter_ops_one_time_burst", "0", "Cloud Hypervisor and Firecracker only"),
    no(HV, "use_vsock", "true", "Kata 1.x key; the agent channel is always (hybrid) vsock").inert("true"),
    // ---- shared file system
    acts(HV, "shared_fs", "virtio-fs", "virtio-fs (virtiofsd) or virtio-9p (QEMU -fsdev, the agent mounts 9p; needs a guest kernel with 9p) (sandbox vm_spec.rs, task/boot.rs); test e2e config_keys virtio_9p_shares_the_container_files_without_virtiofsd").refuse(Refuse::Strings(&["virtio-fs-nydus", "none"]), "kata-rs has no nydusd; with none, container root file systems have no way into the guest (no block-device rootfs)"),
    acts(HV, "virtio_fs_daemon", "/usr/libexec/virtiofsd", "the virtiofsd binary started (sandbox launcher.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    acts(HV, "virtio_fs_cache", "auto", "virtiofsd --cache= (none = never, as Kata) (sandbox vm_spec.rs, vm-daemons virtiofs.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    no(HV, "virtio_fs_cache_size", "0", "no DAX window").refuse(Refuse::NonEmpty, "no DAX window: QEMU 7.2's vhost-user-fs-pci has no cache-size"),
    acts(HV, "virtio_fs_queue_size", "1024", "vhost-user-fs-pci queue-size= (qemu cmdline/sharedfs.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    acts(HV, "virtio_fs_extra_args", "[\"--thread-pool-size=1\", \"--announce-submounts\"]", "extra virtiofsd arguments (sandbox vm_spec.rs, vm-daemons virtiofs.rs); test e2e config_keys machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act"),
    acts(HV, "msize_9p", "8192", "msize= of the guest's 9p mount with shared_fs = virtio-9p (sandbox task/boot.rs); test e2e config_keys virtio_9p_shares_the_container_files_without_virtiofsd"),
    // ---- annotation policy
    acts(HV, "enable_annotations", "[\"enable_iommu\"]", "which io.katacontainers.config.* annotations a pod may set (config annotations/); test config annotations hypervisor_path_refused_unless_enabled_and_allow_listed, e2e hostile_guest annotations_naming_paths_outside_the_valid_lists_are_refused_at_create"),
    acts(HV, "valid_hypervisor_paths", "[\"/usr/bin/qemu-system-x86_64\"]", "allow-list of the path annotation (config annotations/); test e2e hostile_guest annotations_naming_paths_outside_the_valid_lists_are_refused_at_create"),
    acts(HV, "valid_jailer_paths", "[]", "allow-list of the jailer_path annotation (config annotations/); test e2e hostile_guest annotations_naming_paths_outside_the_valid_lists_are_refused_at_create"),
    acts(HV, "valid_virtio_fs_daemon_paths", "[\"/usr/libexec/virtiofsd\"]", "allow-list of the virtio_fs_daemon annotation (config annotations/); test e2e hostile_guest annotations_naming_paths_outside_the_valid_lists_are_refused_at_create"),
    acts(HV, "valid_vhost_user_store_paths", "[\"/var/run/kata-containers/vhost-user\"]", "allow-list of the vhost_user_store_path annotation (config annotations/); test config annotations each_path_annotation_is_held_by_its_valid_list"),
    acts(HV, "valid_file_mem_backends", "[]", "allow-list of the file_mem_backend annotation (config annotations/); test config annotations each_path_annotation_is_held_by_its_valid_list"),
    acts(HV, "valid_entropy_sources", "[\"/dev/urandom\", \"/dev/random\", \"\"]", "allow-list of the entropy_source annotation (config annotations/); test config annotations each_path_annotation_is_held_by_its_valid_list"),
    acts(HV, "valid_kernel_paths", "(kata-rs only)", "allow-list of the kernel annotation (config annotations/); test e2e hostile_guest annotations_naming_paths_outside_the_valid_lists_are_refused_at_create"),
    acts(HV, "valid_image_paths", "(kata-rs only)", "allow-list of the image annotation (config annotations/); the same check as the other lists (test config annotations each_path_annotation_is_held_by_its_valid_list)"),
    acts(HV, "valid_initrd_paths", "(kata-rs only)", "allow-list of the initrd annotation (config annotations/); test e2e hostile_guest annotations_naming_paths_outside_the_valid_lists_are_refused_at_create"),
    acts(HV, "valid_firmware_paths", "(kata-rs only)", "allow-list of the firmware annotations (config annotations/); test config annotations each_path_annotation_is_held_by_its_valid_list"),
    // ---- debug
    acts(HV, "enable_debug", "false", "guest kernel logs to the console (no quiet) (sandbox vm_spec.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    no(HV, "disable_nesting_checks", "false", "kata-rs makes no nesting adjustments"),
    no(HV, "extra_monitor_socket", "", "no extra monitor socket"),
    acts(HV, "guest_hook_path", "", "the agent runs the guest image's <path>/{prestart,poststart,poststop} executables for every container; a missing path is a warning, as in Kata (agent container/guest_hooks.rs); test e2e config_keys guest_hooks_run_in_the_guest_for_each_container"),
    no(HV, "guest_memory_dump_path", "", "guest memory is not dumped on a guest panic"),
    no(HV, "guest_memory_dump_paging", "false", "guest memory is not dumped on a guest panic"),
    no(HV, "hypervisor_loglevel", "1", "Cloud Hypervisor and Firecracker only"),
    no(HV, "disable_selinux", "false", "QEMU is never SELinux-labelled").inert("true"),
    no(HV, "disable_guest_selinux", "true", "the guest never applies SELinux").inert("true"),
    no(HV, "disable_seccomp", "false", "Cloud Hypervisor and Firecracker only (QEMU's filter is seccompsandbox)"),
    // ---- confidential guests
    no(HV, "confidential_guest", "false", "no TEE").refuse(Refuse::True, "kata-rs cannot run confidential (TEE) guests"),
    no(HV, "sev_snp_guest", "false", "no SEV-SNP").refuse(Refuse::True, "kata-rs cannot run SEV-SNP guests"),
    no(HV, "snp_id_block", "", "no SEV-SNP"),
    no(HV, "snp_id_auth", "", "no SEV-SNP"),
    no(HV, "snp_guest_policy", "0", "no SEV-SNP"),
    no(HV, "measurement_algo", "sha512", "no TEE measurement").inert("sha512"),
    no(HV, "tdx_quote_generation_service_socket_port", "0", "no TDX"),
    no(HV, "remote_hypervisor_socket", "/run/peerpod/hypervisor.sock", "the remote hypervisor only").inert("/run/peerpod/hypervisor.sock"),
    no(HV, "remote_hypervisor_timeout", "600", "the remote hypervisor only").inert("600"),
    no(HV, "guest_extension_images", "[]", "no guest extension images are attached"),
    // ---- [agent.kata]
    acts(AG, "enable_debug", "false", "agent.log=debug on the guest command line; the shim passes agent records at debug (sandbox vm_spec.rs, shim logging.rs); test e2e agent_log enable_debug_brings_the_agents_debug_records"),
    no(AG, "enable_tracing", "false", "the agent exports no spans"),
    no(AG, "trace_mode", "", "Kata 2.0 key; the agent exports no spans"),
    no(AG, "trace_type", "", "Kata 2.0 key; the agent exports no spans"),
    acts(AG, "kernel_modules", "[]", "loaded by the agent at CreateSandbox from the image's modules.dep, with parameters (a module built into the kernel counts as loaded); a missing module fails the sandbox (agent init/modules.rs); test e2e config_keys hugepages_back_guest_ram_and_kernel_modules_are_loaded_or_refuse_the_pod"),
    acts(AG, "debug_console_enabled", "false", "agent.debug_console on the guest command line (sandbox vm_spec.rs); test e2e debug_console (both tests)"),
    acts(AG, "dial_timeout", "45", "how long the shim waits for the agent to answer after QEMU starts (sandbox launcher.rs); test e2e config_keys dial_timeout_bounds_the_wait_for_the_agent"),
    no(AG, "cdh_api_timeout", "50", "no Confidential Data Hub").inert("50"),
    no(AG, "launch_process_timeout", "0", "not passed to the agent"),
    no(AG, "visible_cdi_devices", "false", "no CDI devices"),
    no(AG, "container_pipe_size", "0", "not passed to the agent"),
    // ---- [runtime]
    acts(RT, "enable_debug", "false", "the shim logs at debug (shim logging.rs); test e2e config_keys boot_keys_land_on_the_qemu_command_line_and_in_the_guest"),
    no(RT, "enable_tracing", "false", "the shim exports no trace spans (with an image boot it only keeps the guest's systemd tracing units, config kernel_params.rs)"),
    no(RT, "jaeger_endpoint", "http://localhost:14268/api/traces", "the shim exports no spans").inert("http://localhost:14268/api/traces"),
    no(RT, "jaeger_user", "", "the shim exports no spans"),
    no(RT, "jaeger_password", "", "the shim exports no spans"),
    no(RT, "disable_new_netns", "false", "the shim never creates a network namespace"),
    acts(RT, "disable_guest_seccomp", "true", "the container's seccomp profile is (not) applied in the guest (sandbox launcher.rs); test e2e differential (seccomp scenarios, with disable_guest_seccomp = false)"),
    acts(RT, "internetworking_model", "tcfilter", "how the VM is wired to the pod network (sandbox launcher.rs); test e2e network (tcfilter and macvtap), cri networking"),
    acts(RT, "sandbox_cgroup_only", "false", "true: the shim, virtiofsd, vhost-device-vsock and QEMU in the pod cgroup; false: QEMU alone (sandbox host/cgroup.rs, launcher.rs); test e2e resources sandbox_cgroup_only_puts_the_shim_qemu_and_daemons_in_the_pod_cgroup"),
    acts(RT, "static_sandbox_resource_mgmt", "false", "the VM is sized at boot from the pod's CRI sizing annotations (or a lone container's resources) and never hot-plugged (sandbox backend/resources.rs, task/resources.rs); test e2e resources static_sandbox_resource_mgmt_sizes_the_vm_at_boot"),
    no(RT, "sandbox_bind_mounts", "[]", "nothing is bind-mounted into the shared directory"),
    no(RT, "enable_vcpus_pinning", "false", "vCPU threads are not pinned"),
    no(RT, "guest_selinux_label", "", "the guest never applies SELinux"),
    no(RT, "vfio_mode", "guest-kernel", "no VFIO devices").inert("guest-kernel"),
    no(RT, "disable_guest_empty_dir", "true", "emptyDirs are handled like any other mount"),
    no(RT, "emptydir_mode", "shared-fs", "emptyDirs are handled like any other mount").inert("shared-fs").refuse(Refuse::Strings(&["block-encrypted"]), "kata-rs cannot encrypt emptyDirs"),
    no(RT, "experimental", "[]", "no experimental feature exists").refuse(Refuse::NonEmpty, "unsupported experimental feature"),
    no(RT, "enable_pprof", "false", "the shim has no pprof endpoint"),
    acts(RT, "create_container_timeout", "60", "deadline of the agent's CreateContainer (sandbox launcher.rs); test e2e config_keys create_container_timeout_bounds_the_agents_create_container"),
    no(RT, "dan_conf", "/run/kata-containers/dans", "no Directly Attachable Network").inert("/run/kata-containers/dans"),
    no(RT, "kubelet_root_dir", "/var/lib/kubelet", "ConfigMap/Secret mounts are not recognised").inert("/var/lib/kubelet"),
    no(RT, "pod_resource_api_sock", "", "no VFIO cold-plug"),
    no(RT, "experimental_force_guest_pull", "false", "images are pulled on the host").refuse(Refuse::True, "kata-rs cannot pull images in the guest"),
    // ---- [factory]
    acts(FA, "enable_template", "false", "`kata-runtime factory init` saves a template VM, each shim restores a copy-on-write clone of it (needs shared_fs = virtio-9p; sandbox template.rs); test e2e factory template_clones_run_pods_with_their_own_entropy"),
    acts(FA, "template_path", "/run/vc/vm/template", "where the template's memory, state and description live (sandbox template.rs); test e2e factory template_clones_run_pods_with_their_own_entropy"),
    acts(FA, "vm_cache_number", "0", "VMs kept booted by `kata-runtime factory init`, taken by each shim (needs shared_fs = virtio-fs; factory server.rs, sandbox base_vm.rs and cached_vm.rs); test e2e factory pods_take_cached_vms_and_destroy_leaves_nothing"),
    acts(FA, "vm_cache_endpoint", "/var/run/kata-containers/cache.sock", "the VMCache server's gRPC Unix socket, owner-only (factory socket.rs); test e2e factory a_killed_server_means_a_direct_boot_with_a_warning"),
    // ---- [image] (Kata 2.5-3.x placeholder, never implemented by Kata either)
    no(IM, "service_offload", "false", "images are pulled on the host"),
    no(IM, "provision", "", "no key provisioning"),
];
