//! Size of the container's `/dev/shm`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// The size of `/dev/shm` when nothing says otherwise: 64 MiB, as Docker and containerd use.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Parses a tmpfs `size=` value: bytes, or with a `k`, `m` or `g` suffix (either case).
pub fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, unit) = match value.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&value[..i], Some(c.to_ascii_lowercase())),
        _ => (value, None),
    };
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit {
        None => 1,
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        Some(_) => return None,
    };
    n.checked_mul(factor)
}

/// Total size in bytes of the file system holding `path`.
pub fn statfs_size(path: &Path) -> Result<u64> {
    let err = |source| Error::ShmStatfs {
        path: path.to_owned(),
        source,
    };
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| err(std::io::Error::from(std::io::ErrorKind::InvalidInput)))?;
    // SAFETY: statfs is plain old data; all-zero is a valid value.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is a valid NUL-terminated string and buf a valid, writable statfs.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut buf) };
    if rc != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok((buf.f_bsize as u64).saturating_mul(buf.f_blocks))
}

/// The `/dev/shm` size a container asks for, in bytes; `None` without a `/dev/shm` mount.
///
/// A `size=` option wins; a bind mount of some other directory takes that file system's size
/// (what the host gave the pod); anything else gets [`DEFAULT_SHM_SIZE`].
pub fn shm_size(spec: &Spec) -> Result<Option<u64>> {
    let Some(m) = spec
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new("/dev/shm"))
    else {
        return Ok(None);
    };
    for option in m.options().iter().flatten() {
        if let Some(value) = option.strip_prefix("size=") {
            return parse_size(value)
                .map(Some)
                .ok_or_else(|| Error::MountSizeOption {
                    destination: PathBuf::from("/dev/shm"),
                    option: option.clone(),
                });
        }
    }
    let is_bind = m.typ().as_deref() == Some("bind");
    match m.source() {
        Some(src) if is_bind && src != Path::new("/dev/shm") => statfs_size(src).map(Some),
        _ => Ok(Some(DEFAULT_SHM_SIZE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with_mount(mount: &str) -> Spec {
        let json = format!(r#"{{"ociVersion":"1.0.2","mounts":[{mount}]}}"#);
        serde_json::from_str(&json).expect("valid spec json")
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("65536k"), Some(64 << 20));
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("50%"), None);
        assert_eq!(parse_size("m"), None);
        assert_eq!(parse_size("12x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999999999999g"), None);
    }

    #[test]
    fn size_option_wins() {
        let s = spec_with_mount(
            r#"{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","size=128m"]}"#,
        );
        assert_eq!(shm_size(&s).expect("ok"), Some(128 << 20));
    }

    #[test]
    fn bad_size_option_is_an_error_naming_it() {
        let s = spec_with_mount(
            r#"{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["size=lots"]}"#,
        );
        let err = shm_size(&s).expect_err("bad size");
        assert!(err.to_string().contains("size=lots"), "{err}");
    }

    #[test]
    fn tmpfs_without_size_gets_default() {
        let s = spec_with_mount(r#"{"destination":"/dev/shm","type":"tmpfs","source":"shm"}"#);
        assert_eq!(shm_size(&s).expect("ok"), Some(DEFAULT_SHM_SIZE));
        let s = spec_with_mount(r#"{"destination":"/dev/shm","type":"bind","source":"/dev/shm"}"#);
        assert_eq!(shm_size(&s).expect("ok"), Some(DEFAULT_SHM_SIZE));
    }

    #[test]
    fn bind_source_is_measured_with_statfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let expected = statfs_size(dir.path()).expect("statfs");
        assert!(expected > 0);
        let s = spec_with_mount(&format!(
            r#"{{"destination":"/dev/shm","type":"bind","source":"{}"}}"#,
            dir.path().display()
        ));
        assert_eq!(shm_size(&s).expect("ok"), Some(expected));
    }

    #[test]
    fn missing_bind_source_is_an_error_naming_it() {
        let s = spec_with_mount(
            r#"{"destination":"/dev/shm","type":"bind","source":"/nonexistent/shm"}"#,
        );
        let err = shm_size(&s).expect_err("missing source");
        assert!(err.to_string().contains("/nonexistent/shm"), "{err}");
    }

    #[test]
    fn no_shm_mount_is_none() {
        let s = spec_with_mount(r#"{"destination":"/proc","type":"proc","source":"proc"}"#);
        assert_eq!(shm_size(&s).expect("ok"), None);
    }
}
