//! Agent settings from the kernel command line (`agent.*` keys) and the environment.
//!
//! Parse first, then apply environment overrides; defaults live in [`AgentConfig::default`].

/// Default ttRPC address: any CID, port 1024.
pub const DEFAULT_SERVER_ADDR: &str = "vsock://-1:1024";
/// Default vsock port of the debug console (Kata's `agent.debug_console_vport`).
pub const DEFAULT_DEBUG_CONSOLE_VPORT: u32 = 1026;

/// Settings of one agent run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// ttRPC listen address (`vsock://CID:PORT` or `unix:///path`).
    pub server_addr: String,
    /// Log level filter (`agent.log`), e.g. `info`, `debug`.
    pub log_level: String,
    /// Whether a debug console was asked for (`agent.debug_console`).
    pub debug_console: bool,
    /// Port of the debug console (`agent.debug_console_vport`).
    pub debug_console_vport: u32,
    /// Port of the log channel (`agent.log_vport`); 0 means the console only.
    pub log_vport: u32,
    /// Seconds to wait for a hot-plugged device (`agent.hotplug_timeout`).
    pub hotplug_timeout_secs: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            server_addr: DEFAULT_SERVER_ADDR.to_string(),
            log_level: "info".to_string(),
            debug_console: false,
            debug_console_vport: 0,
            log_vport: 0,
            hotplug_timeout_secs: 3,
        }
    }
}

impl AgentConfig {
    /// Builds the settings from the text of `/proc/cmdline`; unknown keys are ignored, bad values keep
    /// the default (with a note in the returned warnings).
    pub fn from_cmdline(cmdline: &str) -> (Self, Vec<String>) {
        let mut cfg = AgentConfig::default();
        let mut warnings = Vec::new();
        for word in cmdline.split_whitespace() {
            let (key, value) = match word.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (word, None),
            };
            match (key, value) {
                ("agent.server_addr", Some(v)) => cfg.server_addr = v.to_string(),
                ("agent.log", Some(v)) => cfg.log_level = v.to_string(),
                ("agent.debug_console", None) => cfg.debug_console = true,
                ("agent.debug_console", Some(v)) => cfg.debug_console = parse_bool(v),
                ("agent.debug_console_vport", Some(v)) => {
                    parse_into(&mut cfg.debug_console_vport, key, v, &mut warnings)
                }
                ("agent.log_vport", Some(v)) => {
                    parse_into(&mut cfg.log_vport, key, v, &mut warnings)
                }
                ("agent.hotplug_timeout", Some(v)) => {
                    parse_into(&mut cfg.hotplug_timeout_secs, key, v, &mut warnings)
                }
                _ => {}
            }
        }
        if cfg.debug_console && cfg.debug_console_vport == 0 {
            cfg.debug_console_vport = DEFAULT_DEBUG_CONSOLE_VPORT;
        }
        (cfg, warnings)
    }

    /// Applies `KATA_AGENT_SERVER_ADDR` and `KATA_AGENT_LOG_LEVEL` given by `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(addr) = get("KATA_AGENT_SERVER_ADDR") {
            self.server_addr = addr;
        }
        if let Some(level) = get("KATA_AGENT_LOG_LEVEL") {
            self.log_level = level;
        }
    }
}

fn parse_bool(v: &str) -> bool {
    matches!(v, "1" | "true" | "on" | "yes")
}

fn parse_into<T: std::str::FromStr>(
    slot: &mut T,
    key: &str,
    value: &str,
    warnings: &mut Vec<String>,
) {
    match value.parse() {
        Ok(v) => *slot = v,
        Err(_) => warnings.push(format!("ignoring invalid value {value:?} for {key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_no_agent_keys() {
        let (cfg, warnings) = AgentConfig::from_cmdline("console=ttyS0 quiet panic=1");
        assert_eq!(cfg, AgentConfig::default());
        assert!(warnings.is_empty());
    }

    #[test]
    fn reads_agent_keys() {
        let (cfg, warnings) = AgentConfig::from_cmdline(
            "agent.server_addr=unix:///tmp/a.sock agent.log=debug agent.debug_console agent.hotplug_timeout=10",
        );
        assert_eq!(cfg.server_addr, "unix:///tmp/a.sock");
        assert_eq!(cfg.log_level, "debug");
        assert!(cfg.debug_console);
        assert_eq!(cfg.debug_console_vport, DEFAULT_DEBUG_CONSOLE_VPORT);
        assert_eq!(cfg.hotplug_timeout_secs, 10);
        assert!(warnings.is_empty());
    }

    #[test]
    fn bad_number_keeps_default_and_warns() {
        let (cfg, warnings) = AgentConfig::from_cmdline("agent.log_vport=abc");
        assert_eq!(cfg.log_vport, 0);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("agent.log_vport"));
    }

    #[test]
    fn env_overrides_cmdline() {
        let (mut cfg, _) = AgentConfig::from_cmdline("agent.server_addr=vsock://-1:2000");
        cfg.apply_env(|k| (k == "KATA_AGENT_SERVER_ADDR").then(|| "unix:///x".to_string()));
        assert_eq!(cfg.server_addr, "unix:///x");
    }
}
