//! The `kata_guest_*` families, from the guest's `/proc` (Kata's agent names and labels).

use std::path::Path;

use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, Opts, Registry};

use super::proc_files;
use crate::error::AgentError;

fn family(name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, AgentError> {
    GaugeVec::new(Opts::new(name, help).namespace("kata_guest"), labels)
        .map_err(|e| AgentError::Internal(format!("metric kata_guest_{name}: {e}")))
}

/// Reads `<proc_root>/<file>`; `None` (logged) when it cannot be.
fn read(proc_root: &Path, file: &str) -> Option<String> {
    let path = proc_root.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "guest metrics: cannot read");
            None
        }
    }
}

/// The guest families, read from `proc_root` (`/proc`).
pub fn gather(proc_root: &str) -> Result<Vec<MetricFamily>, AgentError> {
    let root = Path::new(proc_root);
    let load = family(
        "load",
        "Guest system load (1, 5 and 15 minute averages).",
        &["item"],
    )?;
    let tasks = family(
        "tasks",
        "Guest tasks: cur = runnable, max = all tasks (/proc/loadavg).",
        &["item"],
    )?;
    let cpu = family(
        "cpu_time",
        "Guest CPU time in USER_HZ ticks (/proc/stat).",
        &["cpu", "item"],
    )?;
    let mem = family(
        "meminfo",
        "Guest memory statistics, bytes or counts (/proc/meminfo).",
        &["item"],
    )?;
    let net = family(
        "netdev_stat",
        "Guest network device statistics, bytes or packets (/proc/net/dev).",
        &["interface", "item"],
    )?;
    let vm = family(
        "vm_stat",
        "Guest virtual memory statistics (/proc/vmstat).",
        &["item"],
    )?;

    if let Some(l) = read(root, "loadavg")
        .as_deref()
        .and_then(proc_files::loadavg)
    {
        load.with_label_values(&["load1"]).set(l.load1);
        load.with_label_values(&["load5"]).set(l.load5);
        load.with_label_values(&["load15"]).set(l.load15);
        tasks.with_label_values(&["cur"]).set(l.running as f64);
        tasks.with_label_values(&["max"]).set(l.total as f64);
    }
    if let Some(text) = read(root, "stat") {
        for (which, values) in proc_files::cpu_times(&text) {
            for (item, v) in proc_files::CPU_ITEMS.iter().zip(values) {
                cpu.with_label_values(&[which.as_str(), item]).set(v as f64);
            }
        }
    }
    if let Some(text) = read(root, "meminfo") {
        for (item, v) in proc_files::meminfo(&text) {
            mem.with_label_values(&[item.as_str()]).set(v);
        }
    }
    if let Some(text) = read(root, "net/dev") {
        for (iface, values) in proc_files::netdev(&text) {
            for (item, v) in proc_files::NETDEV_ITEMS.iter().zip(values) {
                net.with_label_values(&[iface.as_str(), item]).set(v as f64);
            }
        }
    }
    if let Some(text) = read(root, "vmstat") {
        for (item, v) in proc_files::vmstat(&text) {
            vm.with_label_values(&[item.as_str()]).set(v);
        }
    }

    let registry = Registry::new();
    for f in [load, tasks, cpu, mem, net, vm] {
        registry
            .register(Box::new(f))
            .map_err(|e| AgentError::Internal(format!("guest metrics registry: {e}")))?;
    }
    Ok(registry.gather())
}

#[cfg(test)]
mod tests {
    #[test]
    fn families_come_from_the_given_proc_root() {
        let root = tempfile::tempdir().expect("tempdir");
        let p = root.path();
        std::fs::create_dir(p.join("net")).expect("net");
        std::fs::write(p.join("loadavg"), "1.00 0.50 0.25 3/42 77\n").expect("loadavg");
        std::fs::write(p.join("vmstat"), "pgfault 5\n").expect("vmstat");
        // stat, meminfo and net/dev are missing: their families are left out.
        let families = super::gather(p.to_str().expect("utf-8")).expect("gather");
        let names: Vec<_> = families.iter().map(|f| f.name().to_owned()).collect();
        assert_eq!(
            names,
            ["kata_guest_load", "kata_guest_tasks", "kata_guest_vm_stat"]
        );
        let tasks = &families[1];
        let max = tasks
            .get_metric()
            .iter()
            .find(|m| m.get_label().iter().any(|l| l.value() == "max"))
            .expect("max");
        assert_eq!(max.get_gauge().get_value(), 42.0);
    }
}
