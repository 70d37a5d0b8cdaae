//! `grpc.AgentService`: every method forwards to a handler; the ones this agent does not provide
//! answer UNIMPLEMENTED (never a silent success, never the generated NOT_FOUND default).

use async_trait::async_trait;
use kata_protocols::agent as pb;
use kata_protocols::agent_ttrpc::AgentService;
use kata_protocols::csi;
use kata_protocols::empty::Empty;
use kata_protocols::types;
use ttrpc::r#async::TtrpcContext;

use super::status::{unimplemented, RpcResult};
use super::{containers, network, sandbox, Service};
use crate::container::Stream;

type Ctx = TtrpcContext;

#[async_trait]
impl AgentService for Service {
    async fn create_container(&self, _: &Ctx, r: pb::CreateContainerRequest) -> RpcResult<Empty> {
        containers::create(self, r)
    }
    async fn start_container(&self, _: &Ctx, r: pb::StartContainerRequest) -> RpcResult<Empty> {
        containers::start(self, r)
    }
    async fn remove_container(&self, _: &Ctx, r: pb::RemoveContainerRequest) -> RpcResult<Empty> {
        containers::remove(self, r).await
    }
    async fn exec_process(&self, _: &Ctx, r: pb::ExecProcessRequest) -> RpcResult<Empty> {
        containers::exec(self, r)
    }
    async fn signal_process(&self, _: &Ctx, r: pb::SignalProcessRequest) -> RpcResult<Empty> {
        containers::signal(self, r)
    }
    async fn wait_process(
        &self,
        _: &Ctx,
        r: pb::WaitProcessRequest,
    ) -> RpcResult<pb::WaitProcessResponse> {
        containers::wait(self, r).await
    }
    async fn update_container(&self, _: &Ctx, r: pb::UpdateContainerRequest) -> RpcResult<Empty> {
        containers::update(self, r)
    }
    async fn update_ephemeral_mounts(
        &self,
        _: &Ctx,
        r: pb::UpdateEphemeralMountsRequest,
    ) -> RpcResult<Empty> {
        sandbox::update_ephemeral_mounts(self, r)
    }
    async fn stats_container(
        &self,
        _: &Ctx,
        r: pb::StatsContainerRequest,
    ) -> RpcResult<pb::StatsContainerResponse> {
        containers::stats(self, r)
    }
    async fn pause_container(&self, _: &Ctx, r: pb::PauseContainerRequest) -> RpcResult<Empty> {
        containers::pause(self, &r.container_id)
    }
    async fn resume_container(&self, _: &Ctx, r: pb::ResumeContainerRequest) -> RpcResult<Empty> {
        containers::resume(self, &r.container_id)
    }
    async fn remove_stale_virtiofs_share_mounts(
        &self,
        _: &Ctx,
        _: pb::RemoveStaleVirtiofsShareMountsRequest,
    ) -> RpcResult<Empty> {
        unimplemented("RemoveStaleVirtiofsShareMounts")
    }
    async fn get_diagnostic_data(
        &self,
        _: &Ctx,
        _: pb::GetDiagnosticDataRequest,
    ) -> RpcResult<pb::GetDiagnosticDataResponse> {
        unimplemented("GetDiagnosticData")
    }
    async fn write_stdin(
        &self,
        _: &Ctx,
        r: pb::WriteStreamRequest,
    ) -> RpcResult<pb::WriteStreamResponse> {
        containers::write_stdin(self, r).await
    }
    async fn read_stdout(
        &self,
        _: &Ctx,
        r: pb::ReadStreamRequest,
    ) -> RpcResult<pb::ReadStreamResponse> {
        containers::read(self, r, Stream::Stdout).await
    }
    async fn read_stderr(
        &self,
        _: &Ctx,
        r: pb::ReadStreamRequest,
    ) -> RpcResult<pb::ReadStreamResponse> {
        containers::read(self, r, Stream::Stderr).await
    }
    async fn close_stdin(&self, _: &Ctx, r: pb::CloseStdinRequest) -> RpcResult<Empty> {
        containers::close_stdin(self, r).await
    }
    async fn tty_win_resize(&self, _: &Ctx, r: pb::TtyWinResizeRequest) -> RpcResult<Empty> {
        containers::resize(self, r)
    }
    async fn update_interface(
        &self,
        _: &Ctx,
        r: pb::UpdateInterfaceRequest,
    ) -> RpcResult<types::Interface> {
        network::update_interface(r)
    }
    async fn update_routes(&self, _: &Ctx, r: pb::UpdateRoutesRequest) -> RpcResult<pb::Routes> {
        network::update_routes(r)
    }
    async fn list_interfaces(
        &self,
        _: &Ctx,
        _: pb::ListInterfacesRequest,
    ) -> RpcResult<pb::Interfaces> {
        network::list_interfaces()
    }
    async fn list_routes(&self, _: &Ctx, _: pb::ListRoutesRequest) -> RpcResult<pb::Routes> {
        network::list_routes()
    }
    async fn add_arp_neighbors(&self, _: &Ctx, r: pb::AddARPNeighborsRequest) -> RpcResult<Empty> {
        network::add_arp_neighbors(r)
    }
    async fn get_ip_tables(
        &self,
        _: &Ctx,
        _: pb::GetIPTablesRequest,
    ) -> RpcResult<pb::GetIPTablesResponse> {
        unimplemented("GetIPTables")
    }
    async fn set_ip_tables(
        &self,
        _: &Ctx,
        _: pb::SetIPTablesRequest,
    ) -> RpcResult<pb::SetIPTablesResponse> {
        unimplemented("SetIPTables")
    }
    async fn get_metrics(&self, _: &Ctx, _: pb::GetMetricsRequest) -> RpcResult<pb::Metrics> {
        let text = super::status::map(crate::metrics::gather())?;
        Ok(pb::Metrics {
            metrics: text,
            ..Default::default()
        })
    }
    async fn mem_agent_memcg_set(&self, _: &Ctx, _: pb::MemAgentMemcgConfig) -> RpcResult<Empty> {
        unimplemented("MemAgentMemcgSet")
    }
    async fn mem_agent_compact_set(
        &self,
        _: &Ctx,
        _: pb::MemAgentCompactConfig,
    ) -> RpcResult<Empty> {
        unimplemented("MemAgentCompactSet")
    }
    async fn create_sandbox(&self, _: &Ctx, r: pb::CreateSandboxRequest) -> RpcResult<Empty> {
        sandbox::create(self, r)
    }
    async fn destroy_sandbox(&self, _: &Ctx, _: pb::DestroySandboxRequest) -> RpcResult<Empty> {
        sandbox::destroy(self)
    }
    async fn online_cpu_mem(&self, _: &Ctx, r: pb::OnlineCPUMemRequest) -> RpcResult<Empty> {
        sandbox::online_cpu_mem(self, r)
    }
    async fn reseed_random_dev(&self, _: &Ctx, r: pb::ReseedRandomDevRequest) -> RpcResult<Empty> {
        sandbox::reseed(r)
    }
    async fn get_guest_details(
        &self,
        _: &Ctx,
        r: pb::GuestDetailsRequest,
    ) -> RpcResult<pb::GuestDetailsResponse> {
        sandbox::details(self, r)
    }
    async fn mem_hotplug_by_probe(
        &self,
        _: &Ctx,
        _: pb::MemHotplugByProbeRequest,
    ) -> RpcResult<Empty> {
        unimplemented("MemHotplugByProbe")
    }
    async fn set_guest_date_time(
        &self,
        _: &Ctx,
        r: pb::SetGuestDateTimeRequest,
    ) -> RpcResult<Empty> {
        sandbox::set_time(r)
    }
    async fn copy_file(&self, _: &Ctx, r: pb::CopyFileRequest) -> RpcResult<Empty> {
        sandbox::copy_file(self, r)
    }
    async fn get_oom_event(&self, _: &Ctx, _: pb::GetOOMEventRequest) -> RpcResult<pb::OOMEvent> {
        containers::oom_event(self).await
    }
    async fn add_swap(&self, _: &Ctx, _: pb::AddSwapRequest) -> RpcResult<Empty> {
        unimplemented("AddSwap")
    }
    async fn add_swap_path(&self, _: &Ctx, _: pb::AddSwapPathRequest) -> RpcResult<Empty> {
        unimplemented("AddSwapPath")
    }
    async fn get_volume_stats(
        &self,
        _: &Ctx,
        _: pb::VolumeStatsRequest,
    ) -> RpcResult<csi::VolumeStatsResponse> {
        unimplemented("GetVolumeStats")
    }
    async fn resize_volume(&self, _: &Ctx, _: pb::ResizeVolumeRequest) -> RpcResult<Empty> {
        unimplemented("ResizeVolume")
    }
    async fn set_policy(&self, _: &Ctx, _: pb::SetPolicyRequest) -> RpcResult<Empty> {
        unimplemented("SetPolicy")
    }
}
