//! `VirtioFsDaemon`: virtiofsd serving a host directory over vhost-user, confined: its own mount
//! (and pid, net) namespaces with the shared directory as its root (`--sandbox=namespace`), and
//! its seccomp filter killing it on any system call outside its list (`--seccomp=kill`). Both are
//! virtiofsd 1.x's defaults, passed explicitly so a changed default cannot loosen them; the
//! configuration's `virtio_fs_extra_args` come after and still win (an administrator's choice).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::binary::resolve_binary;
use crate::error::DaemonError;
use crate::supervise::{Daemon, DaemonExit};
use crate::watch::DaemonWatch;

/// Where virtiofsd is looked for first.
pub const DEFAULT_VIRTIOFSD_BINARY: &str = "/usr/local/bin/virtiofsd";

/// virtiofsd's `--cache` policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheMode {
    #[default]
    Auto,
    Never,
    /// Metadata cached, file data not (virtiofsd's `metadata`).
    Metadata,
    Always,
}

impl CacheMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Auto => "auto",
            CacheMode::Never => "never",
            CacheMode::Metadata => "metadata",
            CacheMode::Always => "always",
        }
    }
}

impl std::str::FromStr for CacheMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(CacheMode::Auto),
            // `none` is Kata's old name of `never`.
            "never" | "none" => Ok(CacheMode::Never),
            "metadata" => Ok(CacheMode::Metadata),
            "always" => Ok(CacheMode::Always),
            other => Err(format!("unknown virtio-fs cache mode {other:?}")),
        }
    }
}

/// How to run virtiofsd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtioFsConfig {
    /// `None`: [`DEFAULT_VIRTIOFSD_BINARY`], else `virtiofsd` from `$PATH`.
    pub binary: Option<PathBuf>,
    pub socket: PathBuf,
    pub shared_dir: PathBuf,
    pub cache: CacheMode,
    /// Appended after the generated arguments (from configuration).
    pub extra_args: Vec<String>,
    pub start_timeout: Duration,
    /// Grace between SIGTERM and SIGKILL on stop.
    pub stop_timeout: Duration,
}

impl VirtioFsConfig {
    pub fn new(socket: impl Into<PathBuf>, shared_dir: impl Into<PathBuf>) -> Self {
        VirtioFsConfig {
            binary: None,
            socket: socket.into(),
            shared_dir: shared_dir.into(),
            cache: CacheMode::Auto,
            extra_args: Vec::new(),
            start_timeout: Duration::from_secs(5),
            stop_timeout: Duration::from_secs(2),
        }
    }

    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--socket-path={}", self.socket.display()),
            format!("--shared-dir={}", self.shared_dir.display()),
            format!("--cache={}", self.cache.as_str()),
            "--sandbox=namespace".into(),
            "--seccomp=kill".into(),
        ];
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// A running virtiofsd. Dropping it kills the daemon and removes its socket.
#[derive(Debug)]
pub struct VirtioFsDaemon {
    daemon: Daemon,
    config: VirtioFsConfig,
}

impl VirtioFsDaemon {
    /// Starts virtiofsd and waits until its socket exists.
    pub async fn start(config: VirtioFsConfig) -> Result<Self, DaemonError> {
        let binary = resolve_binary(
            "virtiofsd",
            config.binary.as_deref(),
            Path::new(DEFAULT_VIRTIOFSD_BINARY),
        )?;
        if !config.shared_dir.is_dir() {
            return Err(DaemonError::InvalidArgument {
                binary,
                what: "shared directory",
                value: config.shared_dir.display().to_string(),
            });
        }
        let daemon = Daemon::start(
            "virtiofsd",
            &binary,
            &config.args(),
            &config.socket,
            vec![config.socket.clone()],
            config.start_timeout,
        )
        .await?;
        Ok(VirtioFsDaemon { daemon, config })
    }

    pub fn config(&self) -> &VirtioFsConfig {
        &self.config
    }

    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// Resolves when virtiofsd has exited (it exits by itself when the VM disconnects).
    pub async fn exited(&self) -> DaemonExit {
        self.daemon.exited().await
    }

    /// A view of the daemon's end to keep apart from this handle (to notice its death while
    /// the handle sits elsewhere).
    pub fn watch(&self) -> DaemonWatch {
        self.daemon.watch()
    }

    /// The end of virtiofsd's stderr.
    pub fn stderr(&self) -> String {
        self.daemon.stderr()
    }

    /// SIGTERM, SIGKILL after the stop timeout; reaps and removes the socket.
    pub async fn stop(self) -> DaemonExit {
        self.daemon.stop(self.config.stop_timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_carry_socket_dir_cache_and_extras() {
        let mut c = VirtioFsConfig::new("/run/p/vfs.sock", "/run/p/shared");
        c.cache = CacheMode::Never;
        c.extra_args = vec!["--thread-pool-size=1".into()];
        assert_eq!(
            c.args(),
            [
                "--socket-path=/run/p/vfs.sock",
                "--shared-dir=/run/p/shared",
                "--cache=never",
                "--sandbox=namespace",
                "--seccomp=kill",
                "--thread-pool-size=1"
            ]
        );
    }

    #[test]
    fn cache_mode_parses() {
        assert_eq!("always".parse::<CacheMode>(), Ok(CacheMode::Always));
        assert_eq!("none".parse::<CacheMode>(), Ok(CacheMode::Never));
        assert_eq!("metadata".parse::<CacheMode>(), Ok(CacheMode::Metadata));
        assert_eq!(CacheMode::Metadata.as_str(), "metadata");
        assert!("sometimes".parse::<CacheMode>().is_err());
    }

    #[tokio::test]
    async fn missing_shared_dir_is_refused() {
        let mut c = VirtioFsConfig::new("/tmp/x.sock", "/nonexistent/shared");
        c.binary = Some("/bin/true".into());
        let err = VirtioFsDaemon::start(c).await.expect_err("no dir");
        assert!(err.to_string().contains("/nonexistent/shared"), "{err}");
    }
}
