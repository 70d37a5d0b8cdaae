//! Pods: two containers of one pod share a VM. (Faults, QEMU or the shim killed included, are in
//! `faults.rs`.)

use std::time::Duration;

use kata_e2e_tests::{
    assert_no_leftovers, member_annotations, pids_named, sandbox_annotations, PrivateContainerd,
};

const TEARDOWN: Duration = Duration::from_secs(20);

fn containerd() -> PrivateContainerd {
    PrivateContainerd::start_clean(TEARDOWN)
}

#[test]
fn two_containers_of_one_pod_share_one_vm() {
    let c = containerd();
    c.run_detached_with("pod1", &[], &sandbox_annotations("pod1"));
    c.run_detached_with("pod1-app", &[], &member_annotations("pod1"));
    let boot_a = c.exec_output("pod1", "b1", &["cat", "/proc/sys/kernel/random/boot_id"]);
    let boot_b = c.exec_output(
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
    c.remove("pod1-app");
    c.remove("pod1");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}
