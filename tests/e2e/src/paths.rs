//! Where the built artefacts are, and the test configuration that points at them.

use std::path::{Path, PathBuf};

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The directory of the built guest image (`make image`), overridable by `KATA_TEST_IMAGE_DIR`.
fn image_dir() -> PathBuf {
    std::env::var_os("KATA_TEST_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("build/image"))
}

/// Writes the shipped configuration into `dir`, with the kernel and initrd of the built image.
pub fn test_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let shipped = repo_root().join("config/configuration.toml");
    let text = std::fs::read_to_string(&shipped)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", shipped.display()))?;
    let images = image_dir();
    let kernel = images.join("vmlinux.container");
    let initrd = images.join("kata-containers-initrd.img");
    for p in [&kernel, &initrd] {
        anyhow::ensure!(
            p.exists(),
            "{} is missing: run `make image` first",
            p.display()
        );
    }
    let text = text
        .replace(
            "/usr/share/kata-containers/vmlinux.container",
            &kernel.to_string_lossy(),
        )
        .replace(
            "/usr/share/kata-containers/kata-containers-initrd.img",
            &initrd.to_string_lossy(),
        );
    let path = dir.join("configuration.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}
