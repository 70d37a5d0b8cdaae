//! Several texts merged into one, grouped by family, as `kata-monitor` serves them.

use std::collections::HashMap;

use super::{parse, Family, TextError};

/// Families merged from several texts: each family appears once, with the first HELP and TYPE
/// seen and the samples of every text, in arrival order.
#[derive(Debug, Default, Clone)]
pub struct Aggregate {
    families: Vec<Family>,
    index: HashMap<String, usize>,
}

impl Aggregate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `families`, with label `label` (name, unescaped value) set on each of their samples.
    pub fn add(&mut self, families: Vec<Family>, label: Option<(&str, &str)>) {
        for mut family in families {
            if let Some((name, value)) = label {
                for s in &mut family.samples {
                    s.set_label(name, value);
                }
            }
            match self.index.get(&family.name) {
                Some(&i) => {
                    let known = &mut self.families[i];
                    known.help = known.help.take().or(family.help);
                    known.kind = known.kind.take().or(family.kind);
                    known.samples.extend(family.samples);
                }
                None => {
                    self.index.insert(family.name.clone(), self.families.len());
                    self.families.push(family);
                }
            }
        }
    }

    /// [`Self::add`] of a text. Errors: the text is not valid exposition format (nothing added).
    pub fn add_text(&mut self, text: &str, label: Option<(&str, &str)>) -> Result<(), TextError> {
        let families = parse(text)?;
        self.add(families, label);
        Ok(())
    }

    /// The families read so far.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// The merged text: for each family its HELP, TYPE, then its samples.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            if let Some(help) = &f.help {
                out.push_str(&format!("# HELP {} {help}\n", f.name));
            }
            if let Some(kind) = &f.kind {
                out.push_str(&format!("# TYPE {} {kind}\n", f.name));
            }
            for s in &f.samples {
                out.push_str(&s.render());
                out.push('\n');
            }
        }
        out
    }
}

/// `text` with label `name="value"` on every sample (HELP and TYPE lines kept). Errors: `text`
/// is not valid exposition format.
pub fn add_label(text: &str, name: &str, value: &str) -> Result<String, TextError> {
    let mut a = Aggregate::new();
    a.add_text(text, Some((name, value)))?;
    Ok(a.render())
}
