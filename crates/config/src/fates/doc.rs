//! The registry as the Markdown table of `docs/configuration.md`.

use super::{Fate, KEYS};

/// First line of the generated part of `docs/configuration.md`.
pub const TABLE_BEGIN: &str = "<!-- BEGIN KEY TABLE: generated from crates/config/src/fates/registry.rs; KATA_BLESS=1 cargo test -p kata-config --test fates -->";
/// Last line of the generated part.
pub const TABLE_END: &str = "<!-- END KEY TABLE -->";

/// The key table, one row per key, between [`TABLE_BEGIN`] and [`TABLE_END`] (both included).
pub fn render_table() -> String {
    let mut out = String::new();
    out.push_str(TABLE_BEGIN);
    out.push_str("\n\n| Section | Key | Kata default | kata-rs | Refused values | Notes |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for k in KEYS {
        let fate = match k.fate {
            Fate::Acts(_) => "acts",
            Fate::NoEffect(_) => "no effect",
        };
        let default = if k.kata_default.is_empty() {
            "`\"\"`".to_string()
        } else if k.kata_default.starts_with('(') {
            k.kata_default.to_string()
        } else {
            format!("`{}`", k.kata_default)
        };
        let refused = k
            .refuse
            .map(|(r, why)| format!("{}: {why}", r.describe()))
            .unwrap_or_default();
        let mut note = k.fate.note().to_string();
        if let Some(v) = k.inert {
            note.push_str(&format!(" (no warning for `{v}`)"));
        }
        out.push_str(&format!(
            "| `[{}]` | `{}` | {default} | {fate} | {} | {} |\n",
            k.section,
            k.key,
            cell(&refused),
            cell(&note)
        ));
    }
    out.push('\n');
    out.push_str(TABLE_END);
    out.push('\n');
    out
}

/// Table cells cannot hold a `|`.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}
