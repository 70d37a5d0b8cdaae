//! Guest kernel command-line parameters (`key=value` lists).
//!
//! Parsing follows the kernel's own rules (and Kata's since it learnt quoted values): the
//! string is split on whitespace that is *not* inside double quotes, so
//! `dm-mod.create="a b b c"` is one parameter, kept byte for byte (quotes included). Each
//! field is split on its first `=`; a field without `=` is a bare flag (`quiet`). An
//! unbalanced `"` is an error.
//!
//! Merging ([`KernelParams::merge`]) lets the later list win: a key present in `overrides`
//! removes every earlier parameter with the same key, except for keys the kernel or systemd
//! read more than once ([`REPEATABLE_KEYS`]), which are appended (exact duplicates dropped).
//! Whole identical parameters therefore always collapse to one; nothing inside a parameter
//! (quoted or not) is ever split, reordered or dropped.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Keys that may legitimately appear several times on a command line.
pub const REPEATABLE_KEYS: &[&str] = &["systemd.mask", "console", "modules-load"];

/// Name of the systemd target the guest boots into when an image (not an initrd) is used.
pub const SYSTEMD_UNIT_NAME: &str = "kata-containers.target";

/// One kernel parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelParam {
    /// The key (`console`, `systemd.mask`, `quiet`...).
    pub key: String,
    /// The value; `None` for a bare flag.
    pub value: Option<String>,
}

impl KernelParam {
    /// A `key=value` parameter.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KernelParam {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A bare flag.
    pub fn flag(key: impl Into<String>) -> Self {
        KernelParam {
            key: key.into(),
            value: None,
        }
    }
}

impl fmt::Display for KernelParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.key, v),
            None => f.write_str(&self.key),
        }
    }
}

/// An ordered list of kernel parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelParams(pub Vec<KernelParam>);

impl KernelParams {
    /// Parse a whitespace-separated `key=value` list; whitespace inside double quotes does
    /// not separate parameters. Fails on an empty key (`=x`) or an unbalanced `"`.
    pub fn parse(s: &str) -> Result<Self, KernelParamsError> {
        let mut out = Vec::new();
        for field in split_fields(s)? {
            let param = match field.split_once('=') {
                Some((k, v)) => KernelParam::new(k, v),
                None => KernelParam::flag(field),
            };
            if param.key.is_empty() {
                return Err(KernelParamsError::EmptyKey(field.to_string()));
            }
            out.push(param);
        }
        Ok(KernelParams(out))
    }

    /// True when no parameter is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterate over the parameters.
    pub fn iter(&self) -> impl Iterator<Item = &KernelParam> {
        self.0.iter()
    }

    /// The value of the last parameter named `key` (`Some(None)` for a bare flag).
    pub fn get(&self, key: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .rev()
            .find(|p| p.key == key)
            .map(|p| p.value.as_deref())
    }

    /// Add one parameter with "later wins" semantics (see the module documentation).
    pub fn push(&mut self, param: KernelParam) {
        if REPEATABLE_KEYS.contains(&param.key.as_str()) {
            if !self.0.contains(&param) {
                self.0.push(param);
            }
            return;
        }
        self.0.retain(|p| p.key != param.key);
        self.0.push(param);
    }

    /// `self` followed by `overrides`, the overrides winning on equal keys.
    pub fn merge(&self, overrides: &KernelParams) -> KernelParams {
        let mut out = self.clone();
        for p in overrides.iter() {
            out.push(p.clone());
        }
        out
    }

    /// Kata's built-in parameters (`getKernelParams`): when the guest boots systemd from an
    /// image, start `kata-containers.target` and mask networkd; unless tracing, also mask
    /// the services the agent replaces (journald, udev, timesyncd...). None for an initrd.
    pub fn defaults(boots_systemd: bool, tracing: bool) -> KernelParams {
        let mut out = KernelParams::default();
        if !boots_systemd {
            return out;
        }
        out.0
            .push(KernelParam::new("init", "/usr/lib/systemd/systemd"));
        out.0
            .push(KernelParam::new("systemd.unit", SYSTEMD_UNIT_NAME));
        for unit in ["systemd-networkd.service", "systemd-networkd.socket"] {
            out.0.push(KernelParam::new("systemd.mask", unit));
        }
        if !tracing {
            for unit in NO_TRACE_MASKS {
                out.0.push(KernelParam::new("systemd.mask", *unit));
            }
        }
        out
    }
}

/// Why a kernel command line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelParamsError {
    /// A field starts with `=`.
    #[error("kernel parameter {0:?} has no key")]
    EmptyKey(String),
    /// A `"` opens a quoted value that never closes.
    #[error("unbalanced double quote in kernel parameter {0:?}")]
    UnbalancedQuote(String),
}

