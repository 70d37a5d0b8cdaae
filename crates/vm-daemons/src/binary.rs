//! Finding a daemon's binary: the configured path, else the default install path, else `$PATH`.

use std::path::{Path, PathBuf};

use crate::error::DaemonError;

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn search_path(name: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable_file(p))
}

/// Resolves the binary `name`.
pub fn resolve_binary(
    name: &'static str,
    configured: Option<&Path>,
    default: &Path,
) -> Result<PathBuf, DaemonError> {
    resolve_with(
        name,
        configured,
        default,
        std::env::var_os("PATH").as_deref(),
    )
}

fn resolve_with(
    name: &'static str,
    configured: Option<&Path>,
    default: &Path,
    path_var: Option<&std::ffi::OsStr>,
) -> Result<PathBuf, DaemonError> {
    if let Some(path) = configured {
        return if is_executable_file(path) {
            Ok(path.to_path_buf())
        } else {
            Err(DaemonError::ConfiguredBinaryMissing {
                name,
                path: path.to_path_buf(),
            })
        };
    }
    if is_executable_file(default) {
        return Ok(default.to_path_buf());
    }
    search_path(name, path_var).ok_or_else(|| DaemonError::BinaryNotFound {
        name,
        default: default.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[test]
    fn configured_path_wins_and_must_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = exe(dir.path(), "x");
        assert_eq!(
            resolve_with("x", Some(&p), Path::new("/nope"), None).expect("found"),
            p
        );
        let missing = dir.path().join("missing");
        let err = resolve_with("x", Some(&missing), Path::new("/nope"), None).expect_err("missing");
        assert!(err.to_string().contains(&*missing.to_string_lossy()));
    }

    #[test]
    fn default_then_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let default = exe(dir.path(), "d");
        assert_eq!(
            resolve_with("virtiofsd", None, &default, None).expect("default"),
            default
        );
        let bin = tempfile::tempdir().expect("tempdir");
        let on_path = exe(bin.path(), "virtiofsd");
        let path_var = std::env::join_paths([Path::new("/nonexistent"), bin.path()]).expect("join");
        assert_eq!(
            resolve_with("virtiofsd", None, Path::new("/nope"), Some(&path_var)).expect("path"),
            on_path
        );
        let err = resolve_with("virtiofsd", None, Path::new("/nope"), None).expect_err("absent");
        assert!(err.to_string().contains("virtiofsd"));
    }
}
