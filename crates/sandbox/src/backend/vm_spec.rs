//! The QEMU VM a sandbox boots ([`VmSpec`]) from the configuration: machine, boot assets,
//! kernel parameters, agent channel, shared file system, guest RAM's backend, devices; and the
//! virtiofsd that serves the shared directory. CPU and memory sizing lives in `resources.rs`.
//! Values this stack cannot honour are refused when the configuration is loaded
//! ([`refuse_unsupported`]).

use std::path::{Path, PathBuf};

use kata_config::{Config, HypervisorConfig, KernelParam, KernelParams, SharedFs as FsKind};
use kata_hypervisor::{
    Accelerator, AgentChannel, BootSpec, MemoryBackend, MemoryKind, SharedFs, VmSpec,
};
use kata_vm_daemons::{CacheMode, VirtioFsConfig, VsockConfig};

use super::launcher::{DEBUG_CONSOLE_PORT, LOG_PORT};
use crate::host::layout::SHARED_FS_TAG;
use crate::vm::LaunchPlan;

/// A configuration value this stack cannot honour; the message names the key, the value and why.
#[derive(Debug, thiserror::Error)]
#[error("hypervisor.qemu.{key} = {value:?} is not supported: {reason}")]
pub struct UnsupportedValue {
    pub key: &'static str,
    pub value: String,
    pub reason: String,
}

