//! `io.katacontainers.config.*` annotations: per-pod overrides of a loaded configuration.
//!
//! Security model (Kata's `oci/utils.go`, reference 1.6):
//! * every `io.katacontainers.config.hypervisor.<suffix>` annotation must have its suffix
//!   matched by one regex of `hypervisor.qemu.enable_annotations` (empty list: all refused).
//!   Unlike Kata, the regex must match the whole suffix (it is anchored), so `path` does not
//!   also enable `jailer_path`;
//! * annotations that make the host run or open a file are also checked against a glob list
//!   after canonicalisation: `path` (`valid_hypervisor_paths`), `jailer_path`,
//!   `virtio_fs_daemon`, `vhost_user_store_path`, `entropy_source`, `file_mem_backend`, and
//!   (kata-rs extension) `kernel`, `image`, `initrd`, `firmware`, `firmware_volume`;
//! * `kernel_params` and `virtio_fs_extra_args` are ordinary gated names: refused unless an
//!   `enable_annotations` entry names them;
//! * runtime (`config.runtime.*`) and agent (`config.agent.*`) annotations are gated too
//!   (stricter than Kata, which gates only the hypervisor ones): their `runtime.<suffix>` or
//!   `agent.<suffix>` form must be matched by an `enable_annotations` regex, so the default
//!   empty list refuses every configuration annotation;
//! * an unknown name under `io.katacontainers.config.` is an error, never ignored.
//!
//! After all annotations are applied the cross-key rules of the loader run again.

mod agent;
mod hypervisor;
mod runtime;

pub use agent::{KERNEL_MODULES_SEPARATOR, KNOWN as AGENT_ANNOTATIONS};
pub use hypervisor::{KNOWN as HYPERVISOR_ANNOTATIONS, MIN_ANNOTATION_MEMORY_MIB};
pub use runtime::KNOWN as RUNTIME_ANNOTATIONS;

use crate::error::AnnotationError;
use crate::host::HostFacts;
use crate::Config;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Prefix of every configuration annotation.
pub const CONFIG_PREFIX: &str = "io.katacontainers.config.";
/// Prefix of the gated hypervisor annotations.
pub const HYPERVISOR_PREFIX: &str = "io.katacontainers.config.hypervisor.";
/// Prefix of the runtime annotations.
pub const RUNTIME_PREFIX: &str = "io.katacontainers.config.runtime.";
/// Prefix of the agent annotations.
pub const AGENT_PREFIX: &str = "io.katacontainers.config.agent.";
/// Hash algorithm of the `*_hash` annotations (only `sha512`).
pub const ASSET_HASH_TYPE: &str = "io.katacontainers.asset_hash_type";
/// Short form of `config.runtime.enable_vcpus_pinning` listed by the reference.
pub const ENABLE_VCPUS_PINNING: &str = "io.katacontainers.enable_vcpus_pinning";

/// Name used for the configuration in errors raised by the final re-check.
const ORIGIN: &str = "<annotations>";

/// Apply annotations using the facts of this host.
pub fn apply(
    config: &mut Config,
    annotations: &HashMap<String, String>,
) -> Result<(), AnnotationError> {
    apply_with(config, annotations, &HostFacts::detect()).map(|_| ())
}

/// Apply annotations with injected host facts; returns the warnings of the final re-check.
///
/// Annotations are applied in name order, so the first error is deterministic. On error
/// the configuration may be partly changed: discard it.
pub fn apply_with(
    config: &mut Config,
    annotations: &HashMap<String, String>,
    host: &HostFacts,
) -> Result<Vec<String>, AnnotationError> {
    let gate = Gate::new(&config.hypervisor.enable_annotations)?;
    let mut names: Vec<&String> = annotations.keys().collect();
    names.sort();
    for name in names {
        let value = annotations[name].as_str();
        if let Some(suffix) = name.strip_prefix(HYPERVISOR_PREFIX) {
            if !gate.allows(suffix) {
                return Err(AnnotationError::NotEnabled { name: name.clone() });
            }
            let a = Annotation { name, value, host };
            hypervisor::apply_one(config, suffix, &a)?;
        } else if let Some(suffix) = name.strip_prefix(RUNTIME_PREFIX) {
            gate.check(name, "runtime.", suffix)?;
            runtime::apply_one(config, suffix, &Annotation { name, value, host })?;
        } else if name == ENABLE_VCPUS_PINNING {
            gate.check(name, "runtime.", "enable_vcpus_pinning")?;
            runtime::apply_one(
                config,
                "enable_vcpus_pinning",
                &Annotation { name, value, host },
            )?;
        } else if let Some(suffix) = name.strip_prefix(AGENT_PREFIX) {
            gate.check(name, "agent.", suffix)?;
            agent::apply_one(config, suffix, &Annotation { name, value, host })?;
        } else if name == ASSET_HASH_TYPE {
            if value != "sha512" {
                return Err(AnnotationError::invalid(
                    name,
                    value,
                    "only sha512 is supported",
                ));
            }
        } else if name.starts_with(CONFIG_PREFIX) {
            return Err(AnnotationError::Unknown { name: name.clone() });
        }
    }
    config
        .validate(Path::new(ORIGIN), host)
        .map_err(|e| AnnotationError::Config {
            source: Box::new(e),
        })
}

