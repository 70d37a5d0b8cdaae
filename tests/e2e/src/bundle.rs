//! Rich OCI fields for `ctr run --config`: a busybox root filesystem in a host directory and a
//! spec started from `ctr oci spec`, edited as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context};
use serde_json::{json, Value};

/// The busybox every root filesystem is made of (Debian's busybox-static).
const BUSYBOX: &str = "/bin/busybox";

/// Makes `dir/rootfs`: busybox with a symlink per applet, `/etc/passwd` and `/etc/group` with root
/// and nobody, and the usual empty directories, as `scripts/make-busybox-oci.sh` lays out the image.
/// Returns the absolute path of the root filesystem.
pub fn busybox_rootfs(dir: &Path) -> anyhow::Result<PathBuf> {
    let root = dir.join("rootfs");
    for sub in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var",
        "run",
    ] {
        std::fs::create_dir_all(root.join(sub))
            .with_context(|| format!("creating {}", root.join(sub).display()))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy(BUSYBOX, root.join("bin/busybox"))
        .with_context(|| format!("copying {BUSYBOX} (apt-get install busybox-static)"))?;
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .with_context(|| format!("running {BUSYBOX} --list"))?;
    ensure!(list.status.success(), "{BUSYBOX} --list failed");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" {
            continue;
        }
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
            .with_context(|| format!("linking applet {applet}"))?;
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    Ok(root)
}

/// `ctr oci spec` (containerd's default spec) for container `id`: root at the absolute host
/// directory `rootfs`, `args` as the process, `PATH` set, and the cgroup path `ctr run` would
/// give the container (`/default/<id>`; the bare `/default` of `ctr oci spec` is shared).
pub fn default_spec(id: &str, rootfs: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let out = Command::new("ctr")
        .args(["oci", "spec"])
        .output()
        .context("running ctr oci spec")?;
    ensure!(
        out.status.success(),
        "ctr oci spec failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut spec: Value = serde_json::from_slice(&out.stdout).context("parsing ctr oci spec")?;
    ensure!(rootfs.is_absolute(), "{} is not absolute", rootfs.display());
    spec["root"] = json!({ "path": rootfs.display().to_string() });
    spec["process"]["args"] = json!(args);
    spec["process"]["env"] =
        json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    spec["linux"]["cgroupsPath"] = json!(format!("/default/{id}"));
    Ok(spec)
}
