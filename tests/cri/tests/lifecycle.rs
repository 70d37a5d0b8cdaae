//! A pod's life through CRI, for both runtime handlers: run, containers, exec, logs, stats,
//! stop, remove. runc is the oracle: the kata pod must look the same to the user.

use std::time::{Duration, Instant};

use kata_cri_tests::cri::{PodSandboxState, PodSandboxStats};
use kata_cri_tests::{container_config, parse_cri_log, CriHarness, Pod, KATA, RUNC};

/// The app container prints one line on each stream, then sleeps.
const APP: &[&str] = &[
    "sh",
    "-c",
    "echo to-stdout; echo to-stderr >&2; exec sleep 3600",
];

/// What a user of the pod observes.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    exec_stdout: String,
    exec_stderr: String,
    exec_code: i32,
    hostname: String,
    /// (stream, content) of the app's log, in order.
    log: Vec<(String, String)>,
    env: String,
}

/// Runs the scenario with `handler` up to the point where the pod runs both containers; checks
/// what holds for every handler; returns the observations and the pod (still running).
fn observe(h: &CriHarness, handler: &str) -> (Observed, Pod, String) {
    let pod = h.run_pod("life", handler).expect("RunPodSandbox");
    let status = h
        .cri()
        .pod_sandbox_status(&pod.id)
        .expect("PodSandboxStatus")
        .status
        .expect("a status");
    assert_eq!(status.state, PodSandboxState::SandboxReady as i32);

    let app = h
        .start_container(&pod, &container_config("app", APP, vec![]))
        .expect("app container running");

    let exec = h
        .cri()
        .exec_sync(&app, &["sh", "-c", "echo out; echo err >&2; exit 3"], 60)
        .expect("ExecSync");
    let hostname = h
        .cri()
        .exec_sync(&app, &["hostname"], 60)
        .expect("ExecSync hostname");
    let env = h
        .cri()
        .exec_sync(&app, &["sh", "-c", "echo $KATA_CRI_TEST"], 60)
        .expect("ExecSync env");

    let log_path = std::path::Path::new(&pod.config.log_directory).join("app.log");
    let deadline = Instant::now() + Duration::from_secs(15);
    let log = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines = parse_cri_log(&text).expect("the log is in CRI format");
        if lines.len() >= 2 || Instant::now() >= deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(log.iter().all(|l| !l.partial), "full lines only: {log:?}");
    let mut log: Vec<(String, String)> = log.into_iter().map(|l| (l.stream, l.content)).collect();
    // The two streams are copied independently: their order is not defined.
    log.sort();

    let observed = Observed {
        exec_stdout: String::from_utf8_lossy(&exec.stdout).into_owned(),
        exec_stderr: String::from_utf8_lossy(&exec.stderr).into_owned(),
        exec_code: exec.exit_code,
        hostname: String::from_utf8_lossy(&hostname.stdout).trim().to_string(),
        log,
        env: String::from_utf8_lossy(&env.stdout).trim().to_string(),
    };
    (observed, pod, app)
}

fn expected() -> Observed {
    Observed {
        exec_stdout: "out\n".into(),
        exec_stderr: "err\n".into(),
        exec_code: 3,
        hostname: "life".into(),
        log: vec![
            ("stderr".into(), "to-stderr".into()),
            ("stdout".into(), "to-stdout".into()),
        ],
        env: "app".into(),
    }
}

/// ContainerStats of `app`: CPU time and memory both non-zero.
fn assert_container_stats(h: &CriHarness, app: &str) {
    let stats = h.cri().container_stats(app).expect("ContainerStats");
    let cpu = stats
        .cpu
        .and_then(|c| c.usage_core_nano_seconds)
        .map(|v| v.value)
        .unwrap_or(0);
    let memory = stats
        .memory
        .and_then(|m| m.working_set_bytes.or(m.usage_bytes))
        .map(|v| v.value)
        .unwrap_or(0);
    assert!(cpu > 0, "container cpu usage is zero");
    assert!(memory > 0, "container memory is zero");
}

/// PodSandboxStats of `pod`: CPU time and memory both non-zero.
fn assert_pod_stats(stats: &PodSandboxStats) {
    let linux = stats.linux.as_ref().expect("linux pod stats");
    let cpu = linux
        .cpu
        .as_ref()
        .and_then(|c| c.usage_core_nano_seconds.as_ref())
        .map(|v| v.value)
        .unwrap_or(0);
    let memory = linux
        .memory
        .as_ref()
        .and_then(|m| m.working_set_bytes.as_ref().or(m.usage_bytes.as_ref()))
        .map(|v| v.value)
        .unwrap_or(0);
    assert!(cpu > 0, "pod cpu usage is zero: {stats:?}");
    assert!(memory > 0, "pod memory is zero: {stats:?}");
}

/// Removes the pod and checks CRI forgot it and its containers.
fn remove_and_check(h: &CriHarness, pod: &Pod) {
    h.remove_pod(pod).expect("stop and remove the pod");
    assert!(
        h.cri()
            .list_pod_sandbox()
            .expect("ListPodSandbox")
            .is_empty(),
        "the pod is still listed"
    );
    assert!(
        h.cri()
            .list_containers(None)
            .expect("ListContainers")
            .is_empty(),
        "containers are still listed"
    );
}

/// The qemu processes of sandbox `id` (QEMU is named `sandbox-<id>`).
fn qemu_of(id: &str) -> Vec<u32> {
    kata_e2e_tests::pids_named("qemu-system-x86_64")
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&format!("sandbox-{id}")))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn lifecycle_runc() {
    let h = CriHarness::start_clean();
    let (observed, pod, app) = observe(&h, RUNC);
    assert_eq!(observed, expected());
    assert_container_stats(&h, &app);
    assert_pod_stats(&h.cri().pod_sandbox_stats(&pod.id).expect("PodSandboxStats"));
    remove_and_check(&h, &pod);
    h.finish();
}

#[test]
fn lifecycle_kata_matches_runc() {
    let h = CriHarness::start_clean();
    let (observed, pod, app) = observe(&h, KATA);
    assert_eq!(
        kata_e2e_tests::pids_named("qemu-system-x86_64").len(),
        1,
        "the pod (pause + app) costs one VM"
    );
    assert_eq!(qemu_of(&pod.id).len(), 1, "the VM is the pod's");
    assert_container_stats(&h, &app);
    remove_and_check(&h, &pod);
    assert!(qemu_of(&pod.id).is_empty(), "the VM outlived its pod");

    let (oracle, runc_pod, _) = observe(&h, RUNC);
    remove_and_check(&h, &runc_pod);
    assert_eq!(observed, oracle, "kata and runc pods differ for the user");
    assert_eq!(observed, expected());
    h.finish();
}

/// containerd (1.6/1.7) answers PodSandboxStats from the pod's cgroup on the host (the pod's
/// `cgroup_parent`): kata-rs runs QEMU in the sandbox's cgroup there, so the pod's numbers are the
/// VM's.
#[test]
fn pod_sandbox_stats_kata() {
    let h = CriHarness::start_clean();
    let pod = h.run_pod("stats", KATA).expect("RunPodSandbox");
    h.start_container(&pod, &container_config("app", APP, vec![]))
        .expect("app container running");
    let stats = h.cri().pod_sandbox_stats(&pod.id);
    h.remove_pod(&pod).expect("remove the pod");
    assert_pod_stats(&stats.expect("PodSandboxStats"));
    h.finish();
}
