//! `kata-runtime check`: can this host run pods?

use std::fmt;
use std::path::{Path, PathBuf};

use kata_hostinfo::{qemu_version, Accelerator, Host, VirtSupport};

use crate::settings::Settings;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub status: Status,
    pub item: &'static str,
    pub message: String,
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.status {
            Status::Ok => "[ok]  ",
            Status::Warn => "[warn]",
            Status::Fail => "[fail]",
        };
        write!(f, "{tag} {}: {}", self.item, self.message)
    }
}

fn line(status: Status, item: &'static str, message: impl Into<String>) -> CheckLine {
    CheckLine {
        status,
        item,
        message: message.into(),
    }
}

/// True when `path` is a regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds `name` in `$PATH`, then in `$HOME/.cargo/bin` (where `cargo install` puts it).
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn readable(path: &Path) -> Result<(), String> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| format!("{} is not readable: {e}", path.display()))
}

fn check_cpu(host: &Host) -> CheckLine {
    match host.cpuinfo() {
        Ok(info) => match info.virt_flag {
            Some(flag) => line(Status::Ok, "cpu", format!("{} flag present", flag.as_str())),
            None => line(
                Status::Warn,
                "cpu",
                "no vmx/svm flag in /proc/cpuinfo (no hardware virtualization for guests)",
            ),
        },
        Err(e) => line(Status::Warn, "cpu", e.to_string()),
    }
}

fn check_kvm(host: &Host) -> CheckLine {
    let virt = host.virt_support();
    match virt.accelerator {
        Accelerator::Kvm => line(Status::Ok, "kvm", virt.reason),
        Accelerator::Tcg => line(Status::Warn, "kvm", virt.reason),
    }
}

/// What `check` and the shim's log say when pods would run under TCG.
pub const TCG_ISOLATION_WARNING: &str = "pods run under software emulation (TCG): a weaker \
    isolation boundary than KVM (the guest's code is translated by QEMU, a host process, with no \
    hardware virtualization between them), and slower";

/// The isolation boundary pods get: hardware virtualization, or a plain warning under TCG.
fn check_isolation(virt: &VirtSupport) -> CheckLine {
    match virt.accelerator {
        Accelerator::Kvm => line(
            Status::Ok,
            "isolation",
            "hardware virtualization (KVM) between pods and the host",
        ),
        Accelerator::Tcg => line(Status::Warn, "isolation", TCG_ISOLATION_WARNING),
    }
}

fn check_vsock(host: &Host, find: &dyn Fn(&str) -> Option<PathBuf>) -> CheckLine {
    if host.has_vhost_vsock() {
        return line(Status::Ok, "vsock", "/dev/vhost-vsock present");
    }
    match find("vhost-device-vsock") {
        Some(bin) => line(
            Status::Warn,
            "vsock",
            format!(
                "/dev/vhost-vsock absent: hybrid vsock via vhost-device-vsock ({})",
                bin.display()
            ),
        ),
        None => line(
            Status::Fail,
            "vsock",
            "/dev/vhost-vsock absent and no vhost-device-vsock binary in PATH: no agent channel",
        ),
    }
}

fn check_vhost_net(host: &Host) -> CheckLine {
    if host.has_vhost_net() {
        line(Status::Ok, "vhost-net", "/dev/vhost-net present")
    } else {
        line(
            Status::Warn,
            "vhost-net",
            "/dev/vhost-net absent: network queues run in QEMU (slower)",
        )
    }
}

fn check_shared_fs(s: &Settings, find: &dyn Fn(&str) -> Option<PathBuf>) -> CheckLine {
    if s.shared_fs != "virtio-fs" {
        return line(
            Status::Ok,
            "virtiofsd",
            format!("shared_fs = {:?}: no virtiofsd needed", s.shared_fs),
        );
    }
    let Some(daemon) = &s.virtiofsd else {
        return line(
            Status::Fail,
            "virtiofsd",
            "shared_fs = virtio-fs but virtio_fs_daemon is not set",
        );
    };
    if is_executable(daemon) {
        return line(Status::Ok, "virtiofsd", daemon.display().to_string());
    }
    let hint = find("virtiofsd")
        .map(|p| format!(" ({} exists: set virtio_fs_daemon to it)", p.display()))
        .unwrap_or_default();
    line(
        Status::Fail,
        "virtiofsd",
        format!("{} is not an executable{hint}", daemon.display()),
    )
}

