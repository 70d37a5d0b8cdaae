//! A test that panics while its VM runs leaves nothing behind: QEMU and both daemons are killed
//! and the temporary directory is removed while the panic unwinds.

use std::path::Path;
use std::time::{Duration, Instant};

use kata_vm_tests::{chain, TestVm};

/// Whether `pid` still runs (a zombie waiting to be reaped counts as dead).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[tokio::test]
async fn panicking_test_leaves_no_vm_behind() {
    let vm = match TestVm::boot("teardown").await {
        Ok(vm) => vm,
        Err(e) => panic!("boot: {}", chain(&e)),
    };
    let pids: Vec<u32> = vm.pids().into_iter().flatten().collect();
    assert_eq!(
        pids.len(),
        3,
        "qemu, vhost-device-vsock and virtiofsd should run"
    );
    let dir = vm.dir().to_path_buf();
    assert!(dir.is_dir());

    let failed = tokio::spawn(async move {
        let _vm = vm;
        panic!("a failing test");
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_panic()));

    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| running(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for pid in &pids {
        assert!(!running(*pid), "pid {pid} survived the panic");
    }
    assert!(!Path::new(&dir).exists(), "{} left behind", dir.display());
}
