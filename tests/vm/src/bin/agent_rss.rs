//! agent_rss: boots a test VM and prints the guest agent's resident memory, right after boot and
//! with one container running, plus QEMU's own memory on the host, as `key=value` lines.
//!
//! The agent reports its own resident memory in `GetMetrics`
//! (`kata_agent_process_resident_memory_bytes`, read from its `/proc/self/statm`): containers get
//! a PID namespace of their own whatever their spec says, so they cannot read the agent's status.
//!
//! Usage: `cargo run -p kata-vm-tests --bin agent_rss` (needs `make image`; root).

use std::time::Duration;

use anyhow::{anyhow, Context};
use kata_protocols::agent as pb;
use kata_protocols::agent_ttrpc::AgentServiceClient;
use kata_vm_tests::rpc;
use kata_vm_tests::spec::{container_spec, process};
use kata_vm_tests::{chain, BusyboxRootfs, TestVm};

/// The agent's metric of its resident memory.
const RSS: &str = "kata_agent_process_resident_memory_bytes";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let vm = TestVm::boot_sandbox("agent-rss")
        .await
        .map_err(|e| anyhow!(chain(&e)))?;
    let result = measure(&vm).await;
    if result.is_err() {
        eprintln!("guest console:\n{}", vm.console());
    }
    vm.shutdown().await;
    result
}

async fn measure(vm: &TestVm) -> anyhow::Result<()> {
    let agent = vm.agent();
    println!("boot_to_agent_ms={}", vm.boot_time().as_millis());
    println!("agent_rss_kib_after_boot={}", agent_rss_kib(agent).await?);

    BusyboxRootfs::create(vm.shared_dir(), "workload").map_err(|e| anyhow!(chain(&e)))?;
    let spec = container_spec("workload", process(&["sleep", "3600"]));
    rpc::run_container(agent, "workload", spec)
        .await
        .context("starting the workload container")?;
    println!(
        "agent_rss_kib_one_container={}",
        agent_rss_kib(agent).await?
    );

    if let Some(pid) = vm.qemu().pid() {
        print_qemu_memory(pid);
    }
    rpc::remove_container(agent, "workload")
        .await
        .context("removing the workload")?;
    Ok(())
}

/// The agent's resident memory (KiB) from its `GetMetrics` text.
async fn agent_rss_kib(agent: &AgentServiceClient) -> anyhow::Result<u64> {
    let ctx = ttrpc::context::with_timeout(Duration::from_secs(10).as_nanos() as i64);
    let metrics = agent
        .get_metrics(ctx, &pb::GetMetricsRequest::new())
        .await
        .context("GetMetrics")?;
    let bytes: f64 = metrics
        .metrics
        .lines()
        .find_map(|l| l.strip_prefix(RSS))
        .and_then(|v| v.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {RSS} in GetMetrics"))?;
    Ok((bytes / 1024.0) as u64)
}

/// QEMU's PSS and RSS on the host (KiB), from smaps_rollup.
fn print_qemu_memory(pid: u32) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return;
    };
    for (key, name) in [("Pss:", "qemu_pss_kib"), ("Rss:", "qemu_rss_kib")] {
        if let Some(v) = text.lines().find_map(|l| l.strip_prefix(key)) {
            println!("{name}={}", v.trim().trim_end_matches("kB").trim());
        }
    }
}
