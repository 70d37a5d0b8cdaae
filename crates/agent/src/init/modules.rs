//! Loads the kernel modules the image builder lists in `/etc/kata-modules`, and the ones the
//! runtime names in `CreateSandbox` (`[agent.kata] kernel_modules`, which Kata's agent loads
//! with `modprobe`; here they are found in the image's `modules.dep`).
//!
//! One module path per line, in load order (dependencies first); blank lines and `#` comments are
//! skipped. A module that is already loaded (EEXIST) is fine.

use std::ffi::CString;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{AgentError, Result};

/// The list written by tools/osbuilder.
pub const MODULES_LIST: &str = "/etc/kata-modules";

/// Module paths listed in `text`.
pub fn parse_list(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect()
}

/// Loads every module in `list`; a missing list means there is nothing to load.
/// Failures are collected so that one broken module does not hide the rest.
pub fn load_listed(list: &Path) -> Vec<AgentError> {
    let text = match std::fs::read_to_string(list) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => return vec![AgentError::io("reading module list", list, e)],
    };
    parse_list(&text)
        .iter()
        .filter_map(|m| load_module(m).err())
        .collect()
}

/// `finit_module` of one `.ko` file.
pub fn load_module(path: &Path) -> Result<()> {
    load_module_with(path, "")
}

/// `finit_module` of one `.ko` file with module parameters (`key=value ...`).
pub fn load_module_with(path: &Path, params: &str) -> Result<()> {
    let file = File::open(path).map_err(|e| AgentError::io("opening kernel module", path, e))?;
    let params = CString::new(params).map_err(|_| {
        AgentError::InvalidArgument(format!(
            "parameters of kernel module {} hold a NUL byte",
            path.display()
        ))
    })?;
    match nix::kmod::finit_module(&file, &params, nix::kmod::ModuleInitFlags::empty()) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(AgentError::errno("loading kernel module", path, e)),
    }
}

/// The directory of the running kernel's modules (`/lib/modules/<release>`).
pub fn running_kernel_modules_dir() -> PathBuf {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    Path::new("/lib/modules").join(release)
}

/// A module's name as the kernel knows it: `-` and `_` are the same.
fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// The `.ko` files to load for module `name`, in load order (dependencies first), from the text
/// of `modules.dep` (`path: dep dep ...`, paths relative to the modules directory; the
/// dependencies are listed so that loading them last to first works).
pub fn resolve(modules_dep: &str, name: &str) -> Option<Vec<PathBuf>> {
    let wanted = canonical(name);
    modules_dep.lines().find_map(|line| {
        let (path, deps) = line.split_once(':')?;
        let file = Path::new(path.trim()).file_name()?.to_str()?;
        let stem = file.split(".ko").next()?;
        if canonical(stem) != wanted {
            return None;
        }
        let mut order: Vec<PathBuf> = deps.split_whitespace().rev().map(PathBuf::from).collect();
        order.push(PathBuf::from(path.trim()));
        Some(order)
    })
}

/// Whether `modules.builtin` (one `kernel/.../<name>.ko` path a line) lists module `name`.
pub fn is_builtin(modules_builtin: &str, name: &str) -> bool {
    let wanted = canonical(name);
    modules_builtin.lines().any(|line| {
        Path::new(line.trim())
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.split(".ko").next())
            .is_some_and(|stem| canonical(stem) == wanted)
    })
}

