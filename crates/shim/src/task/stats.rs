//! Stats (cgroup metrics in an `Any`, of the type the host's cgroup version gives, as containerd's
//! runc shim answers: `io.containerd.cgroups.v2.Metrics` on a cgroup v2 host, v1 otherwise) and
//! Update (a JSON `LinuxResources` in an `Any`). The mappings of the guest's cgroup v2 numbers to
//! each form are in `stats/v1.rs` and `stats/v2.rs`.

mod v1;
mod v2;

use containerd_shim::api::{Empty, StatsRequest, StatsResponse, UpdateTaskRequest};
use containerd_shim::protos::cgroups::metrics::Metrics;
use containerd_shim::protos::cgroups_v2::metrics as cg2;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::Message;
use containerd_shim::TtrpcResult;
use kata_sandbox::ContainerStats;
use oci_spec::runtime::LinuxResources;

use super::TaskService;
use crate::errors::{invalid, status, to_ttrpc};
use containerd_shim::protos::ttrpc::Code;

const METRICS_TYPE_URL: &str = "io.containerd.cgroups.v1.Metrics";
const METRICS_V2_TYPE_URL: &str = "io.containerd.cgroups.v2.Metrics";

/// Whether the host runs cgroup v2 alone (`/sys/fs/cgroup` is a cgroup2 file system).
fn host_cgroup_v2() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// "No limit" as a cgroup v1 kernel reports `memory.limit_in_bytes` (`i64::MAX` rounded down to a
/// 4 KiB page), which is what containerd's runc shim shows on a v1 host.
const V1_UNLIMITED_MEMORY: u64 = 0x7FFF_FFFF_FFFF_F000;

/// The guest's "max" (read as `u64::MAX`) in the host cgroup version's terms: containerd reports an
/// unlimited pids count as 0 in both versions, an unlimited memory (and swap) limit as the v1
/// kernel's value on v1 (and `u64::MAX` on v2).
fn unlimited_as_host(s: &ContainerStats, v1: bool) -> ContainerStats {
    let mut s = s.clone();
    if s.pids.limit == u64::MAX {
        s.pids.limit = 0;
    }
    if v1 {
        for limit in [&mut s.memory.limit, &mut s.memory.swap_limit] {
            if *limit == u64::MAX {
                *limit = V1_UNLIMITED_MEMORY;
            }
        }
    }
    s
}

/// The v2 form (`io.containerd.cgroups.v2.Metrics`).
pub fn metrics_v2(s: &ContainerStats) -> cg2::Metrics {
    v2::metrics(&unlimited_as_host(s, false))
}

/// The v1 form (`io.containerd.cgroups.v1.Metrics`).
pub fn metrics(s: &ContainerStats) -> Metrics {
    v1::metrics(&unlimited_as_host(s, true), V1_UNLIMITED_MEMORY)
}

impl TaskService {
    pub(super) async fn do_stats(&self, r: StatsRequest) -> TtrpcResult<StatsResponse> {
        let stats = self.sandbox()?.stats(r.id).await.map_err(to_ttrpc)?;
        let (type_url, value) = if host_cgroup_v2() {
            (METRICS_V2_TYPE_URL, metrics_v2(&stats).write_to_bytes())
        } else {
            (METRICS_TYPE_URL, metrics(&stats).write_to_bytes())
        };
        let value =
            value.map_err(|e| status(Code::INTERNAL, format!("cannot encode metrics: {e}")))?;
        Ok(StatsResponse {
            stats: Some(Any {
                type_url: type_url.into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unlimited() -> ContainerStats {
        let mut s = ContainerStats::default();
        s.memory.limit = u64::MAX;
        s.memory.swap_limit = u64::MAX;
        s.pids.limit = u64::MAX;
        s.memory.usage = 4096;
        s
    }

    #[test]
    fn unlimited_reads_as_containerds_runc_shim_reports_it() {
        let v1 = metrics(&unlimited());
        assert_eq!(v1.memory.usage.limit, 9_223_372_036_854_771_712);
        assert_eq!(v1.memory.swap.limit, 9_223_372_036_854_771_712);
        assert_eq!(
            v1.memory.hierarchical_memory_limit,
            9_223_372_036_854_771_712
        );
        assert_eq!(v1.pids.limit, 0);
        assert_eq!(v1.memory.usage.usage, 4096);
        let v2 = metrics_v2(&unlimited());
        assert_eq!(v2.memory.usage_limit, u64::MAX);
        assert_eq!(v2.memory.swap_limit, u64::MAX);
        assert_eq!(v2.pids.limit, 0);
    }
}
