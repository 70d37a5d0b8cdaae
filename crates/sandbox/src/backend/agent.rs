//! [`Agent`] over the ttRPC `grpc.AgentService` client of `kata-agent-client`.

mod stats;

use std::time::Duration;

use async_trait::async_trait;
use kata_agent_client::kata_protocols::agent as pb;
use kata_agent_client::AgentClient;
use oci_spec::runtime::{LinuxResources, Process};
use ttrpc::context::{self, Context};

use super::convert::{
    create_container_to_pb, process_to_pb, resources_to_pb, storage_to_pb, GuestOptions,
};
use crate::agent::{Agent, AgentResult, ContainerRequest, SandboxRequest};
use crate::error::{AgentError, ErrorKind};
use crate::types::ContainerStats;

/// Deadline sent with every call that is not a long poll: Kata's default request timeout.
/// The sandbox task enforces its own, shorter or equal, deadlines
/// (`crate::task::AgentTimeouts`); this one also tells the agent when to give up.
const SHORT: Duration = Duration::from_secs(60);

pub struct KataAgent {
    client: AgentClient,
    /// Deadline of `CreateContainer` (`[runtime] create_container_timeout`).
    create_timeout: Duration,
    /// What the runtime configuration lets through to the guest (seccomp).
    guest: GuestOptions,
}

impl KataAgent {
    pub fn new(client: AgentClient) -> Self {
        Self {
            client,
            create_timeout: SHORT,
            guest: GuestOptions::default(),
        }
    }

    /// Strips `linux.seccomp` from the specs sent to the guest when `disable` is true
    /// (`[runtime] disable_guest_seccomp`).
    pub fn with_disable_guest_seccomp(mut self, disable: bool) -> Self {
        self.guest.guest_seccomp = !disable;
        self
    }

    /// Gives `CreateContainer` the configured deadline instead of 60 s.
    pub fn with_create_container_timeout(mut self, timeout: Duration) -> Self {
        self.create_timeout = timeout;
        self
    }
}

fn short() -> Context {
    context::with_duration(SHORT)
}

/// No deadline: long polls (wait, reads, OOM events).
fn long() -> Context {
    context::with_timeout(0)
}

fn err(e: ttrpc::Error) -> AgentError {
    match e {
        ttrpc::Error::RpcStatus(s) => {
            let kind = match s.code() {
                ttrpc::Code::NOT_FOUND => ErrorKind::NotFound,
                ttrpc::Code::ALREADY_EXISTS => ErrorKind::AlreadyExists,
                ttrpc::Code::INVALID_ARGUMENT => ErrorKind::InvalidArgument,
                ttrpc::Code::FAILED_PRECONDITION => ErrorKind::FailedPrecondition,
                ttrpc::Code::UNIMPLEMENTED => ErrorKind::Unimplemented,
                ttrpc::Code::UNAVAILABLE => ErrorKind::Unavailable,
                ttrpc::Code::DEADLINE_EXCEEDED => ErrorKind::DeadlineExceeded,
                _ => ErrorKind::Internal,
            };
            AgentError::new(kind, s.message().to_owned())
        }
        other => AgentError::new(ErrorKind::Unavailable, other.to_string()),
    }
}

