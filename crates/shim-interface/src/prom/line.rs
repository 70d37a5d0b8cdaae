//! One line of the text format: blank, comment, `# HELP`, `# TYPE` or a sample.

use std::fmt::Write as _;

/// Label names and their values as written.
type Labels = Vec<(String, String)>;

/// A line, borrowed from the text.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    Blank,
    Comment,
    Help { name: &'a str, text: &'a str },
    Type { name: &'a str, kind: &'a str },
    Sample(Sample),
}

/// A sample: `name{label="value",...} value [timestamp]`. Label values and the value keep their
/// written form (escapes, `+Inf`), so that rendering gives back what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub name: String,
    /// Label names and their values as written (escaped, without the quotes).
    pub labels: Vec<(String, String)>,
    pub value: String,
    /// Milliseconds since the epoch, as written.
    pub timestamp: Option<String>,
}

impl Sample {
    /// The value of label `name`, unescaped.
    pub fn label(&self, name: &str) -> Option<String> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| unescape(v))
    }

    /// The value as a number (`+Inf`, `NaN` included); a parsed sample always has one.
    pub fn number(&self) -> f64 {
        parse_value(&self.value).unwrap_or(f64::NAN)
    }

    /// Sets label `name` to `value` (given unescaped): replaced if present, else put first.
    pub fn set_label(&mut self, name: &str, value: &str) {
        let escaped = escape_label_value(value);
        match self.labels.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = escaped,
            None => self.labels.insert(0, (name.to_owned(), escaped)),
        }
    }

    /// The sample as a text line (no newline).
    pub fn render(&self) -> String {
        let mut out = self.name.clone();
        if !self.labels.is_empty() {
            out.push('{');
            for (i, (n, v)) in self.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{n}=\"{v}\"");
            }
            out.push('}');
        }
        let _ = write!(out, " {}", self.value);
        if let Some(ts) = &self.timestamp {
            let _ = write!(out, " {ts}");
        }
        out
    }
}

/// A label value escaped for the text format (`\\`, `\"`, `\n`).
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads one line. Errors name what is wrong (the caller adds the line).
pub fn parse_line(line: &str) -> Result<Line<'_>, String> {
    let trimmed = line.trim_start_matches([' ', '\t']);
    if trimmed.trim_end().is_empty() {
        return Ok(Line::Blank);
    }
    if let Some(comment) = trimmed.strip_prefix('#') {
        return parse_comment(comment);
    }
    parse_sample(trimmed).map(Line::Sample)
}

fn parse_comment(comment: &str) -> Result<Line<'_>, String> {
    let comment = comment.trim_start_matches([' ', '\t']);
    let (keyword, rest) = split_token(comment);
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(Line::Comment);
    }
    let (name, rest) = split_token(rest);
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?} in {keyword}"));
    }
    if keyword == "HELP" {
        return Ok(Line::Help { name, text: rest });
    }
    let kind = rest.trim_end();
    match kind {
        "counter" | "gauge" | "histogram" | "summary" | "untyped" => Ok(Line::Type { name, kind }),
        _ => Err(format!("unknown TYPE {kind:?}")),
    }
}

/// The first blank-separated token and what follows it (leading blanks removed).
fn split_token(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = line[name_end..].trim_start_matches([' ', '\t']);
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let rest = rest.trim_matches([' ', '\t']);
    let (value, rest) = split_token(rest);
    if value.is_empty() {
        return Err("no value".into());
    }
    if parse_value(value).is_none() {
        return Err(format!("bad value {value:?}"));
    }
    let timestamp = match split_token(rest) {
        ("", _) => None,
        (ts, "") if ts.parse::<i64>().is_ok() => Some(ts.to_owned()),
        (ts, "") => return Err(format!("bad timestamp {ts:?}")),
        (_, extra) => return Err(format!("unexpected {extra:?} after the timestamp")),
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value: value.to_owned(),
        timestamp,
    })
}

/// Reads `name="value",...}` (after the `{`); returns the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Labels::new();
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let name_end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("unterminated label set")?;
        let name = &s[..name_end];
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name:?} given twice"));
        }
        s = s[name_end..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix("=\"")
            .ok_or_else(|| format!("label {name:?}: expected =\""))?;
        let end = closing_quote(s).ok_or_else(|| format!("label {name:?}: unterminated value"))?;
        labels.push((name.to_owned(), s[..end].to_owned()));
        s = s[end + 1..].trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err(format!("label {name:?}: expected , or }}"));
        }
    }
}

/// Index of the quote ending a label value; escapes other than `\\`, `\"`, `\n` are refused.
fn closing_quote(s: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(i),
            '\\' => match chars.next() {
                Some((_, '\\' | '"' | 'n')) => {}
                _ => return None,
            },
            '\n' => return None,
            _ => {}
        }
    }
    None
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => v.parse().ok(),
        _ => None,
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
