//! `VmSpec`: everything a hypervisor driver needs to boot one pod VM.
//!
//! The caller (the shim, after reading the configuration and the host facts) decides every value;
//! drivers only translate. Paths are host paths.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How guest code is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accelerator {
    /// Hardware virtualization through /dev/kvm.
    Kvm,
    /// QEMU's software translator; slow but works everywhere.
    Tcg {
        /// Size of the translation buffer in MiB; bounds QEMU's memory use.
        tb_size_mib: u32,
    },
}

impl Accelerator {
    /// TCG with the translation buffer bounded to 32 MiB: measured here, 32 MiB boots faster than
    /// 64 (2.5 s vs 3.0-3.6 s to the agent) and saves 34 MiB of PSS; 16 saves more but boots slower.
    pub const fn tcg() -> Self {
        Accelerator::Tcg { tb_size_mib: 32 }
    }
}

/// Guest CPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuSpec {
    /// vCPUs online at boot.
    pub vcpus: u32,
    /// Upper bound for vCPU hotplug; at least `vcpus`.
    pub max_vcpus: u32,
    /// CPU model; `None` lets the driver pick one that boots with the accelerator.
    pub model: Option<String>,
}

/// Guest memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemorySpec {
    /// Memory at boot, MiB.
    pub size_mib: u32,
    /// Hotplug slots; 0 disables memory hotplug.
    pub slots: u32,
    /// Upper bound for memory hotplug, MiB; ignored when `slots` is 0.
    pub max_mib: u32,
    /// Back guest RAM with shared memory even without vhost-user devices.
    pub force_shared: bool,
}

/// What the guest boots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootSpec {
    /// Guest kernel; an uncompressed ELF vmlinux boots fastest (PVH entry).
    pub kernel: PathBuf,
    /// Initial ramdisk; the usual agent image.
    pub initrd: Option<PathBuf>,
    /// A root file system image attached read-only as the first virtio disk.
    pub image: Option<PathBuf>,
    /// Kernel command line, space separated.
    pub kernel_params: String,
}

/// The channel the host uses to reach the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentChannel {
    /// Vsock emulated by a vhost-user daemon (vhost-device-vsock); the host connects to `uds_path`
    /// and writes `CONNECT <port>\n`.
    HybridVsock {
        /// The vhost-user socket the daemon serves and the hypervisor connects to.
        vhost_user_socket: PathBuf,
        /// The host-facing socket of the daemon.
        uds_path: PathBuf,
        guest_cid: u32,
    },
    /// Kernel vsock through /dev/vhost-vsock.
    Vsock { guest_cid: u32 },
    /// A virtio-serial port named `agent.channel.0` that the hypervisor itself serves, backed
    /// by a Unix socket the hypervisor listens on at `socket` (QEMU: `virtio-serial-pci`, a
    /// `socket,server=on,wait=off` chardev and a `virtserialport`); the host connects to
    /// `socket` and speaks ttRPC. Needs no shared memory, so VM templates and their
    /// copy-on-write clones use it (Kata 1.x's serial agent channel, same port name).
    Serial {
        /// The Unix socket the hypervisor creates and listens on; a stale file is replaced.
        socket: PathBuf,
    },
}

impl AgentChannel {
    /// Whether the channel is a vhost-user device (needs shared guest memory).
    pub fn is_vhost_user(&self) -> bool {
        matches!(self, AgentChannel::HybridVsock { .. })
    }
}

/// A host directory shared with the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SharedFs {
    /// virtio-fs served by a virtiofsd listening on `socket`.
    VirtioFs { socket: PathBuf, tag: String },
    /// 9p served by the hypervisor itself; `msize` is for the guest's mount options.
    NineP {
        dir: PathBuf,
        tag: String,
        msize: u32,
    },
}

/// Disk image formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

/// A block device attached at boot or hot-plugged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDevice {
    /// Unique device id (letters, digits, `-`, `_`).
    pub id: String,
    pub path: PathBuf,
    pub format: DiskFormat,
    pub read_only: bool,
}

/// A network interface backed by a host tap device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetDevice {
    /// Unique device id (letters, digits, `-`, `_`).
    pub id: String,
    /// Host tap interface name (must already exist in the hypervisor's netns).
    pub tap: String,
    /// Guest MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Use vhost-net (needs /dev/vhost-net).
    pub vhost: bool,
    /// A tap character device (a macvtap's, Kata's `macvtap` model) that QEMU is handed as an
    /// open descriptor (`-netdev tap,fd=N`, or `getfd` when hot-plugged) instead of attaching to
    /// the tap named [`NetDevice::tap`]; `tap` then only names the device in messages.
    #[serde(default)]
    pub tap_device: Option<PathBuf>,
}

