//! A ttRPC request payload (selector byte + protobuf) as the guest agent decodes, converts and checks it.
//! The body is `kata_fuzz_harness::agent::agent_request` (see its documentation and docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kata_fuzz_harness::agent::agent_request(data));
