//! `kata-runtime kata-env`: the resolved configuration, where it came from, and host facts.

use std::path::PathBuf;

use kata_config::IneffectiveKey;
use kata_hostinfo::HostInfo;
use serde::Serialize;

use crate::settings::Loaded;

/// Where the configuration came from and what the loader said about it.
#[derive(Debug, Serialize)]
pub struct ConfigReport<'a> {
    pub path: &'a PathBuf,
    pub drop_ins: &'a [PathBuf],
    pub warnings: &'a [String],
    pub unknown_keys: &'a [String],
    /// Keys set in the file(s) that are accepted but have no effect in kata-rs
    /// (`docs/configuration.md` lists every key's fate).
    pub no_effect: &'a [IneffectiveKey],
    pub values: &'a serde_json::Value,
}

/// The runtime binary itself.
#[derive(Debug, Serialize)]
pub struct RuntimeReport {
    pub version: &'static str,
    pub commit: Option<&'static str>,
    pub config_api_version: &'static str,
}

/// Everything `kata-env` reports.
#[derive(Debug, Serialize)]
pub struct EnvReport<'a> {
    pub runtime: RuntimeReport,
    pub config: ConfigReport<'a>,
    pub host: &'a HostInfo,
}

impl<'a> EnvReport<'a> {
    pub fn new(loaded: &'a Loaded, host: &'a HostInfo) -> Self {
        Self {
            runtime: RuntimeReport {
                version: env!("CARGO_PKG_VERSION"),
                commit: crate::version::COMMIT,
                config_api_version: crate::settings::API_VERSION,
            },
            config: ConfigReport {
                path: &loaded.source,
                drop_ins: &loaded.drop_ins,
                warnings: &loaded.warnings,
                unknown_keys: &loaded.unknown_keys,
                no_effect: &loaded.ineffective,
                values: &loaded.values,
            },
            host,
        }
    }

    /// Human-readable text, one fact per line.
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        let r = &self.runtime;
        out.push("[runtime]".to_owned());
        out.push(format!("  version = {}", r.version));
        out.push(format!("  commit = {}", r.commit.unwrap_or("unknown")));
        out.push(format!("  config_api_version = {}", r.config_api_version));
        out.push("[config]".to_owned());
        out.push(format!("  path = {}", self.config.path.display()));
        for d in self.config.drop_ins {
            out.push(format!("  drop_in = {}", d.display()));
        }
        for w in self.config.warnings {
            out.push(format!("  warning = {w}"));
        }
        for k in self.config.unknown_keys {
            out.push(format!("  unknown_key = {k}"));
        }
        flatten("  ", &mut String::new(), self.config.values, &mut out);
        no_effect_lines(self.config.no_effect, self.config.path, &mut out);
        let h = self.host;
        out.push("[host]".to_owned());
        out.push(format!("  cpus = {}", h.cpu_count));
        if let Some(cpu) = &h.cpu {
            out.push(format!(
                "  cpu_model = {}",
                cpu.model_name.as_deref().unwrap_or("unknown")
            ));
            let flag = cpu.virt_flag.map(|f| f.as_str()).unwrap_or("none");
            out.push(format!("  virt_flag = {flag}"));
        }
        out.push(format!("  kvm = {}", h.kvm));
        out.push(format!("  accelerator = {}", h.virt.accelerator.as_str()));
        out.push(format!("  accelerator_reason = {}", h.virt.reason));
        out.push(format!("  vhost_vsock = {}", h.vhost_vsock));
        out.push(format!("  vhost_net = {}", h.vhost_net));
        if let Some(m) = &h.memory {
            out.push(format!("  memory_total_mib = {}", m.total_mib()));
            out.push(format!("  memory_available_mib = {}", m.available_mib()));
        }
        if let Some(k) = &h.kernel_release {
            out.push(format!("  kernel_release = {k}"));
        }
        match &h.qemu {
            Some(Ok(v)) => out.push(format!("  qemu_version = {v}")),
            Some(Err(e)) => out.push(format!("  qemu_version = error: {e}")),
            None => {}
        }
        out.join("\n")
    }
}

/// `[config.no_effect]`: one line per key set in the file(s) that has no effect in kata-rs, with
/// the reason (`# accepted, has no effect in kata-rs: ...`), as the load warnings say.
fn no_effect_lines(keys: &[IneffectiveKey], main: &std::path::Path, out: &mut Vec<String>) {
    if keys.is_empty() {
        return;
    }
    out.push("[config.no_effect]".to_owned());
    for k in keys {
        let mut line = format!(
            "  {} = {}  # accepted, has no effect in kata-rs: {}",
            k.key, k.value, k.why
        );
        if k.inert {
            line.push_str(" (the value is what kata-rs does anyway)");
        }
        if k.file != main {
            line.push_str(&format!(" (set in {})", k.file.display()));
        }
        out.push(line);
    }
}

/// Renders nested JSON objects as `a.b.c = value` lines.
fn flatten(indent: &str, prefix: &mut String, value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let len = prefix.len();
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(k);
                flatten(indent, prefix, v, out);
                prefix.truncate(len);
            }
        }
        other => out.push(format!("{indent}{prefix} = {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_effect_keys_are_listed_with_their_reason_and_file() {
        let keys = vec![
            IneffectiveKey {
                key: "hypervisor.qemu.enable_iommu".into(),
                value: "true".into(),
                file: "/etc/k.toml".into(),
                why: "no vIOMMU".into(),
                inert: false,
            },
            IneffectiveKey {
                key: "hypervisor.qemu.msize_9p".into(),
                value: "8192".into(),
                file: "/etc/config.d/10.toml".into(),
                why: "virtio-9p is not used".into(),
                inert: true,
            },
        ];
        let mut out = Vec::new();
        no_effect_lines(&keys, std::path::Path::new("/etc/k.toml"), &mut out);
        assert_eq!(
            out,
            vec![
                "[config.no_effect]".to_string(),
                "  hypervisor.qemu.enable_iommu = true  # accepted, has no effect in kata-rs: no vIOMMU"
                    .to_string(),
                "  hypervisor.qemu.msize_9p = 8192  # accepted, has no effect in kata-rs: virtio-9p is not used (the value is what kata-rs does anyway) (set in /etc/config.d/10.toml)"
                    .to_string(),
            ]
        );
        let mut none = Vec::new();
        no_effect_lines(&[], std::path::Path::new("/etc/k.toml"), &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn flattens_nested_tables() {
        let v = serde_json::json!({"hypervisor": {"qemu": {"default_vcpus": 2, "path": "/q"}}});
        let mut out = Vec::new();
        flatten("", &mut String::new(), &v, &mut out);
        assert_eq!(
            out,
            vec![
                "hypervisor.qemu.default_vcpus = 2".to_string(),
                "hypervisor.qemu.path = \"/q\"".to_string()
            ]
        );
    }
}