/// Everything needed to boot one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// Sandbox id, for names and logs.
    pub id: String,
    /// Hypervisor binary.
    pub hypervisor_path: PathBuf,
    /// Machine type (`q35`, `pc`, ...).
    pub machine_type: String,
    /// Extra machine options appended after the type (`key=value,...`), may be empty.
    pub machine_options: String,
    pub accelerator: Accelerator,
    pub cpu: CpuSpec,
    pub memory: MemorySpec,
    pub boot: BootSpec,
    /// Directory for the driver's runtime files (control socket); created if missing.
    pub run_dir: PathBuf,
    /// Serial console captured to this file, keeping the newest output within a bound (1 MiB
    /// with the QEMU driver); `None` discards it.
    pub console_log: Option<PathBuf>,
    pub agent_channel: Option<AgentChannel>,
    pub shared_fs: Option<SharedFs>,
    pub block_devices: Vec<BlockDevice>,
    pub net_devices: Vec<NetDevice>,
    /// Host entropy source for virtio-rng (`/dev/urandom`); `None` adds no rng device.
    pub entropy_source: Option<PathBuf>,
    /// PCI-to-PCI bridges to create (for hotplug on machines whose root bus cannot hotplug).
    pub pci_bridges: u32,
    /// Appended verbatim to the hypervisor's arguments.
    pub extra_args: Vec<String>,
    /// The hypervisor's own seccomp filter, as its option string (QEMU `-sandbox`, e.g.
    /// `on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny`); `None` or an
    /// empty string installs none.
    #[serde(default)]
    pub seccomp_sandbox: Option<String>,
    /// Credentials the hypervisor process runs with; `None` keeps the caller's (root).
    #[serde(default)]
    pub run_as: Option<RunAs>,
    /// Network namespace the hypervisor runs in (the pod's: its tap devices live there, as in
    /// Kata); `None` keeps the caller's.
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// Features appended to the CPU model (`-cpu MODEL,FEATURES`, Kata's `cpu_features`, e.g.
    /// `pmu=off`); empty adds none.
    #[serde(default)]
    pub cpu_features: String,
    /// Where guest RAM lives (Kata's `file_mem_backend`, `enable_hugepages`,
    /// `enable_mem_prealloc`).
    #[serde(default)]
    pub memory_backend: MemoryBackend,
    /// A virtio-balloon that takes back the pages the guest frees (free page reporting, Kata's
    /// `reclaim_guest_freed_memory`).
    #[serde(default)]
    pub free_page_reporting: bool,
    /// Queue size of the virtio-fs device (Kata's `virtio_fs_queue_size`); 0 keeps the
    /// driver's default.
    #[serde(default)]
    pub virtio_fs_queue_size: u32,
    /// A VM generation id device (QEMU `-device vmgenid,guid=auto`: a new id in every
    /// hypervisor process), so that a guest restored from a template notices it is a new
    /// instance and reseeds its RNG (Linux drivers/virt/vmgenid.c, `CONFIG_VMGENID`).
    #[serde(default)]
    pub vm_generation_id: bool,
    /// Start with the vCPUs stopped, waiting for a saved state to restore (QEMU
    /// `-incoming defer`); the driver's restore call loads it and resumes the VM. The spec must
    /// describe the same machine as the one saved.
    #[serde(default)]
    pub wait_for_restore: bool,
}

/// The host memory guest RAM is allocated from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryKind {
    /// Anonymous memory; a shared memfd when a vhost-user device needs it.
    #[default]
    Anonymous,
    /// A file in `dir` (a tmpfs or hugetlbfs mount), always shared.
    File { dir: PathBuf },
    /// Huge pages of the host's default size (they must be reserved on the host).
    HugePages,
    /// The file at `path` holds guest RAM (created at the VM's memory size if missing): a VM
    /// template maps it shared (`shared: true`), so that its RAM ends up in the file when it is
    /// saved; each clone restored from that template maps the same file private copy-on-write
    /// (`shared: false`), sharing the template's pages until it writes to them (Kata's
    /// `enable_template`: virtcontainers/factory/template). A private mapping cannot be combined
    /// with vhost-user devices, which need guest RAM shared.
    MappedFile { path: PathBuf, shared: bool },
}

/// Guest RAM's backend: its kind, and whether it is allocated up front.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryBackend {
    pub kind: MemoryKind,
    /// Allocate (and fault in) all of guest RAM when the VM starts.
    pub prealloc: bool,
}

/// An unprivileged identity for the hypervisor process (Kata's `rootless`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, e.g. the group of `/dev/kvm`; every other group is dropped.
    pub groups: Vec<u32>,
}

impl VmSpec {
    /// Whether any device is a vhost-user device, which requires guest RAM in shared memory.
    pub fn uses_vhost_user(&self) -> bool {
        self.agent_channel
            .as_ref()
            .is_some_and(AgentChannel::is_vhost_user)
            || matches!(self.shared_fs, Some(SharedFs::VirtioFs { .. }))
    }

    /// Whether guest RAM must be a shared (memfd) backend.
    pub fn needs_shared_memory(&self) -> bool {
        self.memory.force_shared
            || self.uses_vhost_user()
            || matches!(
                self.memory_backend.kind,
                MemoryKind::File { .. } | MemoryKind::MappedFile { shared: true, .. }
            )
    }

