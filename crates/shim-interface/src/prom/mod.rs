//! The Prometheus text exposition format (version 0.0.4): a strict line reader ([`parse_line`]),
//! families ([`parse`]) and the aggregation of several sandboxes' texts ([`Aggregate`]), with a
//! label added to every sample, as `kata-monitor` does.

mod aggregate;
mod line;

pub use aggregate::{add_label, Aggregate};
pub use line::{escape_label_value, parse_line, Line, Sample};

/// A line the reader refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("prometheus text, line {line}: {reason}: {text:?}")]
pub struct TextError {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
    pub text: String,
}

/// One metric family: its HELP and TYPE (when given) and its samples, in text order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub name: String,
    /// The HELP text as written (escapes kept).
    pub help: Option<String>,
    /// `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub kind: Option<String>,
    pub samples: Vec<Sample>,
}

impl Family {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            help: None,
            kind: None,
            samples: Vec::new(),
        }
    }

    /// Whether a sample named `sample` belongs to this family (a histogram's `_bucket`,
    /// `_sum`, `_count`, a summary's `_sum`, `_count` included).
    fn owns(&self, sample: &str) -> bool {
        match sample.strip_prefix(self.name.as_str()) {
            Some("") => true,
            Some(suffix) => {
                matches!(self.kind.as_deref(), Some("histogram") | Some("summary"))
                    && matches!(suffix, "_bucket" | "_sum" | "_count")
            }
            None => false,
        }
    }
}

/// Reads a whole text into families. Errors: any malformed line, a second HELP or TYPE for one
/// family, an unknown TYPE, a TYPE after the family's samples.
pub fn parse(text: &str) -> Result<Vec<Family>, TextError> {
    let mut families: Vec<Family> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let fail = |reason: &str| TextError {
            line: n + 1,
            reason: reason.to_owned(),
            text: raw.to_owned(),
        };
        let line = parse_line(raw).map_err(|r| fail(&r))?;
        match line {
            Line::Blank | Line::Comment => {}
            Line::Help { name, text } => {
                let family = current(&mut families, name);
                if family.help.is_some() {
                    return Err(fail("second HELP for this family"));
                }
                family.help = Some(text.to_owned());
            }
            Line::Type { name, kind } => {
                let family = current(&mut families, name);
                if family.kind.is_some() {
                    return Err(fail("second TYPE for this family"));
                }
                if !family.samples.is_empty() {
                    return Err(fail("TYPE after the family's samples"));
                }
                family.kind = Some(kind.to_owned());
            }
            Line::Sample(sample) => {
                let fits = families.last().is_some_and(|f| f.owns(&sample.name));
                if !fits {
                    families.push(Family::new(&sample.name));
                }
                if let Some(f) = families.last_mut() {
                    f.samples.push(sample);
                }
            }
        }
    }
    Ok(families)
}

/// The family `name` if it is the one being read, else a new one.
fn current<'a>(families: &'a mut Vec<Family>, name: &str) -> &'a mut Family {
    let fresh = families.last().is_none_or(|f| f.name != name);
    if fresh {
        families.push(Family::new(name));
    }
    let last = families.len() - 1;
    &mut families[last]
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