#[async_trait]
impl Agent for KataAgent {
    async fn create_sandbox(&self, req: SandboxRequest) -> AgentResult<()> {
        let mut r = pb::CreateSandboxRequest::new();
        r.hostname = req.hostname;
        r.dns = req.dns;
        r.storages = req.storages.iter().map(storage_to_pb).collect();
        r.sandbox_pidns = req.sandbox_pidns;
        r.sandbox_id = req.sandbox_id;
        r.guest_hook_path = req.guest_hook_path;
        r.kernel_modules = req
            .kernel_modules
            .iter()
            .map(|m| {
                let mut parts = m.split_whitespace();
                let mut km = pb::KernelModule::new();
                km.name = parts.next().unwrap_or_default().to_owned();
                km.parameters = parts.map(str::to_owned).collect();
                km
            })
            .collect();
        self.client
            .agent
            .create_sandbox(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn destroy_sandbox(&self) -> AgentResult<()> {
        let r = pb::DestroySandboxRequest::new();
        self.client
            .agent
            .destroy_sandbox(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn check(&self, timeout: Duration) -> AgentResult<()> {
        use kata_agent_client::kata_protocols::health::health_check_response::ServingStatus;
        let status = self.client.check(timeout).await.map_err(|e| {
            let kind = match e {
                kata_agent_client::Error::RpcTimeout { .. } => ErrorKind::DeadlineExceeded,
                _ => ErrorKind::Unavailable,
            };
            let msg = match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            };
            AgentError::new(kind, msg)
        })?;
        if status == ServingStatus::SERVING {
            Ok(())
        } else {
            Err(AgentError::new(
                ErrorKind::Unavailable,
                format!("agent health status {status:?}, not SERVING"),
            ))
        }
    }

    async fn create_container(&self, req: ContainerRequest) -> AgentResult<()> {
        let r = create_container_to_pb(&req, self.guest)?;
        self.client
            .agent
            .create_container(context::with_duration(self.create_timeout), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn start_container(&self, container_id: &str) -> AgentResult<()> {
        let mut r = pb::StartContainerRequest::new();
        r.container_id = container_id.to_owned();
        self.client
            .agent
            .start_container(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn remove_container(&self, container_id: &str, timeout_secs: u32) -> AgentResult<()> {
        let mut r = pb::RemoveContainerRequest::new();
        r.container_id = container_id.to_owned();
        r.timeout = timeout_secs;
        let ctx = context::with_duration(SHORT + Duration::from_secs(u64::from(timeout_secs)));
        self.client
            .agent
            .remove_container(ctx, &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn exec_process(&self, cid: &str, eid: &str, process: Process) -> AgentResult<()> {
        let mut r = pb::ExecProcessRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        r.process = Some(process_to_pb(&process)).into();
        self.client
            .agent
            .exec_process(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn signal_process(&self, cid: &str, eid: &str, signal: u32) -> AgentResult<()> {
        let mut r = pb::SignalProcessRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        r.signal = signal;
        self.client
            .agent
            .signal_process(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn wait_process(&self, cid: &str, eid: &str) -> AgentResult<i32> {
        let mut r = pb::WaitProcessRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        let resp = self
            .client
            .agent
            .wait_process(long(), &r)
            .await
            .map_err(err)?;
        Ok(resp.status)
    }

    async fn write_stdin(&self, cid: &str, eid: &str, data: &[u8]) -> AgentResult<usize> {
        let mut r = pb::WriteStreamRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        r.data = data.to_vec();
        let resp = self
            .client
            .agent
            .write_stdin(short(), &r)
            .await
            .map_err(err)?;
        Ok(resp.len as usize)
    }

    async fn close_stdin(&self, cid: &str, eid: &str) -> AgentResult<()> {
        let mut r = pb::CloseStdinRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        self.client
            .agent
            .close_stdin(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn read_stdout(&self, cid: &str, eid: &str, len: u32) -> AgentResult<Vec<u8>> {
        let mut r = pb::ReadStreamRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        r.len = len;
        let resp = self
            .client
            .agent
            .read_stdout(long(), &r)
            .await
            .map_err(err)?;
        Ok(resp.data)
    }

    async fn read_stderr(&self, cid: &str, eid: &str, len: u32) -> AgentResult<Vec<u8>> {
        let mut r = pb::ReadStreamRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        r.len = len;
        let resp = self
            .client
            .agent
            .read_stderr(long(), &r)
            .await
            .map_err(err)?;
        Ok(resp.data)
    }

    async fn tty_win_resize(&self, cid: &str, eid: &str, rows: u32, cols: u32) -> AgentResult<()> {
        let mut r = pb::TtyWinResizeRequest::new();
        r.container_id = cid.to_owned();
        r.exec_id = eid.to_owned();
        r.row = rows;
        r.column = cols;
        self.client
            .agent
            .tty_win_resize(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn stats_container(&self, cid: &str) -> AgentResult<ContainerStats> {
        let mut r = pb::StatsContainerRequest::new();
        r.container_id = cid.to_owned();
        let resp = self
            .client
            .agent
            .stats_container(short(), &r)
            .await
            .map_err(err)?;
        Ok(stats::from_pb(&resp))
    }

    async fn pause_container(&self, cid: &str) -> AgentResult<()> {
        let mut r = pb::PauseContainerRequest::new();
        r.container_id = cid.to_owned();
        self.client
            .agent
            .pause_container(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn resume_container(&self, cid: &str) -> AgentResult<()> {
        let mut r = pb::ResumeContainerRequest::new();
        r.container_id = cid.to_owned();
        self.client
            .agent
            .resume_container(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn update_container(&self, cid: &str, resources: LinuxResources) -> AgentResult<()> {
        let mut r = pb::UpdateContainerRequest::new();
        r.container_id = cid.to_owned();
        r.resources = Some(resources_to_pb(&resources)).into();
        self.client
            .agent
            .update_container(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn get_oom_event(&self) -> AgentResult<String> {
        let r = pb::GetOOMEventRequest::new();
        let resp = self
            .client
            .agent
            .get_oom_event(long(), &r)
            .await
            .map_err(err)?;
        Ok(resp.container_id)
    }

    async fn update_interface(&self, interface: &kata_netlink::Interface) -> AgentResult<()> {
        let mut r = pb::UpdateInterfaceRequest::new();
        r.interface = Some(kata_netlink::grpc::interface_to_grpc(interface)).into();
        self.client
            .agent
            .update_interface(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn update_routes(&self, routes: &[kata_netlink::Route]) -> AgentResult<()> {
        let mut r = pb::UpdateRoutesRequest::new();
        let mut list = kata_agent_client::kata_protocols::agent::Routes::new();
        list.Routes = routes
            .iter()
            .map(kata_netlink::grpc::route_to_grpc)
            .collect();
        r.routes = Some(list).into();
        self.client
            .agent
            .update_routes(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn add_arp_neighbors(&self, neighbors: &[kata_netlink::Neighbor]) -> AgentResult<()> {
        let mut r = pb::AddARPNeighborsRequest::new();
        let mut list = kata_agent_client::kata_protocols::agent::ARPNeighbors::new();
        list.ARPNeighbors = neighbors
            .iter()
            .map(kata_netlink::grpc::neighbor_to_grpc)
            .collect();
        r.neighbors = Some(list).into();
        self.client
            .agent
            .add_arp_neighbors(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn online_cpu_mem(&self, nb_cpus: u32, cpu_only: bool) -> AgentResult<()> {
        let mut r = pb::OnlineCPUMemRequest::new();
        r.wait = true;
        r.nb_cpus = nb_cpus;
        r.cpu_only = cpu_only;
        self.client
            .agent
            .online_cpu_mem(short(), &r)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn get_metrics(&self) -> AgentResult<String> {
        let r = pb::GetMetricsRequest::new();
        let resp = self
            .client
            .agent
            .get_metrics(short(), &r)
            .await
            .map_err(err)?;
        Ok(resp.metrics)
    }
}
