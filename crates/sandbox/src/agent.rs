//! The seam to the agent in the guest: the calls the sandbox makes, in domain types.
//!
//! The real implementation (over `kata-agent-client`) lives in [`crate::backend`]; tests use a
//! fake. A read that returns no bytes means end of stream.

use async_trait::async_trait;
use oci_spec::runtime::{LinuxResources, Process, Spec};

use crate::error::AgentError;
use crate::types::ContainerStats;

/// A storage the agent mounts in the guest (`Storage` of agent.proto).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    pub driver: String,
    pub driver_options: Vec<String>,
    pub source: String,
    pub fstype: String,
    pub options: Vec<String>,
    pub mount_point: String,
}

/// `CreateSandbox`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxRequest {
    pub sandbox_id: String,
    pub hostname: String,
    pub dns: Vec<String>,
    pub storages: Vec<Storage>,
    pub sandbox_pidns: bool,
    pub guest_hook_path: String,
    pub kernel_modules: Vec<String>,
}

/// `CreateContainer`: the spec is already rewritten for the guest.
#[derive(Debug, Clone)]
pub struct ContainerRequest {
    pub container_id: String,
    pub exec_id: String,
    pub spec: Spec,
    pub storages: Vec<Storage>,
}

pub type AgentResult<T> = std::result::Result<T, AgentError>;

/// The agent's RPCs the sandbox uses. Implementations are cheap to share (`Arc`).
#[async_trait]
pub trait Agent: Send + Sync + 'static {
    async fn create_sandbox(&self, req: SandboxRequest) -> AgentResult<()>;
    async fn destroy_sandbox(&self) -> AgentResult<()>;
    /// `grpc.Health/Check`: `Ok` when the agent answers `SERVING` within `timeout`; an error of
    /// kind `DeadlineExceeded` when it does not answer in time, `Unavailable` when the channel
    /// is broken or the agent reports another status. Kata's runtime makes the same call
    /// (`check`) to tell a slow guest from a dead one.
    async fn check(&self, timeout: std::time::Duration) -> AgentResult<()>;
    async fn create_container(&self, req: ContainerRequest) -> AgentResult<()>;
    async fn start_container(&self, container_id: &str) -> AgentResult<()>;
    async fn remove_container(&self, container_id: &str, timeout_secs: u32) -> AgentResult<()>;
    async fn exec_process(
        &self,
        container_id: &str,
        exec_id: &str,
        process: Process,
    ) -> AgentResult<()>;
    async fn signal_process(
        &self,
        container_id: &str,
        exec_id: &str,
        signal: u32,
    ) -> AgentResult<()>;
    /// Blocks until the process exits; returns its exit status.
    async fn wait_process(&self, container_id: &str, exec_id: &str) -> AgentResult<i32>;
    async fn write_stdin(
        &self,
        container_id: &str,
        exec_id: &str,
        data: &[u8],
    ) -> AgentResult<usize>;
    async fn close_stdin(&self, container_id: &str, exec_id: &str) -> AgentResult<()>;
    /// Long-poll read of up to `len` bytes; empty = end of stream.
    async fn read_stdout(
        &self,
        container_id: &str,
        exec_id: &str,
        len: u32,
    ) -> AgentResult<Vec<u8>>;
    /// Long-poll read of up to `len` bytes; empty = end of stream.
    async fn read_stderr(
        &self,
        container_id: &str,
        exec_id: &str,
        len: u32,
    ) -> AgentResult<Vec<u8>>;
    async fn tty_win_resize(
        &self,
        container_id: &str,
        exec_id: &str,
        rows: u32,
        cols: u32,
    ) -> AgentResult<()>;
    async fn stats_container(&self, container_id: &str) -> AgentResult<ContainerStats>;
    async fn pause_container(&self, container_id: &str) -> AgentResult<()>;
    async fn resume_container(&self, container_id: &str) -> AgentResult<()>;
    async fn update_container(
        &self,
        container_id: &str,
        resources: LinuxResources,
    ) -> AgentResult<()>;
    /// Blocks until a container of the sandbox hits its memory limit; returns its id.
    async fn get_oom_event(&self) -> AgentResult<String>;
    /// `UpdateInterface`: the guest interface with `interface.hw_addr` gets its name, MTU and
    /// addresses, and is brought up.
    async fn update_interface(&self, interface: &kata_netlink::Interface) -> AgentResult<()>;
    /// `UpdateRoutes`: the guest's routes through the named devices become `routes`.
    async fn update_routes(&self, routes: &[kata_netlink::Route]) -> AgentResult<()>;
    /// `AddARPNeighbors`: static neighbour entries on the guest's interfaces.
    async fn add_arp_neighbors(&self, neighbors: &[kata_netlink::Neighbor]) -> AgentResult<()> {
        let _ = neighbors;
        Err(AgentError::new(
            crate::error::ErrorKind::Unimplemented,
            "AddARPNeighbors: this agent does not take neighbours",
        ))
    }
    /// `OnlineCPUMem`: the guest brings hot-added CPUs online until `nb_cpus` are online (0: no
    /// CPU), and, unless `cpu_only`, every offline memory block.
    async fn online_cpu_mem(&self, nb_cpus: u32, cpu_only: bool) -> AgentResult<()> {
        let _ = (nb_cpus, cpu_only);
        Err(AgentError::new(
            crate::error::ErrorKind::Unimplemented,
            "OnlineCPUMem: this agent does not online CPUs or memory",
        ))
    }
    /// `GetMetrics`: the guest's and the agent's metrics in the Prometheus text format.
    async fn get_metrics(&self) -> AgentResult<String> {
        Err(AgentError::new(
            crate::error::ErrorKind::Unimplemented,
            "GetMetrics: this agent does not report metrics",
        ))
    }
}
