//! The sandbox task: one tokio task owns a sandbox's state and takes [`Command`]s from
//! [`SandboxHandle`]s over a channel.
//!
//! The task never awaits the guest inline: agent calls run as spawned tasks with a deadline
//! ([`AgentTimeouts`]) and hand their result back to the loop, so `State`, `Pids`, `Wait` and
//! `Kill` are answered while another call waits on the guest. Commands that change one process
//! (`Create`, `Start`, `Delete`, `Pause`, `Resume`) wait for the call in flight on that same
//! process, in the order they came.

mod actor;
mod boot;
mod create;
mod deadline;
mod delete;
mod exec;
mod io;
mod kill;
mod oom;
mod ops;
mod process;
pub mod resources;
mod start;
mod teardown;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use oci_spec::runtime::LinuxResources;
use tokio::sync::{mpsc, oneshot};

use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::host::layout::Layout;
use crate::types::{
    ContainerStats, CreateContainer, Event, ExecProcess, ExitStatus, ProcessInfo, ProcessRef,
};
use crate::vm::{GuestChannel, VmLauncher};

pub use deadline::AgentTimeouts;

/// Sandbox-wide knobs (taken from the configuration by the caller).
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub guest_hook_path: String,
    pub kernel_modules: Vec<String>,
    /// The shared directory is 9p with this `msize` (`shared_fs = "virtio-9p"`); `None`: virtio-fs.
    pub shared_fs_9p_msize: Option<u32>,
    pub sandbox_pidns: bool,
    /// Seconds the agent gets to remove a container.
    pub remove_timeout_secs: u32,
    /// Deadlines of the agent calls.
    pub timeouts: AgentTimeouts,
    /// `[runtime] enable_debug`: the shim logs at `debug` (the agent's records included).
    pub debug: bool,
    /// `[agent.kata] enable_debug`: the agent logs at `debug`, and the shim lets its records through.
    pub agent_debug: bool,
    /// How the VM follows its containers' CPU and memory ([`resources`]); `None`: it never
    /// resizes.
    pub resources: Option<resources::Sizing>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            guest_hook_path: String::new(),
            kernel_modules: Vec::new(),
            shared_fs_9p_msize: None,
            sandbox_pidns: false,
            remove_timeout_secs: 10,
            timeouts: AgentTimeouts::default(),
            debug: false,
            agent_debug: false,
            resources: None,
        }
    }
}

/// What the guest is told at `CreateSandbox`.
#[derive(Debug, Clone, Default)]
pub struct BootRequest {
    pub hostname: String,
    pub dns: Vec<String>,
    /// The pod's network namespace, from the sandbox container's spec.
    pub netns: Option<std::path::PathBuf>,
    /// A new network namespace is asked for (the spec's `network` namespace has no path).
    pub new_netns: bool,
    /// The sandbox container's `linux.cgroupsPath` (the pod's cgroup on the host).
    pub cgroups_path: Option<std::path::PathBuf>,
}

/// What `Delete` gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub pid: u32,
    pub exit: Option<ExitStatus>,
}

/// What the shim's management socket reports about a running sandbox.
#[derive(Clone)]
pub struct MonitorInfo {
    pub sandbox_id: String,
    /// The hypervisor's pid, once booted.
    pub hypervisor_pid: Option<u32>,
    /// The guest channel, once booted.
    pub channel: Option<GuestChannel>,
    /// The agent, while the VM runs (for `GetMetrics`).
    pub agent: Option<Arc<dyn Agent>>,
}

type Reply<T> = oneshot::Sender<Result<T>>;

pub(crate) enum Command {
    Boot(BootRequest, Reply<u32>),
    Create(CreateContainer, Reply<u32>),
    Start(ProcessRef, Reply<u32>),
    Exec(Box<ExecProcess>, Reply<()>),
    Delete(ProcessRef, Reply<Deleted>),
    State(ProcessRef, Reply<ProcessInfo>),
    Wait(ProcessRef, Reply<oneshot::Receiver<ExitStatus>>),
    /// Signal a process; `true`: every process of the container (its init's process only).
    Kill(ProcessRef, u32, bool, Reply<()>),
    ResizePty(ProcessRef, u32, u32, Reply<()>),
    CloseIo(ProcessRef, Reply<()>),
    Pause(String, Reply<()>),
    Resume(String, Reply<()>),
    Stats(String, Reply<ContainerStats>),
    Update(String, Box<LinuxResources>, Reply<()>),
    Pids(String, Reply<Vec<u32>>),
    Monitor(Reply<MonitorInfo>),
    Shutdown(Reply<bool>),
}

