//! An OCI `config.json` to the `CreateContainer` request the shim sends, then through the agent.
//! The body is `kata_fuzz_harness::guest::guest_spec` (see its documentation and docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kata_fuzz_harness::guest::guest_spec(data));