/// The compiled `enable_annotations` list.
struct Gate(Vec<regex::Regex>);

impl Gate {
    fn new(patterns: &[String]) -> Result<Self, AnnotationError> {
        patterns
            .iter()
            .map(|p| {
                regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| AnnotationError::BadPattern {
                    pattern: p.clone(),
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Gate)
    }

    fn allows(&self, suffix: &str) -> bool {
        self.0.iter().any(|r| r.is_match(suffix))
    }

    /// Refuses `name` unless `<section><suffix>` (e.g. `agent.kernel_modules`) is allowed.
    fn check(&self, name: &str, section: &str, suffix: &str) -> Result<(), AnnotationError> {
        if self.allows(&format!("{section}{suffix}")) {
            Ok(())
        } else {
            Err(AnnotationError::NotEnabled {
                name: name.to_string(),
            })
        }
    }
}

/// One annotation being applied, with the helpers that parse its value.
pub(crate) struct Annotation<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) host: &'a HostFacts,
}

impl Annotation<'_> {
    fn invalid(&self, reason: impl Into<String>) -> AnnotationError {
        AnnotationError::invalid(self.name, self.value, reason)
    }

    /// Go's `strconv.ParseBool`.
    pub(crate) fn bool(&self) -> Result<bool, AnnotationError> {
        match self.value {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            _ => Err(self.invalid("please specify boolean value 'true|false'")),
        }
    }

    /// A decimal `u32`; `hint` completes the error message.
    pub(crate) fn u32(&self, hint: &str) -> Result<u32, AnnotationError> {
        self.value
            .parse::<u32>()
            .map_err(|e| self.invalid(format!("{e}, {hint}")))
    }

    /// A decimal `u64`.
    pub(crate) fn u64(&self, hint: &str) -> Result<u64, AnnotationError> {
        self.value
            .parse::<u64>()
            .map_err(|e| self.invalid(format!("{e}, {hint}")))
    }

    /// One of a fixed set of names.
    pub(crate) fn one_of(&self, allowed: &[&str]) -> Result<String, AnnotationError> {
        if allowed.contains(&self.value) {
            Ok(self.value.to_string())
        } else {
            Err(self.invalid(format!("supported values: {}", allowed.join(", "))))
        }
    }

    /// A path that must exist and whose canonical form must match one of `globs`
    /// (the `valid_*` list named `list_key`).
    pub(crate) fn allowed_path(
        &self,
        globs: &[String],
        list_key: &str,
    ) -> Result<PathBuf, AnnotationError> {
        let canonical = self.host.resolve(Path::new(self.value)).map_err(|source| {
            AnnotationError::BadPath {
                name: self.name.to_string(),
                value: self.value.to_string(),
                source,
            }
        })?;
        if path_in_globs(&canonical, globs, self.host) {
            Ok(canonical)
        } else {
            Err(AnnotationError::PathNotAllowed {
                name: self.name.to_string(),
                value: self.value.to_string(),
                allow_list: list_key.to_string(),
            })
        }
    }
}

/// glob(3) match with `*` not crossing `/`. A pattern without wildcards also matches when
/// it canonicalises to the same file (an allow-listed symlink).
pub(crate) fn path_in_globs(canonical: &Path, globs: &[String], host: &HostFacts) -> bool {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    globs.iter().filter(|g| !g.is_empty()).any(|g| {
        let by_pattern = glob::Pattern::new(g)
            .map(|p| p.matches_path_with(canonical, opts))
            .unwrap_or(false);
        let literal = !g.contains(['*', '?', '['])
            && host
                .resolve(Path::new(g))
                .is_ok_and(|resolved| resolved == canonical);
        by_pattern || literal
    })
}
