//! `VsockDaemon`: vhost-device-vsock, the hybrid vsock backend used when /dev/vhost-vsock is
//! absent. The hypervisor connects to the vhost-user socket; the host talks to the guest through
//! `uds_path` (`CONNECT <port>\n`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::binary::resolve_binary;
use crate::confine::Confinement;
use crate::error::DaemonError;
use crate::supervise::{Daemon, DaemonExit};
use crate::user::{set_group_and_mode, Identity};
use crate::watch::DaemonWatch;

/// Where vhost-device-vsock is looked for first.
pub const DEFAULT_VSOCK_BINARY: &str = "/usr/local/bin/vhost-device-vsock";

/// How to run vhost-device-vsock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsockConfig {
    /// `None`: [`DEFAULT_VSOCK_BINARY`], else `vhost-device-vsock` from `$PATH`.
    pub binary: Option<PathBuf>,
    pub guest_cid: u32,
    /// The vhost-user socket the hypervisor connects to.
    pub vhost_user_socket: PathBuf,
    /// The host-facing socket.
    pub uds_path: PathBuf,
    pub start_timeout: Duration,
    /// Grace between SIGTERM and SIGKILL on stop.
    pub stop_timeout: Duration,
}

impl VsockConfig {
    /// Defaults for a VM: sockets `dir/vhost-vsock.sock` and `dir/kata.hvsock`.
    pub fn in_dir(dir: &Path, guest_cid: u32) -> Self {
        VsockConfig {
            binary: None,
            guest_cid,
            vhost_user_socket: dir.join("vhost-vsock.sock"),
            uds_path: dir.join("kata.hvsock"),
            start_timeout: Duration::from_secs(5),
            stop_timeout: Duration::from_secs(2),
        }
    }

    /// The daemon's arguments. Separate flags rather than `--vm k=v,...` so paths may hold commas.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--guest-cid".into(),
            self.guest_cid.to_string(),
            "--socket".into(),
            self.vhost_user_socket.to_string_lossy().into_owned(),
            "--uds-path".into(),
            self.uds_path.to_string_lossy().into_owned(),
        ]
    }
}

/// A running vhost-device-vsock, confined (see `confine.rs`: unprivileged user, own namespaces,
/// read-only mounts, no capabilities, no new privileges, seccomp deny list). Dropping it kills
/// the daemon and removes its sockets.
#[derive(Debug)]
pub struct VsockDaemon {
    daemon: Daemon,
    config: VsockConfig,
    who: Option<Identity>,
    binary: PathBuf,
}

impl VsockDaemon {
    /// Starts the daemon and waits until its vhost-user socket exists.
    pub async fn start(config: VsockConfig) -> Result<Self, DaemonError> {
        let binary = resolve_binary(
            "vhost-device-vsock",
            config.binary.as_deref(),
            Path::new(DEFAULT_VSOCK_BINARY),
        )?;
        if config.guest_cid < 3 {
            return Err(DaemonError::InvalidArgument {
                binary,
                what: "guest cid",
                value: config.guest_cid.to_string(),
            });
        }
        let dirs: Vec<&Path> = [&config.vhost_user_socket, &config.uds_path]
            .into_iter()
            .map(|s| s.parent().filter(|p| !p.as_os_str().is_empty()))
            .map(|p| p.unwrap_or(Path::new(".")))
            .collect();
        let confine = Confinement::prepare(&dirs).map_err(|source| DaemonError::Confine {
            binary: binary.clone(),
            source,
        })?;
        let who = confine.identity();
        let daemon = Daemon::start_confined(
            "vhost-device-vsock",
            &binary,
            &config.args(),
            &config.vhost_user_socket,
            vec![config.vhost_user_socket.clone(), config.uds_path.clone()],
            config.start_timeout,
            Some(confine),
        )
        .await?;
        Ok(VsockDaemon {
            daemon,
            config,
            who,
            binary,
        })
    }

    /// Lets the confined daemon connect to `socket`, a host listener for guest connections to
    /// a host port (`<uds_path>_<port>`, bound by root with the caller's umask): group of the
    /// daemon's user, mode `0660`. Nothing to do when the daemon runs as the caller.
    pub fn allow_connect(&self, socket: &Path) -> Result<(), DaemonError> {
        let Some(who) = self.who else {
            return Ok(());
        };
        set_group_and_mode(socket, who.gid, 0o660).map_err(|source| DaemonError::AllowConnect {
            binary: self.binary.clone(),
            socket: socket.to_path_buf(),
            source,
        })
    }

    /// The user the daemon runs as; `None` when it runs as the caller (not root).
    pub fn identity(&self) -> Option<Identity> {
        self.who
    }

    pub fn config(&self) -> &VsockConfig {
        &self.config
    }

    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// Resolves when the daemon has exited and been reaped.
    pub async fn exited(&self) -> DaemonExit {
        self.daemon.exited().await
    }

    /// A view of the daemon's end to keep apart from this handle (to notice its death while
    /// the handle sits elsewhere).
    pub fn watch(&self) -> DaemonWatch {
        self.daemon.watch()
    }

    /// The end of the daemon's stderr.
    pub fn stderr(&self) -> String {
        self.daemon.stderr()
    }

    /// SIGTERM, SIGKILL after the stop timeout; reaps and removes both sockets.
    pub async fn stop(self) -> DaemonExit {
        self.daemon.stop(self.config.stop_timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_use_separate_flags() {
        let c = VsockConfig::in_dir(Path::new("/run/p"), 3);
        assert_eq!(
            c.args(),
            [
                "--guest-cid",
                "3",
                "--socket",
                "/run/p/vhost-vsock.sock",
                "--uds-path",
                "/run/p/kata.hvsock"
            ]
        );
    }

    #[tokio::test]
    async fn reserved_cid_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = VsockConfig::in_dir(dir.path(), 2);
        c.binary = Some("/bin/true".into());
        let err = VsockDaemon::start(c).await.expect_err("cid 2");
        assert!(err.to_string().contains("guest cid"), "{err}");
    }
}
