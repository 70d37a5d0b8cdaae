//! Cross-key rules on a resolved configuration (Kata's `checkConfig` and friends). They run
//! after loading and again after annotations changed the configuration.

use crate::defaults as d;
use crate::error::ConfigError;
use crate::host::HostFacts;
use crate::load::Origins;
use crate::runtime::InterNetworkingModel;
use crate::Config;
use std::collections::HashMap;
use std::path::Path;

const MIB: u64 = 1024 * 1024;

/// Check every rule; returns warnings (e.g. an image larger than guest memory).
pub(crate) fn check_rules(
    c: &Config,
    o: &Origins,
    host: &HostFacts,
) -> Result<Vec<String>, ConfigError> {
    check_netns(c, o)?;
    let warnings = check_images(c, o, host)?;
    check_shared_fs(c, o)?;
    check_factory(c, o)?;
    check_runtime(c, o)?;
    check_devices(c, o)?;
    Ok(warnings)
}

/// `disable_new_netns` only works with `internetworking_model = "none"`.
fn check_netns(c: &Config, o: &Origins) -> Result<(), ConfigError> {
    let r = &c.runtime;
    if r.disable_new_netns && r.internetworking_model != InterNetworkingModel::None {
        return Err(ConfigError::conflict(
            o.file("runtime.disable_new_netns"),
            ("runtime.disable_new_netns", &true),
            ("runtime.internetworking_model", &r.internetworking_model),
            "disable_new_netns only works with internetworking_model \"none\"",
        ));
    }
    Ok(())
}

/// Image XOR initrd; neither empty; an initrd must fit in guest memory (error), an image
/// larger than memory is unusual (warning).
fn check_images(c: &Config, o: &Origins, host: &HostFacts) -> Result<Vec<String>, ConfigError> {
    let h = &c.hypervisor;
    let mut warnings = Vec::new();
    match (&h.image, &h.initrd) {
        (Some(image), Some(initrd)) => {
            return Err(ConfigError::conflict(
                o.file("hypervisor.qemu.image"),
                ("hypervisor.qemu.image", &image.display()),
                ("hypervisor.qemu.initrd", &initrd.display()),
                "set either an image or an initrd, not both",
            ))
        }
        (None, None) => {
            return Err(ConfigError::invalid(
                o.file("hypervisor.qemu.image"),
                "hypervisor.qemu.image",
                "",
                "either image or initrd must be set",
            ))
        }
        _ => {}
    }
    let mem_mib = u64::from(h.default_memory);
    if mem_mib == 0 {
        return Err(ConfigError::invalid(
            o.file("hypervisor.qemu.default_memory"),
            "hypervisor.qemu.default_memory",
            0,
            "guest memory cannot be zero",
        ));
    }
    for (key, path, is_initrd) in [
        ("hypervisor.qemu.image", &h.image, false),
        ("hypervisor.qemu.initrd", &h.initrd, true),
    ] {
        let Some(path) = path else { continue };
        let file = o.file(key);
        let size = host
            .file_size(path)
            .map_err(|source| ConfigError::BadPath {
                file: file.to_path_buf(),
                key: key.to_string(),
                value: path.display().to_string(),
                source,
            })?;
        if size == 0 {
            return Err(ConfigError::invalid(
                file,
                key,
                path.display(),
                "file is empty",
            ));
        }
        let size_mib = size / MIB;
        if size > MIB && size_mib >= mem_mib {
            let msg = format!(
                "guest memory ({mem_mib} MiB) is not larger than {} ({size_mib} MiB)",
                path.display()
            );
            if is_initrd {
                // An initrd is read into guest memory entirely.
                return Err(ConfigError::conflict(
                    file,
                    (key, &path.display()),
                    ("hypervisor.qemu.default_memory", &mem_mib),
                    msg,
                ));
            }
            warnings.push(format!("{}: {key}: {msg}", file.display()));
        }
    }
    Ok(warnings)
}

fn check_shared_fs(c: &Config, o: &Origins) -> Result<(), ConfigError> {
    let h = &c.hypervisor;
    if h.shared_fs.needs_daemon() && h.virtio_fs_daemon.is_empty() {
        return Err(ConfigError::conflict(
            o.file("hypervisor.qemu.shared_fs"),
            ("hypervisor.qemu.shared_fs", &h.shared_fs),
            ("hypervisor.qemu.virtio_fs_daemon", &""),
            "cannot enable virtio-fs without a daemon path",
        ));
    }
    Ok(())
}

