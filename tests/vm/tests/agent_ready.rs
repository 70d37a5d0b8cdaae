//! The agent's readiness signal over hybrid vsock, in a real VM.
//!
//! vhost-device-vsock 0.3.0 loses its vring worker thread when a host connection arrives between
//! QEMU's SET_MEM_TABLE and the TX ring's SET_VRING_KICK; the agent then listens but no CONNECT
//! is ever answered. Dialling every millisecond while the guest boots (no wait for the signal)
//! stalled 8 boots in 20 (`hvsock_boot_loop --legacy --backoff-ms 1`). The harness waits for the
//! agent's connection to `<uds>_1027` before its first CONNECT; these boots dial just as hard
//! afterwards and must all reach the agent.

use std::time::Duration;

use kata_protocols::health::health_check_response::ServingStatus;
use kata_vm_tests::{chain, TestVm, VmConfig};

/// Boots per run: without the signal, each stalls with probability ~0.4, so five pass together
/// less than one time in ten.
const BOOTS: usize = 5;

#[tokio::test]
async fn dialling_hard_after_the_ready_signal_never_stalls_the_device() {
    for i in 0..BOOTS {
        let mut config = VmConfig::new(format!("ready-{i}"));
        config.max_dial_backoff = Some(Duration::from_millis(1));
        config.agent_timeout = Duration::from_secs(30);
        let vm = match TestVm::boot_with(config).await {
            Ok(vm) => vm,
            Err(e) => panic!("boot {i}: {}", chain(&e)),
        };
        let status = vm
            .client()
            .check(Duration::from_secs(10))
            .await
            .expect("Health.Check");
        assert_eq!(status, ServingStatus::SERVING, "boot {i}");
        eprintln!(
            "boot {i}: agent reached {:?} after qemu start",
            vm.boot_time()
        );
        vm.shutdown().await;
    }
}
