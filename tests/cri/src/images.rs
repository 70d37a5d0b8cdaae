//! The two local images a CRI pod needs here (no registry is reachable): busybox for the
//! containers, and a "pause" image (the same busybox layer, its command sleeping forever) that
//! containerd runs as each pod's sandbox container. Both are imported into namespace `k8s.io`,
//! where the CRI plugin looks for images.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context};
use serde_json::Value;

/// The image of the test containers.
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:latest";
/// The sandbox ("pause") image: busybox whose command is `sleep infinity`.
pub const PAUSE_IMAGE: &str = "localhost/kata-cri-pause:latest";

/// Builds both image archives in `dir`; returns their paths (busybox, pause).
pub fn build_images(dir: &Path, repo: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let busybox = dir.join("busybox.tar");
    let out = Command::new(repo.join("scripts/make-busybox-oci.sh"))
        .arg(&busybox)
        .arg(BUSYBOX_IMAGE)
        .output()
        .context("running scripts/make-busybox-oci.sh")?;
    ensure!(
        out.status.success(),
        "make-busybox-oci.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pause = dir.join("pause.tar");
    derive_pause(&busybox, &pause, &dir.join("pause-layout"))?;
    Ok((busybox, pause))
}

/// Rewrites the busybox archive `from` into `to`: same layer, command `sleep infinity`, image
/// name [`PAUSE_IMAGE`]. `work` is a scratch directory, removed afterwards.
fn derive_pause(from: &Path, to: &Path, work: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    run(Command::new("tar").arg("-xf").arg(from).arg("-C").arg(work))?;
    let blobs = work.join("blobs/sha256");
    let index_path = work.join("index.json");
    let mut index: Value = read_json(&index_path)?;
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .context("index.json has no manifest digest")?
        .to_string();
    let manifest_file = blob_path(&blobs, &manifest_digest)?;
    let mut manifest: Value = read_json(&manifest_file)?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .context("manifest has no config digest")?
        .to_string();
    let mut config: Value = read_json(&blob_path(&blobs, &config_digest)?)?;
    config["config"]["Cmd"] = serde_json::json!(["sleep", "infinity"]);

    let (digest, size) = write_blob(&blobs, &serde_json::to_vec(&config)?)?;
    manifest["config"]["digest"] = Value::from(digest);
    manifest["config"]["size"] = Value::from(size);
    let (digest, size) = write_blob(&blobs, &serde_json::to_vec(&manifest)?)?;
    let entry = &mut index["manifests"][0];
    entry["digest"] = Value::from(digest);
    entry["size"] = Value::from(size);
    entry["annotations"]["io.containerd.image.name"] = Value::from(PAUSE_IMAGE);
    std::fs::write(&index_path, serde_json::to_vec(&index)?)
        .with_context(|| format!("writing {}", index_path.display()))?;
    run(Command::new("tar")
        .arg("-C")
        .arg(work)
        .arg("-cf")
        .arg(to)
        .arg("."))?;
    std::fs::remove_dir_all(work).with_context(|| format!("removing {}", work.display()))?;
    Ok(())
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

fn blob_path(blobs: &Path, digest: &str) -> anyhow::Result<PathBuf> {
    let hex = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("digest {digest} is not sha256"))?;
    Ok(blobs.join(hex))
}

/// Stores `data` as a blob; returns its digest (`sha256:...`) and size.
fn write_blob(blobs: &Path, data: &[u8]) -> anyhow::Result<(String, u64)> {
    let tmp = blobs.join("incoming");
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    let out = Command::new("sha256sum")
        .arg(&tmp)
        .output()
        .context("running sha256sum")?;
    ensure!(out.status.success(), "sha256sum {} failed", tmp.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(hex) = text.split_whitespace().next() else {
        bail!("sha256sum printed nothing for {}", tmp.display());
    };
    std::fs::rename(&tmp, blobs.join(hex))?;
    Ok((format!("sha256:{hex}"), data.len() as u64))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
