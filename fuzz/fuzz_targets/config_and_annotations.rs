//! `configuration.toml` text plus `io.katacontainers.config.*` annotations (input: `<toml> NUL <key=value lines>`).
//! The body is `kata_fuzz_harness::config::config_and_annotations` (see its documentation and docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kata_fuzz_harness::config::config_and_annotations(data));
