//! `GetMetrics`: the agent's process metrics (namespace `kata_agent`) and the guest's metrics
//! (namespace `kata_guest`) in the Prometheus text format, with the families and labels of Kata's
//! agent (`docs/design/kata-2-0-metrics.md`). Every `/proc` file is read afresh at each call.

mod guest;
mod proc_files;

use std::sync::OnceLock;

use prometheus::{Encoder, IntCounter, Registry, TextEncoder};

use crate::error::AgentError;

/// Metrics that live as long as the agent: its process collector (whose CPU counter accumulates
/// between calls) and the scrape count.
struct AgentRegistry {
    registry: Registry,
    scrapes: IntCounter,
}

fn agent_registry() -> Result<&'static AgentRegistry, AgentError> {
    static AGENT: OnceLock<Result<AgentRegistry, String>> = OnceLock::new();
    AGENT
        .get_or_init(|| {
            let registry = Registry::new();
            let scrapes = IntCounter::new(
                "kata_agent_scrape_count",
                "Metrics scrapes served by the agent (GetMetrics calls).",
            )
            .map_err(|e| e.to_string())?;
            registry
                .register(Box::new(scrapes.clone()))
                .map_err(|e| e.to_string())?;
            let process = prometheus::process_collector::ProcessCollector::new(
                std::process::id() as i32,
                "kata_agent",
            );
            registry
                .register(Box::new(process))
                .map_err(|e| e.to_string())?;
            Ok(AgentRegistry { registry, scrapes })
        })
        .as_ref()
        .map_err(|e| AgentError::Internal(format!("agent metrics registry: {e}")))
}

/// The text `GetMetrics` answers: `kata_agent_*` (process: CPU seconds, open fds, memory bytes,
/// threads; scrape count) then `kata_guest_*` (load, tasks, cpu_time, meminfo, netdev_stat,
/// vm_stat). A `/proc` file that cannot be read leaves its family out (logged).
pub fn gather() -> Result<String, AgentError> {
    let agent = agent_registry()?;
    agent.scrapes.inc();
    let mut families = agent.registry.gather();
    families.extend(guest::gather("/proc")?);
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut out)
        .map_err(|e| AgentError::Internal(format!("encoding metrics: {e}")))?;
    String::from_utf8(out).map_err(|_| AgentError::Internal("metrics text is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_text_has_agent_and_guest_families() {
        let text = super::gather().expect("gather");
        for family in [
            "kata_agent_scrape_count",
            "kata_agent_process_open_fds",
            "kata_agent_process_resident_memory_bytes",
            "kata_guest_load{item=\"load1\"}",
            "kata_guest_tasks{item=\"max\"}",
            "kata_guest_cpu_time{cpu=\"total\",item=\"user\"}",
            "kata_guest_meminfo{item=\"mem_total\"}",
            "kata_guest_netdev_stat{interface=\"lo\",item=\"recv_bytes\"}",
            "kata_guest_vm_stat{item=\"nr_free_pages\"}",
        ] {
            assert!(text.contains(family), "{family} missing from:\n{text}");
        }
    }
}
