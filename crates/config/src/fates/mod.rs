//! What each key of `configuration.toml` does in kata-rs: it acts, or it is accepted with no
//! effect (a load warning, and a line in `kata-runtime kata-env`), or some of its values are
//! refused at load. "Parsed and silently ignored" is not a fate.
//!
//! The registry is [`KEYS`] (one line per key, `fates/registry.rs`); `docs/configuration.md`
//! holds the same table, rendered by [`render_table`] and checked by the `fates` test.
//! Key set and defaults: Kata 2.x `configuration-qemu.toml` and `config.go`.

mod check;
mod doc;
mod registry;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub(crate) use check::check;
pub use doc::{render_table, TABLE_BEGIN, TABLE_END};
pub use registry::KEYS;

/// What a key does in kata-rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Product code reads the key and changes behaviour; the note says where.
    Acts(&'static str),
    /// Accepted, has no effect in kata-rs; the note says why.
    NoEffect(&'static str),
}

impl Fate {
    /// True for [`Fate::Acts`].
    pub fn acts(&self) -> bool {
        matches!(self, Fate::Acts(_))
    }

    /// The note: where it acts, or why it has none.
    pub fn note(&self) -> &'static str {
        match self {
            Fate::Acts(n) | Fate::NoEffect(n) => n,
        }
    }
}

/// Values of a key that fail the load because they ask for something kata-rs cannot do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refuse {
    /// Boolean `true`.
    True,
    /// Any value other than the zero value (`""`, `[]`, `0`, `false`).
    NonEmpty,
    /// Any of these strings.
    Strings(&'static [&'static str]),
}

impl Refuse {
    /// True when `v` is one of the refused values.
    pub fn matches(&self, v: &toml::Value) -> bool {
        match self {
            Refuse::True => v.as_bool() == Some(true),
            Refuse::NonEmpty => !is_zero(v),
            Refuse::Strings(list) => v.as_str().is_some_and(|s| list.contains(&s)),
        }
    }

    /// The refused values, for the documentation table.
    pub fn describe(&self) -> String {
        match self {
            Refuse::True => "`true`".to_string(),
            Refuse::NonEmpty => "any non-empty value".to_string(),
            Refuse::Strings(list) => list
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// One key of the file and its fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFate {
    /// The table: `hypervisor.qemu`, `agent.kata`, `runtime`, `factory`, `image`.
    pub section: &'static str,
    /// The key inside the table.
    pub key: &'static str,
    /// Kata's default, as documented in its `configuration-qemu.toml.in` / `config.go`.
    pub kata_default: &'static str,
    /// What kata-rs does with it.
    pub fate: Fate,
    /// No-effect keys: a value that is what kata-rs does anyway (not warned about).
    pub inert: Option<&'static str>,
    /// Values refused at load, and why.
    pub refuse: Option<(Refuse, &'static str)>,
}

/// A key that acts; `note` says where (file or component, and the test that shows it).
pub const fn acts(
    section: &'static str,
    key: &'static str,
    kata_default: &'static str,
    note: &'static str,
) -> KeyFate {
    KeyFate {
        section,
        key,
        kata_default,
        fate: Fate::Acts(note),
        inert: None,
        refuse: None,
    }
}

/// A key that is accepted and has no effect; `why` says why (what kata-rs does instead).
pub const fn no(
    section: &'static str,
    key: &'static str,
    kata_default: &'static str,
    why: &'static str,
) -> KeyFate {
    KeyFate {
        section,
        key,
        kata_default,
        fate: Fate::NoEffect(why),
        inert: None,
        refuse: None,
    }
}

impl KeyFate {
    /// `value` (rendered as in [`value_text`]) is what kata-rs does anyway: no warning.
    pub const fn inert(self, value: &'static str) -> Self {
        KeyFate {
            inert: Some(value),
            ..self
        }
    }

    /// Values matching `refuse` fail the load with `why`.
    pub const fn refuse(self, refuse: Refuse, why: &'static str) -> Self {
        KeyFate {
            refuse: Some((refuse, why)),
            ..self
        }
    }

    /// The dotted name, e.g. `hypervisor.qemu.shared_fs`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// True when setting `v` warns: the key has no effect and `v` asks for something
    /// (neither the zero value, which Kata treats as absent, nor the inert value).
    pub fn warns_for(&self, v: &toml::Value) -> bool {
        !self.fate.acts() && !is_zero(v) && self.inert != Some(value_text(v).as_str())
    }
}

/// The fate of `section.key`, if it is a known key.
pub fn lookup(section: &str, key: &str) -> Option<&'static KeyFate> {
    KEYS.iter().find(|k| k.section == section && k.key == key)
}

/// The tables whose keys are in the registry, in file order.
pub const SECTIONS: &[&str] = &[
    "hypervisor.qemu",
    "factory",
    "agent.kata",
    "runtime",
    "image",
];

/// A key set in the loaded file(s) that has no effect in kata-rs (reported by `kata-env`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IneffectiveKey {
    /// Dotted name, e.g. `hypervisor.qemu.cpu_features`.
    pub key: String,
    /// The value as TOML (strings quoted), e.g. `"pmu=off"`, `true`, `[]`.
    pub value: String,
    /// The file that set it (main file or drop-in).
    pub file: PathBuf,
    /// Why it has no effect.
    pub why: String,
    /// True when the value is what kata-rs does anyway (so the load did not warn).
    pub inert: bool,
}

/// The warning logged for a no-effect key (after the file name).
pub fn warning_text(key: &str, why: &str) -> String {
    format!("{key}: accepted, has no effect in kata-rs: {why}")
}

/// A value as compared with [`KeyFate::inert`]: strings bare, anything else as TOML.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Kata's "unset" values: `""`, `0`, `false`, `[]`, an empty table.
fn is_zero(v: &toml::Value) -> bool {
    match v {
        toml::Value::String(s) => s.is_empty(),
        toml::Value::Integer(i) => *i == 0,
        toml::Value::Float(f) => *f == 0.0,
        toml::Value::Boolean(b) => !b,
        toml::Value::Array(a) => a.is_empty(),
        toml::Value::Table(t) => t.is_empty(),
        toml::Value::Datetime(_) => false,
    }
}

#[cfg(test)]
mod tests;
