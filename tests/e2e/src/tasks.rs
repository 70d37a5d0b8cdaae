//! The `ctr` steps every suite repeats: a detached container that idles until SIGTERM, an exec whose
//! output is wanted, and the two ways of removing a container.

use crate::PrivateContainerd;

/// The image every test runs (imported by `scripts/private-containerd.sh`).
pub const IMAGE: &str = "docker.io/library/busybox:latest";
/// The runtime under test.
pub const RUNTIME: &str = "io.containerd.kata.v2";
/// A PID 1 that idles and exits 0 on SIGTERM (a PID 1 ignores signals it does not trap).
pub const SLEEPER: &str = "trap 'exit 0' TERM; while true; do sleep 1; done";

/// The CRI annotations that make a container the sandbox (pause) container of pod `pod`.
pub fn sandbox_annotations(pod: &str) -> Vec<String> {
    vec![
        "io.kubernetes.cri.container-type=sandbox".into(),
        format!("io.kubernetes.cri.sandbox-id={pod}"),
    ]
}

/// The CRI annotations that make a container a member of pod `pod` (same VM, same shim).
pub fn member_annotations(pod: &str) -> Vec<String> {
    vec![
        "io.kubernetes.cri.container-type=container".into(),
        format!("io.kubernetes.cri.sandbox-id={pod}"),
    ]
}

impl PrivateContainerd {
    /// `ctr run -d --runtime kata [--annotation A]... busybox ID sh -c SLEEPER`; panics when it fails.
    pub fn run_detached(&self, id: &str, annotations: &[&str]) {
        self.run_detached_with(id, &[], annotations);
    }

    /// As [`Self::run_detached`], with `ctr run` flags (`--privileged`, `--mount ...`) first.
    pub fn run_detached_with<A: AsRef<str>>(&self, id: &str, flags: &[&str], annotations: &[A]) {
        let mut args: Vec<&str> = vec!["run", "-d", "--runtime", RUNTIME];
        args.extend_from_slice(flags);
        for a in annotations {
            args.extend(["--annotation", a.as_ref()]);
        }
        args.extend_from_slice(&[IMAGE, id, "sh", "-c", SLEEPER]);
        let out = self.ctr(&args, None, 180).expect("ctr run -d");
        assert_eq!(out.code, Some(0), "run {id}: {}", out.stderr);
    }

    /// `ctr task exec --exec-id EXEC ID CMD...`, which must exit 0; its stdout, trimmed.
    pub fn exec_output(&self, id: &str, exec_id: &str, cmd: &[&str]) -> String {
        let mut args = vec!["task", "exec", "--exec-id", exec_id, id];
        args.extend_from_slice(cmd);
        let out = self.ctr(&args, None, 120).expect("ctr task exec");
        assert_eq!(out.code, Some(0), "exec {exec_id} in {id}: {}", out.stderr);
        out.stdout_text().trim().to_string()
    }

    /// Whether task `id` reaches STOPPED (or is gone) within a minute.
    pub fn wait_stopped(&self, id: &str) -> bool {
        self.wait_task(id, 120, |s| matches!(s, Some("STOPPED") | None))
    }

    /// SIGKILL, wait, `task delete`, then `container delete`, which must succeed.
    pub fn remove(&self, id: &str) {
        let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id], None, 30);
        self.wait_stopped(id);
        let _ = self.ctr(&["task", "delete", id], None, 60);
        let out = self
            .ctr(&["container", "delete", id], None, 30)
            .expect("container delete");
        assert_eq!(out.code, Some(0), "container delete {id}: {}", out.stderr);
    }

    /// `task delete` then `container delete` of a stopped task, both of which must succeed.
    pub fn delete_stopped(&self, id: &str) {
        let out = self
            .ctr(&["task", "delete", id], None, 60)
            .expect("task delete");
        assert_eq!(out.code, Some(0), "task delete {id}: {}", out.stderr);
        let out = self
            .ctr(&["container", "delete", id], None, 30)
            .expect("container delete");
        assert_eq!(out.code, Some(0), "container delete {id}: {}", out.stderr);
    }
}