/// Template XOR VMCache; a template needs an initrd; VMCache needs QEMU.
fn check_factory(c: &Config, o: &Origins) -> Result<(), ConfigError> {
    let f = &c.factory;
    if f.enable_template && f.vm_cache_number > 0 {
        return Err(ConfigError::conflict(
            o.file("factory.enable_template"),
            ("factory.enable_template", &true),
            ("factory.vm_cache_number", &f.vm_cache_number),
            "vm templating cannot work together with the vm cache",
        ));
    }
    if f.enable_template && c.hypervisor.initrd.is_none() {
        let image = c
            .hypervisor
            .image
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Err(ConfigError::conflict(
            o.file("factory.enable_template"),
            ("factory.enable_template", &true),
            ("hypervisor.qemu.image", &image),
            "vm templating requires an initrd, not an image",
        ));
    }
    if f.enable_template && c.hypervisor.shared_fs != crate::SharedFs::Virtio9p {
        // Clones map the template's memory privately: vhost-user backends (virtiofsd) cannot
        // see it, so the share must be one QEMU serves itself.
        return Err(ConfigError::conflict(
            o.file("factory.enable_template"),
            ("factory.enable_template", &true),
            ("hypervisor.qemu.shared_fs", &c.hypervisor.shared_fs.as_str()),
            "vm templating needs shared_fs = \"virtio-9p\" (a template's clones cannot use virtiofsd)",
        ));
    }
    if f.vm_cache_number > 0 && c.hypervisor.shared_fs != crate::SharedFs::VirtioFs {
        // A cached VM is booted before its sandbox: its share is hot-plugged when a pod takes
        // it, which only virtio-fs can be.
        return Err(ConfigError::conflict(
            o.file("factory.vm_cache_number"),
            ("factory.vm_cache_number", &f.vm_cache_number),
            ("hypervisor.qemu.shared_fs", &c.hypervisor.shared_fs.as_str()),
            "the vm cache needs shared_fs = \"virtio-fs\" (a cached VM's share is hot-plugged when a pod takes it)",
        ));
    }
    if f.vm_cache_number > 0 && c.hypervisor.name != "qemu" {
        return Err(ConfigError::conflict(
            o.file("factory.vm_cache_number"),
            ("factory.vm_cache_number", &f.vm_cache_number),
            ("hypervisor", &c.hypervisor.name),
            "the vm cache only supports qemu",
        ));
    }
    Ok(())
}

fn check_runtime(c: &Config, o: &Origins) -> Result<(), ConfigError> {
    let r = &c.runtime;
    // Kata registers no experimental feature at this version.
    if let Some(f) = r.experimental.first() {
        return Err(ConfigError::invalid(
            o.file("runtime.experimental"),
            "runtime.experimental",
            f,
            "unsupported experimental feature",
        ));
    }
    if c.hypervisor.enable_numa && !r.static_sandbox_resource_mgmt {
        return Err(ConfigError::conflict(
            o.file("hypervisor.qemu.enable_numa"),
            ("hypervisor.qemu.enable_numa", &true),
            ("runtime.static_sandbox_resource_mgmt", &false),
            "numa needs static sandbox resource management",
        ));
    }
    let mut seen: HashMap<String, &str> = HashMap::new();
    for mount in &r.sandbox_bind_mounts {
        let path = mount
            .strip_suffix(":ro")
            .or_else(|| mount.strip_suffix(":rw"))
            .unwrap_or(mount);
        let base = Path::new(path)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        if base.is_empty() {
            return Err(ConfigError::invalid(
                o.file("runtime.sandbox_bind_mounts"),
                "runtime.sandbox_bind_mounts",
                mount,
                "a bind mount needs a path with a file name",
            ));
        }
        if let Some(first) = seen.insert(base, mount) {
            return Err(ConfigError::invalid(
                o.file("runtime.sandbox_bind_mounts"),
                "runtime.sandbox_bind_mounts",
                mount,
                format!("same file name as {first:?}: bind mounts are placed by file name"),
            ));
        }
    }
    Ok(())
}

fn check_devices(c: &Config, o: &Origins) -> Result<(), ConfigError> {
    let h = &c.hypervisor;
    for (key, n) in [
        ("hypervisor.qemu.pcie_root_port", h.pcie_root_port),
        ("hypervisor.qemu.pcie_switch_port", h.pcie_switch_port),
    ] {
        if n > d::MAX_PCIE_PORTS {
            return Err(ConfigError::invalid(
                o.file(key),
                key,
                n,
                format!("at most {} ports", d::MAX_PCIE_PORTS),
            ));
        }
    }
    Ok(())
}