/// Sends commands to a sandbox task. Cheap to clone.
#[derive(Clone)]
pub struct SandboxHandle {
    tx: mpsc::Sender<Command>,
    id: String,
}

/// Starts the task of sandbox `layout.sandbox_id`; its events go to `events` in order.
pub fn spawn_sandbox(
    layout: Layout,
    options: SandboxOptions,
    launcher: Arc<dyn VmLauncher>,
    events: mpsc::UnboundedSender<Event>,
) -> SandboxHandle {
    let (tx, rx) = mpsc::channel(64);
    let id = layout.sandbox_id.clone();
    let task = actor::SandboxTask::new(layout, options, launcher, events);
    tokio::spawn(task.run(rx));
    SandboxHandle { tx, id }
}

impl SandboxHandle {
    /// The sandbox id.
    pub fn id(&self) -> &str {
        &self.id
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| Error::SandboxGone)?;
        rx.await.map_err(|_| Error::SandboxGone)?
    }

    /// Prepares the shared directories, boots the VM and sends `CreateSandbox`; returns the
    /// hypervisor pid.
    pub async fn boot(&self, req: BootRequest) -> Result<u32> {
        self.call(|r| Command::Boot(req, r)).await
    }

    /// Creates a container in the VM; returns the pid containerd sees.
    pub async fn create_container(&self, req: CreateContainer) -> Result<u32> {
        self.call(|r| Command::Create(req, r)).await
    }

    /// Starts a container's init or an exec.
    pub async fn start(&self, p: ProcessRef) -> Result<u32> {
        self.call(|r| Command::Start(p, r)).await
    }

    /// Registers an exec (started by [`Self::start`]).
    pub async fn exec(&self, req: ExecProcess) -> Result<()> {
        self.call(|r| Command::Exec(Box::new(req), r)).await
    }

    /// Deletes a stopped process; deleting the sandbox's own container tears the sandbox down.
    pub async fn delete(&self, p: ProcessRef) -> Result<Deleted> {
        self.call(|r| Command::Delete(p, r)).await
    }

    pub async fn state(&self, p: ProcessRef) -> Result<ProcessInfo> {
        self.call(|r| Command::State(p, r)).await
    }

    /// Waits for a process to exit.
    pub async fn wait(&self, p: ProcessRef) -> Result<ExitStatus> {
        let rx = self.call(|r| Command::Wait(p, r)).await?;
        rx.await.map_err(|_| Error::SandboxGone)
    }

    pub async fn kill(&self, p: ProcessRef, signal: u32) -> Result<()> {
        self.call(|r| Command::Kill(p, signal, false, r)).await
    }

    /// `Kill` with `all`: `signal` to every process in the container's cgroup in the guest, as
    /// `runc kill --all` does (Kata: `SignalProcess` with an empty exec id). For an exec, `all`
    /// means nothing and only the exec is signalled.
    pub async fn kill_all(&self, p: ProcessRef, signal: u32) -> Result<()> {
        self.call(|r| Command::Kill(p, signal, true, r)).await
    }

    pub async fn resize_pty(&self, p: ProcessRef, rows: u32, cols: u32) -> Result<()> {
        self.call(|r| Command::ResizePty(p, rows, cols, r)).await
    }

    /// Closes a process's stdin once its copy is done.
    pub async fn close_io(&self, p: ProcessRef) -> Result<()> {
        self.call(|r| Command::CloseIo(p, r)).await
    }

    pub async fn pause(&self, container_id: String) -> Result<()> {
        self.call(|r| Command::Pause(container_id, r)).await
    }

    pub async fn resume(&self, container_id: String) -> Result<()> {
        self.call(|r| Command::Resume(container_id, r)).await
    }

    pub async fn stats(&self, container_id: String) -> Result<ContainerStats> {
        self.call(|r| Command::Stats(container_id, r)).await
    }

    /// Updates a container's resources; the VM grows (vCPU/memory hotplug) when they need more.
    pub async fn update(&self, container_id: String, resources: LinuxResources) -> Result<()> {
        self.call(|r| Command::Update(container_id, Box::new(resources), r))
            .await
    }

    pub async fn pids(&self, container_id: String) -> Result<Vec<u32>> {
        self.call(|r| Command::Pids(container_id, r)).await
    }

    /// What the management socket reports: hypervisor pid, guest channel, the agent.
    pub async fn monitor_info(&self) -> Result<MonitorInfo> {
        self.call(Command::Monitor).await
    }

    /// Tears the sandbox down when no container is left; returns whether it did.
    pub async fn shutdown(&self) -> Result<bool> {
        self.call(Command::Shutdown).await
    }
}
