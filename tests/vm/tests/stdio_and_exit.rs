//! A container's stdout and stderr reach the host separately and exactly, and WaitProcess returns
//! the exit code of its init.

use kata_vm_tests::rpc::{self, Stream};
use kata_vm_tests::spec::{container_spec, process};
use kata_vm_tests::{BusyboxRootfs, TestVm};

#[tokio::test]
async fn container_output_streams_and_exit_code() {
    let vm = TestVm::must_boot_sandbox("stdio").await;
    let agent = vm.agent();
    let cid = "c1";
    BusyboxRootfs::create(vm.shared_dir(), cid).expect("busybox rootfs");

    let spec = container_spec(
        cid,
        process(&["sh", "-c", "echo out; echo err >&2; exit 7"]),
    );
    if let Err(e) = rpc::run_container(agent, cid, spec).await {
        panic!("create+start {cid}: {e:?}\nconsole:\n{}", vm.console());
    }
    let (out, err, status) = tokio::join!(
        rpc::read_to_end(agent, cid, cid, Stream::Stdout),
        rpc::read_to_end(agent, cid, cid, Stream::Stderr),
        rpc::wait_process(agent, cid, cid),
    );
    let out = out.expect("ReadStdout until eof");
    let err = err.expect("ReadStderr until eof");
    assert_eq!(String::from_utf8_lossy(&out), "out\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    assert_eq!(status.expect("WaitProcess"), 7);

    rpc::remove_container(agent, cid)
        .await
        .expect("RemoveContainer");
    let gone = rpc::wait_process(agent, cid, cid)
        .await
        .expect_err("removed container");
    assert_eq!(
        rpc::status_of(&gone).map(|s| s.0),
        Some(ttrpc::Code::NOT_FOUND),
        "{gone:?}"
    );
    vm.shutdown().await;
}