    /// Whether guest RAM is a private copy-on-write mapping of a file (a template's clone).
    pub fn maps_memory_privately(&self) -> bool {
        matches!(
            self.memory_backend.kind,
            MemoryKind::MappedFile { shared: false, .. }
        )
    }

    /// A minimal spec: given binary, kernel and run dir, q35, 1 vCPU, 512 MiB, no devices.
    pub fn minimal(
        id: impl Into<String>,
        hypervisor_path: impl Into<PathBuf>,
        kernel: impl Into<PathBuf>,
        run_dir: impl Into<PathBuf>,
        accelerator: Accelerator,
    ) -> Self {
        VmSpec {
            id: id.into(),
            hypervisor_path: hypervisor_path.into(),
            machine_type: "q35".to_string(),
            machine_options: String::new(),
            accelerator,
            cpu: CpuSpec {
                vcpus: 1,
                max_vcpus: 1,
                model: None,
            },
            memory: MemorySpec {
                size_mib: 512,
                slots: 0,
                max_mib: 512,
                force_shared: false,
            },
            boot: BootSpec {
                kernel: kernel.into(),
                initrd: None,
                image: None,
                kernel_params: String::new(),
            },
            run_dir: run_dir.into(),
            console_log: None,
            agent_channel: None,
            shared_fs: None,
            block_devices: Vec::new(),
            net_devices: Vec::new(),
            entropy_source: None,
            pci_bridges: 0,
            extra_args: Vec::new(),
            seccomp_sandbox: None,
            run_as: None,
            netns: None,
            cpu_features: String::new(),
            memory_backend: MemoryBackend::default(),
            free_page_reporting: false,
            virtio_fs_queue_size: 0,
            vm_generation_id: false,
            wait_for_restore: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VmSpec {
        VmSpec::minimal("s", "/usr/bin/qemu", "/k", "/run/x", Accelerator::tcg())
    }

    #[test]
    fn plain_vm_needs_no_shared_memory() {
        assert!(!spec().needs_shared_memory());
    }

    #[test]
    fn hybrid_vsock_needs_shared_memory() {
        let mut s = spec();
        s.agent_channel = Some(AgentChannel::HybridVsock {
            vhost_user_socket: "/a".into(),
            uds_path: "/b".into(),
            guest_cid: 3,
        });
        assert!(s.needs_shared_memory());
        s.agent_channel = Some(AgentChannel::Vsock { guest_cid: 3 });
        assert!(!s.needs_shared_memory());
    }

    #[test]
    fn virtio_fs_needs_shared_memory_but_9p_does_not() {
        let mut s = spec();
        s.shared_fs = Some(SharedFs::NineP {
            dir: "/d".into(),
            tag: "t".into(),
            msize: 8192,
        });
        assert!(!s.needs_shared_memory());
        s.shared_fs = Some(SharedFs::VirtioFs {
            socket: "/s".into(),
            tag: "t".into(),
        });
        assert!(s.needs_shared_memory());
    }

    #[test]
    fn file_backed_memory_is_shared() {
        let mut s = spec();
        s.memory_backend.kind = MemoryKind::File {
            dir: "/dev/shm".into(),
        };
        assert!(s.needs_shared_memory());
        s.memory_backend.kind = MemoryKind::HugePages;
        assert!(!s.needs_shared_memory());
    }

    #[test]
    fn a_template_maps_its_file_shared_and_a_clone_privately() {
        let mut s = spec();
        s.memory_backend.kind = MemoryKind::MappedFile {
            path: "/t/memory".into(),
            shared: true,
        };
        assert!(s.needs_shared_memory());
        assert!(!s.maps_memory_privately());
        s.memory_backend.kind = MemoryKind::MappedFile {
            path: "/t/memory".into(),
            shared: false,
        };
        assert!(!s.needs_shared_memory());
        assert!(s.maps_memory_privately());
        s.agent_channel = Some(AgentChannel::Serial {
            socket: "/run/agent.sock".into(),
        });
        assert!(
            !s.needs_shared_memory(),
            "a serial port is no vhost-user device"
        );
    }

    #[test]
    fn specs_without_the_template_fields_still_load() {
        let mut value = serde_json::to_value(spec()).expect("serialize");
        let fields = value.as_object_mut().expect("object");
        fields.remove("vm_generation_id");
        fields.remove("wait_for_restore");
        let back: VmSpec = serde_json::from_value(value).expect("deserialize");
        assert!(!back.vm_generation_id && !back.wait_for_restore);
    }

    #[test]
    fn force_shared_is_honoured() {
        let mut s = spec();
        s.memory.force_shared = true;
        assert!(s.needs_shared_memory());
    }

    #[test]
    fn spec_round_trips_through_json() {
        let s = spec();
        let text = serde_json::to_string(&s).expect("serialize");
        let back: VmSpec = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(s, back);
    }
}
