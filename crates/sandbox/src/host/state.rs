//! The sandbox's persisted state (`/run/vc/sbs/<sid>/state.json`): what a restarted shim or
//! `shim delete` needs to release everything after the shim was killed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::cleanup::CleanupStep;
use crate::host::confine::run_confined_steps;
use crate::host::layout::Layout;

/// File name of the state under the sandbox's state directory.
pub const STATE_FILE: &str = "state.json";

/// What is persisted about a sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxState {
    pub sandbox_id: String,
    /// The hypervisor's pid once booted.
    #[serde(default)]
    pub hypervisor_pid: Option<u32>,
    /// Sockets of the VM (QMP, hybrid vsock, virtiofsd).
    #[serde(default)]
    pub sockets: Vec<PathBuf>,
    /// Sandbox-wide steps (dirs, shared mounts, processes), in acquisition order.
    #[serde(default)]
    pub sandbox_steps: Vec<CleanupStep>,
    /// Per container steps (rootfs and volume mounts), in acquisition order.
    #[serde(default)]
    pub containers: BTreeMap<String, Vec<CleanupStep>>,
}

impl SandboxState {
    /// `<state_dir>/state.json`
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE)
    }

    /// Writes the state atomically (temporary file + rename).
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| Error::io("create directory", state_dir, e))?;
        let path = Self::path(state_dir);
        let tmp = state_dir.join(format!(".{STATE_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(|source| Error::StateParse {
            path: path.clone(),
            source,
        })?;
        let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
    }

    /// Reads the state; `Ok(None)` when there is none.
    pub fn load(state_dir: &Path) -> Result<Option<Self>> {
        let path = Self::path(state_dir);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        Self::from_json(&text, &path).map(Some)
    }

    /// Parses the JSON text of a state file; `path` only names it in the error. The result is
    /// data: its steps run only through [`cleanup_from_state`]'s confinement
    /// ([`crate::host::confine`]).
    pub fn from_json(text: &[u8], path: &Path) -> Result<Self> {
        serde_json::from_slice(text).map_err(|source| Error::StateParse {
            path: path.to_owned(),
            source,
        })
    }

    /// All steps in acquisition order: sandbox steps, then each container's.
    pub fn all_steps(&self) -> Vec<CleanupStep> {
        let mut steps = self.sandbox_steps.clone();
        for c in self.containers.values() {
            steps.extend(c.iter().cloned());
        }
        steps
    }
}

