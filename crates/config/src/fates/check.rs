//! The load-time side of the registry: refuse impossible values, warn about keys with no effect.

use super::{lookup, value_text, warning_text, IneffectiveKey, SECTIONS};
use crate::error::ConfigError;
use crate::load::Origins;

/// What the registry says about the keys of a (merged) file.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// `<file>: <key>: accepted, has no effect in kata-rs: <why>`, one per key asking for
    /// something that does not happen.
    pub warnings: Vec<String>,
    /// Every no-effect key set in the file(s), warned about or not.
    pub ineffective: Vec<IneffectiveKey>,
}

/// Check every registered key present in `table`. Keys absent from the file are not looked at;
/// unknown keys are reported by the parser.
pub(crate) fn check(table: &toml::Table, o: &Origins) -> Result<Findings, ConfigError> {
    let mut out = Findings::default();
    for section in SECTIONS {
        let Some(keys) = section_table(table, section) else {
            continue;
        };
        for (key, value) in keys {
            let Some(entry) = lookup(section, key) else {
                continue;
            };
            let name = entry.name();
            let file = o.file(&name);
            if let Some((refuse, why)) = entry.refuse {
                if refuse.matches(value) {
                    return Err(ConfigError::Unsupported {
                        file: file.to_path_buf(),
                        key: name,
                        value: value_text(value),
                        reason: why.to_string(),
                    });
                }
            }
            if entry.fate.acts() {
                continue;
            }
            let warns = entry.warns_for(value);
            if warns {
                out.warnings.push(format!(
                    "{}: {}",
                    file.display(),
                    warning_text(&name, entry.fate.note())
                ));
            }
            out.ineffective.push(IneffectiveKey {
                key: name,
                value: value.to_string(),
                file: file.to_path_buf(),
                why: entry.fate.note().to_string(),
                inert: !warns,
            });
        }
    }
    Ok(out)
}

/// `table["hypervisor"]["qemu"]` for `hypervisor.qemu`.
fn section_table<'a>(table: &'a toml::Table, section: &str) -> Option<&'a toml::Table> {
    let mut t = table;
    for part in section.split('.') {
        t = t.get(part)?.as_table()?;
    }
    Some(t)
}
