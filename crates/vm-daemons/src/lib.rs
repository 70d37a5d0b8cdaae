//! Supervision of the helper daemons a VM needs: [`VsockDaemon`] (vhost-device-vsock, hybrid
//! vsock when /dev/vhost-vsock is absent) and [`VirtioFsDaemon`] (virtiofsd).
//!
//! Each `start` resolves the binary (configured path, else `/usr/local/bin`, else `$PATH`),
//! removes stale sockets, spawns the daemon and returns once its socket exists. `exited()`
//! resolves when it dies; `watch()` gives a [`DaemonWatch`] of its end to keep elsewhere (with
//! [`first_exit`] over several); `stop()` sends SIGTERM, then SIGKILL, reaps it and removes its
//! sockets; dropping the handle kills it.
//!
//! vhost-device-vsock, which parses guest-controlled virtqueues, always runs confined: as the
//! unprivileged [`UNPRIVILEGED_USER`], with no capabilities, `no_new_privs`, its own mount, IPC,
//! UTS and network namespaces (read-only mounts but for its socket directory, no `/proc`) and the
//! seccomp deny list [`DENIED_SYSCALLS`]. A root-bound listener it must reach is opened to it with
//! [`VsockDaemon::allow_connect`].

mod binary;
mod confine;
mod error;
mod supervise;
mod user;
mod virtiofs;
mod vsock;
mod watch;

pub use binary::resolve_binary;
pub use confine::{ConfineError, DENIED_SYSCALLS};
pub use error::DaemonError;
pub use supervise::DaemonExit;
pub use user::{
    allow_search, ensure_system_user, open_dir_to_group, set_group_and_mode, Identity, UserError,
    SHARED_DIR_MODE, UNPRIVILEGED_USER,
};
pub use virtiofs::{CacheMode, VirtioFsConfig, VirtioFsDaemon, DEFAULT_VIRTIOFSD_BINARY};
pub use vsock::{VsockConfig, VsockDaemon, DEFAULT_VSOCK_BINARY};
pub use watch::{first_exit, DaemonWatch};
