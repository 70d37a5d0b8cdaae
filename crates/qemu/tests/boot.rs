//! Boots real VMs under TCG (no KVM needed).

mod support;

use std::path::Path;
use std::time::Duration;

use kata_hypervisor::{BlockDevice, DiskFormat, HotplugDevice};
use kata_qemu::qmp::commands::{QueryHotpluggableCpus, QueryStatus};
use kata_qemu::{QemuError, QemuVm};
use support::*;

#[tokio::test]
async fn boots_reports_running_and_quits_cleanly() {
    let Some(kernel) = kernel_or_skip("boots_reports_running_and_quits_cleanly") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = spec("boot1", dir.path(), &kernel);
    spec.entropy_source = Some("/dev/urandom".into());
    spec.cpu.max_vcpus = 2;
    let log = spec.console_log.clone().expect("console log");
    let vm = QemuVm::start(spec).await.expect("start");
    let pid = vm.pid().expect("pid");
    let socket = vm.qmp_socket().to_path_buf();

    let status = vm.qmp().execute(&QueryStatus).await.expect("query-status");
    assert!(status.running, "status {status:?}");
    assert_eq!(status.status, "running");
    let cpus = vm
        .qmp()
        .execute(&QueryHotpluggableCpus)
        .await
        .expect("query-hotpluggable-cpus");
    assert_eq!(cpus.len(), 2);
    assert_eq!(cpus.iter().filter(|c| c.qom_path.is_some()).count(), 1);

    let booted = wait_console(&log, BOOT_MARKER, 90).await;
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(booted, "guest did not reach init; console:\n{console}");

    // Hotplug a disk and take it out again (the guest must release it).
    let disk_path = dir.path().join("disk.img");
    std::fs::write(&disk_path, vec![0u8; 1 << 20]).expect("disk");
    let disk = HotplugDevice::Block(BlockDevice {
        id: "blk1".into(),
        path: disk_path,
        format: DiskFormat::Raw,
        read_only: false,
    });
    vm.hotplug_device(&disk).await.expect("hotplug disk");
    let blocks = vm
        .qmp()
        .execute_raw("query-block", None)
        .await
        .expect("query-block");
    assert!(blocks.to_string().contains("blk1"), "{blocks}");
    vm.unplug_device("blk1").await.expect("unplug disk");
    let nodes = vm
        .qmp()
        .execute_raw("query-named-block-nodes", None)
        .await
        .expect("query-named-block-nodes");
    assert!(!nodes.to_string().contains("\"blk1\""), "{nodes}");

    let exit = vm.stop().await.expect("stop");
    assert!(exit.code.is_some(), "quit should exit qemu, got {exit:?}");
    assert_eq!(vm.pid(), None);
    assert!(!pid_alive(pid), "qemu {pid} not reaped");
    assert!(!socket.exists(), "qmp socket left behind");
    // Stopping again is harmless.
    assert_eq!(vm.stop().await.expect("second stop"), exit);
}

#[tokio::test]
async fn guest_poweroff_is_noticed_at_once() {
    let Some(kernel) = kernel_or_skip("guest_poweroff_is_noticed_at_once") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = spec("boot2", dir.path(), &kernel);
    spec.boot.kernel_params.push_str(" kata_test=poweroff");
    let vm = QemuVm::start(spec).await.expect("start");
    let pid = vm.pid().expect("pid");
    let exit = tokio::time::timeout(Duration::from_secs(120), vm.exited())
        .await
        .expect("qemu should exit when the guest powers off");
    assert!(exit.success(), "{exit:?}");
    assert!(!pid_alive(pid));
    vm.stop().await.expect("stop after exit");
    assert!(!vm.qmp_socket().exists());
}

#[tokio::test]
async fn missing_kernel_is_named_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-vmlinux");
    let spec = spec("boot3", dir.path(), &missing);
    let err = QemuVm::start(spec).await.expect_err("must fail");
    assert!(
        matches!(err, QemuError::MissingFile { what: "kernel", .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );
    assert!(
        !dir.path().join("run").exists(),
        "run dir created for nothing"
    );
}

#[tokio::test]
async fn qemu_refusing_the_command_line_is_reported_with_its_stderr() {
    // A kernel file that exists but is not a kernel: QEMU itself refuses it and exits.
    let dir = tempfile::tempdir().expect("tempdir");
    if !Path::new(QEMU).is_file() {
        eprintln!("SKIP: {QEMU} missing");
        return;
    }
    let bogus = dir.path().join("bogus-kernel");
    std::fs::write(&bogus, b"not a kernel").expect("write");
    let spec = spec("boot4", dir.path(), &bogus);
    let run = spec.run_dir.clone();
    let err = QemuVm::start(spec).await.expect_err("must fail");
    let text = err.to_string();
    assert!(matches!(err, QemuError::EarlyExit { .. }), "{text}");
    assert!(
        text.contains("qemu-system-x86_64") && text.contains("stderr:"),
        "{text}"
    );
    assert!(!run.join(kata_qemu::QMP_SOCKET).exists());
}
