//! QMP messages as read from QEMU's monitor socket.
//! The body is `kata_fuzz_harness::qmp::qmp_reply` (see its documentation and docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kata_fuzz_harness::qmp::qmp_reply(data));
