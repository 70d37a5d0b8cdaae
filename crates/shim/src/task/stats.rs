//! Stats (cgroup v1 metrics in an `Any`) and Update (a JSON `LinuxResources` in an `Any`).

use containerd_shim::api::{Empty, StatsRequest, StatsResponse, UpdateTaskRequest};
use containerd_shim::protos::cgroups::metrics::{
    CPUStat, CPUUsage, MemoryEntry, MemoryStat, Metrics, PidsStat,
};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::Message;
use containerd_shim::TtrpcResult;
use kata_sandbox::ContainerStats;
use oci_spec::runtime::LinuxResources;

use super::TaskService;
use crate::errors::{invalid, status, to_ttrpc};
use containerd_shim::protos::ttrpc::Code;

const METRICS_TYPE_URL: &str = "io.containerd.cgroups.v1.Metrics";

pub fn metrics(s: &ContainerStats) -> Metrics {
    Metrics {
        cpu: Some(CPUStat {
            usage: Some(CPUUsage {
                total: s.cpu_total_ns,
                user: s.cpu_user_ns,
                kernel: s.cpu_kernel_ns,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .into(),
        memory: Some(MemoryStat {
            usage: Some(MemoryEntry {
                usage: s.memory_usage,
                max: s.memory_max_usage,
                limit: s.memory_limit,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .into(),
        pids: Some(PidsStat {
            current: s.pids_current,
            limit: s.pids_limit,
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

impl TaskService {
    pub(super) async fn do_stats(&self, r: StatsRequest) -> TtrpcResult<StatsResponse> {
        let stats = self.sandbox()?.stats(r.id).await.map_err(to_ttrpc)?;
        let value = metrics(&stats)
            .write_to_bytes()
            .map_err(|e| status(Code::INTERNAL, format!("cannot encode metrics: {e}")))?;
        Ok(StatsResponse {
            stats: Some(Any {
                type_url: METRICS_TYPE_URL.into(),
                value,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
    }

    pub(super) async fn do_update(&self, r: UpdateTaskRequest) -> TtrpcResult<Empty> {
        let any = r
            .resources
            .as_ref()
            .ok_or_else(|| invalid(format!("update of {} has no resources", r.id)))?;
        let resources: LinuxResources = serde_json::from_slice(&any.value)
            .map_err(|e| invalid(format!("resources of {}: {e}", r.id)))?;
        self.sandbox()?
            .update(r.id, resources)
            .await
            .map_err(to_ttrpc)?;
        Ok(Empty::new())
    }
}
