//! A busybox container rootfs inside the shared directory: `<shared>/<cid>/rootfs` on the host is
//! `/run/kata-containers/shared/containers/<cid>/rootfs` in the guest.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{HarnessError, Result};

/// Where the guest mounts the `kataShared` virtio-fs share (the agent's layout).
pub const GUEST_SHARED_DIR: &str = "/run/kata-containers/shared/containers";

/// Static busybox binaries looked for, in order (Debian's `busybox-static`).
const BUSYBOX_CANDIDATES: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// A container rootfs made of a static busybox and one symlink per applet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyboxRootfs {
    /// The rootfs on the host (inside the shared directory).
    pub host_path: PathBuf,
    /// The same directory as the guest sees it.
    pub guest_path: String,
}

impl BusyboxRootfs {
    /// Creates `<shared_dir>/<cid>/rootfs` with `bin/busybox`, applet symlinks in `bin/`, the usual
    /// empty mount points and a minimal `/etc/passwd` and `/etc/group`.
    pub fn create(shared_dir: &Path, cid: &str) -> Result<Self> {
        let busybox = find_busybox()?;
        let host_path = shared_dir.join(cid).join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "run", "root"] {
            let dir = host_path.join(d);
            std::fs::create_dir_all(&dir).map_err(|e| HarnessError::io("creating", &dir, e))?;
        }
        let target = host_path.join("bin/busybox");
        std::fs::copy(&busybox, &target)
            .map_err(|e| HarnessError::io("copying busybox to", &target, e))?;
        for applet in applets(&busybox)? {
            let link = host_path.join("bin").join(&applet);
            if applet == "busybox" || link.exists() {
                continue;
            }
            std::os::unix::fs::symlink("busybox", &link)
                .map_err(|e| HarnessError::io("creating applet symlink", &link, e))?;
        }
        for (name, text) in [
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
            ("etc/group", "root:x:0:\n"),
        ] {
            let path = host_path.join(name);
            std::fs::write(&path, text).map_err(|e| HarnessError::io("writing", &path, e))?;
        }
        Ok(BusyboxRootfs {
            host_path,
            guest_path: guest_rootfs(cid),
        })
    }
}

/// The guest path of container `cid`'s rootfs.
pub fn guest_rootfs(cid: &str) -> String {
    format!("{GUEST_SHARED_DIR}/{cid}/rootfs")
}

/// The static busybox of the host.
pub fn find_busybox() -> Result<PathBuf> {
    BUSYBOX_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| HarnessError::MissingTool {
            what: "static busybox",
            path: PathBuf::from(BUSYBOX_CANDIDATES[0]),
            hint: "apt-get install busybox-static",
        })
}

/// The applet names `busybox --list` prints.
fn applets(busybox: &Path) -> Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| HarnessError::io("running --list of", busybox, e))?;
    let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .map(str::to_string)
        .collect();
    if list.is_empty() {
        return Err(HarnessError::io(
            "listing applets of",
            busybox,
            std::io::Error::other("busybox --list printed nothing"),
        ));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_has_busybox_applets_and_guest_path() {
        if find_busybox().is_err() {
            eprintln!("SKIP rootfs_has_busybox_applets_and_guest_path: no static busybox");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let r = BusyboxRootfs::create(dir.path(), "c1").expect("rootfs");
        assert_eq!(r.host_path, dir.path().join("c1/rootfs"));
        assert_eq!(
            r.guest_path,
            "/run/kata-containers/shared/containers/c1/rootfs"
        );
        for applet in ["sh", "cat", "stty", "sleep"] {
            let link = r.host_path.join("bin").join(applet);
            assert_eq!(
                std::fs::read_link(&link).expect(applet),
                PathBuf::from("busybox")
            );
        }
        assert!(r.host_path.join("bin/busybox").is_file());
        assert!(r.host_path.join("proc").is_dir());
    }
}
