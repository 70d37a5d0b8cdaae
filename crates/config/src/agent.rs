//! The resolved `[agent.kata]` section.

use serde::{Deserialize, Serialize};

/// Agent settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// The agent table name; always `kata`.
    pub name: String,
    /// Agent debug log level (`agent.log=debug` on the guest command line).
    pub enable_debug: bool,
    /// OpenTelemetry spans in the agent.
    pub enable_tracing: bool,
    /// Kata 2.0 trace mode (parsed, not acted on).
    pub trace_mode: String,
    /// Kata 2.0 trace type (parsed, not acted on).
    pub trace_type: String,
    /// `"name param=value ..."` entries modprobed in the guest.
    pub kernel_modules: Vec<String>,
    /// Debug console on vsock port 1026.
    pub debug_console_enabled: bool,
    /// Agent connect timeout, seconds.
    pub dial_timeout: u32,
    /// Confidential Data Hub API timeout, seconds.
    pub cdh_api_timeout: u32,
    /// `agent.launch_process_timeout`, seconds (0 = agent default).
    pub launch_process_timeout: u32,
    /// `agent.visible_cdi_devices`.
    pub visible_cdi_devices: bool,
    /// Container pipe size, bytes (0 = kernel default).
    pub container_pipe_size: u32,
    /// Base64 Rego policy from an annotation (empty = none).
    pub policy: String,
}
