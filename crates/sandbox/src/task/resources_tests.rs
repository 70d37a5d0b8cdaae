//! Kata's sizing arithmetic, and the order of hotplug and onlining.

use std::sync::Mutex as StdMutex;

use async_trait::async_trait;
use kata_hypervisor::Resized;
use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder};

use super::*;
use crate::agent::{AgentResult, ContainerRequest, SandboxRequest};
use crate::types::ContainerStats;

fn sizing() -> Sizing {
    Sizing {
        default_vcpus: 1,
        default_memory_mib: 512,
        boot_memory_mib: 512,
        static_mgmt: false,
        memory_block_mib: 128,
    }
}

fn resources(
    quota: Option<i64>,
    period: Option<u64>,
    cpus: &str,
    limit: Option<i64>,
) -> LinuxResources {
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(q) = quota {
        cpu = cpu.quota(q);
    }
    if let Some(p) = period {
        cpu = cpu.period(p);
    }
    if !cpus.is_empty() {
        cpu = cpu.cpus(cpus.to_string());
    }
    let mut r = LinuxResourcesBuilder::default().cpu(cpu.build().expect("cpu"));
    if let Some(l) = limit {
        r = r.memory(
            LinuxMemoryBuilder::default()
                .limit(l)
                .build()
                .expect("memory"),
        );
    }
    r.build().expect("resources")
}

fn demand(quota: Option<i64>, period: Option<u64>, cpus: &str, limit: Option<i64>) -> Demand {
    Demand::of(Some(&resources(quota, period, cpus, limit)))
}

#[test]
fn cpusets_are_counted() {
    assert_eq!(cpuset_size(""), Some(0));
    assert_eq!(cpuset_size("0"), Some(1));
    assert_eq!(cpuset_size("0-3,6"), Some(5));
    assert_eq!(cpuset_size("1-0"), None);
    assert_eq!(cpuset_size("x"), None);
}

#[test]
fn vcpus_are_the_default_plus_the_quotas_rounded_up() {
    // `ctr run --cpus 2` on a 1-vCPU default: 3.
    let two = demand(Some(200_000), Some(100_000), "", None);
    assert_eq!(targets(&sizing(), [&two]).0, 3);
    // 0.5 + 0.7 CPUs: 1 + 1.2 = 2.2, rounded up once over the sum.
    let a = demand(Some(50_000), Some(100_000), "", None);
    let b = demand(Some(70_000), Some(100_000), "", None);
    assert_eq!(targets(&sizing(), [&a, &b]).0, 3);
    // No quota (-1) counts nothing.
    let unlimited = demand(Some(-1), Some(100_000), "", None);
    assert_eq!(targets(&sizing(), [&unlimited]).0, 1);
}

#[test]
fn cpusets_count_only_without_quotas() {
    let set = demand(None, None, "0-1", None);
    assert_eq!(targets(&sizing(), [&set]).0, 3);
    let quota = demand(Some(100_000), Some(100_000), "", None);
    assert_eq!(targets(&sizing(), [&set, &quota]).0, 2);
}

#[test]
fn memory_is_the_default_plus_the_limits() {
    let gib = demand(None, None, "", Some(1 << 30));
    let half = demand(None, None, "", Some(512 << 20));
    assert_eq!(targets(&sizing(), [&gib]).1, 1536);
    assert_eq!(targets(&sizing(), [&gib, &half]).1, 2048);
    assert_eq!(targets(&sizing(), std::iter::empty()), (1, 512));
}

#[test]
fn an_update_replaces_only_what_it_sets() {
    let mut d = demand(Some(200_000), Some(100_000), "", Some(1 << 30));
    d.merge(&resources(None, None, "", Some(2 << 30)));
    assert_eq!(targets(&sizing(), [&d]), (3, 2560));
    d.merge(&resources(Some(300_000), None, "", None));
    assert_eq!(targets(&sizing(), [&d]), (4, 2560));
}

#[test]
fn memory_steps_are_bounded_by_48_times_the_guest() {
    assert_eq!(memory_step(512, 1536), 1536);
    assert_eq!(memory_step(256, 100_000), 256 * 49);
}

/// A VM that grows up to 4 vCPUs and 4096 MiB, recording calls.
#[derive(Default)]
struct Vm {
    calls: StdMutex<Vec<String>>,
    vcpus: StdMutex<u32>,
    memory: StdMutex<u32>,
}

#[async_trait]
impl VmControl for Vm {
    fn pid(&self) -> u32 {
        1
    }
    async fn exited(&self) {}
    async fn stop(&self) {}
    async fn resize_vcpus(
        &self,
        vcpus: u32,
    ) -> std::result::Result<Option<Resized>, Box<dyn std::error::Error + Send + Sync>> {
        let mut now = self.vcpus.lock().expect("vcpus");
        let before = (*now).max(1);
        *now = vcpus.clamp(1, 4);
        self.calls
            .lock()
            .expect("calls")
            .push(format!("vcpus {vcpus}"));
        Ok(Some(Resized {
            before,
            after: *now,
        }))
    }
    async fn resize_memory(
        &self,
        mib: u32,
        block: u32,
    ) -> std::result::Result<Option<Resized>, Box<dyn std::error::Error + Send + Sync>> {
        let mut now = self.memory.lock().expect("memory");
        let before = (*now).max(512);
        *now = before.max(mib.div_ceil(block) * block).min(4096);
        self.calls
            .lock()
            .expect("calls")
            .push(format!("memory {mib}"));
        Ok(Some(Resized {
            before,
            after: *now,
        }))
    }
}

