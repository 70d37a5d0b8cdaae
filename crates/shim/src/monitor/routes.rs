//! What each endpoint of the management socket answers.

use async_trait::async_trait;
use kata_sandbox::{GuestChannel, SandboxHandle};
use kata_shim_interface::http::{text, with_type, Get, Reply, PROMETHEUS_TEXT};
use kata_shim_interface::prom::Aggregate;

use super::host_metrics::HostMetrics;

/// Kata's answer when the debug console is off, naming the setting that turns it on.
pub const DEBUG_CONSOLE_DISABLED: &str =
    "debug console is disabled: set debug_console_enabled = true in [agent.kata] of the runtime configuration";
/// The only families taken from the agent's text: a guest cannot pass for the host.
const GUEST_FAMILIES: [&str; 2] = ["kata_agent_", "kata_guest_"];

/// The sandbox as the endpoints see it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub hypervisor_pid: Option<u32>,
    /// `None` while the VM is not running.
    pub channel: Option<GuestChannel>,
}

/// Where the endpoints get their facts: the sandbox task (a fake in tests).
#[async_trait]
pub trait SandboxView: Send + Sync + 'static {
    async fn snapshot(&self) -> Result<Snapshot, String>;
    /// The agent's `GetMetrics` text.
    async fn agent_metrics(&self) -> Result<String, String>;
}

#[async_trait]
impl SandboxView for SandboxHandle {
    async fn snapshot(&self) -> Result<Snapshot, String> {
        let info = self.monitor_info().await.map_err(|e| e.to_string())?;
        Ok(Snapshot {
            hypervisor_pid: info.hypervisor_pid,
            channel: info.channel,
        })
    }

    async fn agent_metrics(&self) -> Result<String, String> {
        let info = self.monitor_info().await.map_err(|e| e.to_string())?;
        let agent = info.agent.ok_or("the VM is not running")?;
        agent.get_metrics().await.map_err(|e| e.to_string())
    }
}

/// How long `/metrics` waits for the agent's `GetMetrics` (kata-monitor gives a shim 3 s).
pub const AGENT_METRICS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Routes<V = SandboxHandle> {
    sandbox_id: String,
    view: V,
    host: HostMetrics,
}

impl<V: SandboxView> Routes<V> {
    pub fn new(sandbox_id: &str, view: V) -> Self {
        Self {
            sandbox_id: sandbox_id.to_owned(),
            view,
            host: HostMetrics::new(),
        }
    }

    pub async fn answer(&self, get: Get) -> Reply {
        match get.path.as_str() {
            kata_shim_interface::AGENT_URL => self.agent_url().await,
            kata_shim_interface::DEBUG_CONSOLE => self.debug_console().await,
            kata_shim_interface::METRICS => self.metrics().await,
            other => text(404, format!("no endpoint {other}\n")),
        }
    }

    async fn channel(&self) -> Result<GuestChannel, Reply> {
        match self.view.snapshot().await {
            Ok(Snapshot {
                channel: Some(c), ..
            }) => Ok(c),
            Ok(_) => Err(text(
                404,
                format!("sandbox {} is not running\n", self.sandbox_id),
            )),
            Err(e) => Err(text(500, format!("sandbox {}: {e}\n", self.sandbox_id))),
        }
    }

    /// The agent's URL (`hvsock://<socket>:<port>`), without a newline as Kata's shim.
    async fn agent_url(&self) -> Reply {
        match self.channel().await {
            Ok(c) if !c.agent_url.is_empty() => text(200, c.agent_url),
            Ok(_) => text(
                404,
                format!("sandbox {} has no agent url\n", self.sandbox_id),
            ),
            Err(reply) => reply,
        }
    }

    /// The debug console's vsock port, or 404 naming the setting when it is off.
    async fn debug_console(&self) -> Reply {
        match self.channel().await {
            Ok(GuestChannel {
                debug_console_vport: Some(port),
                ..
            }) => text(200, port.to_string()),
            Ok(_) => text(404, DEBUG_CONSOLE_DISABLED),
            Err(reply) => reply,
        }
    }

    /// Host metrics, then the agent's (guest and agent families only). An agent that does not
    /// answer, or answers malformed text, costs only its part (logged).
    async fn metrics(&self) -> Reply {
        let pid = match self.view.snapshot().await {
            Ok(s) => s.hypervisor_pid,
            Err(e) => return text(500, format!("sandbox {}: {e}\n", self.sandbox_id)),
        };
        let mut body = self.host.text(pid);
        // A stuck guest must not take the host families with it: they are served without it.
        let guest = tokio::time::timeout(AGENT_METRICS_TIMEOUT, self.view.agent_metrics())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "GetMetrics: no answer within {AGENT_METRICS_TIMEOUT:?}"
                ))
            });
        match guest {
            Ok(guest) => match kata_shim_interface::prom::parse(&guest) {
                Ok(families) => {
                    let mut kept = Aggregate::new();
                    kept.add(
                        families
                            .into_iter()
                            .filter(|f| GUEST_FAMILIES.iter().any(|p| f.name.starts_with(p)))
                            .collect(),
                        None,
                    );
                    body.push_str(&kept.render());
                }
                Err(e) => tracing::warn!(error = %e, "agent metrics are malformed: left out"),
            },
            Err(e) => tracing::warn!(error = %e, "agent metrics unavailable: host metrics only"),
        }
        with_type(200, PROMETHEUS_TEXT, body)
    }
}
