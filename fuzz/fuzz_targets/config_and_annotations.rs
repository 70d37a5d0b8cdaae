//! `configuration.toml` text plus `io.katacontainers.config.*` annotations.
//!
//! Input: `<toml text> NUL <annotation lines>`; without a NUL the whole input is TOML and
//! there are no annotations. Lines are `key=value`; `hypervisor.x=1` is short for
//! `io.katacontainers.config.hypervisor.x=1` (see `kata_fuzz::annotation_lines`).
//!
//! The TOML is loaded against a fake host. Whether or not it loads, the annotations are then
//! applied (to the loaded configuration, else to a baseline) with every hypervisor annotation
//! enabled and every path allow-listed, so the value parsers and the re-check are reached.
#![no_main]

use std::path::Path;

use kata_config::annotations::apply_with;
use kata_config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (toml_bytes, annotation_bytes) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let host = kata_fuzz::host();
    let toml_text = String::from_utf8_lossy(toml_bytes);
    let loaded = Config::from_toml_str(&toml_text, Path::new(kata_fuzz::ORIGIN), &host);
    let mut config = match loaded {
        Ok(loaded) => {
            // A loaded configuration must pass its own re-check or fail it cleanly.
            let _ = loaded.config.validate(Path::new(kata_fuzz::ORIGIN), &host);
            loaded.config
        }
        Err(e) => {
            let _ = e.to_string();
            match kata_fuzz::baseline() {
                Some(c) => c,
                None => return,
            }
        }
    };
    if annotation_bytes.is_empty() {
        return;
    }
    let annotations = kata_fuzz::annotation_lines(&String::from_utf8_lossy(annotation_bytes));
    kata_fuzz::open_gates(&mut config);
    match apply_with(&mut config, &annotations, &host) {
        Ok(_warnings) => {
            let _ = serde_json::to_string(&config);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
