//! The endpoint's Unix socket, owner-only from its first moment: bound in a private directory
//! (0700) beside the endpoint, set to 0600, then renamed into place.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::error::FactoryError;

fn bind_error(endpoint: &Path) -> impl Fn(std::io::Error) -> FactoryError + '_ {
    move |source| FactoryError::Bind {
        endpoint: endpoint.to_owned(),
        source,
    }
}

/// Binds `endpoint` (its directory is made if missing). A stale socket (nobody answers) is
/// replaced; a live one is [`FactoryError::InUse`].
pub(crate) async fn bind(endpoint: &Path) -> Result<UnixListener, FactoryError> {
    let err = bind_error(endpoint);
    if endpoint.exists() {
        if tokio::net::UnixStream::connect(endpoint).await.is_ok() {
            return Err(FactoryError::InUse {
                endpoint: endpoint.to_owned(),
            });
        }
        std::fs::remove_file(endpoint).map_err(&err)?;
    }
    let parent = endpoint.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(&err)?;
    let private = private_dir(endpoint);
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(&err)?;
    let name = endpoint.file_name().unwrap_or_default();
    let staged = private.join(name);
    let bound = (|| {
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, endpoint)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    bound.map_err(err)
}

fn private_dir(endpoint: &Path) -> PathBuf {
    let mut name = endpoint.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".bind-{}", std::process::id()));
    endpoint.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn the_socket_is_owner_only_and_a_live_one_is_not_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let endpoint = dir.path().join("run/cache.sock");
        let listener = bind(&endpoint).await.expect("bind");
        let mode = std::fs::metadata(&endpoint)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            bind(&endpoint).await,
            Err(FactoryError::InUse { .. })
        ));
        drop(listener);
        // Stale now: replaced.
        bind(&endpoint).await.expect("rebind a stale socket");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("run"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("cache.sock")]);
    }
}
