//! QEMU confined: its own seccomp filter (`-sandbox`) and an unprivileged uid, on a real TCG boot.

mod support;

use std::os::unix::fs::PermissionsExt;

use kata_hypervisor::RunAs;
use kata_qemu::qmp::commands::QueryStatus;
use kata_qemu::QemuVm;
use support::*;

/// The value kata-rs ships (`seccompsandbox`).
const SANDBOX: &str = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

fn status_field(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn qemu_boots_under_its_seccomp_filter_as_an_unprivileged_user() {
    let Some(kernel) = kernel_or_skip("qemu_boots_under_its_seccomp_filter") else {
        return;
    };
    if !nix_is_root() {
        eprintln!("SKIP: needs root to switch uid");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = spec("confined", dir.path(), &kernel);
    // The unprivileged QEMU creates its QMP socket and console log in these.
    std::fs::create_dir_all(&spec.run_dir).expect("run dir");
    for d in [dir.path(), spec.run_dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    spec.seccomp_sandbox = Some(SANDBOX.into());
    spec.run_as = Some(RunAs {
        uid: 65534,
        gid: 65534,
        groups: Vec::new(),
    });
    let log = spec.console_log.clone().expect("console log");
    let vm = QemuVm::start(spec).await.expect("start");
    let pid = vm.pid().expect("pid");

    let booted = wait_console(&log, BOOT_MARKER, 90).await;
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    // Read while QEMU runs: the filter is installed before the guest starts.
    let seccomp = status_field(pid, "Seccomp:");
    let uid = status_field(pid, "Uid:");
    let gid = status_field(pid, "Gid:");
    let groups = status_field(pid, "Groups:");
    let status = vm.qmp().execute(&QueryStatus).await.expect("query-status");
    vm.stop().await.expect("stop");

    assert!(booted, "guest did not reach init; console:\n{console}");
    assert!(status.running, "{status:?}");
    assert_eq!(seccomp, "2", "QEMU runs without its seccomp filter");
    assert_eq!(uid.split_whitespace().collect::<Vec<_>>(), ["65534"; 4]);
    assert_eq!(gid.split_whitespace().collect::<Vec<_>>(), ["65534"; 4]);
    assert_eq!(groups, "", "supplementary groups kept");
    assert!(!pid_alive(pid));
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
