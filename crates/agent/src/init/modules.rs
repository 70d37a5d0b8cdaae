//! Loads the kernel modules the image builder lists in `/etc/kata-modules`.
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
    let file = File::open(path).map_err(|e| AgentError::io("opening kernel module", path, e))?;
    let params = CString::default();
    match nix::kmod::finit_module(&file, &params, nix::kmod::ModuleInitFlags::empty()) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(AgentError::errno("loading kernel module", path, e)),
    }
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
