//! Domain cgroup statistics to `grpc.CgroupStats`.

use kata_protocols::agent as pb;

use crate::container::CgroupStats;

pub fn stats_to_grpc(s: &CgroupStats) -> pb::StatsContainerResponse {
    let mut cpu_usage = pb::CpuUsage::new();
    cpu_usage.total_usage = s.cpu_total_ns;
    cpu_usage.usage_in_usermode = s.cpu_user_ns;
    cpu_usage.usage_in_kernelmode = s.cpu_kernel_ns;
    let mut throttling = pb::ThrottlingData::new();
    throttling.periods = s.throttle_periods;
    throttling.throttled_periods = s.throttled_periods;
    throttling.throttled_time = s.throttled_ns;
    let mut cpu = pb::CpuStats::new();
    cpu.cpu_usage = Some(cpu_usage).into();
    cpu.throttling_data = Some(throttling).into();

    let mut usage = pb::MemoryData::new();
    usage.usage = s.mem_usage;
    usage.max_usage = s.mem_max_usage;
    usage.limit = s.mem_limit;
    usage.failcnt = s.mem_failcnt;
    let mut swap = pb::MemoryData::new();
    swap.usage = s.swap_usage;
    swap.limit = s.swap_limit;
    let mut mem = pb::MemoryStats::new();
    mem.cache = s.mem_cache;
    mem.usage = Some(usage).into();
    mem.swap_usage = Some(swap).into();
    mem.use_hierarchy = true;
    mem.stats = s.mem_stat.clone();

    let mut pids = pb::PidsStats::new();
    pids.current = s.pids_current;
    pids.limit = s.pids_limit;

    let entries = |v: &[crate::container::IoEntry]| {
        v.iter()
            .map(|e| {
                let mut x = pb::BlkioStatsEntry::new();
                x.major = e.major;
                x.minor = e.minor;
                x.op = e.op.to_string();
                x.value = e.value;
                x
            })
            .collect::<Vec<_>>()
    };
    let mut blkio = pb::BlkioStats::new();
    blkio.io_service_bytes_recursive = entries(&s.io_bytes);
    blkio.io_serviced_recursive = entries(&s.io_ops);

    let mut cg = pb::CgroupStats::new();
    cg.cpu_stats = Some(cpu).into();
    cg.memory_stats = Some(mem).into();
    cg.pids_stats = Some(pids).into();
    cg.blkio_stats = Some(blkio).into();
    let mut resp = pb::StatsContainerResponse::new();
    resp.cgroup_stats = Some(cg).into();
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_land_in_the_right_fields() {
        let s = CgroupStats {
            cpu_total_ns: 7,
            mem_usage: 4096,
            pids_current: 3,
            ..Default::default()
        };
        let r = stats_to_grpc(&s);
        let cg = r.cgroup_stats.as_ref().expect("cgroup stats");
        assert_eq!(cg.cpu_stats.cpu_usage.total_usage, 7);
        assert_eq!(cg.memory_stats.usage.usage, 4096);
        assert_eq!(cg.pids_stats.current, 3);
    }
}
