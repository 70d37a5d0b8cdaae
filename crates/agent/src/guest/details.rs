//! GetGuestDetails: memory block size for memory hot-plug.

use std::path::Path;

/// Bytes per memory block (`/sys/devices/system/memory/block_size_bytes`, hex), 0 if unknown.
pub fn mem_block_size(sysfs: &Path) -> u64 {
    std::fs::read_to_string(sysfs.join("devices/system/memory/block_size_bytes"))
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_size_is_hex() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("devices/system/memory")).expect("mkdir");
        std::fs::write(
            d.path().join("devices/system/memory/block_size_bytes"),
            "8000000\n",
        )
        .expect("write");
        assert_eq!(mem_block_size(d.path()), 128 << 20);
        assert_eq!(mem_block_size(Path::new("/nonexistent")), 0);
    }
}
