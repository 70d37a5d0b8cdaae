//! cgroup v2: delegate every available controller to child cgroups.

use std::path::Path;

use crate::error::{AgentError, Result};

/// Where PID 1 mounts cgroup2.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The `+ctrl +ctrl` line that enables every controller of `controllers` (the text of
/// `cgroup.controllers`).
pub fn subtree_line(controllers: &str) -> String {
    controllers
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Enables in `root/cgroup.subtree_control` all controllers listed in `root/cgroup.controllers`.
pub fn enable_controllers(root: &Path) -> Result<()> {
    let controllers_file = root.join("cgroup.controllers");
    let controllers = std::fs::read_to_string(&controllers_file)
        .map_err(|e| AgentError::io("reading", &controllers_file, e))?;
    let line = subtree_line(&controllers);
    if line.is_empty() {
        return Ok(());
    }
    let control = root.join("cgroup.subtree_control");
    // Writing all at once fails as a whole if one controller is refused; fall back to one by one.
    if std::fs::write(&control, &line).is_ok() {
        return Ok(());
    }
    for one in line.split(' ') {
        if let Err(e) = std::fs::write(&control, one) {
            tracing::warn!(controller = one, error = %e, "cannot enable cgroup controller");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_line_prefixes_each_controller() {
        assert_eq!(
            subtree_line("cpuset cpu io memory pids\n"),
            "+cpuset +cpu +io +memory +pids"
        );
        assert_eq!(subtree_line("\n"), "");
    }

    #[test]
    fn enable_writes_the_control_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory\n").expect("write");
        enable_controllers(dir.path()).expect("enable");
        let written =
            std::fs::read_to_string(dir.path().join("cgroup.subtree_control")).expect("read");
        assert_eq!(written, "+cpu +memory");
    }
}