fn unsupported(
    key: &'static str,
    value: impl ToString,
    reason: impl Into<String>,
) -> UnsupportedValue {
    UnsupportedValue {
        key,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Refuses the values of `[hypervisor.qemu]` that cannot take effect here (run when the
/// configuration is loaded, after annotations).
pub fn refuse_unsupported(h: &HypervisorConfig) -> Result<(), UnsupportedValue> {
    match h.shared_fs {
        FsKind::VirtioFs | FsKind::Virtio9p => {}
        FsKind::None => {
            return Err(unsupported(
                "shared_fs",
                h.shared_fs,
                "container root file systems and volumes reach the guest only through the \
                 shared file system here (no block-device rootfs, no guest image pull)",
            ))
        }
        FsKind::VirtioFsNydus => {
            return Err(unsupported(
                "shared_fs",
                h.shared_fs,
                "nydusd is not supported; use virtio-fs",
            ))
        }
    }
    if h.shared_fs == FsKind::Virtio9p && h.rootless {
        return Err(unsupported(
            "shared_fs",
            h.shared_fs,
            "with rootless = true: an unprivileged QEMU cannot serve the sandbox's shared \
             directory over 9p; use virtio-fs",
        ));
    }
    if h.shared_fs == FsKind::VirtioFs {
        if h.virtio_fs_cache_size != 0 {
            return Err(unsupported(
                "virtio_fs_cache_size",
                h.virtio_fs_cache_size,
                "the DAX window needs a QEMU whose vhost-user-fs-pci has cache-size, which \
                 upstream QEMU lacks; use 0",
            ));
        }
        if let Err(e) = h.virtio_fs_cache.parse::<CacheMode>() {
            return Err(unsupported("virtio_fs_cache", &h.virtio_fs_cache, e));
        }
    }
    if !h.file_mem_backend.is_empty() && !Path::new(&h.file_mem_backend).is_dir() {
        return Err(unsupported(
            "file_mem_backend",
            &h.file_mem_backend,
            "not a directory on this host",
        ));
    }
    Ok(())
}

/// KVM when the CPU has vmx/svm and /dev/kvm works, else TCG (with a warning).
fn accelerator() -> Accelerator {
    let host = kata_hostinfo::Host::system();
    let flag = host.cpuinfo().ok().and_then(|c| c.virt_flag);
    let support = kata_hostinfo::decide(flag, &host.kvm());
    match support.accelerator {
        kata_hostinfo::Accelerator::Kvm => Accelerator::Kvm,
        kata_hostinfo::Accelerator::Tcg => {
            tracing::warn!(
                reason = %support.reason,
                "pods run under software emulation (TCG): a weaker isolation boundary than KVM"
            );
            Accelerator::tcg()
        }
    }
}

/// Guest RAM's backend (Kata's `qemu.go`: huge pages win over `file_mem_backend`; huge pages are
/// preallocated).
fn memory_backend(h: &HypervisorConfig) -> MemoryBackend {
    let kind = if h.enable_hugepages {
        MemoryKind::HugePages
    } else if !h.file_mem_backend.is_empty() {
        MemoryKind::File {
            dir: PathBuf::from(&h.file_mem_backend),
        }
    } else {
        MemoryKind::Anonymous
    };
    MemoryBackend {
        kind,
        prealloc: h.enable_mem_prealloc || h.enable_hugepages,
    }
}

/// The shared directory as the VM sees it: virtio-fs through virtiofsd's socket, or 9p served
/// by QEMU itself.
fn shared_fs(h: &HypervisorConfig, plan: &LaunchPlan, fs_socket: &Path) -> SharedFs {
    match h.shared_fs {
        FsKind::Virtio9p => SharedFs::NineP {
            dir: plan.shared_dir.clone(),
            tag: SHARED_FS_TAG.into(),
            msize: h.msize_9p,
        },
        _ => SharedFs::VirtioFs {
            socket: fs_socket.to_owned(),
            tag: SHARED_FS_TAG.into(),
        },
    }
}

/// The virtiofsd serving `plan`'s shared directory on `socket`; `None` when the shared file
/// system needs no daemon (9p).
pub(super) fn virtio_fs_config(
    config: &Config,
    plan: &LaunchPlan,
    socket: &Path,
) -> Option<VirtioFsConfig> {
    let h = &config.hypervisor;
    if !h.shared_fs.needs_daemon() {
        return None;
    }
    let mut fs = VirtioFsConfig::new(socket, &plan.shared_dir);
    if !h.virtio_fs_daemon.is_empty() {
        fs.binary = Some(h.virtio_fs_daemon.clone().into());
    }
    // Checked at load (`refuse_unsupported`).
    fs.cache = h.virtio_fs_cache.parse().unwrap_or_default();
    fs.extra_args = h.virtio_fs_extra_args.clone();
    Some(fs)
}

/// The VM a sandbox boots, from the configuration and the launch plan.
pub(super) fn vm_spec(
    config: &Config,
    plan: &LaunchPlan,
    vsock: &VsockConfig,
    fs_socket: &Path,
) -> VmSpec {
    let h = &config.hypervisor;
    let mut spec = VmSpec::minimal(
        plan.sandbox_id.clone(),
        h.path.clone(),
        h.kernel.clone(),
        plan.vm_dir.clone(),
        accelerator(),
    );
    if !h.machine_type.is_empty() {
        spec.machine_type = h.machine_type.clone();
    }
    // Kata's `machine_accelerators`: appended to the machine type's options.
    spec.machine_options = h.machine_accelerators.clone();
    spec.cpu_features = h.cpu_features.clone();
    let (cpu, memory) = super::resources::boot_size(h);
    let vcpus = cpu.max_vcpus;
    spec.cpu = cpu;
    spec.memory = memory;
    spec.memory_backend = memory_backend(h);
    spec.free_page_reporting = h.reclaim_guest_freed_memory;
    spec.boot = BootSpec {
        kernel: h.kernel.clone(),
        initrd: h.initrd.clone(),
        image: h.image.clone(),
        kernel_params: guest_kernel_params(h.enable_debug, vcpus)
            .merge(&image_root_params(h))
            .merge(&agent_kernel_params(&config.agent))
            .merge(&h.kernel_params)
            .merge(&h.user_kernel_params)
            .to_string(),
    };
    spec.console_log = Some(plan.vm_dir.join("console.log"));
    spec.agent_channel = Some(AgentChannel::HybridVsock {
        vhost_user_socket: vsock.vhost_user_socket.clone(),
        uds_path: vsock.uds_path.clone(),
        guest_cid: vsock.guest_cid,
    });
    spec.shared_fs = Some(shared_fs(h, plan, fs_socket));
    spec.virtio_fs_queue_size = h.virtio_fs_queue_size;
    // Kata's `entropy_source`: a virtio-rng reading it (an empty value adds none).
    spec.entropy_source =
        Some(PathBuf::from(&h.entropy_source)).filter(|p| !p.as_os_str().is_empty());
    // QEMU's own seccomp filter; an empty `seccompsandbox` installs none (as Kata).
    spec.seccomp_sandbox = Some(h.seccompsandbox.trim().to_string()).filter(|v| !v.is_empty());
    spec
}

/// The root file system of an `image` boot (Kata's `hypervisor.go` GetKernelRootParams without
/// nvdimm: the image is the first virtio-blk disk); nothing for an initrd.
fn image_root_params(h: &HypervisorConfig) -> KernelParams {
    let mut params = KernelParams::default();
    if h.image.is_none() || h.initrd.is_some() {
        return params;
    }
    let fstype = if h.rootfs_type.is_empty() {
        "ext4"
    } else {
        h.rootfs_type.as_str()
    };
    params.push(KernelParam::new("root", "/dev/vda1"));
    let flags = if fstype == "ext4" {
        "data=ordered,errors=remount-ro"
    } else {
        ""
    };
    if !flags.is_empty() {
        params.push(KernelParam::new("rootflags", flags));
    }
    params.push(KernelParam::flag("ro"));
    params.push(KernelParam::new("rootfstype", fstype));
    params
}

/// What the QEMU driver always gives the guest kernel (as Kata's QEMU driver does), before the
/// configuration's parameters, which win on the same key: a quick, quiet boot that powers off
/// instead of hanging on a panic.
const QEMU_GUEST_PARAMS: &str = "tsc=reliable no_timer_check rcupdate.rcu_expedited=1 \
    i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k \
    cryptomgr.notests net.ifnames=0 pci=lastbus=0 panic=1";

fn guest_kernel_params(debug: bool, max_vcpus: u32) -> KernelParams {
    let mut params = KernelParams::parse(QEMU_GUEST_PARAMS).unwrap_or_default();
    params.push(KernelParam::new("nr_cpus", max_vcpus.to_string()));
    if !debug {
        params.push(KernelParam::flag("quiet"));
    }
    params
}

/// What the runtime tells the agent on the kernel command line (as Kata's runtime does, before the
/// configuration's own `kernel_params`, which win): its log goes to the host on [`LOG_PORT`],
/// at `debug` with `[agent.kata] enable_debug`; the debug console on [`DEBUG_CONSOLE_PORT`] with
/// `debug_console_enabled`.
fn agent_kernel_params(agent: &kata_config::AgentConfig) -> KernelParams {
    let mut params = KernelParams::default();
    params.push(KernelParam::new("agent.log_vport", LOG_PORT.to_string()));
    if agent.enable_debug {
        params.push(KernelParam::new("agent.log", "debug"));
    }
    if agent.debug_console_enabled {
        params.push(KernelParam::flag("agent.debug_console"));
        params.push(KernelParam::new(
            "agent.debug_console_vport",
            DEBUG_CONSOLE_PORT.to_string(),
        ));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration of `extra` lines in `[hypervisor.qemu]`, with a kernel and initrd in `dir`.
    fn config(dir: &Path, extra: &str) -> Config {
        let k = dir.join("k");
        std::fs::write(&k, "kernel").expect("write");
        let text = format!(
            "[hypervisor.qemu]\npath = \"/bin/sh\"\nkernel = \"{k}\"\ninitrd = \"{k}\"\n{extra}\n",
            k = k.display()
        );
        let host = kata_config::HostFacts::detect();
        Config::from_toml_str(&text, Path::new("t.toml"), &host)
            .expect("config")
            .config
    }

    fn plan(dir: &Path) -> LaunchPlan {
        LaunchPlan {
            sandbox_id: "sb".into(),
            shared_dir: dir.join("shared"),
            vm_dir: dir.join("vm"),
            netns: None,
            new_netns: false,
            cgroups_path: None,
        }
    }

    fn spec_of(c: &Config, dir: &Path) -> VmSpec {
        let vsock = VsockConfig::in_dir(dir, 3);
        vm_spec(c, &plan(dir), &vsock, &dir.join("fs.sock"))
    }

    #[test]
    fn qemu_keys_reach_the_vm_spec() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config(
            dir.path(),
            "machine_accelerators = \"smm=off\"\ncpu_features = \"pmu=off\"\n\
             entropy_source = \"/dev/random\"\nreclaim_guest_freed_memory = true\n\
             enable_mem_prealloc = true\nfile_mem_backend = \"/dev/shm\"\n\
             virtio_fs_queue_size = 512",
        );
        refuse_unsupported(&c.hypervisor).expect("supported");
        let s = spec_of(&c, dir.path());
        assert_eq!(s.machine_options, "smm=off");
        assert_eq!(s.cpu_features, "pmu=off");
        assert_eq!(s.entropy_source, Some(PathBuf::from("/dev/random")));
        assert!(s.free_page_reporting);
        assert_eq!(
            s.memory_backend,
            MemoryBackend {
                kind: MemoryKind::File {
                    dir: "/dev/shm".into()
                },
                prealloc: true
            }
        );
        assert_eq!(s.virtio_fs_queue_size, 512);
        assert!(matches!(s.shared_fs, Some(SharedFs::VirtioFs { .. })));
    }

    #[test]
    fn hugepages_win_over_a_file_and_are_preallocated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config(
            dir.path(),
            "enable_hugepages = true\nfile_mem_backend = \"/dev/shm\"",
        );
        let s = spec_of(&c, dir.path());
        assert_eq!(s.memory_backend.kind, MemoryKind::HugePages);
        assert!(s.memory_backend.prealloc);
    }

    #[test]
    fn ninep_is_served_by_qemu_without_virtiofsd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config(dir.path(), "shared_fs = \"virtio-9p\"\nmsize_9p = 65536");
        refuse_unsupported(&c.hypervisor).expect("supported");
        let s = spec_of(&c, dir.path());
        assert_eq!(
            s.shared_fs,
            Some(SharedFs::NineP {
                dir: dir.path().join("shared"),
                tag: SHARED_FS_TAG.into(),
                msize: 65536
            })
        );
        assert!(virtio_fs_config(&c, &plan(dir.path()), Path::new("/s")).is_none());
    }

    #[test]
    fn virtiofsd_gets_the_cache_mode_and_extra_args() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config(
            dir.path(),
            "virtio_fs_cache = \"always\"\nvirtio_fs_extra_args = [\"--thread-pool-size=2\"]",
        );
        let fs = virtio_fs_config(&c, &plan(dir.path()), Path::new("/s")).expect("virtiofsd");
        let args = fs.args();
        assert!(args.contains(&"--cache=always".to_string()), "{args:?}");
        assert_eq!(
            args.last().map(String::as_str),
            Some("--thread-pool-size=2")
        );
        let c = config(dir.path(), "virtio_fs_cache = \"none\"");
        let fs = virtio_fs_config(&c, &plan(dir.path()), Path::new("/s")).expect("virtiofsd");
        assert!(fs.args().contains(&"--cache=never".to_string()));
    }

    #[test]
    fn values_that_cannot_act_are_refused_naming_key_and_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Set after loading, as annotations do (the file's values are refused at load too).
        let base = config(dir.path(), "");
        type Edit = fn(&mut HypervisorConfig);
        let cases: [(&str, Edit); 4] = [
            ("shared_fs", |h| h.shared_fs = FsKind::None),
            ("virtio_fs_cache_size", |h| h.virtio_fs_cache_size = 1024),
            ("file_mem_backend", |h| {
                h.file_mem_backend = "/nonexistent/mem".into()
            }),
            ("shared_fs", |h| {
                h.shared_fs = FsKind::Virtio9p;
                h.rootless = true;
            }),
        ];
        for (key, set) in cases {
            let mut h = base.hypervisor.clone();
            set(&mut h);
            let err = refuse_unsupported(&h).expect_err(key);
            let msg = err.to_string();
            assert!(msg.contains(&format!("hypervisor.qemu.{key}")), "{msg}");
            assert_eq!(err.key, key);
        }
    }

    #[test]
    fn an_image_boot_gets_kata_s_root_parameters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = config(dir.path(), "");
        assert!(image_root_params(&c.hypervisor).0.is_empty());
        c.hypervisor.image = Some(dir.path().join("k"));
        c.hypervisor.initrd = None;
        let p = image_root_params(&c.hypervisor);
        assert_eq!(p.get("root"), Some(Some("/dev/vda1")));
        assert_eq!(p.get("rootfstype"), Some(Some("ext4")));
        assert_eq!(p.get("ro"), Some(None));
    }

    #[test]
    fn the_agent_is_told_its_log_port_level_and_console() {
        let mut agent = kata_config::AgentConfig {
            name: "kata".into(),
            enable_debug: false,
            enable_tracing: false,
            trace_mode: String::new(),
            trace_type: String::new(),
            kernel_modules: Vec::new(),
            debug_console_enabled: false,
            dial_timeout: 30,
            cdh_api_timeout: 50,
            launch_process_timeout: 0,
            visible_cdi_devices: false,
            container_pipe_size: 0,
            policy: String::new(),
        };
        let p = agent_kernel_params(&agent);
        assert_eq!(p.get("agent.log_vport"), Some(Some("1025")));
        assert_eq!(p.get("agent.log"), None);
        assert_eq!(p.get("agent.debug_console"), None);
        agent.enable_debug = true;
        agent.debug_console_enabled = true;
        let p = agent_kernel_params(&agent);
        assert_eq!(p.get("agent.log"), Some(Some("debug")));
        assert_eq!(p.get("agent.debug_console"), Some(None));
        assert_eq!(p.get("agent.debug_console_vport"), Some(Some("1026")));
    }

    #[test]
    fn qemu_guest_params_parse_and_the_configuration_wins() {
        let base = guest_kernel_params(false, 2);
        assert_eq!(base.get("panic"), Some(Some("1")));
        assert_eq!(base.get("nr_cpus"), Some(Some("2")));
        assert_eq!(base.get("quiet"), Some(None));
        assert_eq!(guest_kernel_params(true, 1).get("quiet"), None);
        let user = KernelParams::parse("panic=0 agent.log=debug").expect("parse");
        let merged = base.merge(&user);
        assert_eq!(merged.get("panic"), Some(Some("0")));
        assert_eq!(merged.get("agent.log"), Some(Some("debug")));
    }
}
