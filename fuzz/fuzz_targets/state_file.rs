//! A sandbox `state.json` as `shim delete` reads it, and what its confinement lets through.
//! The body is `kata_fuzz_harness::state::state_file` (see its documentation and docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kata_fuzz_harness::state::state_file(data));