fn check_qemu(s: &Settings) -> CheckLine {
    if !is_executable(&s.hypervisor_path) {
        return line(
            Status::Fail,
            "qemu",
            format!("{} is not an executable", s.hypervisor_path.display()),
        );
    }
    match qemu_version(&s.hypervisor_path) {
        Ok(v) => line(
            Status::Ok,
            "qemu",
            format!("{} (QEMU {v})", s.hypervisor_path.display()),
        ),
        Err(e) => line(Status::Fail, "qemu", e.to_string()),
    }
}

fn check_kernel(s: &Settings) -> CheckLine {
    match &s.kernel {
        None => line(Status::Fail, "kernel", "no guest kernel configured"),
        Some(k) => match readable(k) {
            Ok(()) => line(Status::Ok, "kernel", k.display().to_string()),
            Err(e) => line(Status::Fail, "kernel", e),
        },
    }
}

fn check_guest_image(s: &Settings) -> CheckLine {
    let (name, path) = match (&s.initrd, &s.image) {
        (Some(initrd), _) => ("initrd", initrd),
        (None, Some(image)) => ("image", image),
        (None, None) => {
            return line(
                Status::Fail,
                "guest image",
                "neither initrd nor image configured",
            )
        }
    };
    match readable(path) {
        Ok(()) => line(
            Status::Ok,
            "guest image",
            format!("{name} {}", path.display()),
        ),
        Err(e) => line(Status::Fail, "guest image", format!("{name} {e}")),
    }
}

fn check_memory(host: &Host, s: &Settings) -> CheckLine {
    match host.meminfo() {
        Ok(m) if m.available_mib() >= s.default_memory_mib => line(
            Status::Ok,
            "memory",
            format!(
                "{} MiB available, default_memory = {} MiB",
                m.available_mib(),
                s.default_memory_mib
            ),
        ),
        Ok(m) => line(
            Status::Warn,
            "memory",
            format!(
                "only {} MiB available, less than default_memory = {} MiB",
                m.available_mib(),
                s.default_memory_mib
            ),
        ),
        Err(e) => line(Status::Warn, "memory", e.to_string()),
    }
}

/// The checks that need no configuration.
pub fn host_checks(host: &Host, find: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<CheckLine> {
    vec![
        check_cpu(host),
        check_kvm(host),
        check_isolation(&host.virt_support()),
        check_vsock(host, find),
        check_vhost_net(host),
    ]
}

/// Runs every check against `host` and the resolved settings.
pub fn run_checks(
    host: &Host,
    settings: &Settings,
    find: &dyn Fn(&str) -> Option<PathBuf>,
) -> Vec<CheckLine> {
    let mut lines = host_checks(host, find);
    lines.extend([
        check_shared_fs(settings, find),
        check_qemu(settings),
        check_kernel(settings),
        check_guest_image(settings),
        check_memory(host, settings),
    ]);
    lines
}

/// Host checks plus a failure for a configuration that could not be loaded.
pub fn without_config(
    host: &Host,
    error: &anyhow::Error,
    find: &dyn Fn(&str) -> Option<PathBuf>,
) -> Vec<CheckLine> {
    let mut lines = host_checks(host, find);
    lines.push(line(Status::Fail, "config", format!("{error:#}")));
    lines
}

/// Prints the report; returns the exit code (1 when any check failed).
pub fn report(lines: &[CheckLine]) -> u8 {
    for l in lines {
        println!("{l}");
    }
    let failed = lines.iter().filter(|l| l.status == Status::Fail).count();
    let warned = lines.iter().filter(|l| l.status == Status::Warn).count();
    if failed > 0 {
        println!("this host cannot run pods: {failed} check(s) failed");
        1
    } else {
        println!("this host can run pods ({warned} warning(s))");
        0
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
