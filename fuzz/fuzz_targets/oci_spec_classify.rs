//! An OCI `config.json` through the classification and checks of `kata_oci`.
//! The body is `kata_fuzz_harness::config::oci_spec_classify` (see its documentation and docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kata_fuzz_harness::config::oci_spec_classify(data));
