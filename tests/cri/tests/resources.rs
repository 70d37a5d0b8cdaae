//! A running kata container resized through CRI, as kubelet does it (UpdateContainerResources
//! through containerd to the shim's Update): a memory limit above what the pod's VM has grows the
//! VM (memory hot-added and onlined in the guest) before the container's cgroup gets the limit,
//! as Kata does (`ctr` 1.6 has no `task update`; CRI is the path Kubernetes takes).

use kata_cri_tests::cri::LinuxContainerResources;
use kata_cri_tests::{container_config, CriHarness, KATA};

const APP: &[&str] = &["sh", "-c", "exec sleep 3600"];

/// `MemTotal` of `/proc/meminfo` as the container sees it, KiB.
fn mem_total_kib(h: &CriHarness, id: &str) -> u64 {
    let out = h
        .cri()
        .exec_sync(id, &["cat", "/proc/meminfo"], 60)
        .expect("ExecSync meminfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn update_container_resources_grows_the_kata_vm() {
    let h = CriHarness::start_clean();
    let pod = h.run_pod("resize", KATA).expect("RunPodSandbox");
    let app = h
        .start_container(&pod, &container_config("app", APP, vec![]))
        .expect("app container running");
    let before = mem_total_kib(&h, &app);
    assert!(before > 0, "no MemTotal in the guest");
    let gib: i64 = 1 << 30;
    h.cri()
        .update_container_resources(
            &app,
            LinuxContainerResources {
                memory_limit_in_bytes: gib,
                ..Default::default()
            },
        )
        .expect("UpdateContainerResources");
    let after = mem_total_kib(&h, &app);
    assert!(
        after >= before + 900 * 1024,
        "the VM did not grow by the 1 GiB limit: MemTotal {before} KiB -> {after} KiB"
    );
    h.remove_pod(&pod).expect("remove pod");
    h.finish();
}
