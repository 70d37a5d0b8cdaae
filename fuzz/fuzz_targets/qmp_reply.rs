//! QMP messages as read from QEMU's monitor socket: the whole input, then each line of it
//! (the client splits the stream on newlines).
#![no_main]

use kata_qemu::qmp::parse_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_message(data) {
        let _ = e.to_string();
    }
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_message(line);
    }
});
