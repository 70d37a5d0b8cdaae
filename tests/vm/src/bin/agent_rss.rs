//! agent_rss: boots a test VM and prints the guest agent's resident memory, right after boot and
//! with one container running, plus QEMU's own memory on the host, as `key=value` lines.
//!
//! The agent is PID 1 of the guest. A container without a PID namespace that mounts its own
//! `/proc` sees the guest's PID 1, so `cat /proc/1/status` inside it reads the agent's VmRSS:
//! - `after_boot`: a short-lived probe container, the first container of the sandbox;
//! - `one_container`: an ExecProcess in a long-running container (also without a PID namespace).
//!
//! Usage: `cargo run -p kata-vm-tests --bin agent_rss` (needs `make image`; root).

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use kata_protocols::agent_ttrpc::AgentServiceClient;
use kata_vm_tests::rpc::{self, Stream};
use kata_vm_tests::spec::{container_spec, process, without_namespace};
use kata_vm_tests::{chain, BusyboxRootfs, TestVm};

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

    // After boot: the first container of the sandbox reads the agent's status and exits.
    BusyboxRootfs::create(vm.shared_dir(), "probe").map_err(|e| anyhow!(chain(&e)))?;
    let mut spec = container_spec("probe", process(&["cat", "/proc/1/status"]));
    without_namespace(&mut spec, "pid");
    rpc::run_container(agent, "probe", spec)
        .await
        .context("starting the probe container")?;
    let status = read_output(agent, "probe", "probe").await?;
    rpc::wait_process(agent, "probe", "probe")
        .await
        .context("waiting for the probe")?;
    rpc::remove_container(agent, "probe")
        .await
        .context("removing the probe")?;
    print_status("after_boot", &status)?;

    // One container running: exec the probe inside it.
    BusyboxRootfs::create(vm.shared_dir(), "workload").map_err(|e| anyhow!(chain(&e)))?;
    let mut spec = container_spec("workload", process(&["sleep", "3600"]));
    without_namespace(&mut spec, "pid");
    rpc::run_container(agent, "workload", spec)
        .await
        .context("starting the workload container")?;
    rpc::exec_process(
        agent,
        "workload",
        "probe",
        process(&["cat", "/proc/1/status"]),
    )
    .await
    .context("exec of the probe")?;
    let status = read_output(agent, "workload", "probe").await?;
    rpc::wait_process(agent, "workload", "probe")
        .await
        .context("waiting for the probe")?;
    print_status("one_container", &status)?;

    if let Some(pid) = vm.qemu().pid() {
        print_qemu_memory(pid);
    }
    rpc::remove_container(agent, "workload")
        .await
        .context("removing the workload")?;
    Ok(())
}

async fn read_output(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
) -> anyhow::Result<String> {
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        rpc::read_to_end(agent, cid, exec_id, Stream::Stdout),
    )
    .await
    .context("reading /proc/1/status timed out")?;
    match read {
        Ok(out) => Ok(String::from_utf8_lossy(&out).into_owned()),
        Err((_, e)) => Err(anyhow!("reading /proc/1/status: {e:?}")),
    }
}

/// Prints VmRSS, VmHWM (KiB) of the status text, which must be the agent's.
fn print_status(label: &str, status: &str) -> anyhow::Result<()> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
    };
    let name = field("Name:").unwrap_or_default();
    if name != "init" && name != "kata-agent" {
        bail!("/proc/1 in the container is {name:?}, not the agent (does the container have its own PID namespace?)");
    }
    let rss = field("VmRSS:").context("no VmRSS in /proc/1/status")?;
    let hwm = field("VmHWM:").context("no VmHWM in /proc/1/status")?;
    println!("agent_vmrss_kib_{label}={rss}");
    println!("agent_vmhwm_kib_{label}={hwm}");
    Ok(())
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
