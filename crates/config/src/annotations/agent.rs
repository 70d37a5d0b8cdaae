//! `io.katacontainers.config.agent.*` (gated by `enable_annotations` as `agent.<key>`).

use super::Annotation;
use crate::error::AnnotationError;
use crate::Config;

/// Separator of the `kernel_modules` annotation.
pub const KERNEL_MODULES_SEPARATOR: char = ';';

/// The agent annotation suffixes this runtime understands.
pub const KNOWN: &[&str] = &[
    "kernel_modules",
    "enable_tracing",
    "trace_mode",
    "trace_type",
    "container_pipe_size",
    "policy",
    "cdh_api_timeout",
];

pub(super) fn apply_one(
    c: &mut Config,
    suffix: &str,
    a: &Annotation<'_>,
) -> Result<(), AnnotationError> {
    let g = &mut c.agent;
    match suffix {
        "kernel_modules" => {
            g.kernel_modules = a
                .value
                .split(KERNEL_MODULES_SEPARATOR)
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
        }
        "enable_tracing" => g.enable_tracing = a.bool()?,
        "trace_mode" => g.trace_mode = a.value.to_string(),
        "trace_type" => g.trace_type = a.value.to_string(),
        "container_pipe_size" => g.container_pipe_size = a.u32("please specify uint32 value")?,
        "policy" => {
            let ok = a
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n'));
            if !ok {
                return Err(a.invalid("expected a base64-encoded policy"));
            }
            g.policy = a.value.to_string();
        }
        "cdh_api_timeout" => g.cdh_api_timeout = a.u32("please specify a number of seconds")?,
        _ => {
            return Err(AnnotationError::Unknown {
                name: a.name.to_string(),
            })
        }
    }
    Ok(())
}
