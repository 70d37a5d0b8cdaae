//! UpdateContainer: apply new resource limits to the container's cgroup (v2 files).

use oci_spec::runtime::LinuxResources;

use crate::error::{AgentError, Result};
use crate::sandbox::Sandbox;

pub fn update(sb: &Sandbox, id: &str, res: &LinuxResources) -> Result<()> {
    let c = sb.container(id)?;
    for (file, value) in cgroup_writes(res) {
        let path = c.cgroup.join(file);
        std::fs::write(&path, &value).map_err(|e| AgentError::io("writing", &path, e))?;
    }
    Ok(())
}

/// The cgroup v2 files and values that express `res`.
pub fn cgroup_writes(res: &LinuxResources) -> Vec<(&'static str, String)> {
    let mut w = Vec::new();
    if let Some(m) = res.memory() {
        if let Some(limit) = m.limit() {
            w.push((
                "memory.max",
                if limit < 0 {
                    "max".to_string()
                } else {
                    limit.to_string()
                },
            ));
        }
        if let Some(r) = m.reservation() {
            w.push(("memory.low", r.to_string()));
        }
        if let (Some(swap), Some(limit)) = (m.swap(), m.limit()) {
            // OCI swap is memory+swap; cgroup v2 wants swap alone.
            if swap < 0 {
                w.push(("memory.swap.max", "max".to_string()));
            } else if swap >= limit && limit >= 0 {
                w.push(("memory.swap.max", (swap - limit).to_string()));
            }
        }
    }
    if let Some(cpu) = res.cpu() {
        if let Some(shares) = cpu.shares() {
            // The conversion runc and crun use from cgroup v1 shares [2, 262144] to weight [1, 10000].
            let shares = shares.clamp(2, 262_144);
            let weight = 1 + ((shares - 2) * 9999) / 262_142;
            w.push(("cpu.weight", weight.to_string()));
        }
        if cpu.quota().is_some() || cpu.period().is_some() {
            let quota = match cpu.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            let period = cpu.period().unwrap_or(100_000);
            w.push(("cpu.max", format!("{quota} {period}")));
        }
        if let Some(cpus) = cpu.cpus() {
            w.push(("cpuset.cpus", cpus.clone()));
        }
        if let Some(mems) = cpu.mems() {
            w.push(("cpuset.mems", mems.clone()));
        }
    }
    if let Some(p) = res.pids() {
        w.push((
            "pids.max",
            if p.limit() <= 0 {
                "max".to_string()
            } else {
                p.limit().to_string()
            },
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    #[test]
    fn resources_become_cgroup_v2_files() {
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 30)
                    .swap(2i64 << 30)
                    .build()
                    .expect("mem"),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .quota(50_000)
                    .period(100_000u64)
                    .shares(1024u64)
                    .build()
                    .expect("cpu"),
            )
            .pids(
                LinuxPidsBuilder::default()
                    .limit(100)
                    .build()
                    .expect("pids"),
            )
            .build()
            .expect("res");
        let w = cgroup_writes(&res);
        let get = |f: &str| w.iter().find(|(k, _)| *k == f).map(|(_, v)| v.as_str());
        assert_eq!(get("memory.max"), Some("1073741824"));
        assert_eq!(get("memory.swap.max"), Some("1073741824"));
        assert_eq!(get("cpu.max"), Some("50000 100000"));
        assert_eq!(get("cpu.weight"), Some("39"));
        assert_eq!(get("pids.max"), Some("100"));
    }

    #[test]
    fn unlimited_values_are_max() {
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(-1)
                    .build()
                    .expect("mem"),
            )
            .cpu(LinuxCpuBuilder::default().quota(-1).build().expect("cpu"))
            .build()
            .expect("res");
        let w = cgroup_writes(&res);
        assert!(w.contains(&("memory.max", "max".to_string())));
        assert!(w.contains(&("cpu.max", "max 100000".to_string())));
    }
}
