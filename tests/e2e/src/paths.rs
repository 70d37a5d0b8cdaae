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

/// Sets `key = value` in `[section]` of a configuration's text: the line of the key (commented
/// out or not) is replaced, else the key is added right after the section header.
pub fn set_config_key(text: &str, section: &str, key: &str, value: &str) -> String {
    let header = format!("[{section}]");
    let mut out = Vec::new();
    let mut in_section = false;
    let mut done = false;
    let mut header_at = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_section = trimmed.starts_with(&header);
            if in_section {
                header_at = Some(out.len());
            }
        } else if in_section && !done {
            let bare = trimmed.trim_start_matches('#').trim_start();
            if bare
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
            {
                out.push(format!("{key} = {value}"));
                done = true;
                continue;
            }
        }
        out.push(line.to_string());
    }
    if !done {
        let at = header_at.unwrap_or_else(|| panic!("no {header} in the configuration"));
        out.insert(at + 1, format!("{key} = {value}"));
    }
    out.join("\n") + "\n"
}
