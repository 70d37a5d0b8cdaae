//! Asset hashes given by annotations (`io.katacontainers.config.hypervisor.kernel_hash`...):
//! before a VM boots, the SHA-512 of each asset with a hash must match it, or the pod is refused
//! (Kata's `virtcontainers/types/asset.go`). Kata checks only assets whose path an annotation
//! also gave; here every configured asset with a hash is checked, and a hash for an asset that is
//! not configured is refused.

use std::io::Read;
use std::path::{Path, PathBuf};

use kata_config::HypervisorConfig;
use sha2::{Digest, Sha512};

/// An asset that does not match the hash it was given.
#[derive(Debug, thiserror::Error)]
pub enum AssetHashError {
    #[error(
        "asset {asset} ({path}): sha512 is {computed}, annotation {annotation} expects {expected}"
    )]
    Mismatch {
        asset: &'static str,
        path: PathBuf,
        annotation: String,
        computed: String,
        expected: String,
    },
    #[error("annotation {annotation} gives a hash for the {asset}, but no {asset} is configured")]
    NoAsset {
        asset: &'static str,
        annotation: String,
    },
    #[error("annotation {annotation}: unknown asset")]
    UnknownAsset { annotation: String },
    #[error("asset {asset}: cannot read {path}")]
    Read {
        asset: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The asset a `*_hash` annotation suffix names, and its configured path (if any).
fn asset_of(h: &HypervisorConfig, suffix: &str) -> Option<(&'static str, Option<PathBuf>)> {
    let path = |p: &Path| Some(p.to_path_buf()).filter(|p| !p.as_os_str().is_empty());
    Some(match suffix {
        "kernel_hash" => ("kernel", path(&h.kernel)),
        "initrd_hash" => ("initrd", h.initrd.clone()),
        "image_hash" => ("image", h.image.clone()),
        "hypervisor_hash" => ("hypervisor", path(&h.path)),
        "jailer_hash" => ("jailer", path(Path::new(&h.jailer_path))),
        "firmware_hash" => ("firmware", h.firmware.clone()),
        "firmware_volume_hash" => ("firmware_volume", h.firmware_volume.clone()),
        _ => return None,
    })
}

/// Lowercase hex SHA-512 of the file at `path`.
pub fn sha512_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha512::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks every asset hash of `h` (see the module documentation).
pub fn verify(h: &HypervisorConfig) -> Result<(), AssetHashError> {
    for (suffix, expected) in &h.asset_hashes {
        let annotation = format!("{}{suffix}", kata_config::annotations::HYPERVISOR_PREFIX);
        let Some((asset, path)) = asset_of(h, suffix) else {
            return Err(AssetHashError::UnknownAsset { annotation });
        };
        let Some(path) = path else {
            return Err(AssetHashError::NoAsset { asset, annotation });
        };
        let computed = sha512_file(&path).map_err(|source| AssetHashError::Read {
            asset,
            path: path.clone(),
            source,
        })?;
        if !computed.eq_ignore_ascii_case(expected) {
            return Err(AssetHashError::Mismatch {
                asset,
                path,
                annotation,
                computed,
                expected: expected.clone(),
            });
        }
        tracing::info!(asset, path = %path.display(), "asset matches its sha512");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-512 of "abc" (FIPS 180-2 example).
    const ABC: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                       2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    fn config(dir: &Path) -> HypervisorConfig {
        let text = format!(
            "[hypervisor.qemu]\npath = \"/bin/sh\"\nkernel = \"{k}\"\ninitrd = \"{k}\"\n",
            k = dir.join("kernel").display()
        );
        let host = kata_config::HostFacts::detect();
        let loaded =
            kata_config::Config::from_toml_str(&text, Path::new("t.toml"), &host).expect("config");
        loaded.config.hypervisor
    }

    #[test]
    fn sha512_of_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("a");
        std::fs::write(&f, "abc").expect("write");
        assert_eq!(sha512_file(&f).expect("hash"), ABC);
    }

    #[test]
    fn a_matching_hash_passes_and_a_wrong_one_names_asset_and_both_hashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kernel"), "abc").expect("write");
        let mut h = config(dir.path());
        h.asset_hashes.insert("kernel_hash".into(), ABC.into());
        verify(&h).expect("matching hash");
        let wrong = "0".repeat(128);
        h.asset_hashes.insert("kernel_hash".into(), wrong.clone());
        let msg = verify(&h).expect_err("wrong hash").to_string();
        assert!(msg.contains("asset kernel"), "{msg}");
        assert!(msg.contains(ABC) && msg.contains(&wrong), "{msg}");
        assert!(
            msg.contains("io.katacontainers.config.hypervisor.kernel_hash"),
            "{msg}"
        );
    }

    #[test]
    fn a_hash_for_an_asset_that_is_not_configured_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kernel"), "abc").expect("write");
        let mut h = config(dir.path());
        h.asset_hashes.insert("firmware_hash".into(), ABC.into());
        assert!(matches!(
            verify(&h),
            Err(AssetHashError::NoAsset {
                asset: "firmware",
                ..
            })
        ));
    }
}