/// An agent that records `OnlineCPUMem` into the VM's call list.
struct Agent(Arc<Vm>);

#[async_trait]
impl crate::agent::Agent for Agent {
    async fn online_cpu_mem(&self, nb_cpus: u32, cpu_only: bool) -> AgentResult<()> {
        self.0
            .calls
            .lock()
            .expect("calls")
            .push(format!("online {nb_cpus} {cpu_only}"));
        Ok(())
    }
    async fn create_sandbox(&self, _: SandboxRequest) -> AgentResult<()> {
        Ok(())
    }
    async fn destroy_sandbox(&self) -> AgentResult<()> {
        Ok(())
    }
    async fn check(&self, _: std::time::Duration) -> AgentResult<()> {
        Ok(())
    }
    async fn create_container(&self, _: ContainerRequest) -> AgentResult<()> {
        Ok(())
    }
    async fn start_container(&self, _: &str) -> AgentResult<()> {
        Ok(())
    }
    async fn remove_container(&self, _: &str, _: u32) -> AgentResult<()> {
        Ok(())
    }
    async fn exec_process(
        &self,
        _: &str,
        _: &str,
        _: oci_spec::runtime::Process,
    ) -> AgentResult<()> {
        Ok(())
    }
    async fn signal_process(&self, _: &str, _: &str, _: u32) -> AgentResult<()> {
        Ok(())
    }
    async fn wait_process(&self, _: &str, _: &str) -> AgentResult<i32> {
        Ok(0)
    }
    async fn write_stdin(&self, _: &str, _: &str, d: &[u8]) -> AgentResult<usize> {
        Ok(d.len())
    }
    async fn close_stdin(&self, _: &str, _: &str) -> AgentResult<()> {
        Ok(())
    }
    async fn read_stdout(&self, _: &str, _: &str, _: u32) -> AgentResult<Vec<u8>> {
        Ok(Vec::new())
    }
    async fn read_stderr(&self, _: &str, _: &str, _: u32) -> AgentResult<Vec<u8>> {
        Ok(Vec::new())
    }
    async fn tty_win_resize(&self, _: &str, _: &str, _: u32, _: u32) -> AgentResult<()> {
        Ok(())
    }
    async fn stats_container(&self, _: &str) -> AgentResult<ContainerStats> {
        Ok(ContainerStats::default())
    }
    async fn pause_container(&self, _: &str) -> AgentResult<()> {
        Ok(())
    }
    async fn resume_container(&self, _: &str) -> AgentResult<()> {
        Ok(())
    }
    async fn update_container(&self, _: &str, _: LinuxResources) -> AgentResult<()> {
        Ok(())
    }
    async fn get_oom_event(&self) -> AgentResult<String> {
        std::future::pending().await
    }
    async fn update_interface(&self, _: &kata_netlink::Interface) -> AgentResult<()> {
        Ok(())
    }
    async fn update_routes(&self, _: &[kata_netlink::Route]) -> AgentResult<()> {
        Ok(())
    }
}

fn calls(vm: &Vm) -> Vec<String> {
    vm.calls.lock().expect("calls").clone()
}

#[tokio::test]
async fn growth_is_hot_added_then_onlined_and_cpus_go_back() {
    let vm = Arc::new(Vm::default());
    let agent = Agent(Arc::clone(&vm));
    let r = Resizer::new(Some(sizing()));
    r.set("a", demand(Some(200_000), Some(100_000), "", Some(1 << 30)));
    r.apply("sb", vm.as_ref(), &agent).await.expect("apply");
    assert_eq!(
        calls(&vm),
        ["vcpus 3", "online 3 true", "memory 1536", "online 0 false",]
    );
    // Nothing new: the vCPU count is asked again (unchanged, nothing onlined), memory not.
    vm.calls.lock().expect("calls").clear();
    r.apply("sb", vm.as_ref(), &agent).await.expect("again");
    assert_eq!(calls(&vm), ["vcpus 3"]);
    // The container goes: vCPUs back to the default, nothing to online, memory stays.
    vm.calls.lock().expect("calls").clear();
    assert!(r.remove("a"));
    r.apply("sb", vm.as_ref(), &agent).await.expect("shrink");
    assert_eq!(calls(&vm), ["vcpus 1"]);
}

#[tokio::test]
async fn static_management_never_hotplugs() {
    let vm = Arc::new(Vm::default());
    let agent = Agent(Arc::clone(&vm));
    let r = Resizer::new(Some(Sizing {
        static_mgmt: true,
        ..sizing()
    }));
    r.set("a", demand(Some(200_000), Some(100_000), "", Some(1 << 30)));
    assert!(!r.dynamic());
    r.apply("sb", vm.as_ref(), &agent).await.expect("apply");
    assert!(calls(&vm).is_empty());
}

#[tokio::test]
async fn a_failed_update_can_be_undone() {
    let r = Resizer::new(Some(sizing()));
    r.set("a", demand(None, None, "", Some(1 << 30)));
    let before = r.update("a", &resources(None, None, "", Some(2 << 30)));
    assert_eq!(targets(&sizing(), r.demands().values()).1, 2560);
    r.restore("a", before);
    assert_eq!(targets(&sizing(), r.demands().values()).1, 1536);
    let fresh = r.update("b", &resources(Some(100_000), Some(100_000), "", None));
    assert_eq!(fresh, None);
    r.restore("b", fresh);
    assert_eq!(targets(&sizing(), r.demands().values()).0, 1);
}
