//! grpc.Health answers SERVING with the agent's version, an RPC the agent does not provide answers
//! UNIMPLEMENTED, and DestroySandbox powers the VM off (QEMU exits by itself).

use std::time::{Duration, Instant};

use kata_protocols::agent as pb;
use kata_protocols::health::health_check_response::ServingStatus;
use kata_vm_tests::rpc;
use kata_vm_tests::TestVm;

const TIMEOUT: Duration = Duration::from_secs(20);
/// How long QEMU may take to exit after DestroySandbox (TCG, loaded machine).
const POWEROFF_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn health_version_unimplemented_and_destroy_powers_off() {
    let vm = TestVm::must_boot_sandbox("health").await;
    let client = vm.client();
    let agent = vm.agent();
    eprintln!("agent answered {:?} after qemu start", vm.boot_time());

    assert_eq!(
        client.check(TIMEOUT).await.expect("Health.Check"),
        ServingStatus::SERVING
    );
    let version = client.version(TIMEOUT).await.expect("Health.Version");
    // The agent is built from this workspace, so it carries the workspace version.
    assert_eq!(version.agent_version, env!("CARGO_PKG_VERSION"));
    assert!(!version.grpc_version.is_empty(), "{version:?}");

    let details = agent
        .get_guest_details(rpc::ctx(), &pb::GuestDetailsRequest::new())
        .await
        .expect("GetGuestDetails");
    let d = details.agent_details.as_ref().expect("agent details");
    assert_eq!(d.version, version.agent_version);
    assert!(d.init_daemon, "the agent should run as PID 1 of the guest");
    assert!(d.storage_handlers.iter().any(|h| h == "virtio-fs"), "{d:?}");

    let err = agent
        .add_swap(rpc::ctx(), &pb::AddSwapRequest::new())
        .await
        .expect_err("AddSwap is not provided");
    assert_eq!(
        rpc::status_of(&err).map(|s| s.0),
        Some(ttrpc::Code::UNIMPLEMENTED),
        "{err:?}"
    );
    let metrics = agent
        .get_metrics(rpc::ctx(), &pb::GetMetricsRequest::new())
        .await
        .expect("GetMetrics");
    assert!(
        metrics
            .metrics
            .contains("kata_guest_meminfo{item=\"mem_total\"}")
            && metrics
                .metrics
                .contains("kata_agent_process_resident_memory_bytes"),
        "GetMetrics text: {}",
        &metrics.metrics[..metrics.metrics.len().min(400)]
    );

    // The agent still serves after refusing.
    assert_eq!(
        client.check(TIMEOUT).await.expect("Health.Check"),
        ServingStatus::SERVING
    );

    let qemu_pid = vm.qemu().pid().expect("qemu runs");
    let asked = Instant::now();
    rpc::destroy_sandbox(agent).await.expect("DestroySandbox");
    let exit = vm.wait_exit(POWEROFF_WITHIN).await.unwrap_or_else(|| {
        panic!(
            "qemu (pid {qemu_pid}) still runs {POWEROFF_WITHIN:?} after DestroySandbox; console:\n{}",
            vm.console()
        )
    });
    eprintln!(
        "qemu exited {:?} after DestroySandbox: {exit:?}",
        asked.elapsed()
    );
    assert!(
        exit.success(),
        "qemu exit {exit:?}; console:\n{}",
        vm.console()
    );
    vm.shutdown().await;
}
