//! Every key of `configuration.toml` has one fate, stated in `docs/configuration.md`, and the
//! loader honours it: no-effect keys warn, impossible values are refused.

mod common;

use common::{load, qemu, shipped_config};
use kata_config::fates::{self, Fate, KEYS, TABLE_BEGIN, TABLE_END};
use kata_config::ConfigError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The generated part of the doc, markers included.
fn doc_table(doc: &str) -> Option<(usize, usize)> {
    let start = doc.find(TABLE_BEGIN)?;
    let end = doc[start..].find(TABLE_END)? + start + TABLE_END.len();
    // Include the newline after the end marker, as `render_table` does.
    let end = if doc[end..].starts_with('\n') {
        end + 1
    } else {
        end
    };
    Some((start, end))
}

/// `docs/configuration.md`'s table is the registry, byte for byte. `KATA_BLESS=1` rewrites it.
#[test]
fn doc_table_is_generated_from_the_registry() {
    let path = doc_path();
    let doc = read(&path);
    let (start, end) = doc_table(&doc).expect("docs/configuration.md has the table markers");
    let rendered = fates::render_table();
    if std::env::var_os("KATA_BLESS").is_some() {
        let new = format!("{}{rendered}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, new).expect("write docs/configuration.md");
        return;
    }
    assert!(
        doc[start..end] == rendered,
        "docs/configuration.md is out of date with crates/config/src/fates/registry.rs: \
         run `KATA_BLESS=1 cargo test -p kata-config --test fates`"
    );
}

/// `section.key` -> the fate column of the doc table.
fn doc_fates() -> BTreeMap<String, String> {
    let doc = read(&doc_path());
    let (start, end) = doc_table(&doc).expect("markers");
    let mut out = BTreeMap::new();
    for line in doc[start..end].lines().filter(|l| l.starts_with("| `[")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let section = cells[0].trim_start_matches("`[").trim_end_matches("]`");
        let key = cells[1].trim_matches('`');
        out.insert(format!("{section}.{key}"), cells[3].to_string());
    }
    out
}

/// Dotted names of the keys of the registered tables in `table`.
fn flatten(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    for section in fates::SECTIONS {
        let mut t = Some(table);
        for part in section.split('.') {
            t = t.and_then(|t| t.get(part)).and_then(toml::Value::as_table);
        }
        if let Some(t) = t {
            out.extend(t.keys().map(|k| format!("{section}.{k}")));
        }
    }
    out
}

#[test]
fn every_key_of_the_shipped_file_has_the_fate_the_doc_states() {
    let shipped: toml::Table = toml::from_str(&read(&shipped_config())).expect("toml");
    let top: Vec<&String> = shipped.keys().collect();
    assert_eq!(
        top,
        ["agent", "factory", "hypervisor", "runtime"],
        "sections"
    );
    let keys = flatten(&shipped);
    assert!(keys.len() > 80, "walked only {} keys", keys.len());
    let doc = doc_fates();
    assert_eq!(doc.len(), KEYS.len(), "doc rows vs registry entries");
    for name in keys {
        let (section, key) = name.rsplit_once('.').expect("dotted");
        let entry = fates::lookup(section, key)
            .unwrap_or_else(|| panic!("{name}: shipped but has no registry entry"));
        let expected = match entry.fate {
            Fate::Acts(_) => "acts",
            Fate::NoEffect(_) => "no effect",
        };
        assert_eq!(doc.get(&name).map(String::as_str), Some(expected), "{name}");
    }
}

#[test]
fn the_shipped_file_is_accepted_and_its_no_effect_keys_are_reported() {
    let loaded = kata_config::Config::load_file(&shipped_config(), &common::host()).expect("load");
    for k in &loaded.ineffective {
        let (section, key) = k.key.rsplit_once('.').expect("dotted");
        let entry = fates::lookup(section, key).expect("registered");
        assert!(!entry.fate.acts(), "{}", k.key);
        let warned = loaded
            .warnings
            .iter()
            .any(|w| w.ends_with(&fates::warning_text(&k.key, &k.why)));
        assert_eq!(warned, !k.inert, "{}", k.key);
    }
}

#[test]
fn a_no_effect_key_yields_exactly_its_warning() {
    let loaded = load(&qemu("enable_iommu = true")).expect("load");
    let ours: Vec<&String> = loaded
        .warnings
        .iter()
        .filter(|w| w.contains("has no effect"))
        .collect();
    assert_eq!(
        ours,
        ["/test/configuration.toml: hypervisor.qemu.enable_iommu: \
             accepted, has no effect in kata-rs: no vIOMMU"]
    );
    assert_eq!(loaded.ineffective.len(), 1);
    let k = &loaded.ineffective[0];
    assert_eq!(k.key, "hypervisor.qemu.enable_iommu");
    assert_eq!(k.value, "true");
    assert_eq!(k.file, Path::new("/test/configuration.toml"));
    assert!(!k.inert);
}

#[test]
fn absent_zero_and_inert_values_do_not_warn_but_are_listed() {
    let loaded = load(&qemu("")).expect("load");
    assert!(loaded.ineffective.is_empty());
    assert!(!loaded.warnings.iter().any(|w| w.contains("has no effect")));

    let text = format!(
        "{}[runtime]\nenable_pprof = false\n",
        qemu("virtio_fs_queue_size = 1024\nshared_fs = \"virtio-fs\"\nmemory_offset = 0")
    );
    let loaded = load(&text).expect("load");
    assert!(
        !loaded.warnings.iter().any(|w| w.contains("has no effect")),
        "{:?}",
        loaded.warnings
    );
    let names: Vec<&str> = loaded.ineffective.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(
        names,
        ["hypervisor.qemu.memory_offset", "runtime.enable_pprof"]
    );
    assert!(loaded.ineffective.iter().all(|k| k.inert));
}

#[test]
fn a_key_that_acts_does_not_warn() {
    let loaded = load(&qemu("default_memory = 1024\nmachine_type = \"pc\"")).expect("load");
    assert!(loaded.ineffective.is_empty());
    assert!(!loaded.warnings.iter().any(|w| w.contains("has no effect")));
}

#[test]
fn impossible_values_are_refused_naming_file_key_and_value() {
    for (extra, key, value) in [
        (
            "confidential_guest = true",
            "hypervisor.qemu.confidential_guest",
            "true",
        ),
        (
            "sev_snp_guest = true",
            "hypervisor.qemu.sev_snp_guest",
            "true",
        ),
        (
            "shared_fs = \"virtio-fs-nydus\"",
            "hypervisor.qemu.shared_fs",
            "virtio-fs-nydus",
        ),
        (
            "kernel_verity_params = \"root_hash=ab\"",
            "hypervisor.qemu.kernel_verity_params",
            "root_hash=ab",
        ),
    ] {
        let err = load(&qemu(extra)).expect_err(extra);
        match &err {
            ConfigError::Unsupported {
                file,
                key: k,
                value: v,
                ..
            } => {
                assert_eq!(file, Path::new("/test/configuration.toml"));
                assert_eq!(k, key);
                assert_eq!(v, value);
            }
            other => panic!("{extra}: {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("/test/configuration.toml") && msg.contains(key),
            "{msg}"
        );
        assert!(msg.contains(value), "{msg}");
    }
    for (table, line, key) in [
        ("runtime", "experimental = [\"x\"]", "runtime.experimental"),
        (
            "runtime",
            "experimental_force_guest_pull = true",
            "runtime.experimental_force_guest_pull",
        ),
        (
            "runtime",
            "emptydir_mode = \"block-encrypted\"",
            "runtime.emptydir_mode",
        ),
    ] {
        let err = load(&format!("{}[{table}]\n{line}\n", qemu(""))).expect_err(line);
        assert!(
            matches!(&err, ConfigError::Unsupported { key: k, .. } if k == key),
            "{line}: {err:?}"
        );
    }
    // The same keys with values kata-rs can honour load.
    load(&qemu(
        "confidential_guest = false\nshared_fs = \"virtio-fs\"",
    ))
    .expect("load");
}

#[test]
fn a_drop_in_is_named_in_the_warning_and_the_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("configuration.toml");
    std::fs::write(&main, qemu("")).expect("write");
    let drop_ins = dir.path().join("config.d");
    std::fs::create_dir(&drop_ins).expect("mkdir");
    let drop_in = drop_ins.join("10-iommu.toml");
    std::fs::write(&drop_in, "[hypervisor.qemu]\nenable_iommu = true\n").expect("write");
    let loaded = kata_config::Config::load_file(&main, &common::host()).expect("load");
    let drop_in = std::fs::canonicalize(&drop_in).expect("canonical");
    assert!(
        loaded.warnings.iter().any(|w| w.starts_with(&format!(
            "{}: hypervisor.qemu.enable_iommu: accepted",
            drop_in.display()
        ))),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(loaded.ineffective[0].file, drop_in);

    std::fs::write(
        drop_ins.join("20-tee.toml"),
        "[hypervisor.qemu]\nconfidential_guest = true\n",
    )
    .expect("write");
    let err = kata_config::Config::load_file(&main, &common::host()).expect_err("refused");
    assert!(err.to_string().contains("20-tee.toml"), "{err}");
}

#[test]
fn unknown_keys_are_warned_not_refused() {
    let loaded = load(&qemu("no_such_key = 1")).expect("load");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("unknown key `hypervisor.qemu.no_such_key` ignored")),
        "{:?}",
        loaded.warnings
    );
}
