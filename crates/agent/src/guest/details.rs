//! GetGuestDetails: memory block size for memory hot-plug, seccomp support.

use std::path::Path;

/// Bytes per memory block (`/sys/devices/system/memory/block_size_bytes`, hex), 0 if unknown.
pub fn mem_block_size(sysfs: &Path) -> u64 {
    std::fs::read_to_string(sysfs.join("devices/system/memory/block_size_bytes"))
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// Whether the guest kernel can filter system calls (`CONFIG_SECCOMP_FILTER`), which is what
/// applying `linux.seccomp` needs: the agent is always built with libcontainer's libseccomp
/// support, so this is the only thing that can be missing.
pub fn seccomp_filter_available() -> bool {
    seccomp_filter_in(Path::new("/proc"))
}

fn seccomp_filter_in(proc_: &Path) -> bool {
    std::fs::read_to_string(proc_.join("sys/kernel/seccomp/actions_avail"))
        .map(|a| a.split_whitespace().any(|x| x == "errno"))
        .unwrap_or(false)
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

    #[test]
    fn seccomp_support_follows_the_kernel() {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(!seccomp_filter_in(d.path()));
        std::fs::create_dir_all(d.path().join("sys/kernel/seccomp")).expect("mkdir");
        std::fs::write(
            d.path().join("sys/kernel/seccomp/actions_avail"),
            "kill_process kill_thread trap errno user_notif trace log allow\n",
        )
        .expect("write");
        assert!(seccomp_filter_in(d.path()));
    }
}
