//! OCI hooks of the runtime namespace, run on the host as Kata's runtime runs them
//! (`pkg/katautils/hook.go`): each hook gets the container's state (OCI runtime spec, "State")
//! as JSON on its stdin, its `args` (the first is `argv[0]`), only its `env`, and is killed
//! after `timeout` seconds.
//!
//! `prestart` and `createRuntime` run when the container is created (state `creating`),
//! `poststart` once it started and `poststop` after it is deleted (`created` and `stopped`, the
//! states runc gives them). A failing `prestart` or `createRuntime` hook fails the create; a
//! failing `poststart` or `poststop` hook is logged (runtime spec). `createContainer` and
//! `startContainer` hooks belong to the container's namespaces: they go to the guest with the
//! spec and run there (libcontainer), as runc runs them in the container's.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use oci_spec::runtime::{Hook, Hooks, Spec};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

/// When hooks run (named as in the OCI runtime spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    Prestart,
    CreateRuntime,
    Poststart,
    Poststop,
}

impl HookPoint {
    pub fn name(self) -> &'static str {
        match self {
            HookPoint::Prestart => "prestart",
            HookPoint::CreateRuntime => "createRuntime",
            HookPoint::Poststart => "poststart",
            HookPoint::Poststop => "poststop",
        }
    }

    /// The container status the hooks of this point see in the state.
    fn status(self) -> &'static str {
        match self {
            HookPoint::Prestart | HookPoint::CreateRuntime => "creating",
            HookPoint::Poststart => "created",
            HookPoint::Poststop => "stopped",
        }
    }

    /// Whether a failing hook fails the operation (the others are logged).
    pub fn fatal(self) -> bool {
        !matches!(self, HookPoint::Poststart | HookPoint::Poststop)
    }

    fn hooks(self, h: &Hooks) -> Option<&Vec<Hook>> {
        match self {
            HookPoint::Prestart => h.prestart().as_ref(),
            HookPoint::CreateRuntime => h.create_runtime().as_ref(),
            HookPoint::Poststart => h.poststart().as_ref(),
            HookPoint::Poststop => h.poststop().as_ref(),
        }
    }
}

/// A hook that failed: which one and why.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{point} hook {path}: cannot run: {source}")]
    Spawn {
        point: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{point} hook {path}: {status}{stderr}")]
    Failed {
        point: &'static str,
        path: PathBuf,
        status: String,
        /// ": <what it wrote on stderr>", or empty.
        stderr: String,
    },
    #[error("{point} hook {path}: killed after its timeout of {secs} s")]
    Timeout {
        point: &'static str,
        path: PathBuf,
        secs: i64,
    },
}

/// The container's hooks and what their state names.
#[derive(Debug, Clone)]
pub struct ContainerHooks {
    hooks: Hooks,
    id: String,
    bundle: PathBuf,
    annotations: HashMap<String, String>,
    oci_version: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct State<'a> {
    oci_version: &'a str,
    id: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    bundle: &'a Path,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    annotations: &'a HashMap<String, String>,
}

