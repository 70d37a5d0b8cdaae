//! What the agent does as PID 1 of the guest, before the async runtime exists.
//!
//! Order: early mounts, kernel modules (vsock/virtio-fs are modules in the cloud kernel), cgroup
//! controllers, session/PATH/hostname. All of it runs single-threaded, before tokio starts, so that
//! nothing forks while other threads hold locks.
//!
//! Root file system: the guest boots from an initramfs, whose root (`rootfs`) refuses pivot_root(2).
//! The agent does not copy itself to a tmpfs root; instead containers are created with libcontainer's
//! `no_pivot` (MS_MOVE of the container rootfs onto `/` plus chroot, after /proc and /sys are hidden)
//! whenever the agent's own root is the initramfs (see [`root_is_initramfs`]). With a disk image root
//! pivot_root is used as usual. The VM is the isolation boundary; the weaker chroot only matters
//! for a container that already holds CAP_SYS_ADMIN inside the guest.

mod cgroups;
pub(crate) mod modules;
mod mounts;
mod power;

use std::path::Path;

pub use cgroups::CGROUP_ROOT;
pub use power::power_off;

use crate::error::Result;

/// PATH given to the agent and inherited by hooks and helpers.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Milliseconds since the guest kernel started (`CLOCK_BOOTTIME`), 0 if unreadable.
pub fn uptime_ms() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map(|t| {
            u64::try_from(t.tv_sec()).unwrap_or(0) * 1000
                + u64::try_from(t.tv_nsec()).unwrap_or(0) / 1_000_000
        })
        .unwrap_or(0)
}

/// When PID 1 setup happened, in guest uptime (ms since the kernel started): the boot phases
/// `make bench` breaks a pod start into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BootTimeline {
    /// The kernel handed over to init (the agent).
    pub init_ms: u64,
    /// Kernel modules loaded.
    pub modules_ms: u64,
}

/// Sets up the guest as PID 1. Returns warnings that should be logged once logging works
/// (logging itself needs /dev/console, which exists only after this), and when it ran.
pub fn setup_pid1() -> Result<(Vec<String>, BootTimeline)> {
    let init_ms = uptime_ms();
    let mut warnings = Vec::new();
    mounts::mount_all(Path::new("/"))?;
    for err in modules::load_listed(Path::new(modules::MODULES_LIST)) {
        warnings.push(err.to_string());
    }
    let timeline = BootTimeline {
        init_ms,
        modules_ms: uptime_ms(),
    };
    if let Err(e) = cgroups::enable_controllers(Path::new(CGROUP_ROOT)) {
        warnings.push(e.to_string());
    }
    // SAFETY: single-threaded at this point (called before the runtime is built).
    unsafe { std::env::set_var("PATH", DEFAULT_PATH) };
    let _ = nix::unistd::setsid();
    if let Ok(name) = std::fs::read_to_string("/etc/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            let _ = nix::unistd::sethostname(name);
        }
    }
    Ok((warnings, timeline))
}

/// Whether `/` is the initramfs (mount type `rootfs`), on which pivot_root(2) is refused.
pub fn root_is_initramfs() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|info| {
            info.lines().any(|l| {
                l.split(" - ")
                    .nth(1)
                    .is_some_and(|r| r.starts_with("rootfs "))
                    && l.split(' ').nth(4) == Some("/")
            })
        })
        .unwrap_or(false)
}
