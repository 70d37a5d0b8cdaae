//! The shim's management socket, as Kata's Go shim has it (`shim_management.go`): one HTTP/1.1
//! server per sandbox on the Unix socket `/run/vc/sbs/<sandbox-id>/shim-monitor.sock`, read by
//! `kata-runtime metrics`, `kata-runtime exec` and `kata-monitor`.
//!
//! - [`socket_path`], the endpoint constants: where the shim listens and what it serves;
//! - [`ShimClient`]: an HTTP GET over that socket, with a timeout;
//! - [`http`]: the small server-side helpers the shim and `kata-monitor` share;
//! - [`prom`]: a strict reader of the Prometheus text format, and the aggregation `kata-monitor`
//!   does (a `sandbox_id` label on every sample, one HELP/TYPE per family).

mod client;
mod error;
pub mod http;
pub mod prom;

use std::path::{Path, PathBuf};

pub use client::{Response, ShimClient, DEFAULT_TIMEOUT};
pub use error::ClientError;

/// Kata's directory of sandbox state, where each sandbox's socket lives (`/run/vc/sbs`).
pub const DEFAULT_SBS_DIR: &str = "/run/vc/sbs";
/// File name of the management socket inside a sandbox's state directory.
pub const SOCKET_NAME: &str = "shim-monitor.sock";

/// `GET`: the agent's URL (`hvsock://<socket>:<port>` or `vsock://<cid>:<port>`), as Kata.
pub const AGENT_URL: &str = "/agent-url";
/// `GET`: the shim's, the hypervisor's, the agent's and the guest's metrics (Prometheus text).
pub const METRICS: &str = "/metrics";
/// `GET`: the guest's debug console vsock port (ours; Kata's CLI takes it from a flag), or 404
/// when the console is disabled.
pub const DEBUG_CONSOLE: &str = "/debug-console";

/// `<sbs_root>/<sandbox_id>/shim-monitor.sock`; `sbs_root` is [`DEFAULT_SBS_DIR`] outside tests.
pub fn socket_path(sbs_root: &Path, sandbox_id: &str) -> PathBuf {
    sbs_root.join(sandbox_id).join(SOCKET_NAME)
}

/// Whether `id` can name a sandbox directory: not empty, no `/` nor NUL, not `.` or `..`.
pub fn is_valid_sandbox_id(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_lives_in_the_sandbox_state_directory() {
        assert_eq!(
            socket_path(Path::new(DEFAULT_SBS_DIR), "sb1"),
            PathBuf::from("/run/vc/sbs/sb1/shim-monitor.sock")
        );
    }

    #[test]
    fn sandbox_ids_cannot_leave_the_root() {
        for bad in ["", ".", "..", "a/b", "../x", "a\0b"] {
            assert!(!is_valid_sandbox_id(bad), "{bad:?}");
        }
        assert!(is_valid_sandbox_id("8f1c-pod_1.a"));
    }
}
