//! The host side of `/metrics`: the shim's own process (namespace `kata_shim`) and the
//! hypervisor's (namespace `kata_hypervisor`), read from `/proc/<pid>` at each scrape, as Kata's
//! shim reports them (the `process_*` families of a Prometheus process collector: CPU seconds,
//! open and max fds, virtual and resident memory bytes, threads).

use std::sync::Mutex;

use prometheus::process_collector::ProcessCollector;
use prometheus::{Encoder, IntCounter, Registry, TextEncoder};

/// Left out: see [`HostMetrics::text`].
const HYPERVISOR_START_TIME: &str = "kata_hypervisor_process_start_time_seconds";

/// Collectors that live as long as the server (their CPU counters accumulate between scrapes).
pub struct HostMetrics {
    shim: Registry,
    scrapes: Option<IntCounter>,
    /// The hypervisor's collector, for the pid it was made for.
    hypervisor: Mutex<Option<(u32, Registry)>>,
}

impl HostMetrics {
    pub fn new() -> Self {
        let shim = Registry::new();
        let scrapes = IntCounter::new(
            "kata_shim_scrape_count",
            "Scrapes of the shim's /metrics endpoint.",
        )
        .and_then(|c| shim.register(Box::new(c.clone())).map(|()| c))
        .map_err(|e| tracing::warn!(error = %e, "shim metrics: scrape counter not registered"))
        .ok();
        let own = ProcessCollector::new(std::process::id() as i32, "kata_shim");
        if let Err(e) = shim.register(Box::new(own)) {
            tracing::warn!(error = %e, "shim metrics: process collector not registered");
        }
        Self {
            shim,
            scrapes,
            hypervisor: Mutex::new(None),
        }
    }

    /// The shim's and (when `hypervisor_pid` is known) the hypervisor's metrics as text. A
    /// hypervisor that has exited gives no samples.
    pub fn text(&self, hypervisor_pid: Option<u32>) -> String {
        if let Some(c) = &self.scrapes {
            c.inc();
        }
        let mut families = self.shim.gather();
        if let Some(pid) = hypervisor_pid {
            if let Ok(mut slot) = self.hypervisor.lock() {
                if slot.as_ref().is_none_or(|(p, _)| *p != pid) {
                    let registry = Registry::new();
                    let qemu = ProcessCollector::new(pid as i32, "kata_hypervisor");
                    match registry.register(Box::new(qemu)) {
                        Ok(()) => *slot = Some((pid, registry)),
                        Err(e) => tracing::warn!(error = %e, "hypervisor metrics not registered"),
                    }
                }
                if let Some((_, registry)) = slot.as_ref() {
                    // The collector takes the start time from the calling process (the shim),
                    // not from `pid`: a wrong value is left out rather than served.
                    families.extend(
                        registry
                            .gather()
                            .into_iter()
                            .filter(|f| f.name() != HYPERVISOR_START_TIME),
                    );
                }
            }
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!(error = %e, "shim metrics: encoding failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