impl ContainerHooks {
    /// The hooks of `spec` (None when it has none) for container `id` of `bundle`.
    pub fn from_spec(spec: &Spec, id: &str, bundle: &Path) -> Option<Self> {
        let hooks = spec.hooks().clone()?;
        Some(Self {
            hooks,
            id: id.to_owned(),
            bundle: bundle.to_owned(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            oci_version: spec.version().clone(),
        })
    }

    /// Runs the hooks of `point` in order; stops at the first that fails. `pid`: the
    /// container's pid as containerd knows it (none before it exists).
    pub async fn run(&self, point: HookPoint, pid: Option<u32>) -> Result<(), HookError> {
        let Some(list) = point.hooks(&self.hooks) else {
            return Ok(());
        };
        let state = State {
            oci_version: &self.oci_version,
            id: &self.id,
            status: point.status(),
            pid,
            bundle: &self.bundle,
            annotations: &self.annotations,
        };
        let json = serde_json::to_vec(&state).unwrap_or_default();
        for hook in list {
            run_one(point, hook, &json, &self.bundle).await?;
        }
        Ok(())
    }

    /// [`Self::run`] for the points whose failure is only logged.
    pub async fn run_logged(&self, point: HookPoint, pid: Option<u32>) {
        if let Err(e) = self.run(point, pid).await {
            tracing::warn!(container = %self.id, error = %e, "hook failed");
        }
    }
}

async fn run_one(point: HookPoint, hook: &Hook, state: &[u8], cwd: &Path) -> Result<(), HookError> {
    let path = hook.path().clone();
    let mut cmd = tokio::process::Command::new(&path);
    if let Some(args) = hook.args().as_ref().filter(|a| !a.is_empty()) {
        cmd.arg0(OsString::from_vec(args[0].clone().into_bytes()));
        cmd.args(&args[1..]);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    if cwd.is_dir() {
        cmd.current_dir(cwd);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        point: point.name(),
        path: path.clone(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state is fine.
        let _ = stdin.write_all(state).await;
    }
    let output = child.wait_with_output();
    let output = match hook.timeout().filter(|t| *t > 0) {
        Some(secs) => {
            let limit = Duration::from_secs(u64::try_from(secs).unwrap_or(u64::MAX));
            match tokio::time::timeout(limit, output).await {
                Ok(out) => out,
                Err(_) => {
                    return Err(HookError::Timeout {
                        point: point.name(),
                        path,
                        secs,
                    })
                }
            }
        }
        None => output.await,
    }
    .map_err(|source| HookError::Spawn {
        point: point.name(),
        path: path.clone(),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = stderr.trim();
    Err(HookError::Failed {
        point: point.name(),
        path,
        status: output.status.to_string(),
        stderr: if stderr.is_empty() {
            String::new()
        } else {
            format!(": {}", stderr.chars().take(512).collect::<String>())
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hooks: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion": "1.0.2", "annotations": {{"a": "b"}}, "hooks": {hooks}}}"#
        ))
        .expect("spec")
    }

    #[tokio::test]
    async fn hooks_get_state_args_and_env_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let hooks = format!(
            r#"{{"createRuntime": [
                {{"path": "/bin/sh", "args": ["sh", "-c", "echo \"$0 $X\" >> {0}; cat >> {0}; echo >> {0}"], "env": ["X=1"]}},
                {{"path": "/bin/sh", "args": ["second", "-c", "echo $0 >> {0}"]}}
            ]}}"#,
            out.display()
        );
        let h = ContainerHooks::from_spec(&spec(&hooks), "c1", dir.path()).expect("hooks");
        h.run(HookPoint::CreateRuntime, Some(42))
            .await
            .expect("run");
        h.run(HookPoint::Poststop, None).await.expect("none");
        let text = std::fs::read_to_string(&out).expect("out");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("sh 1"));
        let state: serde_json::Value =
            serde_json::from_str(lines.next().expect("state")).expect("json");
        assert_eq!(state["id"], "c1");
        assert_eq!(state["status"], "creating");
        assert_eq!(state["pid"], 42);
        assert_eq!(state["ociVersion"], "1.0.2");
        assert_eq!(state["annotations"]["a"], "b");
        assert_eq!(lines.next(), Some("second"));
    }

    #[tokio::test]
    async fn a_failing_hook_is_named_with_its_status_and_stderr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hooks =
            r#"{"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]}"#;
        let h = ContainerHooks::from_spec(&spec(hooks), "c1", dir.path()).expect("hooks");
        let e = h.run(HookPoint::Prestart, None).await.expect_err("fails");
        let text = e.to_string();
        assert!(text.contains("prestart hook /bin/sh"), "{text}");
        assert!(text.contains("exit status: 3"), "{text}");
        assert!(text.contains("nope"), "{text}");
    }

    #[tokio::test]
    async fn a_hook_past_its_timeout_is_killed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hooks =
            r#"{"poststart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}"#;
        let h = ContainerHooks::from_spec(&spec(hooks), "c1", dir.path()).expect("hooks");
        let started = std::time::Instant::now();
        let e = h
            .run(HookPoint::Poststart, None)
            .await
            .expect_err("timeout");
        assert!(matches!(e, HookError::Timeout { secs: 1, .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_missing_hook_binary_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hooks = r#"{"createRuntime": [{"path": "/nonexistent/hook"}]}"#;
        let h = ContainerHooks::from_spec(&spec(hooks), "c1", dir.path()).expect("hooks");
        let e = h
            .run(HookPoint::CreateRuntime, Some(1))
            .await
            .expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/hook"), "{e}");
    }
}