/// Split on ASCII whitespace outside double quotes, keeping every field's bytes as written.
fn split_fields(s: &str) -> Result<Vec<&str>, KernelParamsError> {
    let mut fields = Vec::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        if c.is_whitespace() && !quoted {
            if let Some(st) = start.take() {
                fields.push(&s[st..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        if quoted {
            return Err(KernelParamsError::UnbalancedQuote(s[st..].to_string()));
        }
        fields.push(&s[st..]);
    }
    Ok(fields)
}

/// Units masked to save memory when the agent is not traced.
const NO_TRACE_MASKS: &[&str] = &[
    "systemd-journald.service",
    "systemd-journald.socket",
    "systemd-journal-flush.service",
    "systemd-udevd.service",
    "systemd-udevd.socket",
    "systemd-udev-trigger.service",
    "systemd-timesyncd.service",
    "systemd-update-utmp.service",
    "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-cleanup.service",
    "systemd-tmpfiles-cleanup.timer",
    "tmp.mount",
    "systemd-random-seed.service",
];

impl fmt::Display for KernelParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Serialize for KernelParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for KernelParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KernelParams::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_serialise_round_trip() {
        let p = KernelParams::parse("  console=hvc0 quiet  a=b=c ").expect("parse");
        assert_eq!(p.0.len(), 3);
        assert_eq!(p.get("a"), Some(Some("b=c")));
        assert_eq!(p.get("quiet"), Some(None));
        assert_eq!(p.to_string(), "console=hvc0 quiet a=b=c");
    }

    #[test]
    fn parse_rejects_empty_key() {
        assert_eq!(
            KernelParams::parse("a=1 =2"),
            Err(KernelParamsError::EmptyKey("=2".to_string()))
        );
    }

    #[test]
    fn quoted_value_with_repeated_words_survives_parse_merge_serialise() {
        let user = KernelParams::parse(r#"quiet x.y="a b b c"  z=1"#).expect("parse");
        assert_eq!(user.0.len(), 3);
        assert_eq!(user.get("x.y"), Some(Some(r#""a b b c""#)));
        let base = KernelParams::parse("panic=1 quiet").expect("parse");
        let merged = base.merge(&user).merge(&user);
        assert_eq!(merged.to_string(), r#"panic=1 quiet x.y="a b b c" z=1"#);
        // The serialised line parses back to the same list (what -append receives).
        assert_eq!(
            KernelParams::parse(&merged.to_string()).expect("reparse"),
            merged
        );
    }

    #[test]
    fn quotes_keep_tabs_equals_and_leading_quote_fields_whole() {
        let p = KernelParams::parse("\"k=v w\"\ta=\"b=c\td\" e").expect("parse");
        let fields: Vec<String> = p.iter().map(|p| p.to_string()).collect();
        assert_eq!(fields, ["\"k=v w\"", "a=\"b=c\td\"", "e"]);
    }

    #[test]
    fn identical_whole_params_collapse_to_one() {
        let p = KernelParams::default().merge(
            &KernelParams::parse(r#"a="x y" a="x y" b b systemd.mask=u systemd.mask=u"#)
                .expect("parse"),
        );
        assert_eq!(p.to_string(), r#"a="x y" b systemd.mask=u"#);
    }

    #[test]
    fn unbalanced_quote_is_an_error_naming_the_field() {
        let err = KernelParams::parse(r#"quiet x.y="a b c"#).expect_err("unbalanced");
        assert_eq!(
            err,
            KernelParamsError::UnbalancedQuote(r#"x.y="a b c"#.to_string())
        );
        assert!(err.to_string().contains("unbalanced double quote"), "{err}");
        assert!(serde_json::from_str::<KernelParams>(r#""a=\"b""#).is_err());
    }

    #[test]
    fn merge_lets_overrides_win_on_same_key() {
        let base = KernelParams::parse("init=/sbin/init quiet x=1").expect("parse");
        let user = KernelParams::parse("init=/bin/sh x=2").expect("parse");
        let m = base.merge(&user);
        assert_eq!(m.to_string(), "quiet init=/bin/sh x=2");
    }

    #[test]
    fn merge_keeps_repeatable_keys() {
        let base = KernelParams::parse("systemd.mask=a.service").expect("parse");
        let user =
            KernelParams::parse("systemd.mask=b.service systemd.mask=a.service").expect("parse");
        let m = base.merge(&user);
        assert_eq!(
            m.to_string(),
            "systemd.mask=a.service systemd.mask=b.service"
        );
    }

    #[test]
    fn defaults_for_initrd_are_empty() {
        assert!(KernelParams::defaults(false, false).is_empty());
    }

    #[test]
    fn defaults_for_systemd_image_start_kata_target_and_mask_units() {
        let d = KernelParams::defaults(true, false);
        assert_eq!(d.get("init"), Some(Some("/usr/lib/systemd/systemd")));
        assert_eq!(d.get("systemd.unit"), Some(Some("kata-containers.target")));
        let masks: Vec<_> = d.iter().filter(|p| p.key == "systemd.mask").collect();
        assert_eq!(masks.len(), 2 + NO_TRACE_MASKS.len());
        let traced = KernelParams::defaults(true, true);
        assert_eq!(traced.iter().filter(|p| p.key == "systemd.mask").count(), 2);
    }

    #[test]
    fn serde_uses_the_command_line_string() {
        let p = KernelParams::parse("a=1 b").expect("parse");
        let json = serde_json::to_string(&p).expect("json");
        assert_eq!(json, "\"a=1 b\"");
        let back: KernelParams = serde_json::from_str(&json).expect("back");
        assert_eq!(back, p);
    }
}
