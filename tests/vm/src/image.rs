//! Where the guest image is: `$KATA_TEST_IMAGE_DIR`, else `<workspace>/build/image` (`make image`).

use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// Environment variable naming the directory with the kernel and the initrd.
pub const IMAGE_DIR_ENV: &str = "KATA_TEST_IMAGE_DIR";
/// The uncompressed guest kernel (booted through its PVH entry).
pub const KERNEL_FILE: &str = "vmlinux.container";
/// The initrd whose `/init` is the kata-agent.
pub const INITRD_FILE: &str = "kata-containers-initrd.img";

/// The two files a test VM boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImage {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
}

impl GuestImage {
    /// The image in `$KATA_TEST_IMAGE_DIR` or the workspace's `build/image`; fails naming the missing
    /// file and how to make it.
    pub fn locate() -> Result<Self> {
        let dir = std::env::var_os(IMAGE_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(default_dir);
        Self::in_dir(&dir)
    }

    /// The image in `dir`.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        let image = GuestImage {
            kernel: dir.join(KERNEL_FILE),
            initrd: dir.join(INITRD_FILE),
        };
        for path in [&image.kernel, &image.initrd] {
            if !path.is_file() {
                return Err(HarnessError::MissingImage { path: path.clone() });
            }
        }
        Ok(image)
    }
}

/// `<workspace>/build/image`.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = GuestImage::in_dir(dir.path()).expect_err("empty dir");
        assert!(err.to_string().contains(KERNEL_FILE), "{err}");
        assert!(err.to_string().contains("make image"), "{err}");
        std::fs::write(dir.path().join(KERNEL_FILE), b"k").expect("write");
        let err = GuestImage::in_dir(dir.path()).expect_err("no initrd");
        assert!(err.to_string().contains(INITRD_FILE), "{err}");
        std::fs::write(dir.path().join(INITRD_FILE), b"i").expect("write");
        let image = GuestImage::in_dir(dir.path()).expect("both present");
        assert_eq!(image.kernel, dir.path().join(KERNEL_FILE));
    }
}