/// Loads module `name` with `params` (Kata's `kernel_modules` entry: a name, then parameters),
/// its dependencies first, from `modules_dir` (see [`running_kernel_modules_dir`]).
pub fn load_named(modules_dir: &Path, name: &str, params: &[String]) -> Result<()> {
    // Built into the kernel: already there, as modprobe reports (its parameters can only be given
    // on the kernel command line, `<name>.<param>=<value>`).
    let builtin = modules_dir.join("modules.builtin");
    if let Ok(text) = std::fs::read_to_string(&builtin) {
        if is_builtin(&text, name) {
            if !params.is_empty() {
                tracing::warn!(module = name, ?params, "module is built into the kernel: parameters need the kernel command line (<module>.<param>=<value>)");
            }
            tracing::info!(module = name, "kernel module is built in");
            return Ok(());
        }
    }
    let dep_file = modules_dir.join("modules.dep");
    let text = match std::fs::read_to_string(&dep_file) {
        Ok(text) => text,
        // A kernel without loadable modules (ours, everything built in).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AgentError::NotFound(format!(
                "kernel module {name:?} is not built into the guest kernel, and the guest image \
                 has no loadable modules ({} is missing)",
                dep_file.display()
            )))
        }
        Err(e) => return Err(AgentError::io("reading module dependencies", &dep_file, e)),
    };
    let files = resolve(&text, name).ok_or_else(|| {
        AgentError::NotFound(format!(
            "kernel module {name:?} is not in the guest image ({})",
            dep_file.display()
        ))
    })?;
    let Some((module, deps)) = files.split_last() else {
        return Ok(());
    };
    for dep in deps {
        load_module(&modules_dir.join(dep))?;
    }
    load_module_with(&modules_dir.join(module), &params.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keeps_order_and_skips_comments() {
        let list = "# virtio first\n/lib/modules/virtio_ring.ko\n\n  /lib/modules/virtio.ko  \n#x\n/lib/modules/vsock.ko\n";
        assert_eq!(
            parse_list(list),
            vec![
                PathBuf::from("/lib/modules/virtio_ring.ko"),
                PathBuf::from("/lib/modules/virtio.ko"),
                PathBuf::from("/lib/modules/vsock.ko"),
            ]
        );
    }

    const DEP: &str = "kernel/drivers/virtio/virtio_ring.ko:\n\
        kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
        kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n";

    #[test]
    fn named_module_resolves_to_its_dependencies_then_itself() {
        assert_eq!(
            resolve(DEP, "virtio_rng"),
            Some(vec![
                PathBuf::from("kernel/drivers/virtio/virtio_ring.ko"),
                PathBuf::from("kernel/drivers/virtio/virtio.ko"),
                PathBuf::from("kernel/drivers/char/hw_random/virtio-rng.ko"),
            ])
        );
        assert_eq!(
            resolve(DEP, "virtio_ring"),
            Some(vec![PathBuf::from("kernel/drivers/virtio/virtio_ring.ko")])
        );
        assert_eq!(resolve(DEP, "virtio_balloon"), None);
    }

    #[test]
    fn a_module_missing_from_the_image_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("modules.dep"), DEP).expect("write");
        let err = load_named(dir.path(), "no_such_mod", &[]).expect_err("missing");
        assert!(err.to_string().contains("no_such_mod"), "{err}");
    }

    #[test]
    fn a_built_in_module_is_recognised_by_either_spelling() {
        let list = "kernel/drivers/char/hw_random/virtio-rng.ko\nkernel/net/vmw_vsock/vsock.ko\n";
        assert!(is_builtin(list, "virtio_rng"));
        assert!(is_builtin(list, "vsock"));
        assert!(!is_builtin(list, "vsock_loopback"));
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("modules.builtin"), list).expect("write");
        load_named(dir.path(), "virtio-rng", &[]).expect("built in counts as loaded");
        let missing = load_named(dir.path(), "kata_no_such_module", &[])
            .expect_err("neither built in nor loadable");
        assert!(
            missing.to_string().contains("kata_no_such_module"),
            "{missing}"
        );
    }

    #[test]
    fn missing_list_is_not_an_error() {
        assert!(load_listed(Path::new("/nonexistent/kata-modules")).is_empty());
    }

    #[test]
    fn missing_module_file_is_reported_by_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let list = dir.path().join("mods");
        std::fs::write(&list, "/nonexistent/foo.ko\n").expect("write");
        let errs = load_listed(&list);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().contains("/nonexistent/foo.ko"));
    }
}
