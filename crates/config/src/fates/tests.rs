use super::*;
use crate::toml_model::{RawAgent, RawFactory, RawHypervisor, RawImage, RawRuntime};
use std::collections::BTreeSet;

fn fields<T: Serialize + Default>() -> BTreeSet<String> {
    match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        other => panic!("not a struct: {other:?}"),
    }
}

fn registered(section: &str) -> BTreeSet<String> {
    KEYS.iter()
        .filter(|k| k.section == section)
        .map(|k| k.key.to_string())
        .collect()
}

/// Adding a field to a raw struct without a registry line (or the reverse) fails here.
#[test]
fn every_raw_field_has_exactly_one_registry_entry() {
    for (section, fields) in [
        ("hypervisor.qemu", fields::<RawHypervisor>()),
        ("agent.kata", fields::<RawAgent>()),
        ("runtime", fields::<RawRuntime>()),
        ("factory", fields::<RawFactory>()),
        ("image", fields::<RawImage>()),
    ] {
        let reg = registered(section);
        let missing: Vec<_> = fields.difference(&reg).collect();
        let stale: Vec<_> = reg.difference(&fields).collect();
        assert!(
            missing.is_empty(),
            "[{section}] fields without a fate: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "[{section}] fates without a field: {stale:?}"
        );
    }
    let mut seen = BTreeSet::new();
    for k in KEYS {
        assert!(seen.insert(k.name()), "{} registered twice", k.name());
        assert!(
            SECTIONS.contains(&k.section),
            "{}: unknown section",
            k.name()
        );
        assert!(!k.fate.note().is_empty(), "{}: empty note", k.name());
        if k.fate.acts() {
            assert!(k.inert.is_none(), "{}: inert on a key that acts", k.name());
        }
    }
}

#[test]
fn zero_and_inert_values_do_not_warn() {
    let key = lookup("agent.kata", "cdh_api_timeout").expect("registered");
    assert!(!key.warns_for(&toml::Value::Integer(0)));
    assert!(!key.warns_for(&toml::Value::Integer(50)));
    assert!(key.warns_for(&toml::Value::Integer(51)));
    let acts = lookup("hypervisor.qemu", "path").expect("registered");
    assert!(!acts.warns_for(&toml::Value::String("/x".into())));
}

#[test]
fn refusals_match_only_their_values() {
    assert!(Refuse::True.matches(&toml::Value::Boolean(true)));
    assert!(!Refuse::True.matches(&toml::Value::Boolean(false)));
    let list = Refuse::Strings(&["virtio-fs-nydus"]);
    assert!(list.matches(&toml::Value::String("virtio-fs-nydus".into())));
    assert!(!list.matches(&toml::Value::String("virtio-fs".into())));
    let any = Refuse::NonEmpty;
    assert!(any.matches(&toml::Value::Array(vec![toml::Value::String("x".into())])));
    assert!(!any.matches(&toml::Value::Array(Vec::new())));
}
