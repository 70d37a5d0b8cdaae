//! QEMU with its vhost-user helpers: hybrid vsock (vhost-device-vsock) and virtio-fs (virtiofsd),
//! on a shared memfd memory backend, under TCG.

mod support;

use std::time::Duration;

use kata_hypervisor::{AgentChannel, SharedFs};
use kata_qemu::qmp::commands::QueryStatus;
use kata_qemu::QemuVm;
use kata_vm_daemons::{VirtioFsConfig, VirtioFsDaemon, VsockConfig, VsockDaemon};
use support::*;

#[tokio::test]
async fn hybrid_vsock_and_virtiofs_start_and_stop_with_qemu() {
    let Some(kernel) = kernel_or_skip("hybrid_vsock_and_virtiofs_start_and_stop_with_qemu") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("shared dir");

    let vsock_cfg = VsockConfig::in_dir(dir.path(), 3);
    let vsock = VsockDaemon::start(vsock_cfg.clone())
        .await
        .expect("vhost-device-vsock (cargo install vhost-device-vsock)");
    let fs_socket = dir.path().join("virtiofsd.sock");
    let fs = VirtioFsDaemon::start(VirtioFsConfig::new(&fs_socket, &shared))
        .await
        .expect("virtiofsd (cargo install virtiofsd)");
    let (vsock_pid, fs_pid) = (vsock.pid().expect("pid"), fs.pid().expect("pid"));

    let mut spec = spec("vhu1", dir.path(), &kernel);
    spec.machine_type = "q35".into();
    spec.pci_bridges = 1;
    spec.agent_channel = Some(AgentChannel::HybridVsock {
        vhost_user_socket: vsock_cfg.vhost_user_socket.clone(),
        uds_path: vsock_cfg.uds_path.clone(),
        guest_cid: 3,
    });
    spec.shared_fs = Some(SharedFs::VirtioFs {
        socket: fs_socket.clone(),
        tag: "kataShared".into(),
    });
    assert!(spec.needs_shared_memory());
    let log = spec.console_log.clone().expect("console log");

    // QEMU connects to both vhost-user sockets while creating the devices: it would exit here
    // if either daemon were missing.
    let vm = QemuVm::start(spec).await.expect("start qemu");
    let status = vm.qmp().execute(&QueryStatus).await.expect("query-status");
    assert!(status.running);
    let booted = wait_console(&log, BOOT_MARKER, 90).await;
    assert!(
        booted,
        "guest did not boot; console:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(vsock.pid().is_some() && fs.pid().is_some(), "a daemon died");

    let qemu_pid = vm.pid().expect("pid");
    vm.stop().await.expect("stop qemu");
    assert!(!pid_alive(qemu_pid));

    // virtiofsd ends by itself once its VM disconnects.
    let fs_exit = tokio::time::timeout(Duration::from_secs(10), fs.exited())
        .await
        .expect("virtiofsd should exit after qemu");
    assert!(fs_exit.code.is_some(), "{fs_exit}");
    fs.stop().await;
    vsock.stop().await;

    for pid in [vsock_pid, fs_pid] {
        assert!(!pid_alive(pid), "daemon {pid} not reaped");
    }
    for socket in [
        &vsock_cfg.vhost_user_socket,
        &vsock_cfg.uds_path,
        &fs_socket,
    ] {
        assert!(!socket.exists(), "{} left behind", socket.display());
    }
}

#[tokio::test]
async fn dropped_daemons_are_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = VsockConfig::in_dir(dir.path(), 4);
    let Ok(vsock) = VsockDaemon::start(cfg.clone()).await else {
        eprintln!("SKIP dropped_daemons_are_killed: vhost-device-vsock not installed");
        return;
    };
    let pid = vsock.pid().expect("pid");
    drop(vsock);
    for _ in 0..100 {
        if !pid_alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !pid_alive(pid),
        "vhost-device-vsock {pid} survived its handle"
    );
    assert!(!cfg.vhost_user_socket.exists() && !cfg.uds_path.exists());
}
