//! Built-in defaults, in one place (Kata's `config-settings.go.in` values, with our install
//! paths). A key absent from the file, or set to Kata's "unset" value (0 or ""), takes these.

/// `hypervisor.qemu.path`.
pub const HYPERVISOR_PATH: &str = "/usr/bin/qemu-system-x86_64";
/// `hypervisor.qemu.kernel`.
pub const KERNEL_PATH: &str = "/usr/share/kata-containers/vmlinux.container";
/// Kata's image path (used by the shipped documentation; no default in code: set one of
/// `image` or `initrd`).
pub const IMAGE_PATH: &str = "/usr/share/kata-containers/kata-containers.img";
/// Our initrd path (the shipped configuration uses it).
pub const INITRD_PATH: &str = "/usr/share/kata-containers/kata-containers-initrd.img";
/// `hypervisor.qemu.machine_type` (Kata: q35; our shipped file picks `pc`, faster under TCG).
pub const MACHINE_TYPE: &str = "q35";
/// `hypervisor.qemu.seccompsandbox` when the key is absent: QEMU's seccomp filter on, denying
/// obsolete system calls, privilege changes, process spawning and resource control. This is the
/// value Kata's shipped configuration recommends in its comment; Kata's own default is empty (no
/// filter). kata-rs defaults to secure: only an explicit `seccompsandbox = ""` turns it off.
pub const SECCOMP_SANDBOX: &str =
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";
/// `hypervisor.qemu.default_vcpus`.
pub const VCPUS: u32 = 1;
/// `hypervisor.qemu.default_memory`, MiB.
pub const MEMORY_MIB: u32 = 2048;
/// Below this many MiB, `default_memory` is taken as unset.
pub const MIN_MEMORY_MIB: u32 = 8;
/// `hypervisor.qemu.memory_slots`.
pub const MEMORY_SLOTS: u32 = 10;
/// `hypervisor.qemu.memory_offset`.
pub const MEMORY_OFFSET: u64 = 0;
/// `hypervisor.qemu.default_bridges`.
pub const BRIDGES: u32 = 1;
/// Most PCI bridges that can be cold-plugged.
pub const MAX_BRIDGES: u32 = 5;
/// `hypervisor.qemu.msize_9p`.
pub const MSIZE_9P: u32 = 8192;
/// Smallest accepted `msize_9p` (runtime-rs `MIN_SHARED_9PFS_SIZE_MB`).
pub const MIN_MSIZE_9P: u32 = 4 * 1024;
/// Largest accepted `msize_9p` (runtime-rs `MAX_SHARED_9PFS_SIZE_MB`).
pub const MAX_MSIZE_9P: u32 = 8 * 1024 * 1024;
/// `hypervisor.qemu.entropy_source`.
pub const ENTROPY_SOURCE: &str = "/dev/urandom";
/// `hypervisor.qemu.virtio_fs_daemon` (our install path).
pub const VIRTIO_FS_DAEMON: &str = "/usr/local/bin/virtiofsd";
/// `hypervisor.qemu.virtio_fs_cache`.
pub const VIRTIO_FS_CACHE: &str = "never";
/// `hypervisor.qemu.virtio_fs_queue_size`.
pub const VIRTIO_FS_QUEUE_SIZE: u32 = 1024;
/// `hypervisor.qemu.block_device_aio`.
pub const BLOCK_DEVICE_AIO: &str = "io_uring";
/// `hypervisor.qemu.rootfs_type`.
pub const ROOTFS_TYPE: &str = "ext4";
/// `hypervisor.qemu.hot_plug_vfio` / `cold_plug_vfio`.
pub const VFIO_PORT: &str = "no-port";
/// Most pcie root or switch ports.
pub const MAX_PCIE_PORTS: u32 = 16;
/// `hypervisor.qemu.vhost_user_store_path`.
pub const VHOST_USER_STORE_PATH: &str = "/var/run/kata-containers/vhost-user";
/// `hypervisor.qemu.measurement_algo`.
pub const MEASUREMENT_ALGO: &str = "sha512";
/// `hypervisor.qemu.remote_hypervisor_socket`.
pub const REMOTE_HYPERVISOR_SOCKET: &str = "/run/peerpod/hypervisor.sock";
/// `hypervisor.qemu.remote_hypervisor_timeout`, seconds.
pub const REMOTE_HYPERVISOR_TIMEOUT: u32 = 600;
/// `hypervisor.qemu.hypervisor_loglevel` default and maximum.
pub const HYPERVISOR_LOGLEVEL: u32 = 1;
/// Largest `hypervisor_loglevel`.
pub const MAX_HYPERVISOR_LOGLEVEL: u32 = 3;

/// `agent.kata.dial_timeout`, seconds.
pub const AGENT_DIAL_TIMEOUT: u32 = 45;
/// `agent.kata.cdh_api_timeout`, seconds.
pub const AGENT_CDH_API_TIMEOUT: u32 = 50;

/// `runtime.internetworking_model`.
pub const INTERNETWORKING_MODEL: &str = "tcfilter";
/// `runtime.jaeger_endpoint`.
pub const JAEGER_ENDPOINT: &str = "http://localhost:14268/api/traces";
/// `runtime.vfio_mode`.
pub const VFIO_MODE: &str = "guest-kernel";
/// `runtime.emptydir_mode`.
pub const EMPTYDIR_MODE: &str = "shared-fs";
/// `runtime.create_container_timeout`, seconds.
pub const CREATE_CONTAINER_TIMEOUT: u64 = 60;
/// `runtime.dan_conf`.
pub const DAN_CONF: &str = "/run/kata-containers/dans";
/// `runtime.kubelet_root_dir`.
pub const KUBELET_ROOT_DIR: &str = "/var/lib/kubelet";

/// `factory.template_path`.
pub const TEMPLATE_PATH: &str = "/run/vc/vm/template";
/// `factory.vm_cache_endpoint`.
pub const VM_CACHE_ENDPOINT: &str = "/var/run/kata-containers/cache.sock";

/// The system-wide configuration file (checked first).
pub const SYSCONF_CONFIG: &str = "/etc/kata-containers/configuration.toml";
/// The shipped configuration file (checked second).
pub const SHIPPED_CONFIG: &str = "/usr/share/defaults/kata-containers/configuration.toml";
/// Environment variable naming a configuration file.
pub const CONFIG_ENV: &str = "KATA_CONF_FILE";
/// Name of the drop-in directory beside the configuration file.
pub const DROP_IN_DIR: &str = "config.d";
