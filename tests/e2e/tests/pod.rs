//! Pods: two containers of one pod share a VM. (Faults, QEMU or the shim killed included, are in
//! `faults.rs`.)

use std::time::Duration;

use kata_e2e_tests::{assert_no_leftovers, pids_named, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(20);
const IMAGE: &str = "docker.io/library/busybox:latest";

fn containerd() -> PrivateContainerd {
    PrivateContainerd::start_clean(TEARDOWN)
}

fn run_detached(c: &PrivateContainerd, id: &str, annotations: &[String]) {
    let mut args: Vec<&str> = vec!["run", "-d", "--runtime", "io.containerd.kata.v2"];
    for a in annotations {
        args.push("--annotation");
        args.push(a);
    }
    args.extend_from_slice(&[
        IMAGE,
        id,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    ]);
    let out = c.ctr(&args, None, 180).expect("ctr run -d");
    assert_eq!(out.code, Some(0), "run {id}: {}", out.stderr);
}

fn exec_output(c: &PrivateContainerd, id: &str, exec_id: &str, cmd: &[&str]) -> String {
    let mut args = vec!["task", "exec", "--exec-id", exec_id, id];
    args.extend_from_slice(cmd);
    let out = c.ctr(&args, None, 60).expect("ctr task exec");
    assert_eq!(out.code, Some(0), "exec in {id}: {}", out.stderr);
    out.stdout_text().trim().to_string()
}

fn wait_stopped(c: &PrivateContainerd, id: &str) -> bool {
    c.wait_task(id, 120, |s| matches!(s, Some("STOPPED") | None))
}

fn remove(c: &PrivateContainerd, id: &str) {
    let _ = c.ctr(&["task", "kill", "-s", "SIGKILL", id], None, 30);
    wait_stopped(c, id);
    let _ = c.ctr(&["task", "delete", id], None, 60);
    let out = c
        .ctr(&["container", "delete", id], None, 30)
        .expect("container delete");
    assert_eq!(out.code, Some(0), "container delete {id}: {}", out.stderr);
}

#[test]
fn two_containers_of_one_pod_share_one_vm() {
    let c = containerd();
    let sandbox = [
        "io.kubernetes.cri.container-type=sandbox".to_string(),
        "io.kubernetes.cri.sandbox-id=pod1".to_string(),
    ];
    let member = [
        "io.kubernetes.cri.container-type=container".to_string(),
        "io.kubernetes.cri.sandbox-id=pod1".to_string(),
    ];
    run_detached(&c, "pod1", &sandbox);
    run_detached(&c, "pod1-app", &member);
    let boot_a = exec_output(
        &c,
        "pod1",
        "b1",
        &["cat", "/proc/sys/kernel/random/boot_id"],
    );
    let boot_b = exec_output(
        &c,
        "pod1-app",
        "b2",
        &["cat", "/proc/sys/kernel/random/boot_id"],
    );
    assert!(!boot_a.is_empty());
    assert_eq!(boot_a, boot_b, "the two containers run in different VMs");
    assert_eq!(
        pids_named("qemu-system-x86_64").len(),
        1,
        "one VM for the pod"
    );
    remove(&c, "pod1-app");
    remove(&c, "pod1");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}