/// Releases everything recorded for the sandbox of `layout` in its state directory, then
/// removes the directory. Only steps confined to the sandbox run ([`run_confined_steps`]);
/// refused ones count as failures. Returns the failed steps (empty when all went well).
///
/// Errors: the state file cannot be read or parsed, or it names another sandbox than the
/// directory it is in (`InvalidArgument`, nothing is run).
pub async fn cleanup_from_state(layout: &Layout) -> Result<Vec<String>> {
    let state_dir = layout.state_dir();
    let Some(state) = SandboxState::load(&state_dir)? else {
        let _ = std::fs::remove_dir_all(&state_dir);
        return Ok(Vec::new());
    };
    if state.sandbox_id != layout.sandbox_id {
        return Err(Error::InvalidArgument {
            what: format!("state file {}", SandboxState::path(&state_dir).display()),
            reason: format!(
                "it records sandbox {:?}, not {:?}",
                state.sandbox_id, layout.sandbox_id
            ),
        });
    }
    let failures = run_confined_steps(&state.all_steps(), layout).await;
    if failures.is_empty() {
        std::fs::remove_dir_all(&state_dir)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| Error::io("remove", &state_dir, e))?;
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SandboxState {
        let mut s = SandboxState {
            sandbox_id: "sb".into(),
            hypervisor_pid: Some(4242),
            sockets: vec!["/run/vc/vm/sb/qmp.sock".into()],
            sandbox_steps: vec![
                CleanupStep::RemoveDir {
                    path: "/run/kata-containers/shared/sandboxes/sb".into(),
                },
                CleanupStep::KillProcess {
                    name: "qemu".into(),
                    pid: 4242,
                    start_time: 77,
                },
            ],
            ..Default::default()
        };
        s.containers.insert(
            "c1".into(),
            vec![CleanupStep::Unmount {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts/c1/rootfs".into(),
            }],
        );
        s
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state_dir = dir.path().join("sb");
        assert_eq!(SandboxState::load(&state_dir).expect("load"), None);
        let s = sample();
        s.save(&state_dir).expect("save");
        assert_eq!(
            SandboxState::load(&state_dir).expect("load"),
            Some(s.clone())
        );
        assert_eq!(s.all_steps().len(), 3);
        assert!(matches!(s.all_steps()[2], CleanupStep::Unmount { .. }));
    }

    #[test]
    fn a_corrupt_state_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(STATE_FILE), b"{not json").expect("write");
        let err = SandboxState::load(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains("state.json"), "{err}");
    }

    fn layout_in(dir: &Path) -> Layout {
        Layout::new(
            "sb",
            crate::host::layout::Roots {
                shared: dir.join("shared"),
                state: dir.join("state"),
                vm: dir.join("vm"),
            },
        )
    }

    #[tokio::test]
    async fn cleanup_from_state_releases_and_removes_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = layout_in(dir.path());
        let made = layout.vm_dir();
        std::fs::create_dir_all(&made).expect("mkdir");
        let state_dir = layout.state_dir();
        SandboxState {
            sandbox_id: "sb".into(),
            sandbox_steps: vec![CleanupStep::RemoveDir { path: made.clone() }],
            ..Default::default()
        }
        .save(&state_dir)
        .expect("save");
        let failures = cleanup_from_state(&layout).await.expect("cleanup");
        assert!(failures.is_empty(), "{failures:?}");
        assert!(!made.exists());
        assert!(!state_dir.exists());
    }

    #[tokio::test]
    async fn a_crafted_state_file_acts_only_inside_its_sandbox() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = layout_in(dir.path());
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(victim.join("d")).expect("mkdir");
        std::fs::write(victim.join("file"), b"keep").expect("write");
        let state_dir = layout.state_dir();
        std::fs::create_dir_all(&state_dir).expect("mkdir");
        let json = format!(
            r#"{{"sandbox_id":"sb","sandbox_steps":[
                {{"kind":"remove_tree","path":"{v}"}},
                {{"kind":"remove_file","path":"{v}/file"}},
                {{"kind":"remove_dir","path":"{v}/d"}},
                {{"kind":"unmount","path":"{v}"}},
                {{"kind":"kill_process","name":"init","pid":1,"start_time":18446744073709551615}}]}}"#,
            v = victim.display()
        );
        std::fs::write(SandboxState::path(&state_dir), json).expect("write");
        let failures = cleanup_from_state(&layout).await.expect("cleanup");
        assert_eq!(failures.len(), 5, "{failures:?}");
        assert!(
            failures.iter().all(|f| f.contains("refused")),
            "{failures:?}"
        );
        assert!(victim.join("file").exists() && victim.join("d").exists());
        assert!(
            state_dir.exists(),
            "the state is kept when steps were refused"
        );
    }

    #[tokio::test]
    async fn a_state_file_of_another_sandbox_is_not_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = layout_in(dir.path());
        let made = layout.vm_dir();
        std::fs::create_dir_all(&made).expect("mkdir");
        SandboxState {
            sandbox_id: "other".into(),
            sandbox_steps: vec![CleanupStep::RemoveDir { path: made.clone() }],
            ..Default::default()
        }
        .save(&layout.state_dir())
        .expect("save");
        let err = cleanup_from_state(&layout).await.expect_err("mismatch");
        assert!(err.to_string().contains("state file"), "{err}");
        assert!(made.exists());
    }
}
